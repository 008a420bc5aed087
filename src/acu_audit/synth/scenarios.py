"""Planted insiders and innocent decoys, with the ground truth that records them.

Each insider is an ordinary member of their unit (with all the innocent activity the rest of
the force has) plus a small, realistic amount of illicit activity in the last ~21 days of the
period, scaled by ``plant_intensity``. Decoys are innocent staff whose legitimate behaviour a
naive rule would flag; they are recorded in truth.json so an evaluation can count false leads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from acu_audit.synth.activity import AC, CH, DI, MAILBOX, PHONE, RT, SY, Suppression, device_frame, event_frame
from acu_audit.synth.casework import AR, CR, CT, SUB, Casework
from acu_audit.synth.clock import DAY, HOUR, NEVER, Clock
from acu_audit.synth.contacts import Contacts
from acu_audit.synth.force import F, M, R, Force
from acu_audit.synth.profiles import EARLY_CLEAR_DAYS
from acu_audit.synth.roster import DT, Roster

HOME_TERMINAL = -2  # resolved to the staff member's usual workstation once terminals exist


@dataclass
class Plan:
    """Everything the scenarios add on top of the innocent force."""

    access: dict[int, list[pl.DataFrame]] = field(default_factory=dict)
    device: dict[int, list[pl.DataFrame]] = field(default_factory=dict)
    suppressions: list[Suppression] = field(default_factory=list)
    insiders: list[dict] = field(default_factory=list)
    decoys: list[dict] = field(default_factory=list)
    rate_mult: dict[int, float] = field(default_factory=dict)
    whatsapp_colleagues: list[int] = field(default_factory=list)
    heavy_personal: list[int] = field(default_factory=list)


class Planter:
    """Chooses insiders and decoys among generated staff and writes their activity."""

    def __init__(self, rng: np.random.Generator, force: Force, clock: Clock, cw: Casework, roster: Roster, contacts: Contacts,
                 intensity: float, person_new: np.ndarray, early: bool = False) -> None:
        self.rng, self.force, self.clock, self.cw, self.roster, self.contacts = rng, force, clock, cw, roster, contacts
        self.intensity = intensity
        self.plan = Plan()
        self.used: set[int] = set()
        # Insiders act in [w0, w1]: the last ~3 weeks, or (the `early` profile) 3 weeks that end
        # before the last EARLY_CLEAR_DAYS days. Decoys always act in the last weeks.
        self.recent = (max(0, clock.days - 22), clock.days - 1)
        if early:
            last = clock.days - 2 - EARLY_CLEAR_DAYS
            if last < 14:
                raise ValueError(f"the early profile needs at least {EARLY_CLEAR_DAYS + 16} days of history")
            self.insider_window = (max(0, last - 21), last)
        else:
            self.insider_window = self.recent
        self.w0, self.w1 = self.insider_window
        self.func = force.staff_function()
        self.person_ok = (~person_new) & (force.person_staff < 0) & ~force.has_marker("deceased")
        self.staff_ok = (force.staff_start_day < -30) & (force.staff_end_day > clock.days + 5)

    # --- helpers ------------------------------------------------------------------------------
    def k(self, base: float) -> int:
        """Scale a plant's signal volume by the intensity (rounded, at least 1)."""
        return max(1, int(round(base * self.intensity)))

    def pick_staff(self, functions: tuple[str, ...], roles: tuple[str, ...] = ("officer",), extra: np.ndarray | None = None, min_shifts: int = 6) -> int:
        """A deterministic random member of the given functions with enough shifts in the window."""
        base = np.isin(self.func, [F[x] for x in functions]) & self.staff_ok
        role_ok = np.isin(self.force.staff_role, [R[x] for x in roles])
        cands: list[int] = []
        # Relax the wish list step by step on very small forces (extra condition, then role).
        for f in (base & role_ok & (extra if extra is not None else True), base & role_ok, base):
            cands = [int(s) for s in np.flatnonzero(f) if int(s) not in self.used]
            if cands:
                break
        self.rng.shuffle(cands)
        for s in cands[:200]:
            if len(self.duty_shifts(s)) >= min(min_shifts, max(1, (self.w1 - self.w0) // 3)):
                self.used.add(s)
                return s
        if not cands:
            raise RuntimeError(f"no staff available for functions {functions}")
        self.used.add(cands[0])
        return cands[0]

    def duty_shifts(self, staff: int, d0: int | None = None, d1: int | None = None) -> np.ndarray:
        """Roster rows of ordinary duty shifts starting in [d0, d1] (default: the window)."""
        d0 = self.w0 if d0 is None else d0
        d1 = self.w1 if d1 is None else d1
        r = self.roster
        rows = r.shifts_of(staff)
        rows = rows[r.duty[rows] == DT["duty"]]
        lo, hi = self.clock.midnight(d0), self.clock.midnight(d1 + 1)
        return rows[(r.start[rows] >= lo) & (r.end[rows] <= hi + 12 * HOUR) & (r.start[rows] < hi)]

    def ensure_duty(self, staff: int, day: int) -> int:
        """Roster the staff member for a day shift on ``day`` (rare: someone with no shifts left)."""
        r, clock = self.roster, self.clock
        d0, d1 = clock.day_bounds(day)
        clash = np.flatnonzero((r.staff == staff) & (r.start >= d0) & (r.start < d1))
        r.drop_rows(clash)
        r.append_shift(staff, int(clock.at_local(day, 8 * 60)), int(clock.at_local(day, 17 * 60)), "duty")
        return len(r.staff) - 1

    def on_duty_times(self, staff: int, n: int, d0: int | None = None, d1: int | None = None, margin: int = 1800) -> np.ndarray:
        rows = self.duty_shifts(staff, d0, d1)
        if len(rows) == 0:
            rows = self.duty_shifts(staff, 0, self.w1)
        if len(rows) == 0:
            rows = np.array([self.ensure_duty(staff, self.w0 if d0 is None else max(0, d0))])
        r = self.roster
        pick = rows[self.rng.integers(len(rows), size=n)]
        span = np.maximum(r.end[pick] - r.start[pick] - 2 * margin, 60)
        return np.sort(r.start[pick] + margin + (self.rng.random(n) * span).astype(np.int64))

    def off_duty_times(self, staff: int, n: int, d0: int | None = None, d1: int | None = None, hours: tuple[int, int] = (7, 24)) -> np.ndarray:
        """Instants on local days in [d0, d1] inside the local hours, when not on duty."""
        d0 = self.w0 if d0 is None else d0
        d1 = self.w1 if d1 is None else d1
        out: list[int] = []
        for _ in range(40):
            days = self.rng.integers(d0, d1 + 1, size=n * 2)
            mins = self.rng.integers(hours[0] * 60, hours[1] * 60, size=n * 2)
            t = self.clock.at_local(days, mins)
            t = t[~self.roster.on_duty_at(staff, t)]
            out.extend(int(x) for x in t)
            if len(out) >= n:
                break
        return np.sort(np.array(out[:n], dtype=np.int64))

    def any_times(self, n: int, d0: int, d1: int, hours: tuple[int, int] = (0, 24)) -> np.ndarray:
        days = self.rng.integers(d0, d1 + 1, size=n)
        return np.sort(self.clock.at_local(days, self.rng.integers(hours[0] * 60, hours[1] * 60, size=n)) + self.rng.integers(0, 60, n))

    def access(self, staff: int, t, sys: str, act: str, rt: str, rec, person=-1, case=-1, reason: int = -1) -> int:
        t = np.atleast_1d(np.asarray(t, dtype=np.int64))
        n = len(t)
        fr = event_frame(staff=np.full(n, staff), t=t, sys=SY[sys], act=AC[act], rt=RT[rt], rec=np.broadcast_to(rec, n),
                         person=np.broadcast_to(person, n), case=np.broadcast_to(case, n), term=HOME_TERMINAL, rnum=reason)
        for d in np.unique(self.clock.day_of(t)):
            if 0 <= d < self.clock.days:
                self.plan.access.setdefault(int(d), []).append(fr.filter(pl.Series(self.clock.day_of(t) == d)))
        return n

    def messages(self, staff: int, t, channel: str, direction, cp, count=1, duration=None) -> int:
        """Device rows (merged with innocent rows of the same key later)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.int64))
        n = len(t)
        if isinstance(direction, str):
            direction = np.full(n, DI[direction])
        cnt = np.broadcast_to(np.asarray(count), n)
        dur = np.broadcast_to(np.asarray(duration if duration is not None else -1), n) if channel == "call" else np.full(n, -1)
        if channel == "call" and duration is None:
            dur = np.clip(cnt * self.rng.lognormal(np.log(150), 0.8, n), 10, 3000).astype(np.int64)
        fr = device_frame(staff=np.full(n, staff), dev=MAILBOX if channel == "email" else PHONE, ch=CH[channel], dir=direction,
                          cp=np.broadcast_to(cp, n), hour=t - t % HOUR, cnt=cnt, dur=dur)
        days = self.clock.day_of(t)
        for d in np.unique(days):
            if 0 <= d < self.clock.days:
                self.plan.device.setdefault(int(d), []).append(fr.filter(pl.Series(days == d)))
        return int(cnt.sum())

    def chat(self, staff: int, t, channel: str, cp, mean_count: float = 2.0) -> int:
        """A two-way exchange in each hour: rows out and in."""
        t = np.atleast_1d(t)
        n = len(t)
        d = (self.rng.random(n) < 0.5).astype(np.int64)
        c = self.rng.poisson(mean_count - 1, n) + 1
        total = self.messages(staff, t, channel, d, cp, c)
        back = self.rng.random(n) < 0.7
        if back.any():
            total += self.messages(staff, t[back] + self.rng.integers(60, 900, int(back.sum())), channel, 1 - d[back], cp, self.rng.poisson(mean_count - 1, int(back.sum())) + 1)
        return total

    def add_marker(self, person: int, marker: str, day: int) -> None:
        if marker in self.force.markers_of(person):
            return
        f = self.force
        f.marker_person = np.append(f.marker_person, np.int32(person))
        f.marker_code = np.append(f.marker_code, np.int8(M[marker]))
        f.marker_added_day = np.append(f.marker_added_day, np.int32(day))

    def pick_person(self, mask: np.ndarray, female: bool | None = None, exclude: tuple[int, ...] = ()) -> int:
        m = mask & self.person_ok
        if female is not None:
            m &= self.force.person_female == female
        cands = np.setdiff1d(np.flatnonzero(m), np.array(exclude, dtype=np.int64))
        if len(cands) == 0:
            cands = np.flatnonzero(self.person_ok & (self.force.person_female == female if female is not None else True))
        return int(cands[self.rng.integers(len(cands))])

    def staff_cases(self, staff: int) -> set[int]:
        return set(int(c) for c in self.cw.cases_assigned_to(staff))

    def first_case_open(self, person: int) -> int:
        cases = self.cw.cases_of_person(person)
        return int(self.cw.arrays()["case_opened"][cases].min()) if len(cases) else NEVER

    def listed_number(self, person: int, email: bool = False) -> int:
        """The person's number (or e-mail), listed in the directory via their case record."""
        t = self.first_case_open(person)
        if t >= NEVER:  # give them an old case record (small forces: few marked nominals have one)
            t = self.clock.midnight(-90) + 14 * HOUR
            old = self.cw.add_case("crime", t, t + 30 * DAY, self.unit_of_function("neighbourhood"), sub="drugs")
            self.cw.add_people([old], [person], CR["suspect"])
        self.contacts.person_number(person, listed_from=t)
        cp = self.contacts.person_mail(person) if email else int(self.contacts.person_phone[person])
        return cp

    def unit_of_function(self, function: str, not_unit: int | None = None) -> int:
        """A random unit of the function other than ``not_unit`` (else any other operational unit)."""
        units = [int(u) for u in np.flatnonzero(self.force.unit_function == F[function]) if u != not_unit]
        if not units:
            units = [int(u) for u in np.flatnonzero(np.isin(self.force.unit_function, [F["neighbourhood"], F["investigation"], F["response"]])) if u != not_unit]
        return units[int(self.rng.integers(len(units)))]

    def member_of(self, unit: int, exclude: set[int]) -> int:
        m = np.flatnonzero((self.force.staff_unit == unit) & self.staff_ok)
        m = [int(x) for x in m if int(x) not in exclude]
        return m[int(self.rng.integers(len(m)))] if m else -1

    def record(self, staff: int, scenario: str, seed_case: str, categories: list[str], cps: list[int], persons: list[int], notes: str, **signals) -> None:
        self.plan.insiders.append({
            "staff": staff, "scenario": scenario, "seed_case": seed_case, "expected_categories": categories,
            "window": [str(self.clock.date_of(self.w0)), str(self.clock.date_of(self.w1))],
            "cps": cps, "persons": persons, "notes": notes, "signals": signals,
        })

    def decoy(self, staff: int, scenario: str, notes: str) -> None:
        self.plan.decoys.append({"staff": staff, "scenario": scenario, "notes": notes})

    # --- insiders -----------------------------------------------------------------------------
    def drug_supply_contact(self) -> None:
        f, clock, rng = self.force, self.clock, self.rng
        young = (f.staff_start_day > -730) & (f.staff_start_day < -60)
        s = self.pick_staff(("response",), extra=young if (young & (self.func == F["response"]) & self.staff_ok).any() else None)
        if f.staff_start_day[s] <= -730:
            f.staff_start_day[s] = -int(rng.integers(200, 650))
        mine = self.staff_cases(s)
        supply = f.has_marker("drugs_supply")
        dealers: list[int] = []
        for _ in range(200):
            p = self.pick_person(supply & ~f.has_marker("ocg_member"), exclude=tuple(dealers))
            cases = set(int(c) for c in self.cw.cases_of_person(p))
            if cases and not (cases & mine) and self.first_case_open(p) < clock.midnight(0):
                dealers.append(p)
            if len(dealers) == 2:
                break
        if not dealers:  # tiny forces: any supplier, given an old case record by listed_number
            dealers.append(self.pick_person(supply))
        cps = [self.listed_number(p) for p in dealers]
        n_msgs = 0
        # Regular contact with the dealers, some on duty, some off duty in the evening.
        k = self.k(14)
        t = np.concatenate([self.on_duty_times(s, k // 2 + k % 2), self.off_duty_times(s, k // 2, hours=(17, 24))]) if k > 1 else self.off_duty_times(s, 1, hours=(17, 24))
        which = np.where(rng.random(len(t)) < 0.7, 0, len(cps) - 1)
        for i, cp in enumerate(cps):
            ti = t[which == i]
            if len(ti):
                calls = rng.random(len(ti)) < 0.3
                n_msgs += self.chat(s, ti[~calls], "sms", cp) if (~calls).any() else 0
                n_msgs += self.messages(s, ti[calls], "call", "out", cp) if calls.any() else 0
        # Tip-offs: he attends an arrest, later views the case and texts the dealer within the hour.
        tips = []
        for j in range(self.k(2)):
            t0 = int(self.on_duty_times(s, 1, d0=self.w0 + 1)[0])
            unit = int(f.staff_unit[s])
            arrested = self.pick_person(f.has_marker("drugs_use") | f.has_marker("violence"), exclude=tuple(dealers))
            victim = self.pick_person(np.ones(f.n_persons, dtype=bool), exclude=(arrested,))
            crime = self.cw.add_case("crime", t0 - 1800, t0 + int(rng.integers(10, 40)) * DAY, unit, sub="acquisitive")
            self.cw.add_people([crime, crime], [arrested, victim], [CR["suspect"], CR["victim"]])
            closes = int(self.cw.arrays()["case_closed"][crime])
            self.cw.add_assignments([crime], [s], [t0 - 1500], [closes + HOUR], AR["attending"])
            cust_unit = self.unit_of_function("custody")
            cust = self.cw.add_case("custody", t0 + 1800, t0 + 16 * HOUR, cust_unit)
            self.cw.add_people([cust], [arrested], CR["suspect"])
            keeper = self.member_of(cust_unit, {s})
            if keeper >= 0:
                self.cw.add_assignments([cust], [keeper], [t0 + 1900], [t0 + 16 * HOUR], AR["oic"])
            self.cw.add_assignments([cust], [s], [t0 + 1800], [t0 + 17 * HOUR], AR["attending"])
            tv = t0 + int(rng.integers(80, 150)) * 60  # still on the case, so the view has a purpose
            self.messages(s, tv - int(rng.integers(10, 25)) * 60, "sms", "in", cps[0], 1)
            self.access(s, [tv, tv + 240], "RMS", "view", "case", crime, case=crime)
            n_msgs += self.messages(s, tv + int(rng.integers(8, 40)) * 60, "sms", "out", cps[0], int(rng.integers(1, 3)))
            tips.append(str(clock.date_of(int(clock.day_of(tv)))))
        # Curiosity about the dealers themselves: no policing purpose.
        nu = self.k(2)
        tu = self.on_duty_times(s, nu)
        for i, t1 in enumerate(tu):
            p = dealers[i % len(dealers)]
            self.access(s, t1, "PND", "search", "person", p, person=p)
        self.record(s, "drug_supply_contact", "003 case 1", ["D", "I", "U"], cps, dealers,
                    "Officer under two years' service in contact with drug-supply nominals (numbers in the directory from case records), not on his cases and not declared; "
                    "texts one within the hour after viewing the case of an arrest he attended; looks up the dealers without purpose.",
                    device_messages=n_msgs, tip_off_days=tips, purposeless_lookups=nu)

    def prolific_texter(self) -> None:
        f, rng, clock = self.force, self.rng, self.clock
        s = self.pick_staff(("response", "neighbourhood"), extra=~f.staff_female)
        reg = self.contacts.registry
        n_cp = int(rng.integers(5, 8))
        cps = [reg.add(f"private-contact:{f.staff_id[s]}:{i}") for i in range(n_cp)]
        # ~140 messages a month across them at intensity 1, all hours, on and off duty.
        per_day = 140 / 30 * self.intensity
        rows = rng.poisson(per_day / 2.4 * (self.w1 + 1))
        t = self.any_times(max(1, rows), 0, self.w1, hours=(0, 24))
        keep = (self.clock.local_hour(t) >= 7) | (rng.random(len(t)) < 0.35)
        t = t[keep]
        wts = rng.dirichlet(np.full(n_cp, 1.5))
        who = rng.choice(n_cp, size=len(t), p=wts)
        spread = rng.choice(len(t), size=min(len(t), 2 * n_cp), replace=False)  # every one of them is in touch
        who[spread] = np.tile(np.arange(n_cp), 2)[: len(spread)]
        total = 0
        for i, cp in enumerate(cps):
            ti = t[who == i]
            if len(ti):
                total += self.chat(s, ti, "sms" if rng.random() < 0.9 else "email", cp, mean_count=1.6)
        # One of them is a domestic-abuse victim from a case he attended.
        victim = self.pick_person(f.has_marker("domestic_abuse_victim") & f.person_female)
        opened = clock.midnight(self.w0) - 9 * DAY + 20 * HOUR
        case = self.cw.add_case("crime", opened, opened + 12 * DAY, int(f.staff_unit[s]), sub="domestic_abuse")
        suspect = self.pick_person(f.has_marker("violence") & ~f.person_female)
        self.cw.add_people([case, case], [victim, suspect], [CR["victim"], CR["suspect"]])
        self.cw.add_assignments([case], [s], [opened + 1500], [opened + 12 * DAY + HOUR], AR["attending"])
        vcp = self.contacts.person_number(victim, listed_from=opened)
        tv = self.any_times(self.k(12), self.w0, self.w1, hours=(8, 24))
        total += self.chat(s, tv, "sms", vcp, mean_count=2.0)
        cps.append(vcp)
        self.record(s, "prolific_texter", "003 case 3", ["S"], cps, [victim],
                    f"High-volume SMS with {n_cp} counterparties unknown to force systems at all hours through the period (~{int(140 * self.intensity)} a month), "
                    "plus a domestic-abuse victim from a case he attended (number in the directory from the case record).",
                    device_messages=total)

    def ocg_screenshot_leak(self) -> None:
        f, rng, clock, cw = self.force, self.rng, self.clock, self.cw
        s = self.pick_staff(("response", "neighbourhood"), extra=f.staff_female & np.isin(f.staff_role, [R["officer"]]))
        a = cw.arrays()
        assoc = f.has_marker("ocg_associate") & ~f.person_female & self.person_ok & (f.person_ocg_group >= 0)
        intel = set(int(c) for c in np.flatnonzero(a["case_type"] == CT["intelligence"]))
        partner = -1
        for p in np.flatnonzero(assoc):
            if set(int(c) for c in cw.cases_of_person(int(p))) & intel:
                partner = int(p)
                break
        if partner < 0:
            partner = self.pick_person(assoc, female=False)
        g = int(f.person_ocg_group[partner])
        members = np.flatnonzero((f.person_ocg_group == g) & f.has_marker("ocg_member") & self.person_ok)
        if len(members) == 0:  # small forces: the partner's group may be only associates
            members = np.flatnonzero((f.person_ocg_group == g) & self.person_ok & (np.arange(f.n_persons) != partner))
        if len(members) == 0:
            members = np.flatnonzero(f.has_marker("ocg_member") & self.person_ok)[:3]
        if not (set(int(c) for c in cw.cases_of_person(partner)) & intel):
            ic = cw.add_case("intelligence", clock.midnight(-60), NEVER, self.unit_of_function("intelligence"))
            cw.add_people(np.full(len(members) + 1, ic), np.append(members, partner), CR["associate"])
        cp = self.listed_number(partner)
        total = 0
        # The relationship: daily contact at all hours through the period.
        t = self.any_times(max(1, rng.poisson(1.6 * (self.w1 + 1))), 0, self.w1, hours=(6, 24))
        total += self.chat(s, t, "sms", cp, mean_count=1.8)
        # A serious offence involving the partner's associates, on another unit's log.
        d_inc = self.w0 + int(rng.integers(1, 4))
        t_inc = int(clock.at_local(d_inc, 2 * 60 + int(rng.integers(0, 120))))
        other = self.unit_of_function("response", not_unit=int(f.staff_unit[s]))
        inc = cw.add_case("incident", t_inc, t_inc + 20 * DAY, other)
        suspects = members[: max(1, min(3, len(members)))]
        cw.add_people(np.full(len(suspects), inc), suspects, CR["suspect"])
        cw.add_people([inc], [self.pick_person(np.ones(f.n_persons, dtype=bool))], CR["victim"])
        att = self.member_of(other, {s})
        if att >= 0:
            cw.add_assignments([inc], [att], [t_inc + 900], [t_inc + 20 * DAY + HOUR], AR["attending"])
        # Episodes: evening on duty, repeated views without purpose, a screenshot, a text the same hour.
        rows = self.duty_shifts(s, d_inc, self.w1)
        r = self.roster
        late = [int(x) for x in rows if self.clock.local_hour(np.array([r.end[x] - HOUR]))[0] >= 19 or self.clock.local_hour(np.array([r.end[x] - HOUR]))[0] <= 2]
        if not late:  # swap her into a late shift that evening
            fallback = self.duty_shifts(s, 0, self.w1)
            x = int(rows[0]) if len(rows) else (int(fallback[-1]) if len(fallback) else self.ensure_duty(s, self.w1))
            d = int(clock.day_of(int(r.start[x])))
            r.move_shift(x, int(clock.at_local(d, 14 * 60)), int(clock.at_local(d, 23 * 60)))
            late = [x]
        episodes = []
        n_ep = self.k(3)
        views = shots = 0
        for e in range(n_ep):
            x = late[e % len(late)]
            t0 = int(r.end[x]) - int(rng.integers(90, 180)) * 60 + (e // len(late)) * 600
            self.messages(s, t0 - 15 * 60, "sms", "in", cp, 1)
            n_v = 4 if e == 0 else int(rng.integers(1, 3))
            tv = t0 + np.sort(rng.integers(0, 35, n_v)) * 60
            if e == 0 or rng.random() < 0.6:
                views += self.access(s, tv, "COMMAND_CONTROL", "view", "log", inc, case=inc)
            else:
                m = int(suspects[e % len(suspects)])
                views += self.access(s, tv, "PND", "view", "person", m, person=m)
            if e == 0 or rng.random() < 0.5:
                shots += self.access(s, int(tv[-1]) + 120, "COMMAND_CONTROL", "screenshot", "log", inc, case=inc)
            total += self.messages(s, int(tv[-1]) + 300, "sms", "out", cp, int(rng.integers(1, 4)))
            episodes.append(str(clock.date_of(int(clock.day_of(t0)))))
        self.record(s, "ocg_screenshot_leak", "003 case 4", ["U", "O", "I"], [cp], [partner, *[int(x) for x in suspects]],
                    "Officer in an undeclared relationship with an associate of an OCG (partner linked to OCG nominals on an intelligence case; number in the directory). "
                    "On duty in the evening she views a serious-incident log involving OCG members several times with no purpose, screenshots it and texts the partner the same hour.",
                    device_messages=total, log_views=views, screenshots=shots, episode_days=episodes)

    def victim_relationship(self, variant: str) -> None:
        f, rng, clock, cw = self.force, self.rng, self.clock, self.cw
        functions = ("response",) if variant == "case 8" else ("public_protection", "neighbourhood")
        s = self.pick_staff(functions, extra=~f.staff_female)
        victim = self.pick_person(f.has_marker("domestic_abuse_victim") & f.person_female)
        self.add_marker(victim, "vulnerable", -200)
        close_day = self.w0 - 3 if variant == "case 8" else self.w0 + 2
        opened = int(clock.at_local(close_day - int(rng.integers(12, 20)), 21 * 60))
        closed = int(clock.at_local(close_day, 15 * 60))
        case = cw.add_case("crime", opened, closed, int(f.staff_unit[s]), sub="domestic_abuse")
        suspect = self.pick_person(f.has_marker("violence") & ~f.person_female)
        cw.add_people([case, case], [victim, suspect], [CR["victim"], CR["suspect"]])
        role = "attending" if variant == "case 8" else "oic"
        cw.add_assignments([case], [s], [opened + 1200], [closed + 3600], AR[role])
        cp = self.contacts.person_number(victim, listed_from=opened)
        total = 0
        # Professional contact while the case is open: a few calls on duty.
        d_open, d_close = int(clock.day_of(opened)), int(clock.day_of(closed))
        t = self.on_duty_times(s, 3, max(0, d_open), max(0, d_close))
        t = t[(t > opened) & (t < closed)]
        if len(t):
            total += self.messages(s, t, "call", "out", cp)
        # After closure: contact continues and rises, moving into evenings and off duty.
        first = max(d_close + 1, 0)
        n_days = self.w1 - first + 1
        base = self.k(45)
        day_w = np.linspace(0.3, 2.5, max(1, n_days))
        per_day = rng.multinomial(base, day_w / day_w.sum())
        times = []
        for i, n in enumerate(per_day):
            if n == 0:
                continue
            d = first + i
            evening = self.clock.at_local(np.full(n, d), rng.integers(17 * 60, 24 * 60, n))
            daytime = self.clock.at_local(np.full(n, d), rng.integers(8 * 60, 17 * 60, n))
            frac = i / max(1, n_days - 1)
            times.append(np.where(rng.random(n) < 0.4 + 0.4 * frac, evening, daytime))
        if times:
            t = np.sort(np.concatenate(times))
            calls = rng.random(len(t)) < 0.25
            total += self.chat(s, t[~calls], "sms", cp, mean_count=1.7)
            if calls.any():
                total += self.messages(s, t[calls], "call", np.where(rng.random(int(calls.sum())) < 0.6, DI["out"], DI["in"]), cp)
        scen = "victim_relationship"
        self.record(s, scen, f"003 {variant}", ["S"], [cp], [victim],
                    f"{'Attended' if role == 'attending' else 'OIC on'} a domestic-abuse case; after it closed ({clock.date_of(d_close)}) contact with the victim "
                    "(DA victim, vulnerable; number from the case record) continues and rises, moving into evenings and off-duty hours.",
                    device_messages=total, case_closed=str(clock.date_of(d_close)))

    def traffic_deletions(self) -> None:
        f, rng, clock, cw = self.force, self.rng, self.clock, self.cw
        a_staff = self.pick_staff(("roads_policing",), roles=("staff", "officer"), extra=f.staff_female)
        unit_a = int(f.staff_unit[a_staff])
        b_staff = self.pick_staff(("roads_policing",), roles=("officer", "staff"))
        other_unit = self.unit_of_function("roads_policing", not_unit=unit_a)
        total_a = deletions = 0
        offenders = []
        keepers = f.vehicle_keeper[self.person_ok[f.vehicle_keeper]]
        cps = []
        for j in range(self.k(5)):
            p = int(keepers[rng.integers(len(keepers))])
            offenders.append(p)
            d = int(rng.integers(self.w0, self.w1 - 1))
            opened = int(clock.at_local(d, int(rng.integers(7 * 60, 20 * 60))))
            t_del = int(self.on_duty_times(a_staff, 1, d0=min(d + 1, self.w1))[0])
            if t_del <= opened:
                t_del = opened + 2 * DAY
            case = cw.add_case("traffic_offence", opened, t_del + 60, other_unit)
            cw.add_people([case], [p], CR["offender"])
            holder = self.member_of(other_unit, {a_staff, b_staff})
            if holder >= 0:
                cw.add_assignments([case], [holder], [opened + 3 * HOUR], [t_del + 2 * DAY], AR["oic"])
            cp = self.contacts.person_number(p, listed_from=opened)
            cps.append(cp)
            # The offender texts her first; she deletes the offence.
            tc = opened + int(rng.integers(3, 30)) * HOUR
            tc = min(tc, t_del - 1800)
            total_a += self.chat(a_staff, [tc], "sms", cp, 1.6)
            self.access(a_staff, t_del - 240, "FIXED_PENALTY", "view", "traffic_offence", case, case=case)
            deletions += self.access(a_staff, t_del, "FIXED_PENALTY", "delete", "traffic_offence", case, case=case)
        # Screenshots of person records, and look-ups of assault victims without purpose.
        shots = self.k(3)
        for t in self.on_duty_times(a_staff, shots):
            p = self.pick_person(np.ones(f.n_persons, dtype=bool))
            self.access(a_staff, [t, t + 60], "PND", "view", "person", p, person=p)
            self.access(a_staff, t + 90, "PND", "screenshot", "person", p, person=p)
        a = cw.arrays()
        assault = np.flatnonzero((a["case_type"] == CT["crime"]) & (a["case_sub"] == SUB["assault"]) & (a["case_unit"] != unit_a))
        victims = [int(x) for x in a["cp_person"][np.isin(a["cp_case"], assault) & (a["cp_role"] == CR["victim"])] if self.person_ok[int(x)]]
        av = self.k(3)
        looked = []
        for t in self.on_duty_times(a_staff, av):
            p = victims[int(rng.integers(len(victims)))]
            looked.append(p)
            self.access(a_staff, t, "PND", "search", "person", p, person=p)
        # Employee B texts registrations; she checks the vehicles minutes later.
        b_cp_phone = int(self.contacts.staff_phone[b_staff])
        a_cp_phone = int(self.contacts.staff_phone[a_staff])
        vehicles = []
        both = self.on_duty_times(a_staff, self.k(3))
        b_on = self.roster.on_duty_mask(np.full(len(both), b_staff), both)
        if b_on.any():  # B texts from work when both are on duty
            both = both[b_on]
        for t in both:
            self.messages(b_staff, t, "sms", "out", a_cp_phone, int(rng.integers(1, 3)))
            self.messages(a_staff, t + 30, "sms", "in", b_cp_phone, 1)
            for v in rng.integers(len(f.vrm), size=int(rng.integers(1, 3))):
                vehicles.append(int(v))
                kp = int(f.vehicle_keeper[v])
                self.access(a_staff, t + int(rng.integers(5, 20)) * 60, "PNC", "search", "vehicle", int(v), person=kp)
        # B also checks one or two of the same vehicles himself.
        for t, v in zip(self.on_duty_times(b_staff, min(len(vehicles), self.k(2))), vehicles):
            self.access(b_staff, t, "PNC", "search", "vehicle", v, person=int(f.vehicle_keeper[v]))
        self.record(a_staff, "traffic_deletions", "003 case 6 (employee A)", ["T", "U"], cps, offenders + looked,
                    "Roads-policing staff deleting traffic offences owned by another roads unit and not assigned to her, for offenders she texts; "
                    "screenshots of person records; assault victims looked up without purpose; checks vehicles minutes after texts from colleague B.",
                    deletions=deletions, screenshots=shots, assault_victim_lookups=av, device_messages=total_a)
        self.record(b_staff, "traffic_deletions_colleague", "003 case 6 (employee B)", ["U"], [a_cp_phone], [int(f.vehicle_keeper[v]) for v in vehicles],
                    "Colleague (roads) who texts employee A registrations shortly before her vehicle look-ups, and checks one or two of them himself without purpose (weaker signal).",
                    vehicle_lookups=min(len(vehicles), self.k(2)))

    def warrant_day_lookups(self) -> None:
        f, rng, clock, cw = self.force, self.rng, self.clock, self.cw
        s = self.pick_staff(("exploitation",), roles=("staff", "officer"))
        groups = [int(g) for g in np.unique(f.person_ocg_group[f.person_ocg_group >= 0])]
        g = -1
        for cand in rng.permutation(groups):
            mem = np.flatnonzero((f.person_ocg_group == cand) & self.person_ok & f.has_marker("ocg_member"))
            ass = np.flatnonzero((f.person_ocg_group == cand) & self.person_ok & f.has_marker("ocg_associate"))
            if len(mem) >= 2 and len(ass) >= 2:
                g = int(cand)
                break
        if g < 0:
            g = groups[0]
            mem = np.flatnonzero((f.person_ocg_group == g) & self.person_ok)
            ass = np.flatnonzero(f.has_marker("ocg_associate") & self.person_ok)[:2]
        rows = self.duty_shifts(s, self.w0 + 3, self.w1)
        rows = rows if len(rows) else self.duty_shifts(s)
        r = self.roster
        x = int(rows[rng.integers(len(rows))])
        d = int(clock.day_of(int(r.start[x])))
        executed = int(clock.at_local(d, 6 * 60))
        unit = self.unit_of_function("investigation")
        targets = mem[: min(len(mem), 5)]
        briefed = [self.member_of(unit, {s}) for _ in range(10)]
        briefed = [b for b in briefed if b >= 0 and b != s]
        cw.add_operation(executed, executed - 8 * DAY, unit, g, targets, briefed)
        custody = []
        cust_unit = self.unit_of_function("custody")
        keeper = self.member_of(cust_unit, {s})
        for p in targets[:3]:
            booked = executed + int(rng.integers(40, 120)) * 60
            c = cw.add_case("custody", booked, booked + 20 * HOUR, cust_unit)
            cw.add_people([c], [int(p)], CR["suspect"])
            if keeper >= 0:
                cw.add_assignments([c], [keeper], [booked + 300], [booked + 20 * HOUR], AR["oic"])
            if briefed:
                cw.add_assignments([c], [briefed[0]], [booked], [booked + 21 * HOUR], AR["attending"])
            custody.append((c, int(p)))
        n = 0
        # The day before: person records of the targets.
        prev = self.duty_shifts(s, d - 1, d - 1)
        tb = self.on_duty_times(s, self.k(2), d - 1, d - 1) if len(prev) else self.on_duty_times(s, self.k(2), d, d) - 3 * HOUR
        for i, t in enumerate(tb):
            p = int(targets[i % len(targets)])
            n += self.access(s, t, "PND", "view", "person", p, person=p)
        # Warrant day: custody records of the arrested targets, repeatedly.
        td = np.maximum(self.on_duty_times(s, self.k(4), d, d), executed + 3 * HOUR)
        for i, t in enumerate(td):
            c, p = custody[i % len(custody)]
            n += self.access(s, t, "CUSTODY", "view", "custody", c, case=c)
        # Calls with two OCG associates that day (one out, one in).
        assoc = [int(p) for p in ass[:2]]
        cps = [self.listed_number(p) for p in assoc]
        tc = self.on_duty_times(s, 2, d, d)
        self.messages(s, tc[0], "call", "out", cps[0])
        self.messages(s, tc[1], "call", "in", cps[-1])
        self.record(s, "warrant_day_lookups", "003 case 7", ["O", "U"], cps, [int(p) for p in targets] + assoc,
                    f"Exploitation-team employee, not briefed, views target person records the day before and custody records of arrested targets on the day of a warrant operation ({clock.date_of(d)}); calls with two OCG associates that day.",
                    lookups=n, operation_day=str(clock.date_of(d)))

    def email_burst_case_party(self) -> None:
        f, rng, clock, cw = self.force, self.rng, self.clock, self.cw
        s = self.pick_staff(("investigation",), extra=~f.staff_female)
        woman = self.pick_person(f.has_marker("domestic_abuse_victim") & f.person_female)
        opened = int(clock.at_local(max(self.w0 - 15, -20), 11 * 60))
        case = cw.add_case("crime", opened, NEVER, int(f.staff_unit[s]), sub="assault")
        ex = self.pick_person(f.has_marker("violence") & ~f.person_female)
        cw.add_people([case, case], [woman, ex], [CR["suspect"], CR["victim"]])
        cw.add_assignments([case], [s], [opened + 3600], [NEVER], AR["oic"])
        phone = self.contacts.person_number(woman, listed_from=opened)
        mail = self.contacts.person_mail(woman)
        self.contacts.extra_listed.append((mail, woman, opened))
        # ~200 e-mails in five days, both ways, from morning to late evening.
        start_day = max(self.w0 + 4, min(self.w1 - 5, self.w0 + 6))
        days = np.arange(start_day, start_day + 5) % max(1, clock.days)
        n_total = self.k(200)
        per_day = rng.multinomial(n_total, np.full(5, 0.2))
        total = 0
        for d, n in zip(days, per_day):
            hrs = rng.integers(8 * 60, 24 * 60, max(1, n // 3))
            t = self.clock.at_local(np.full(len(hrs), d), hrs)
            cnt = rng.multinomial(n, np.full(len(hrs), 1 / len(hrs)))
            split = rng.binomial(cnt, 0.5)
            ok = split > 0
            total += self.messages(s, t[ok], "email", "out", mail, split[ok]) if ok.any() else 0
            ok2 = (cnt - split) > 0
            total += self.messages(s, t[ok2] + 600, "email", "in", mail, (cnt - split)[ok2]) if ok2.any() else 0
        # Calls to her personal number over three weeks; her record viewed three times while in contact.
        tc = self.any_times(self.k(6), self.w0, self.w1, hours=(9, 22))
        self.messages(s, tc, "call", "out", phone)
        tv = self.on_duty_times(s, self.k(3), start_day, start_day + 4)
        self.access(s, tv, "RMS", "view", "person", woman, person=woman)
        self.record(s, "email_burst_case_party", "002 case 4", ["S"], [mail, phone], [woman],
                    f"OIC of a case where a woman (domestic-abuse victim marker) is a suspect; ~{n_total} e-mails with her in five days from {clock.date_of(int(days[0]))}, "
                    "calls to her personal number, and views of her person record while in contact.",
                    emails=total, calls=len(tc), record_views=len(tv))

    def declined_business(self, contacts: float = 12, functions: tuple[str, ...] = ("support", "neighbourhood", "investigation"),
                          scenario: str = "declined_business") -> None:
        f, rng, clock = self.force, self.rng, self.clock
        s = self.pick_staff(functions, roles=("staff", "officer"))
        c = self.contacts
        bus = [int(b) for b in np.flatnonzero(c.orgs.is_business) if int(c.orgs.cp[b]) not in set(c.declarations.cp)]
        b = bus[int(rng.integers(len(bus)))] if bus else int(np.flatnonzero(c.orgs.is_business)[0])
        decided = self.w0 - int(rng.integers(20, 60))
        c.declarations.add(s, "business_interest", -1, int(c.orgs.cp[b]), b, "business", "declined", decided - int(rng.integers(14, 40)), decided, None)
        cp = int(c.orgs.cp[b])
        n = self.k(contacts)
        t = np.concatenate([self.on_duty_times(s, n // 2 + n % 2), self.off_duty_times(s, n // 2, hours=(8, 21))]) if n > 1 else self.on_duty_times(s, 1)
        calls = rng.random(len(t)) < 0.25
        total = self.chat(s, t[~calls], "email", cp, 1.6) if (~calls).any() else 0
        total += self.messages(s, t[calls], "call", "out", cp) if calls.any() else 0
        self.record(s, scenario, "003 Poultney article", ["B"], [cp], [],
                    f"Business interest ({c.orgs.org_id[b]}) declined on {clock.date_of(decided)}; contact with the business (business register) continues in the window"
                    + (" (the only signal: a few ordinary-looking e-mails and calls)." if scenario != "declined_business" else "."),
                    device_messages=total, organisation_id=str(c.orgs.org_id[b]))

    def overtime_no_activity(self, claims: int | None = None, functions: tuple[str, ...] = ("response", "custody", "roads_policing"),
                             scenario: str = "overtime_no_activity") -> None:
        """Claimed overtime with no activity at all. ``claims`` fixed: the intensity scales the hours instead."""
        clock, rng, r = self.clock, self.rng, self.roster
        s = self.pick_staff(functions, roles=("officer", "staff"))
        occasions = []
        rest_days = [int(clock.day_of(int(r.start[x]))) for x in np.flatnonzero((r.staff == s) & (r.duty == DT["rest"]))]
        rest_days = [d for d in rest_days if self.w0 <= d <= self.w1]
        rng.shuffle(rest_days)
        for i in range(self.k(3) if claims is None else claims):
            if i < len(rest_days):
                d = rest_days[i]
                a = int(clock.at_local(d, int(rng.choice([9 * 60, 13 * 60, 16 * 60]))))
            else:  # an extension after a duty shift
                x = int(self.duty_shifts(s)[i % max(1, len(self.duty_shifts(s)))])
                a = int(r.end[x])
            hours = int(rng.integers(4, 7))
            b = a + (hours * HOUR if claims is None else max(2 * HOUR, int(hours * self.intensity * HOUR)))
            r.append_shift(s, a, b, "overtime", lookup=0.0, device=0.0)
            r.append_claim(s, a, b + (900 if rng.random() < 0.5 else 0), "overtime")
            self.plan.suppressions.append(Suppression(s, a - 1800, b + 1800))
            occasions.append([str(clock.date_of(int(clock.day_of(a)))), round((b - a) / HOUR, 1)])
        self.record(s, scenario, "000 newsletter", ["T"], [], [],
                    "Overtime claimed (timesheets and overtime roster rows) with no system or device activity at all in the claimed hours"
                    + (f" (the only signal: {len(occasions)} claims)." if claims is not None else "."),
                    occasions=occasions)

    def banned_whatsapp_public(self) -> None:
        f, rng = self.force, self.rng
        s = self.pick_staff(("neighbourhood", "response"))
        mine = [int(c) for c in self.cw.cases_assigned_to(s)]
        people = [int(p) for p in np.unique(np.concatenate([self.cw.people_of(c) for c in mine])) if self.person_ok[int(p)]] if mine else []
        p = people[int(rng.integers(len(people)))] if people else self.pick_person(np.ones(f.n_persons, dtype=bool))
        cp_person = self.listed_number(p) if self.first_case_open(p) < NEVER else self.contacts.person_number(p)
        reg = self.contacts.registry
        unknown = [reg.add(f"whatsapp-contact:{f.staff_id[s]}:{i}") for i in range(2)]
        cps = [cp_person, *unknown]
        n = self.k(25)
        t = self.any_times(n, self.w0, self.w1, hours=(7, 24))
        who = rng.choice(len(cps), size=n, p=[0.3, 0.4, 0.3])
        total = 0
        for i, cp in enumerate(cps):
            if (who == i).any():
                total += self.chat(s, t[who == i], "whatsapp", cp, 2.5)
        self.record(s, "banned_whatsapp_public", "003 case 4 outcome", ["M"], cps, [p],
                    "WhatsApp on a force phone with members of the public: a party to one of her/his cases (in the directory) and two numbers unknown to force systems.",
                    device_messages=total)

    def relative_lookups(self) -> None:
        f, rng = self.force, self.rng
        counts = np.bincount(f.relative_staff, minlength=f.n_staff)
        s = self.pick_staff(("response", "neighbourhood", "investigation", "control_room", "custody"), roles=("officer", "staff"), extra=counts >= 2)
        rels = [int(p) for p in f.relative_person[f.relative_staff == s]]
        home_pc = int(f.address_postcode[f.staff_address[s]])
        neigh = [int(p) for p in np.flatnonzero((f.person_postcode == home_pc) & (f.person_surname != f.staff_surname[s]) & self.person_ok)]
        mine = set(int(p) for c in self.cw.cases_assigned_to(s) for p in self.cw.people_of(int(c)))
        neigh = [p for p in neigh if p not in mine]
        n = self.k(5)
        targets = [rels[i % len(rels)] for i in range(max(1, n - min(2, len(neigh))))] + neigh[: min(2, len(neigh), n - 1)]
        t = self.on_duty_times(s, len(targets))
        for ti, p in zip(t, targets):
            self.access(s, ti, str(rng.choice(["PND", "RMS"])), str(rng.choice(["search", "view"])), "person", p, person=p)
        self.record(s, "relative_lookups", "U: relatives and neighbours", ["U"], [], targets,
                    "Looks up relatives (same surname and postcode) and neighbours (same postcode as home) with no purpose.",
                    lookups=len(targets))

    def vehicle_burst(self) -> None:
        f, rng = self.force, self.rng
        s = self.pick_staff(("response", "neighbourhood"))
        rows = self.duty_shifts(s)
        r = self.roster
        n_days = 3 if self.intensity >= 0.5 else 2
        chosen = rows[np.sort(rng.choice(len(rows), size=min(n_days, len(rows)), replace=False))]
        total = 0
        days = []
        for x in chosen:
            size = self.k(int(rng.integers(20, 41)))
            t0 = int(r.start[x]) + int(rng.integers(1, 4)) * HOUR
            t = t0 + np.sort(rng.integers(0, int(rng.integers(60, 121)) * 60, size))
            v = rng.integers(len(f.vrm), size=size)
            sysname = np.where(rng.random(size) < 0.8, SY["PNC"], SY["ANPR"])
            for sname in ("PNC", "ANPR"):
                m = sysname == SY[sname]
                for ti, vi in zip(t[m], v[m]):
                    self.access(s, ti, sname, "search", "vehicle", int(vi), person=int(f.vehicle_keeper[vi]))
            total += size
            days.append(str(self.clock.date_of(int(self.clock.day_of(t0)))))
        self.record(s, "vehicle_burst", "U: bursts of vehicle checks", ["U"], [], [],
                    "Non-roads officer with bursts of vehicle look-ups (PNC/ANPR) within an hour or two, no reason code or purpose, on a few days.",
                    vehicle_lookups=total, burst_days=days)

    def colleague_lookups(self) -> None:
        f = self.force
        s = self.pick_staff(("response", "neighbourhood", "investigation", "support", "control_room"), roles=("officer", "staff"), extra=f.staff_person >= 0)
        same_unit = [int(p) for p in np.flatnonzero((f.person_staff >= 0)) if int(f.person_staff[p]) != s and f.staff_unit[f.person_staff[p]] == f.staff_unit[s]]
        others = [int(p) for p in np.flatnonzero(f.person_staff >= 0) if int(f.person_staff[p]) != s]
        pool = same_unit + [p for p in others if p not in same_unit]
        n = self.k(5)
        targets = pool[:n] + [int(f.staff_person[s])] * self.k(1)
        t = self.on_duty_times(s, len(targets))
        for ti, p in zip(t, targets):
            self.access(s, ti, "PND", "view", "person", p, person=p)
        self.record(s, "colleague_lookups", "U: oneself and colleagues", ["U"], [], targets,
                    "Looks up colleagues' person records and their own with no purpose.", lookups=len(targets))

    # --- insiders with one specific signal -------------------------------------------------------
    def neighbour_lookups_off_duty(self) -> None:
        """Off duty, in the evening, looks up neighbours (same postcode, not relatives) with no purpose."""
        f, rng = self.force, self.rng
        s = self.pick_staff(("neighbourhood", "response", "investigation", "custody"), roles=("officer", "staff"))
        pc = int(f.address_postcode[f.staff_address[s]])
        mine = set(int(p) for c in self.cw.cases_assigned_to(s) for p in self.cw.people_of(int(c)))
        neigh = [int(p) for p in np.flatnonzero((f.person_postcode == pc) & (f.person_surname != f.staff_surname[s]) & self.person_ok)
                 if int(p) not in mine]
        n = self.k(4)
        want = 2 if n >= 4 else 1
        while len(neigh) < want:  # make someone a neighbour: same postcode, an address there
            p = self.pick_person(f.person_surname != f.staff_surname[s], exclude=tuple(neigh))
            f.person_address[p] = int(np.flatnonzero(f.address_postcode == pc)[0])
            f.person_postcode[p] = pc
            neigh.append(p)
        targets = [neigh[i % want] for i in range(max(n, 2 * want))]
        t = self.off_duty_times(s, len(targets), hours=(18, 23))
        for ti, p in zip(t, targets):
            self.access(s, ti, str(rng.choice(["PND", "RMS"])), str(rng.choice(["search", "view"])), "person", p, person=p)
        self.record(s, "neighbour_lookups_off_duty", "003 Lancashire ACU article (College of Policing: curiosity near an officer's home)",
                    ["U"], [], sorted(set(targets)),
                    "Off duty in the evening, looks up neighbours (same postcode as home, not relatives, not on any case of theirs) with no purpose; the only signal.",
                    lookups=len(targets))

    def whatsapp_public_single(self) -> None:
        """WhatsApp on a force phone with one member of the public unknown to force systems."""
        f = self.force
        s = self.pick_staff(("response", "neighbourhood", "custody", "roads_policing"), roles=("officer", "staff"))
        cp = self.contacts.registry.add(f"whatsapp-public:{f.staff_id[s]}")
        t = self.any_times(self.k(6), self.w0, self.w1, hours=(9, 23))
        total = self.chat(s, t, "whatsapp", cp, 2.0)
        self.record(s, "whatsapp_public_single", "003 case 4 outcome", ["M"], [cp], [],
                    "WhatsApp on a force phone with one number unknown to force systems (a member of the public); the only signal.",
                    device_messages=total)

    def high_profile_lookups(self) -> None:
        """Searches and views of a few high-profile people on several days, and one capture; no purpose."""
        f, rng, clock, cw, r = self.force, self.rng, self.clock, self.cw, self.roster
        s = self.pick_staff(("response", "neighbourhood", "investigation", "support"), roles=("officer", "staff"))
        a = cw.arrays()
        unit = int(f.staff_unit[s])
        # Nobody on a case of theirs or of their unit, nor a target of an operation they were briefed on.
        cases = np.union1d(cw.cases_assigned_to(s), np.flatnonzero(a["case_unit"] == unit))
        near = set(int(p) for p in a["cp_person"][np.isin(a["cp_case"], cases)])
        near |= set(int(p) for p in a["ot_person"][np.isin(a["ot_op"], a["os_op"][a["os_staff"] == s])])
        n = self.k(8)  # look-ups (searches and views); the capture comes on top
        rows = self.duty_shifts(s)
        rows = rows[r.end[rows] <= clock.midnight(clock.days)]
        if len(rows) == 0:
            rows = np.array([self.ensure_duty(s, self.w0 + (self.w1 - self.w0) // 2)])
        days_of = clock.day_of(r.start[rows])
        _, first = np.unique(days_of, return_index=True)
        day_rows = rows[first]  # one shift per day
        n_days = min(n, self.k(4), len(day_rows))
        chosen = np.sort(rng.choice(day_rows, size=n_days, replace=False))
        n_people = min(3, n_days)  # one person a day, cycling: 3 people at intensity 1
        hp = [int(p) for p in np.flatnonzero(f.has_marker("high_profile") & self.person_ok) if int(p) not in near]
        people = [hp[i] for i in rng.permutation(len(hp))[:n_people]]
        if len(people) < n_people:  # a small force has too few: some prominent local figures get the marker
            adult = (f.person_birth_year > 0) & (f.person_birth_year <= clock.start.year - 25)
            unmarked = np.ones(f.n_persons, dtype=bool)
            unmarked[f.marker_person] = False
            pool = [int(p) for p in np.flatnonzero(adult & unmarked & self.person_ok) if int(p) not in near and int(p) not in people]
            for i in rng.permutation(len(pool))[: n_people - len(people)]:
                p = pool[int(i)]
                self.add_marker(p, "high_profile", -int(rng.integers(200, 3000)))
                people.append(p)
        per_day = np.full(n_days, n // n_days) + (np.arange(n_days) < n % n_days)
        capture_day = int(rng.integers(n_days))
        capture_action = str(rng.choice(["print", "screenshot"]))
        lookups = 0
        days = []
        for j, x in enumerate(chosen):
            p = people[j % len(people)]
            # Inside the shift and on the local day it starts (so each chosen shift is another day).
            until = min(int(r.end[x]), clock.midnight(int(clock.day_of(int(r.start[x]))) + 1))
            span = max(until - int(r.start[x]) - HOUR, 60)
            t = int(r.start[x]) + 1800 + int(rng.integers(span)) + np.cumsum(rng.integers(1, 6, int(per_day[j])) * 60)
            view_sys = str(rng.choice(["RMS", "PND"]))
            lookups += self.access(s, t[0], str(rng.choice(["PND", "PNC"])), "search", "person", p, person=p)
            if len(t) > 1:
                lookups += self.access(s, t[1:], view_sys, "view", "person", p, person=p)
            if j == capture_day:
                self.access(s, int(t[-1]) + int(rng.integers(30, 180)), view_sys, capture_action, "person", p, person=p)
            days.append(str(clock.date_of(int(clock.day_of(int(t[0]))))))
        self.record(s, "high_profile_lookups", "domain brief, U row: high-profile people", ["U"], [], people,
                    f"Searches and views of {len(people)} high-profile people on {n_days} days, and one {capture_action} of a record, "
                    "with no policing purpose (none on a case of theirs or of their unit; no reason code; not function work; not briefed).",
                    lookups=lookups, captures=1, capture_action=capture_action, capture_day=days[capture_day], lookup_days=days)

    # --- decoys -------------------------------------------------------------------------------
    def decoys(self) -> None:
        f, rng, clock, cw, c = self.force, self.rng, self.clock, self.cw, self.contacts
        s = self.pick_staff(("control_room",), roles=("staff", "officer"))
        self.plan.rate_mult[s] = 2.6
        self.decoy(s, "control_room_volume", "Control-room operator with very high look-up volume, all on incident logs and callers of the shift.")

        s = self.pick_staff(("public_protection",), roles=("officer", "staff"))
        victims = []
        for j in range(4):
            v = self.pick_person(f.has_marker("domestic_abuse_victim"), exclude=tuple(victims))
            victims.append(v)
            opened = int(clock.at_local(self.w0 - int(rng.integers(3, 20)), int(rng.integers(8 * 60, 20 * 60))))
            case = cw.add_case("crime", opened, NEVER, int(f.staff_unit[s]), sub="domestic_abuse")
            cw.add_people([case], [v], CR["victim"])
            cw.add_assignments([case], [s], [opened + 2 * HOUR], [NEVER], AR["oic"])
            cp = c.person_number(v, listed_from=opened)
            t = self.on_duty_times(s, int(rng.integers(18, 30)))
            self.chat(s, t, str(rng.choice(["call", "sms"])), cp, 1.5)
        self.decoy(s, "da_specialist_victim_contact", "Domestic-abuse specialist with very heavy victim contact, on duty, while she/he is OIC of their open cases.")

        s = self.pick_staff(("intelligence",), roles=("staff", "officer"))
        members = np.flatnonzero((f.has_marker("ocg_member") | f.has_marker("ocg_associate")) & self.person_ok)[:12]
        ic = cw.add_case("intelligence", clock.midnight(max(0, self.w0 - 10)), NEVER, int(f.staff_unit[s]))
        cw.add_people(np.full(len(members), ic), members, CR["associate"])
        cw.add_assignments([ic], [s], [clock.midnight(max(0, self.w0 - 10)) + 10 * HOUR], [NEVER], AR["oic"])
        t = self.on_duty_times(s, 40)
        for ti in t:
            p = int(members[rng.integers(len(members))])
            self.access(s, ti, "INTEL", "view", "person", p, person=p)
        self.decoy(s, "intel_analyst_ocg_views", "Intelligence analyst viewing many OCG nominals, all on an intelligence case she/he holds.")

        a = cw.arrays()
        ops = np.flatnonzero((a["op_executed"] > clock.midnight(self.w0 + 1)) & (a["op_executed"] < clock.midnight(self.w1)))
        if not len(ops):  # small or short forces: plan one so the decoy exists
            lead = self.pick_staff(("investigation",), roles=("officer", "staff"))
            self.used.discard(lead)
            targets = np.flatnonzero((f.has_marker("ocg_member") | f.has_marker("drugs_supply")) & self.person_ok)[:4]
            unit = int(f.staff_unit[lead])
            briefed = [m for m in (self.member_of(unit, self.used) for _ in range(8)) if m >= 0]
            executed = int(clock.at_local(min(self.w1 - 1, self.w0 + 4), 6 * 60))
            cw.add_operation(executed, executed - 7 * DAY, unit, -1, targets, [lead, *briefed])
            a = cw.arrays()
            ops = np.array([cw.n_ops - 1])
        if len(ops):
            op = int(ops[0])
            briefed = [int(x) for x in a["os_staff"][a["os_op"] == op] if int(x) not in self.used and self.staff_ok[int(x)]]
            targets = a["ot_person"][a["ot_op"] == op]
            d = int(clock.day_of(int(a["op_executed"][op])))
            s = -1
            for b in briefed:
                if len(self.duty_shifts(b, d - 1, d - 1)):
                    s = b
                    break
            if s < 0 and briefed:
                s = briefed[0]
            if s >= 0:
                self.used.add(s)
                tb = self.on_duty_times(s, 4, d - 1, d - 1) if len(self.duty_shifts(s, d - 1, d - 1)) else int(a["op_executed"][op]) - np.array([5, 4, 3, 2]) * HOUR
                for i, ti in enumerate(np.atleast_1d(tb)):
                    p = int(targets[i % len(targets)])
                    self.access(s, ti, "PND", "view", "person", p, person=p)
                self.decoy(s, "briefed_target_views", f"Briefed on operation OP{op:05d}; views its targets the day before execution.")

        counts = np.bincount(f.relative_staff, minlength=f.n_staff)
        s = self.pick_staff(("response", "neighbourhood", "investigation", "support"), roles=("officer", "staff"), extra=counts >= 1)
        rel = int(f.relative_person[f.relative_staff == s][0])
        self.add_marker(rel, "drugs_use", -400)
        old = cw.add_case("crime", clock.midnight(-100) + 15 * HOUR, clock.midnight(-70), self.unit_of_function("neighbourhood"), sub="drugs")
        cw.add_people([old], [rel], CR["suspect"])
        cp = c.person_number(rel, listed_from=clock.midnight(-100) + 15 * HOUR)
        c.declarations.add(s, "association", rel, cp, -1, "family", "approved", -300, -280, "No discussion of police business; no access to records concerning the associate.")
        self.chat(s, self.off_duty_times(s, 8, 0, self.w1, hours=(17, 22)), "sms", cp, 1.5)
        self.decoy(s, "declared_relative_drugs_use", "In regular contact with a relative who has a drugs_use marker; covered by an approved declared association.")

        s = self.pick_staff(("roads_policing",), roles=("officer", "staff"))
        unit = int(f.staff_unit[s])
        keepers = f.vehicle_keeper[self.person_ok[f.vehicle_keeper]]
        for t in self.on_duty_times(s, 3):
            p = int(keepers[rng.integers(len(keepers))])
            opened = int(t) - int(rng.integers(2, 6)) * DAY
            case = cw.add_case("traffic_offence", opened, int(t) + 60, unit)
            cw.add_people([case], [p], CR["offender"])
            cw.add_assignments([case], [s], [opened + HOUR], [int(t) + DAY], AR["oic"])
            self.access(s, [int(t) - 300, int(t)], "FIXED_PENALTY", "view", "traffic_offence", case, case=case)
            self.access(s, int(t) + 30, "FIXED_PENALTY", "delete", "traffic_offence", case, case=case)
        self.decoy(s, "roads_own_deletions", "Roads officer deleting (cancelling) traffic offences assigned to her/him, owned by her/his unit.")

        heavy = [int(x) for x in np.flatnonzero(c.heavy_personal & self.staff_ok) if int(x) not in self.used]
        s = heavy[0] if heavy else self.pick_staff(("support",), roles=("staff",))
        c.heavy_personal[s] = True
        self.used.add(s)
        self.decoy(s, "family_heavy_traffic", "Heavy personal traffic at all hours with one or two counterparties unknown to force systems (partner/family).")

        s = self.pick_staff(("response", "custody"), roles=("officer", "staff"))
        rest = [int(x) for x in np.flatnonzero((self.roster.staff == s) & (self.roster.duty == DT["rest"])) if self.w0 <= int(clock.day_of(int(self.roster.start[x]))) <= self.w1]
        d = int(clock.day_of(int(self.roster.start[rest[0]]))) if rest else self.w0
        a0 = int(clock.at_local(d, 8 * 60))
        self.roster.append_shift(s, a0, a0 + 8 * HOUR, "overtime", lookup=0.15, device=0.7)
        self.roster.append_claim(s, a0, a0 + 8 * HOUR, "overtime")
        held = cw.cases_assigned_to(s)
        if len(held):  # one look at a case of theirs while waiting
            self.access(s, a0 + 2 * HOUR, "RMS", "view", "case", int(held[-1]), case=int(held[-1]))
        self.decoy(s, "overtime_partial_activity", f"Overtime on {clock.date_of(d)} (scene guard / court waiting): few look-ups, some device activity.")

        s = self.pick_staff(("response", "neighbourhood", "investigation", "support"), roles=("officer", "staff"))
        self.plan.whatsapp_colleagues.append(s)
        t = self.on_duty_times(s, 6)
        for ti in t:
            col = int(c.circle[s, rng.integers(4)])
            self.chat(s, ti, "whatsapp", int(c.staff_phone[col]), 2.0)
        self.decoy(s, "colleague_whatsapp", "WhatsApp on a force phone with colleagues only.")
        for x in rng.choice(np.flatnonzero(self.staff_ok), size=max(2, f.n_staff // 400), replace=False):
            if int(x) not in self.used:
                self.plan.whatsapp_colleagues.append(int(x))

        s = self.pick_staff(("neighbourhood", "response", "investigation"))
        pc = int(f.address_postcode[f.staff_address[s]])
        neigh = np.flatnonzero((f.person_postcode == pc) & (f.person_surname != f.staff_surname[s]) & self.person_ok)
        p = int(neigh[0]) if len(neigh) else self.pick_person(np.ones(f.n_persons, dtype=bool))
        if not len(neigh):  # make them a neighbour: same postcode, another address
            f.person_address[p] = int(np.flatnonzero(f.address_postcode == pc)[0])
            f.person_postcode[p] = pc
        opened = int(self.on_duty_times(s, 1, self.w0, self.w0 + 5)[0]) - HOUR
        case = cw.add_case("crime", opened, opened + 25 * DAY, int(f.staff_unit[s]), sub="acquisitive")
        cw.add_people([case], [p], CR["victim"])
        cw.add_assignments([case], [s], [opened + 1800], [opened + 26 * DAY], AR["oic"])
        t = self.on_duty_times(s, 3, int(clock.day_of(opened)), min(self.w1, int(clock.day_of(opened)) + 10))
        t = np.maximum(t, opened + 2 * HOUR)
        self.access(s, t, "RMS", "view", "person", p, person=p)
        self.decoy(s, "neighbour_on_own_case", "Looks up a neighbour (same postcode) while assigned (OIC) to the neighbour's case.")


SCENARIOS = (
    "drug_supply_contact", "prolific_texter", "ocg_screenshot_leak", "victim_relationship", "traffic_deletions",
    "warrant_day_lookups", "email_burst_case_party", "declined_business", "overtime_no_activity", "banned_whatsapp_public",
    "relative_lookups", "vehicle_burst", "colleague_lookups",
    # One specific signal each (a lead list that only rewards many weak hits misses them).
    "overtime_claims_single", "neighbour_lookups_off_duty", "declined_business_single", "whatsapp_public_single",
    # Added after all of the above, so they stay as they were.
    "high_profile_lookups",
)


def plant_all(planter: Planter) -> Plan:
    """Plant every scenario (two victim relationships), the decoys, the single-signal insiders, then
    the high-profile look-ups.

    Later additions come last so the earlier plants and decoys draw the same random numbers as
    before they existed.
    """
    planter.drug_supply_contact()
    planter.prolific_texter()
    planter.ocg_screenshot_leak()
    planter.victim_relationship("case 8")
    planter.victim_relationship("case 5")
    planter.traffic_deletions()
    planter.warrant_day_lookups()
    planter.email_burst_case_party()
    planter.declined_business()
    planter.overtime_no_activity()
    planter.banned_whatsapp_public()
    planter.relative_lookups()
    planter.vehicle_burst()
    planter.colleague_lookups()
    planter.w0, planter.w1 = planter.recent
    planter.decoys()
    planter.w0, planter.w1 = planter.insider_window
    planter.overtime_no_activity(claims=2, functions=("support", "investigation", "intelligence", "neighbourhood"), scenario="overtime_claims_single")
    planter.neighbour_lookups_off_duty()
    planter.declined_business(contacts=4, functions=("response", "custody", "roads_policing", "control_room"), scenario="declined_business_single")
    planter.whatsapp_public_single()
    planter.high_profile_lookups()
    return planter.plan
