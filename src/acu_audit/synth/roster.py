"""Duty roster and timesheets of the demo force.

24/7 functions work a 4-on-4-off rotation through earlies, lates and nights; neighbourhood
teams work five on, two off; office functions work Monday to Friday. Leave blocks, sickness,
training days and overtime (extensions and rest-day working) are laid over the pattern.
Shift times are local wall-clock times, so they stay 07:00 across the clock change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acu_audit.contract import CLAIM_TYPES, DUTY_TYPES
from acu_audit.synth.clock import HOUR, Clock
from acu_audit.synth.force import F, R, Force

DT = {name: i for i, name in enumerate(DUTY_TYPES)}
CL = {name: i for i, name in enumerate(CLAIM_TYPES)}
TWENTY_FOUR_SEVEN = ("response", "control_room", "custody", "roads_policing")
OFFICE = ("investigation", "public_protection", "intelligence", "exploitation", "professional_standards", "support", "other")
# Overtime flavours: ordinary (full activity) or quiet (scene guard, court waiting).
OT_ORDINARY, OT_QUIET, OT_GHOST = 0, 1, 2


@dataclass
class Roster:
    """Shift rows (integer form) and timesheet claims."""

    staff: np.ndarray
    start: np.ndarray
    end: np.ndarray
    duty: np.ndarray  # index into DUTY_TYPES
    lookup_factor: np.ndarray  # scales innocent look-ups in the shift
    device_factor: np.ndarray  # scales innocent device traffic in the shift
    claim_staff: np.ndarray
    claim_start: np.ndarray
    claim_end: np.ndarray
    claim_type: np.ndarray
    on_call_staff: np.ndarray  # staff with on-call claims (for notes)
    _duty_index: tuple[np.ndarray, np.ndarray] | None = None

    def on_duty_rows(self) -> np.ndarray:
        return np.isin(self.duty, [DT["duty"], DT["overtime"], DT["training"]])

    def shifts_of(self, staff: int, on_duty: bool = True) -> np.ndarray:
        """Row indices of a staff member's shifts (on-duty ones by default), by start."""
        m = self.staff == staff
        if on_duty:
            m &= self.on_duty_rows()
        rows = np.flatnonzero(m)
        return rows[np.argsort(self.start[rows], kind="stable")]

    def on_duty_at(self, staff: int, t: np.ndarray | int) -> np.ndarray:
        t = np.atleast_1d(np.asarray(t, dtype=np.int64))
        return self.on_duty_mask(np.full(len(t), staff), t)

    def on_duty_mask(self, staff: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Vectorised: is each (staff, instant) inside one of that person's on-duty shifts?"""
        if self._duty_index is None:  # sorted (staff, start) keys, rebuilt after any change
            rows = np.flatnonzero(self.on_duty_rows())
            key = self.staff[rows].astype(np.int64) * (1 << 32) + self.start[rows]
            order = np.argsort(key, kind="stable")
            self._duty_index = (rows[order], key[order])
        rows, key = self._duty_index
        q = np.asarray(staff, dtype=np.int64) * (1 << 32) + np.asarray(t, dtype=np.int64)
        pos = np.searchsorted(key, q, side="right") - 1
        ok = pos >= 0
        r = rows[np.maximum(pos, 0)]
        return ok & (self.staff[r] == np.asarray(staff)) & (self.end[r] > np.asarray(t))

    def append_shift(self, staff: int, start: int, end: int, duty: str, lookup: float = 1.0, device: float = 1.0) -> None:
        self.staff = np.append(self.staff, np.int32(staff))
        self.start = np.append(self.start, np.int64(start))
        self.end = np.append(self.end, np.int64(end))
        self.duty = np.append(self.duty, np.int8(DT[duty]))
        self.lookup_factor = np.append(self.lookup_factor, lookup)
        self.device_factor = np.append(self.device_factor, device)
        self._duty_index = None

    def move_shift(self, row: int, start: int, end: int) -> None:
        """Re-time one shift (e.g. a swap onto a late shift)."""
        self.start[row] = start
        self.end[row] = end
        self._duty_index = None

    def append_claim(self, staff: int, start: int, end: int, claim: str) -> None:
        self.claim_staff = np.append(self.claim_staff, np.int32(staff))
        self.claim_start = np.append(self.claim_start, np.int64(start))
        self.claim_end = np.append(self.claim_end, np.int64(end))
        self.claim_type = np.append(self.claim_type, np.int8(CL[claim]))

    def drop_rows(self, rows: np.ndarray) -> None:
        keep = np.ones(len(self.staff), dtype=bool)
        keep[rows] = False
        for name in ("staff", "start", "end", "duty", "lookup_factor", "device_factor"):
            setattr(self, name, getattr(self, name)[keep])
        self._duty_index = None


def build_roster(rng: np.random.Generator, force: Force, clock: Clock) -> Roster:
    """Rostered shifts for every staff member and day of the period, plus timesheet claims."""
    S, D = force.n_staff, clock.days
    func = force.staff_function()
    role = force.staff_role
    team = force.staff_team.astype(np.int64)
    day = np.arange(D)[None, :]
    weekday = (clock.start.weekday() + day) % 7  # 0 = Monday
    code = np.full((S, D), DT["rest"], dtype=np.int8)
    smin = np.zeros((S, D), dtype=np.int32)
    lmin = np.full((S, D), 1440, dtype=np.int32)

    fn = np.array([func == F[f] for f in TWENTY_FOUR_SEVEN]).any(axis=0)
    hood = func == F["neighbourhood"]
    office = ~fn & ~hood
    office |= role == R["contractor"]
    fn &= ~office
    hood &= ~office
    casual = np.isin(role, [R["special"], R["volunteer"]])

    # 24/7: four on, four off; earlies, lates, nights in turn each block. A team's members are
    # spread over the three shift types so every day has early, late and night cover.
    phase = team * 2
    on = ((day + phase[:, None]) % 8) < 4
    crew = rng.integers(0, 3, S)
    kind = (((day + phase[:, None]) // 8) + team[:, None] + crew[:, None]) % 3
    unit_shift = (force.staff_unit % 3 - 1) * 60
    start_by_kind = np.array([7 * 60, 15 * 60, 22 * 60])
    len_by_kind = np.array([9 * 60, 9 * 60, 10 * 60])
    m = fn[:, None] & on
    code[m] = DT["duty"]
    smin[m] = (start_by_kind[kind] + unit_shift[:, None])[m]
    lmin[m] = len_by_kind[kind][m]
    # Neighbourhood: five on, two off, earlies and lates by week.
    phase_n = (team * 2) % 7
    on_n = ((day + phase_n[:, None]) % 7) < 5
    late_n = ((((day + phase_n[:, None]) // 7) + team[:, None]) % 2) == 1
    m = hood[:, None] & on_n
    code[m] = DT["duty"]
    smin[m] = np.where(late_n, 14 * 60, 8 * 60)[m]
    lmin[m] = 8 * 60
    # Office: Monday to Friday, personal start time with daily variation, some late days.
    own_start = np.clip(rng.normal(8.25 * 60, 35, S), 7 * 60, 10 * 60)
    own_len = np.clip(rng.normal(8 * 60, 25, S), 7 * 60, 9.5 * 60)
    m = office[:, None] & (weekday < 5)
    jitter = rng.integers(-4, 5, (S, D)) * 5
    late_day = (rng.random((S, D)) < 0.1) & np.isin(func, [F["investigation"], F["public_protection"]])[:, None]
    code[m] = DT["duty"]
    smin[m] = np.where(late_day, 12 * 60, own_start[:, None] + jitter)[m].astype(np.int32) // 5 * 5
    lmin[m] = np.broadcast_to(own_len[:, None] + rng.integers(-3, 4, (S, D)) * 5, (S, D))[m].astype(np.int32)
    # Specials and volunteers: a few evening or daytime shifts, otherwise not rostered at all.
    code[casual] = -1
    cas_on = casual[:, None] & (rng.random((S, D)) < np.where(role == R["special"], 0.14, 0.1)[:, None])
    code[cas_on] = DT["duty"]
    sp = (role == R["special"])[:, None]
    smin[cas_on] = np.where(np.broadcast_to(sp, (S, D)), 18 * 60, 10 * 60)[cas_on]
    lmin[cas_on] = np.where(np.broadcast_to(sp, (S, D)), 5 * 60, 4 * 60)[cas_on]

    worked = code == DT["duty"]
    regular = ~casual
    # Leave blocks (~12% of days) and sickness spells (~3%) replace working days only.
    for share, length, duty in ((0.12, (3, 10), DT["leave"]), (0.03, (1, 5), DT["sick"])):
        mean_len = (length[0] + length[1] - 1) / 2
        n_blocks = rng.poisson(D * share / mean_len * 2.2, S)  # x2.2: rest days inside blocks are not leave
        for b in range(int(n_blocks.max(initial=0))):
            who = np.flatnonzero((n_blocks > b) & regular)
            first = rng.integers(-length[1] + 1, D, len(who))
            ln = rng.integers(length[0], length[1], len(who))
            for k in range(length[1]):
                d = first + k
                ok = (k < ln) & (d >= 0) & (d < D)
                w, dd = who[ok], d[ok]
                hit = worked[w, dd]
                code[w[hit], dd[hit]] = duty
    # Training days (~2% of remaining working days).
    tr = (code == DT["duty"]) & (rng.random((S, D)) < 0.02) & regular[:, None]
    code[tr] = DT["training"]
    smin[tr] = 9 * 60
    lmin[tr] = 8 * 60 - 30

    # Joiners train office hours for their first fortnight; nothing before they start or after leaving.
    start_day = force.staff_start_day[:, None]
    end_day = force.staff_end_day[:, None]
    new = (day >= start_day) & (day < start_day + 14)
    code[new & (weekday < 5)] = DT["training"]
    smin[new & (weekday < 5)] = 8 * 60 + 30
    lmin[new & (weekday < 5)] = 7 * 60 + 30
    code[new & (weekday >= 5)] = DT["rest"]
    smin[new & (weekday >= 5)] = 0
    lmin[new & (weekday >= 5)] = 1440
    code[(day < start_day) | (day > end_day)] = -1
    rest = code == DT["rest"]
    smin[rest] = 0
    lmin[rest] = 1440

    s_idx, d_idx = np.nonzero(code >= 0)
    starts = clock.at_local(d_idx, smin[s_idx, d_idx])
    ends = clock.at_local(d_idx, smin[s_idx, d_idx].astype(np.int64) + lmin[s_idx, d_idx])
    duty = code[s_idx, d_idx]
    look = np.select([duty == DT["duty"], duty == DT["training"]], [1.0, 0.15], 0.0)
    dev = np.select([duty == DT["duty"], duty == DT["training"]], [1.0, 0.7], 0.0)

    # Overtime: each week about 10% of regular staff work one extra shift.
    ot_s, ot_a, ot_b, ot_q = [], [], [], []
    eligible = regular & np.isin(role, [R["officer"], R["staff"]])
    for w0 in range(0, D, 7):
        who = np.flatnonzero(eligible & (rng.random(S) < 0.10))
        for s in who:  # ~10% of staff per week: a small loop over chosen people
            days_w = np.arange(w0, min(D, w0 + 7))
            dd = int(rng.choice(days_w))
            if code[s, dd] == DT["duty"] and rng.random() < 0.6:
                a = int(clock.at_local(dd, int(smin[s, dd]) + int(lmin[s, dd])))
                b = a + int(rng.integers(2, 5)) * HOUR
            elif code[s, dd] == DT["rest"]:
                st = int(rng.choice([7 * 60, 8 * 60, 16 * 60]))
                a = int(clock.at_local(dd, st))
                b = a + 8 * HOUR
            else:
                continue
            ot_s.append(s); ot_a.append(a); ot_b.append(b)
            ot_q.append(OT_QUIET if rng.random() < 0.15 else OT_ORDINARY)
    ot_s_a = np.array(ot_s, dtype=np.int32)
    ot_q_a = np.array(ot_q, dtype=np.int8)
    n_ot = len(ot_s_a)

    roster = Roster(
        staff=np.concatenate([s_idx.astype(np.int32), ot_s_a]),
        start=np.concatenate([starts, np.array(ot_a, dtype=np.int64)]),
        end=np.concatenate([ends, np.array(ot_b, dtype=np.int64)]),
        duty=np.concatenate([duty, np.full(n_ot, DT["overtime"], dtype=np.int8)]),
        lookup_factor=np.concatenate([look, np.where(ot_q_a == OT_QUIET, 0.08, 1.0)]),
        device_factor=np.concatenate([dev, np.where(ot_q_a == OT_QUIET, 0.6, 1.0)]),
        claim_staff=np.zeros(0, dtype=np.int32), claim_start=np.zeros(0, dtype=np.int64),
        claim_end=np.zeros(0, dtype=np.int64), claim_type=np.zeros(0, dtype=np.int8),
        on_call_staff=np.zeros(0, dtype=np.int32),
    )

    # Timesheets: most overtime is claimed (some rounded up a quarter hour).
    claimed = rng.random(n_ot) < 0.9
    c_s = [ot_s_a[claimed]]
    c_a = [np.array(ot_a, dtype=np.int64)[claimed]]
    c_b = [np.array(ot_b, dtype=np.int64)[claimed] + np.where(rng.random(int(claimed.sum())) < 0.2, 900, 0)]
    c_t = [np.full(int(claimed.sum()), CL["overtime"], dtype=np.int8)]
    # On-call: some investigators and public-protection staff cover a week of nights now and then.
    on_call_pool = np.flatnonzero(np.isin(func, [F["investigation"], F["public_protection"], F["intelligence"], F["exploitation"]]) & (role == R["officer"]))
    oc_s, oc_a, oc_b = [], [], []
    for w0 in range(0, D, 7):
        k = max(1, len(on_call_pool) // 20)
        for s in rng.choice(on_call_pool, size=min(k, len(on_call_pool)), replace=False) if len(on_call_pool) else []:
            for dd in range(w0, min(D - 1, w0 + 5)):
                oc_s.append(s); oc_a.append(int(clock.at_local(dd, 17 * 60))); oc_b.append(int(clock.at_local(dd, 32 * 60)))
    c_s.append(np.array(oc_s, dtype=np.int32)); c_a.append(np.array(oc_a, dtype=np.int64)); c_b.append(np.array(oc_b, dtype=np.int64))
    c_t.append(np.full(len(oc_s), CL["on_call"], dtype=np.int8))
    # A few standard claims: contractors bill their rostered days.
    contr = np.isin(s_idx, np.flatnonzero(role == R["contractor"])) & (duty == DT["duty"]) & (rng.random(len(s_idx)) < 0.15)
    c_s.append(s_idx[contr].astype(np.int32)); c_a.append(starts[contr]); c_b.append(ends[contr])
    c_t.append(np.full(int(contr.sum()), CL["standard"], dtype=np.int8))
    roster.claim_staff = np.concatenate(c_s)
    roster.claim_start = np.concatenate(c_a)
    roster.claim_end = np.concatenate(c_b)
    roster.claim_type = np.concatenate(c_t)
    roster.on_call_staff = np.array(oc_s, dtype=np.int32)
    return roster


def add_operation_overtime(roster: Roster, clock: Clock, executed: np.ndarray, briefed_op: np.ndarray, briefed_staff: np.ndarray, op_executed_by_op: np.ndarray) -> None:
    """Briefed staff who are not on duty at a dawn warrant come in on overtime (04:30-12:30)."""
    t_exec = op_executed_by_op[briefed_op]
    in_period = (t_exec >= clock.midnight(0)) & (t_exec < clock.midnight(clock.days))
    on = roster.on_duty_mask(briefed_staff, t_exec)
    seen: set[tuple[int, int]] = set()
    for s, t in zip(briefed_staff[in_period & ~on], t_exec[in_period & ~on]):
        d = int(clock.day_of(int(t)))
        if (int(s), d) in seen:  # briefed for two operations the same morning
            continue
        seen.add((int(s), d))
        a = int(clock.at_local(d, 4 * 60 + 30))
        roster.append_shift(int(s), a, a + 8 * HOUR, "overtime")
        roster.append_claim(int(s), a, a + 8 * HOUR, "overtime")
