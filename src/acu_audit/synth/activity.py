"""Innocent day-to-day activity: system look-ups and device traffic, one local day at a time.

Every on-duty shift produces look-ups whose purpose the data shows (assigned cases and their
people, the unit's open cases, the function's own work, checks with a reason code), plus the
low-level noise of real forces: a few per cent of look-ups with no recorded purpose, look-ups
just outside a shift, occasional prints, exports and screenshots. Device traffic is hourly
counts with colleagues, partner agencies, case parties and family. All bulk work is numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from acu_audit.contract import ACTIONS, CHANNELS, DIRECTIONS, RECORD_TYPES, UNIT_FUNCTIONS
from acu_audit.synth.casework import CT, Casework
from acu_audit.synth.clock import DAY, HOUR, Clock
from acu_audit.synth.contacts import Contacts
from acu_audit.synth.force import F, Force
from acu_audit.synth.groups import Groups
from acu_audit.synth.roster import Roster

SYSTEMS = ("RMS", "PNC", "PND", "CUSTODY", "COMMAND_CONTROL", "INTEL", "ANPR", "FIXED_PENALTY")
SY = {n: i for i, n in enumerate(SYSTEMS)}
AC = {n: i for i, n in enumerate(ACTIONS)}
RT = {n: i for i, n in enumerate(RECORD_TYPES)}
CH = {n: i for i, n in enumerate(CHANNELS)}
DI = {n: i for i, n in enumerate(DIRECTIONS)}
PHONE, MAILBOX = 0, 1

# Look-ups per 8.5 on-duty hours, by function (control rooms several times the rest).
LOOKUP_RATE = {
    "response": 30, "neighbourhood": 28, "investigation": 31, "public_protection": 29, "roads_policing": 30,
    "custody": 33, "control_room": 115, "intelligence": 33, "exploitation": 26, "professional_standards": 24,
    "support": 14, "other": 10,
}
ASSIGNED, UNIT, CONTROL, CHILD_CUSTODY, PATROL, CURIOSITY = range(6)
# Purpose mix per function: assigned cases, unit cases, control-room logs, child custody checks, patrol checks.
PURPOSE_MIX = {
    "response": (0.45, 0.20, 0, 0, 0.35), "neighbourhood": (0.40, 0.35, 0, 0, 0.25),
    "investigation": (0.65, 0.30, 0, 0, 0.05), "public_protection": (0.65, 0.35, 0, 0, 0),
    "roads_policing": (0.30, 0.40, 0, 0, 0.30), "custody": (0.15, 0.85, 0, 0, 0),
    "control_room": (0.05, 0, 0.85, 0, 0.10), "intelligence": (0.30, 0.70, 0, 0, 0),
    "exploitation": (0.45, 0.30, 0, 0.25, 0), "professional_standards": (0.6, 0.4, 0, 0, 0),
    "support": (0.75, 0.25, 0, 0, 0), "other": (0.5, 0.5, 0, 0, 0),
}
# Device rows per 8.5 on-duty hours (before hourly rows merge).
DEVICE_RATE = 19.0
# Local-hour profile of private messaging, and of heavy all-hours private traffic.
PRIVATE_BY_HOUR = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2.5, 3, 2, 2, 2, 3, 2.5, 2, 2, 2.5, 3.5, 4, 4.5, 4.5, 4, 3, 2], dtype=float)
HEAVY_BY_HOUR = PRIVATE_BY_HOUR + 1.5
# Action mix per record type: search, view, create, update, delete, print, export, screenshot.
ACTION_MIX = {
    "case": (0.05, 0.59, 0.0, 0.3384, 0.0, 0.014, 0.0075, 0.0001),
    "person": (0.35, 0.605, 0.0, 0.0304, 0.0, 0.012, 0.0025, 0.0001),
    "vehicle": (0.8, 0.2, 0, 0, 0, 0, 0, 0),
    "address": (0.5, 0.5, 0, 0, 0, 0, 0, 0),
    "log": (0.0, 0.45, 0.10, 0.4374, 0.0, 0.008, 0.0045, 0.0001),
}

EVENT_SCHEMA = {
    "staff": pl.Int32, "t": pl.Int64, "sys": pl.Int8, "act": pl.Int8, "rt": pl.Int8, "rec": pl.Int64,
    "person": pl.Int32, "case": pl.Int64, "term": pl.Int32, "rcase": pl.Int64, "rnum": pl.Int32,
}
DEVICE_SCHEMA = {
    "staff": pl.Int32, "dev": pl.Int8, "ch": pl.Int8, "dir": pl.Int8, "cp": pl.Int64, "hour": pl.Int64,
    "cnt": pl.Int32, "dur": pl.Int32,
}


def event_frame(**cols) -> pl.DataFrame:
    """An access-event frame in integer form; missing columns are -1 (null)."""
    n = len(next(iter(cols.values())))
    data = {k: np.broadcast_to(np.asarray(cols.get(k, -1)), n).astype(_np(dt)) for k, dt in EVENT_SCHEMA.items()}
    return pl.DataFrame(data, schema=EVENT_SCHEMA)


def device_frame(**cols) -> pl.DataFrame:
    """A device-message frame in integer form (one row per hour/counterparty/channel/direction)."""
    n = len(next(iter(cols.values())))
    data = {k: np.broadcast_to(np.asarray(cols.get(k, -1)), n).astype(_np(dt)) for k, dt in DEVICE_SCHEMA.items()}
    return pl.DataFrame(data, schema=DEVICE_SCHEMA)


def _np(dt) -> type:
    return {pl.Int8: np.int8, pl.Int32: np.int32, pl.Int64: np.int64}[dt]


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a probability matrix."""
    c = np.cumsum(probs, axis=1)
    c /= c[:, -1:]
    return (rng.random(len(probs))[:, None] > c).sum(axis=1)


@dataclass
class Suppression:
    """Times when a staff member must show no activity at all (claimed hours never worked)."""

    staff: int
    start: int
    end: int


class ActivityModel:
    """Static indexes over the force, casework and contacts, and per-day generators."""

    def __init__(self, rng: np.random.Generator, force: Force, clock: Clock, cw: Casework, roster: Roster, contacts: Contacts,
                 person_created: np.ndarray, noise: float = 1.0) -> None:
        self.force, self.clock, self.cw, self.roster, self.contacts = force, clock, cw, roster, contacts
        # noise > 1 (the `noisy` profile) scales every kind of innocent oddity; at 1 it draws
        # no extra random numbers, so the demo force stays byte-identical.
        self.noise = noise
        S = force.n_staff
        self.func = force.staff_function().astype(np.int64)
        self.rate_mult = rng.lognormal(0.0, 0.25, S)
        self.curiosity = rng.beta(1.2, 40.0, S)
        if noise > 1:
            self.curiosity = np.minimum(self.curiosity * noise, 0.5)
        self.device_mult = rng.lognormal(0.0, 0.2, S)
        self.whatsapp_colleagues = np.zeros(S, dtype=bool)
        self.purpose = np.array([PURPOSE_MIX[f] for f in UNIT_FUNCTIONS])
        if noise > 1:  # more case-less checks (patrol column) by roads and control rooms
            for f in ("control_room", "roads_policing"):
                self.purpose[F[f], PATROL] *= noise
            self.purpose /= self.purpose.sum(axis=1, keepdims=True)
        self.action_mix = {k: _scaled_captures(v, noise) for k, v in ACTION_MIX.items()}
        # Curiosity about marked people: sensitive and OCG subjects are more of it in a noisy force.
        self.marked_share = min(0.45, 0.12 * noise)
        self.lookup_rate = np.array([LOOKUP_RATE[f] for f in UNIT_FUNCTIONS], dtype=float)
        # Terminals: workstations per unit and mobile data terminals.
        U = len(force.unit_name)
        size = np.bincount(force.staff_unit, minlength=U)
        self.ws_count = np.maximum(2, size // 2)
        self.ws_offset = np.concatenate([[0], np.cumsum(self.ws_count)[:-1]])
        self.mdt_count = np.maximum(1, size // 6)
        self.mdt_offset = self.ws_count.sum() + np.concatenate([[0], np.cumsum(self.mdt_count)[:-1]])
        names = [f"WS-{force.unit_code[u]}-{k:02d}" for u in range(U) for k in range(self.ws_count[u])]
        names += [f"MDT-{force.unit_code[u]}-{k:02d}" for u in range(U) for k in range(self.mdt_count[u])]
        self.terminal_names = np.array(names, dtype=object)
        self.home_term = (self.ws_offset[force.staff_unit] + rng.integers(0, 1 << 30, S) % self.ws_count[force.staff_unit]).astype(np.int64)
        # People who can be looked up at random: on the index before the period began.
        a = cw.arrays()
        self.a = a
        established = np.flatnonzero(person_created < clock.midnight(0))
        w = force.person_weight[established]
        self.pool = established
        self.pool_cdf = np.cumsum(w) / w.sum()
        marked = np.zeros(force.n_persons, dtype=bool)
        curious_markers = ["high_profile", "ocg_member", "violence", "vulnerable", "sexual_offence_victim"]
        if noise > 1:
            curious_markers += ["ocg_associate", "drugs_supply", "domestic_abuse_victim"]
        for m in curious_markers:
            marked |= force.has_marker(m)
        self.marked_pool = np.intersect1d(established, np.flatnonzero(marked))
        # In a noisy force 60% of the curiosity about marked people is about OCG nominals, most
        # of it about the notorious few everyone hears of (drawn by the square of how prolific).
        ocg = force.has_marker("ocg_member") | force.has_marker("ocg_associate")
        self.ocg_pool = np.intersect1d(established, np.flatnonzero(ocg)) if noise > 1 else np.zeros(0, dtype=np.int64)
        if len(self.ocg_pool):
            w2 = force.person_weight[self.ocg_pool] ** 2
            self.ocg_cdf = np.cumsum(w2) / w2.sum()
        keep = person_created[force.vehicle_keeper] < clock.midnight(0)
        self.vehicle_pool = np.flatnonzero(keep)
        # Case indexes.
        ok = a["cp_person"] >= 0
        self.case_people = Groups(a["cp_case"][ok], cw.n_cases, a["cp_person"][ok])
        reach = ok & ((contacts.person_phone[np.maximum(a["cp_person"], 0)] >= 0) | (contacts.person_email[np.maximum(a["cp_person"], 0)] >= 0))
        self.case_reachable = Groups(a["cp_case"][reach], cw.n_cases, a["cp_person"][reach])
        inc = np.flatnonzero(a["case_type"] == CT["incident"])
        self.incidents = inc[np.argsort(a["case_opened"][inc], kind="stable")]
        self.incident_open = a["case_opened"][self.incidents]
        cust = np.flatnonzero(a["case_type"] == CT["custody"])
        child = force.has_marker("child")
        has_people = self.case_people.count(cust) > 0
        first_person = np.where(has_people, self.case_people.members[np.minimum(self.case_people.offsets[cust], len(self.case_people.members) - 1)], -1)
        self.child_custody = cust[has_people & child[np.maximum(first_person, 0)]]
        self.unit_cases = np.flatnonzero(a["case_unit"] >= 0)

    # --- look-ups ------------------------------------------------------------------------------
    def segments(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """On-duty roster rows overlapping the local day: (row, seg_start, seg_end, staff)."""
        d0, d1 = self.clock.day_bounds(day)
        r = self.roster
        m = r.on_duty_rows() & (r.start < d1) & (r.end > d0)
        rows = np.flatnonzero(m)
        s = np.maximum(r.start[rows], d0)
        e = np.minimum(r.end[rows], d1)
        keep = e > s
        return rows[keep], s[keep], e[keep], r.staff[rows[keep]]

    def lookups(self, rng: np.random.Generator, day: int) -> pl.DataFrame:
        """Innocent access events for one local day."""
        clock, force, a = self.clock, self.force, self.a
        d0, d1 = clock.day_bounds(day)
        rows, ss, se, staff = self.segments(day)
        r = self.roster
        hours = (se - ss) / HOUR
        lam = self.lookup_rate[self.func[staff]] * self.rate_mult[staff] * r.lookup_factor[rows] * hours / 8.5
        n = rng.poisson(lam)
        seg = np.repeat(np.arange(len(rows)), n)
        s = staff[seg].astype(np.int64)
        t = ss[seg] + (rng.random(len(seg)) * (se[seg] - ss[seg])).astype(np.int64)
        # Some look-ups just before a shift starts or after it ends (within 45 minutes).
        spill = rng.random(len(seg))
        share = 0.015 * self.noise
        before = spill < share
        after = (spill >= share) & (spill < 2 * share)
        t = np.where(before, r.start[rows[seg]] - rng.integers(60, 45 * 60, len(seg)), t)
        t = np.where(after, r.end[rows[seg]] + rng.integers(60, 45 * 60, len(seg)), t)
        reach = 45 * 60
        if self.noise > 1:  # and an overrun the roster never recorded: 45 minutes to 2 hours after
            reach = 120 * 60
            overrun = rng.random(len(seg)) < 0.008 * (self.noise - 1)
            t = np.where(overrun, r.end[rows[seg]] + rng.integers(45 * 60, reach, len(seg)), t)
        lo_ok, hi_ok = r.start[rows[seg]] - reach, r.end[rows[seg]] + reach
        N = len(seg)
        cat = _choice_rows(rng, self.purpose[self.func[s]])
        cat = np.where(rng.random(N) < self.curiosity[s], CURIOSITY, cat)

        case = np.full(N, -1, dtype=np.int64)
        # Assigned cases active today.
        act = np.flatnonzero((a["as_assigned"] < d1) & (a["as_unassigned"] > d0))
        by_staff = Groups(a["as_staff"][act], force.n_staff, act)
        pick = by_staff.pick(rng, np.where(cat == ASSIGNED, s, -1))
        lo = np.maximum(a["as_assigned"][np.maximum(pick, 0)], a["case_opened"][a["as_case"][np.maximum(pick, 0)]])
        hi = a["as_unassigned"][np.maximum(pick, 0)]
        t2 = np.where(t < lo, lo + rng.integers(60, 1800, N), t)
        t2 = np.where(t2 > hi, hi - rng.integers(60, 1800, N), t2)
        good = (pick >= 0) & (t2 >= lo) & (t2 >= lo_ok) & (t2 <= hi_ok)
        case = np.where(good, a["as_case"][np.maximum(pick, 0)], case)
        t = np.where(good, t2, t)
        cat = np.where((cat == ASSIGNED) & ~good, UNIT, cat)
        # Exploitation teams checking that no child is in custody.
        cc = self.child_custody
        cc = cc[(a["case_opened"][cc] < d1) & (a["case_closed"][cc] > d0 - DAY)]
        m = cat == CHILD_CUSTODY
        if len(cc):
            pick = cc[rng.integers(len(cc), size=N)]
            t2 = np.maximum(t, a["case_opened"][pick] + 600)
            case = np.where(m, pick, case)
            t = np.where(m, t2, t)
        else:
            cat = np.where(m, UNIT, cat)
        # The unit's open (or just closed) cases.
        uc = self.unit_cases
        uc = uc[(a["case_opened"][uc] < d1) & (a["case_closed"][uc] > d0 - DAY)]
        by_unit = Groups(a["case_unit"][uc], len(force.unit_name), uc)
        pick = by_unit.pick(rng, np.where(cat == UNIT, force.staff_unit[s], -1))
        op = a["case_opened"][np.maximum(pick, 0)]
        t2 = np.where(t < op, op + rng.integers(60, 1800, N), t)
        good = (pick >= 0) & (t2 <= hi_ok) & (t2 < d1)
        case = np.where((cat == UNIT) & good, pick, case)
        t = np.where((cat == UNIT) & good, t2, t)
        fallback = (cat == UNIT) & ~good
        cat = np.where(fallback, np.where(np.isin(self.func[s], [F["response"], F["neighbourhood"], F["roads_policing"]]), PATROL, -1), cat)
        # Control room: incidents opened in the last three hours, force-wide.
        m = cat == CONTROL
        hi_i = np.searchsorted(self.incident_open, t)
        lo_i = np.searchsorted(self.incident_open, t - 3 * HOUR)
        k = lo_i + (rng.random(N) * np.maximum(hi_i - lo_i, 1)).astype(np.int64)
        k = np.clip(np.where(hi_i > lo_i, k, hi_i - 1), 0, len(self.incidents) - 1)
        case = np.where(m, self.incidents[k], case)
        keep = (cat >= 0) & (t >= d0) & (t < d1) & (t >= lo_ok) & (t <= hi_ok)
        keep &= ~(np.isin(cat, [ASSIGNED, UNIT, CHILD_CUSTODY]) & (case < 0))
        keep &= ~((cat == CONTROL) & (a["case_opened"][np.maximum(case, 0)] > t))
        s, t, cat, case = s[keep], t[keep], cat[keep], case[keep]
        return self._resolve(rng, s, t, cat, case, day)

    def _resolve(self, rng: np.random.Generator, s, t, cat, case, day: int) -> pl.DataFrame:
        """Turn (staff, time, purpose, case) into system records, actions and reason codes."""
        force, a = self.force, self.a
        N = len(s)
        sys_ = np.full(N, SY["RMS"], dtype=np.int64)
        rt = np.full(N, RT["case"], dtype=np.int64)
        rec = np.where(case >= 0, case, -1)
        person = np.full(N, -1, dtype=np.int64)
        on_case = case >= 0
        ctype = np.where(on_case, a["case_type"][np.maximum(case, 0)], -1)
        u = rng.random(N)
        # Case-like records by case type.
        sys_ = np.select([ctype == CT["incident"], ctype == CT["custody"], ctype == CT["intelligence"], ctype == CT["traffic_offence"]],
                         [np.where(u < 0.5, SY["COMMAND_CONTROL"], SY["RMS"]), SY["CUSTODY"], SY["INTEL"], SY["FIXED_PENALTY"]], SY["RMS"])
        rt = np.select([ctype == CT["incident"], ctype == CT["custody"], ctype == CT["intelligence"], ctype == CT["traffic_offence"]],
                       [np.where(u < 0.5, RT["log"], RT["case"]), RT["custody"], RT["intelligence"], RT["traffic_offence"]], RT["case"])
        is_control = cat == CONTROL
        sys_ = np.where(is_control, SY["COMMAND_CONTROL"], sys_)
        rt = np.where(is_control, RT["log"], rt)
        # A person on the case instead of the case record.
        p_person = np.select([ctype == CT["intelligence"], is_control], [0.65, 0.25], 0.55)
        want_person = on_case & (rng.random(N) < p_person)
        pp = self.case_people.pick(rng, np.where(want_person, case, -1))
        has_p = pp >= 0
        v = rng.random(N)
        psys = np.select([ctype == CT["intelligence"], ctype == CT["custody"]],
                         [np.where(v < 0.7, SY["INTEL"], SY["PND"]), np.where(v < 0.5, SY["CUSTODY"], SY["PND"])],
                         np.select([v < 0.45, v < 0.8], [SY["RMS"], SY["PND"]], SY["PNC"]))
        sys_ = np.where(has_p, psys, sys_)
        rt = np.where(has_p, RT["person"], rt)
        rec = np.where(has_p, pp, rec)
        person = np.where(has_p, pp, person)
        # Traffic cases: the offender's vehicle; some person look-ups are of their address.
        veh = force.person_vehicle[np.maximum(pp, 0)]
        as_vehicle = has_p & (ctype == CT["traffic_offence"]) & (veh >= 0) & (rng.random(N) < 0.6)
        sys_ = np.where(as_vehicle, SY["PNC"], sys_)
        rt = np.where(as_vehicle, RT["vehicle"], rt)
        rec = np.where(as_vehicle, veh, rec)
        addr = force.person_address[np.maximum(pp, 0)]
        as_addr = has_p & ~as_vehicle & (addr >= 0) & (rng.random(N) < np.where(is_control, 0.4, 0.05))
        sys_ = np.where(as_addr, np.where(is_control, SY["COMMAND_CONTROL"], SY["RMS"]), sys_)
        rt = np.where(as_addr, RT["address"], rt)
        rec = np.where(as_addr, addr, rec)
        case_col = np.where(has_p, -1, case)
        # Patrol checks and curiosity: people (or vehicles) not tied to a case.
        free = (cat == PATROL) | (cat == CURIOSITY)
        k = np.searchsorted(self.pool_cdf, rng.random(N))
        rnd_person = self.pool[np.minimum(k, len(self.pool) - 1)]
        if len(self.marked_pool):
            marked = self.marked_pool[rng.integers(len(self.marked_pool), size=N)]
            if len(self.ocg_pool):
                notorious = self.ocg_pool[np.minimum(np.searchsorted(self.ocg_cdf, rng.random(N)), len(self.ocg_pool) - 1)]
                marked = np.where(rng.random(N) < 0.6, notorious, marked)
            rnd_person = np.where((cat == CURIOSITY) & (rng.random(N) < self.marked_share), marked, rnd_person)
        vk = self.vehicle_pool[rng.integers(len(self.vehicle_pool), size=N)]
        want_vehicle = (cat == PATROL) & (rng.random(N) < np.select([self.func[s] == F["roads_policing"], self.func[s] == F["response"]], [0.75, 0.45], 0.3))
        person = np.where(free, np.where(want_vehicle, force.vehicle_keeper[vk], rnd_person), person)
        rec = np.where(free, np.where(want_vehicle, vk, rnd_person), rec)
        rt = np.where(free, np.where(want_vehicle, RT["vehicle"], RT["person"]), rt)
        w = rng.random(N)
        sys_ = np.where(free & want_vehicle, np.where((self.func[s] == F["roads_policing"]) & (w < 0.35), SY["ANPR"], SY["PNC"]), sys_)
        # Patrol checks go through PNC/PND (which ask for a reason); curiosity also browses RMS.
        sys_ = np.where(free & ~want_vehicle & (cat == PATROL), np.where(w < 0.6, SY["PNC"], SY["PND"]), sys_)
        sys_ = np.where(free & ~want_vehicle & (cat == CURIOSITY), np.select([w < 0.35, w < 0.7], [SY["PNC"], SY["PND"]], SY["RMS"]), sys_)
        case_col = np.where(free, -1, case_col)

        # Actions by record type.
        act = np.zeros(N, dtype=np.int64)
        for rtype, mix in self.action_mix.items():
            sel = np.flatnonzero(rt == RT[rtype]) if rtype != "case" else np.flatnonzero(np.isin(rt, [RT["case"], RT["custody"], RT["intelligence"], RT["traffic_offence"]]))
            if len(sel):
                act[sel] = rng.choice(len(ACTIONS), size=len(sel), p=np.asarray(mix) / np.sum(mix))
        act = np.where(free, np.where(rng.random(N) < 0.7, AC["search"], AC["view"]), act)
        if self.noise > 1:  # a print or screenshot of a record looked up out of curiosity
            shot = (cat == CURIOSITY) & (rng.random(N) < 0.005 * (self.noise - 1))
            act = np.where(shot, np.where(rng.random(N) < 0.8, AC["print"], AC["screenshot"]), act)
        # Roads staff legitimately cancel offences they hold or their unit owns.
        legit_delete = (rt == RT["traffic_offence"]) & (self.func[s] == F["roads_policing"]) & (rng.random(N) < 0.012)
        act = np.where(legit_delete, AC["delete"], act)
        # Reason codes: always on patrol checks, on some case-related PNC/PND searches.
        pnc_pnd = np.isin(sys_, [SY["PNC"], SY["PND"], SY["ANPR"]])
        patrol_reason = cat == PATROL
        if self.noise > 1:  # a noisy force: many patrol checks carry no reason code (30% at noise 2.5)
            patrol_reason &= rng.random(N) >= 0.12 * self.noise
        with_reason = patrol_reason | (pnc_pnd & (cat != CURIOSITY) & (rng.random(N) < 0.35))
        hi_i = np.searchsorted(self.incident_open, t)
        lo_i = np.searchsorted(self.incident_open, t - 12 * HOUR)
        kk = np.clip(lo_i + (rng.random(N) * np.maximum(hi_i - lo_i, 1)).astype(np.int64), 0, len(self.incidents) - 1)
        ref_log = with_reason & (hi_i > lo_i) & (rng.random(N) < 0.6)
        rcase = np.where(ref_log, self.incidents[kk], -1)
        rnum = np.where(with_reason & ~ref_log, rng.integers(1000, 10000, N), -1)
        # Terminals: the usual workstation, another in the unit, or a mobile terminal on patrol.
        unit = force.staff_unit[s]
        other_ws = self.ws_offset[unit] + (rng.random(N) * self.ws_count[unit]).astype(np.int64)
        mdt = self.mdt_offset[unit] + (rng.random(N) * self.mdt_count[unit]).astype(np.int64)
        term = np.where(rng.random(N) < 0.8, self.home_term[s], other_ws)
        mobile = (cat == PATROL) | (rng.random(N) < 0.03)
        term = np.where(mobile, np.where(rng.random(N) < 0.6, mdt, -1), term)
        return event_frame(staff=s, t=t, sys=sys_, act=act, rt=rt, rec=rec, person=person, case=case_col, term=term, rcase=rcase, rnum=rnum)

    def briefing_lookups(self, rng: np.random.Generator, day: int) -> pl.DataFrame:
        """Briefed teams read up on operation targets in the days before (and on) execution."""
        a, clock = self.a, self.clock
        d0, d1 = clock.day_bounds(day)
        rows, ss, se, staff = self.segments(day)
        frames = []
        ex = a["op_executed"]
        for op in np.flatnonzero((ex >= d0) & (ex < d1 + 3 * DAY)):
            briefed = a["os_staff"][a["os_op"] == op]
            targets = a["ot_person"][a["ot_op"] == op]
            m = np.isin(staff, briefed) & (ss < ex[op])
            if not m.any() or len(targets) == 0:
                continue
            k = rng.poisson(1.3, int(m.sum()))
            seg = np.repeat(np.flatnonzero(m), k)
            t = ss[seg] + (rng.random(len(seg)) * (np.minimum(se[seg], ex[op]) - ss[seg])).astype(np.int64)
            tg = targets[rng.integers(len(targets), size=len(seg))]
            sys_ = np.where(rng.random(len(seg)) < 0.5, SY["PND"], SY["INTEL"])
            frames.append(event_frame(staff=staff[seg], t=t, sys=sys_, act=np.where(rng.random(len(seg)) < 0.5, AC["view"], AC["search"]),
                                      rt=RT["person"], rec=tg, person=tg, term=self.home_term[staff[seg]]))
        return pl.concat(frames) if frames else event_frame(staff=np.zeros(0))

    def admin_touches(self, rng: np.random.Generator, day: int) -> pl.DataFrame:
        """A noisy force's central offices alter records of other units with no assignment.

        A ticket office (roads) updates or cancels other units' traffic offences; control rooms
        delete duplicate incident logs. Innocent, but "altered with no assignment" to the data.
        None at noise 1 (the demo force).
        """
        if self.noise <= 1:
            return event_frame(staff=np.zeros(0))
        a = self.a
        d0, d1 = self.clock.day_bounds(day)
        rows, ss, se, staff = self.segments(day)
        func = self.func[staff]
        kinds = ((F["roads_policing"], CT["traffic_offence"], RT["traffic_offence"], SY["FIXED_PENALTY"], 0.1),
                 (F["control_room"], CT["incident"], RT["log"], SY["COMMAND_CONTROL"], 1.0))
        frames = []
        for fn, ctype, rtype, system, delete_share in kinds:
            m = func == fn
            if not m.any():
                continue
            n = rng.poisson(0.05 * (self.noise - 1) * (se[m] - ss[m]) / HOUR / 8.5)
            seg = np.repeat(np.flatnonzero(m), n)
            if not len(seg):
                continue
            t = ss[seg] + (rng.random(len(seg)) * (se[seg] - ss[seg])).astype(np.int64)
            open_ = np.flatnonzero((a["case_type"] == ctype) & (a["case_opened"] < d0) & (a["case_closed"] > d0))
            if not len(open_):
                continue
            case = open_[rng.integers(len(open_), size=len(seg))]
            act = np.where(rng.random(len(seg)) < delete_share, AC["delete"], AC["update"])
            frames.append(event_frame(staff=staff[seg], t=t, sys=system, act=act, rt=rtype, rec=case, case=case,
                                      term=self.home_term[staff[seg]]))
        return pl.concat(frames) if frames else event_frame(staff=np.zeros(0))

    # --- device traffic -----------------------------------------------------------------------
    def device(self, rng: np.random.Generator, day: int) -> pl.DataFrame:
        """Innocent device traffic (hourly rows) for one local day, merged later by key."""
        clock, force, c, a = self.clock, self.force, self.contacts, self.a
        d0, d1 = clock.day_bounds(day)
        S = force.n_staff
        employed = (force.staff_start_day <= day) & (force.staff_end_day >= day)
        rows, ss, se, staff = self.segments(day)
        r = self.roster
        lam = DEVICE_RATE * self.device_mult[staff] * r.device_factor[rows] * (se - ss) / HOUR / 8.5
        n = rng.poisson(lam)
        seg = np.repeat(np.arange(len(rows)), n)
        s = staff[seg].astype(np.int64)
        t = ss[seg] + (rng.random(len(seg)) * (se[seg] - ss[seg])).astype(np.int64)
        # Off duty: a little e-mail checking, more on on-call nights.
        on_call_today = np.zeros(S, dtype=bool)
        oc = (r.claim_type == 1) & (r.claim_start < d1) & (r.claim_end > d0)
        on_call_today[r.claim_staff[oc]] = True
        off_n = rng.poisson(np.where(employed, 0.6 + 2.5 * on_call_today, 0.0))
        s_off = np.repeat(np.arange(S), off_n)
        hrs = d0 + np.arange((d1 - d0) // HOUR) * HOUR
        lh = clock.local_hour(hrs)
        p_day = np.where((lh >= 7) & (lh <= 21), 1.0, 0.15)
        t_off = hrs[rng.choice(len(hrs), size=len(s_off), p=p_day / p_day.sum())] + rng.integers(0, HOUR, len(s_off))
        s = np.concatenate([s, s_off])
        t = np.concatenate([t, t_off])
        N = len(s)
        func = self.func[s]
        # Who the row is with: colleague, partner agency, a party to one of their cases.
        agency_share = np.where(np.isin(func, [F["public_protection"], F["investigation"], F["neighbourhood"], F["exploitation"], F["support"], F["intelligence"]]), 0.12, 0.03)
        party_share = np.select([func == F["public_protection"], np.isin(func, [F["investigation"], F["response"], F["neighbourhood"], F["roads_policing"]])], [0.25, 0.12], 0.02)
        u = rng.random(N)
        kind = np.where(u < agency_share, 1, np.where(u < agency_share + party_share, 2, 0))
        kind[len(seg):] = np.where(rng.random(N - len(seg)) < 0.1, 2, 0)  # off duty: mostly colleagues
        rank = np.minimum((rng.pareto(1.2, N) * 3).astype(np.int64), c.circle.shape[1] - 1)
        colleague = c.circle[s, rank]
        ch = rng.choice(4, size=N, p=[0.25, 0.28, 0.47, 0.0]).astype(np.int64)  # call, sms, email
        ch = np.where(self.whatsapp_colleagues[s] & (rng.random(N) < 0.2), CH["whatsapp"], ch)
        cp = np.where(ch == CH["email"], c.staff_email[colleague], c.staff_phone[colleague])
        # Partner agencies: e-mail, the odd call.
        ag = c.agencies[s, rng.integers(0, 3, N)]
        ag_ch = np.where(rng.random(N) < 0.88, CH["email"], CH["call"])
        cp = np.where(kind == 1, c.orgs.cp[ag], cp)
        ch = np.where(kind == 1, ag_ch, ch)
        # Case parties on the staff member's active cases (victims, witnesses, reporters...).
        act = np.flatnonzero((a["as_assigned"] < d1) & (a["as_unassigned"] > d0))
        by_staff = Groups(a["as_staff"][act], S, act)
        asg = by_staff.pick(rng, np.where(kind == 2, s, -1))
        party = self.case_reachable.pick(rng, np.where(asg >= 0, a["as_case"][np.maximum(asg, 0)], -1))
        ph = c.person_phone[np.maximum(party, 0)]
        em = c.person_email[np.maximum(party, 0)]
        pch = rng.choice([CH["call"], CH["sms"], CH["email"]], size=N, p=[0.5, 0.3, 0.2])
        pch = np.where((pch == CH["email"]) & (em < 0), CH["call"], pch)
        pch = np.where((pch != CH["email"]) & (ph < 0), CH["email"], pch)
        pcp = np.where(pch == CH["email"], em, ph)
        ok_party = (kind == 2) & (party >= 0) & (pcp >= 0)
        cp = np.where(ok_party, pcp, cp)
        ch = np.where(ok_party, pch, ch)
        # The first contact on a case comes after the assignment.
        t = np.where(ok_party, np.maximum(t, a["as_assigned"][np.maximum(asg, 0)] + 300), t)
        frames = [self._device_rows(rng, s, t, ch, cp)]

        # Family and friends (unknown to force systems): small volumes, evenings, any day.
        emp = np.flatnonzero(employed)
        per = rng.poisson(0.25 * self.noise * c.n_personal[emp])
        ps = np.repeat(emp, per)
        slot = (rng.random(len(ps)) * c.n_personal[ps]).astype(np.int64)
        pw = PRIVATE_BY_HOUR[lh]
        pt = hrs[rng.choice(len(hrs), size=len(ps), p=pw / pw.sum())] + rng.integers(0, HOUR, len(ps))
        pch = rng.choice([CH["call"], CH["sms"], CH["email"]], size=len(ps), p=[0.35, 0.6, 0.05])
        frames.append(self._device_rows(rng, ps, pt, pch, c.personal[ps, slot]))
        # A minority with heavy private traffic to one or two people (partner, family) at all hours.
        hv = np.flatnonzero(employed & c.heavy_personal)
        per = rng.poisson(3.0, len(hv))
        hs = np.repeat(hv, per)
        hw = HEAVY_BY_HOUR[lh]
        ht = hrs[rng.choice(len(hrs), size=len(hs), p=hw / hw.sum())] + rng.integers(0, HOUR, len(hs))
        slot = np.where(rng.random(len(hs)) < 0.75, 0, np.minimum(1, c.n_personal[hs] - 1))
        hch = rng.choice([CH["call"], CH["sms"]], size=len(hs), p=[0.3, 0.7])
        frames.append(self._device_rows(rng, hs, ht, hch, c.personal[hs, slot], scale=1.4))
        return pl.concat(frames)

    def _device_rows(self, rng: np.random.Generator, s, t, ch, cp, scale: float = 1.0) -> pl.DataFrame:
        N = len(s)
        ch = np.asarray(ch, dtype=np.int64)
        cnt = np.where(ch == CH["call"], 1 + (rng.random(N) < 0.15), rng.geometric(min(0.9, 0.55 / scale), N))
        dur = np.where(ch == CH["call"], np.clip(cnt * rng.lognormal(np.log(100), 0.9, N), 5, 3600).astype(np.int64), -1)
        return device_frame(staff=s, dev=np.where(ch == CH["email"], MAILBOX, PHONE), ch=ch,
                            dir=(rng.random(N) < 0.5).astype(np.int64), cp=cp, hour=t - t % HOUR, cnt=cnt, dur=dur)


def _scaled_captures(mix: tuple[float, ...], noise: float) -> tuple[float, ...]:
    """An action mix with prints, exports and screenshots ``noise`` times as likely."""
    if noise == 1:
        return mix
    capture = {AC["print"], AC["export"], AC["screenshot"]}
    return tuple(p * noise if i in capture else p for i, p in enumerate(mix))


def merge_device(frame: pl.DataFrame) -> pl.DataFrame:
    """Merge rows that share the contract key (device, channel, direction, counterparty, hour)."""
    keys = ["staff", "dev", "ch", "dir", "cp", "hour"]
    out = frame.group_by(keys).agg(pl.col("cnt").sum(), pl.when(pl.col("dur") >= 0).then(pl.col("dur")).sum().alias("dur_sum"), (pl.col("dur") >= 0).any().alias("has_dur"))
    out = out.with_columns(pl.when(pl.col("has_dur")).then(pl.col("dur_sum")).otherwise(-1).cast(pl.Int32).alias("dur")).drop("dur_sum", "has_dur")
    return out.sort(["hour", "staff", "dev", "ch", "dir", "cp"])


def apply_suppressions(events: pl.DataFrame, device: pl.DataFrame, suppressions: list[Suppression]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Remove all activity of a staff member inside claimed-but-not-worked hours."""
    for sp in suppressions:
        events = events.filter(~((pl.col("staff") == sp.staff) & (pl.col("t") >= sp.start) & (pl.col("t") < sp.end)))
        h0 = sp.start - sp.start % HOUR
        device = device.filter(~((pl.col("staff") == sp.staff) & (pl.col("hour") >= h0) & (pl.col("hour") < sp.end)))
    return events, device
