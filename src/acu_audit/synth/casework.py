"""Casework of the demo force: cases, the people on them, who works them, and operations.

Cases open continuously from ``history_days`` before the period to its end; every table keeps
its own instants (UTC epoch seconds) so a nightly snapshot is a filter "as of that night".
Scenario plants append their own cases through :meth:`Casework.add_case`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from acu_audit.contract import ASSIGNMENT_ROLES, CASE_ROLES, CASE_TYPES
from acu_audit.synth.clock import DAY, HOUR, Clock
from acu_audit.synth.force import F, M, R, Force
from acu_audit.synth.groups import Groups

CT = {name: i for i, name in enumerate(CASE_TYPES)}
CR = {name: i for i, name in enumerate(CASE_ROLES)}
AR = {name: i for i, name in enumerate(ASSIGNMENT_ROLES)}
# Crime subtypes (internal only; the contract has no such column).
SUB = {"generic": 0, "domestic_abuse": 1, "sexual": 2, "assault": 3, "acquisitive": 4, "serious": 5, "drugs": 6}
CASE_PREFIX = {"crime": "CR", "incident": "IN", "custody": "CU", "intelligence": "IR", "traffic_offence": "TO", "missing_person": "MP", "other": "OT"}
# Cases opened per staff member per day, force-wide (about staff/12 a day).
CASES_PER_STAFF_DAY = 1 / 12
# Hour-of-day profile of demand (local): quiet small hours, busy afternoon and evening.
DEMAND_BY_HOUR = np.array([3, 2, 2, 1.5, 1, 1, 1.5, 2.5, 4, 5, 5.5, 5.5, 6, 6, 6, 6.5, 7, 7, 7, 6.5, 6, 5.5, 5, 4], dtype=float)


@dataclass
class Casework:
    """Growing tables of cases, case people, assignments and operations (integer form)."""

    case_type: list = field(default_factory=list)
    case_sub: list = field(default_factory=list)
    case_opened: list = field(default_factory=list)
    case_closed: list = field(default_factory=list)
    case_unit: list = field(default_factory=list)
    cp_case: list = field(default_factory=list)
    cp_person: list = field(default_factory=list)
    cp_role: list = field(default_factory=list)
    as_case: list = field(default_factory=list)
    as_staff: list = field(default_factory=list)
    as_assigned: list = field(default_factory=list)
    as_unassigned: list = field(default_factory=list)
    as_role: list = field(default_factory=list)
    op_executed: list = field(default_factory=list)
    op_planned: list = field(default_factory=list)
    op_unit: list = field(default_factory=list)
    op_group: list = field(default_factory=list)
    ot_op: list = field(default_factory=list)
    ot_person: list = field(default_factory=list)
    os_op: list = field(default_factory=list)
    os_staff: list = field(default_factory=list)
    n_cases: int = 0
    n_ops: int = 0
    frozen: dict = field(default_factory=dict)

    # --- appending ------------------------------------------------------------------------
    def add_cases(self, ctype, sub, opened, closed, unit) -> np.ndarray:
        ctype = np.atleast_1d(np.asarray(ctype, dtype=np.int8))
        n = len(ctype)
        idx = np.arange(self.n_cases, self.n_cases + n)
        self.case_type.append(ctype)
        self.case_sub.append(np.broadcast_to(np.asarray(sub, dtype=np.int8), n).copy())
        self.case_opened.append(np.broadcast_to(np.asarray(opened, dtype=np.int64), n).copy())
        self.case_closed.append(np.broadcast_to(np.asarray(closed, dtype=np.int64), n).copy())
        self.case_unit.append(np.broadcast_to(np.asarray(unit, dtype=np.int32), n).copy())
        self.n_cases += n
        self.frozen.clear()
        return idx

    def add_case(self, ctype: str, opened: int, closed: int, unit: int, sub: str = "generic") -> int:
        """Append one case (used by scenario plants); returns its index."""
        return int(self.add_cases([CT[ctype]], SUB[sub], [opened], [closed], [unit])[0])

    def add_people(self, case, person, role) -> None:
        case = np.atleast_1d(np.asarray(case, dtype=np.int64))
        n = len(case)
        self.cp_case.append(case)
        self.cp_person.append(np.broadcast_to(np.asarray(person, dtype=np.int32), n).copy())
        self.cp_role.append(np.broadcast_to(np.asarray(role, dtype=np.int8), n).copy())
        self.frozen.clear()

    def add_assignments(self, case, staff, assigned, unassigned, role) -> None:
        case = np.atleast_1d(np.asarray(case, dtype=np.int64))
        n = len(case)
        self.as_case.append(case)
        self.as_staff.append(np.broadcast_to(np.asarray(staff, dtype=np.int32), n).copy())
        self.as_assigned.append(np.broadcast_to(np.asarray(assigned, dtype=np.int64), n).copy())
        self.as_unassigned.append(np.broadcast_to(np.asarray(unassigned, dtype=np.int64), n).copy())
        self.as_role.append(np.broadcast_to(np.asarray(role, dtype=np.int8), n).copy())
        self.frozen.clear()

    def add_operation(self, executed: int, planned: int, unit: int, group: int, targets, briefed) -> int:
        op = self.n_ops
        self.op_executed.append(np.array([executed], dtype=np.int64))
        self.op_planned.append(np.array([planned], dtype=np.int64))
        self.op_unit.append(np.array([unit], dtype=np.int32))
        self.op_group.append(np.array([group], dtype=np.int32))
        targets = np.unique(np.asarray(targets, dtype=np.int32))
        briefed = np.unique(np.asarray(briefed, dtype=np.int32))
        self.ot_op.append(np.full(len(targets), op, dtype=np.int32))
        self.ot_person.append(targets)
        self.os_op.append(np.full(len(briefed), op, dtype=np.int32))
        self.os_staff.append(briefed)
        self.n_ops += 1
        self.frozen.clear()
        return op

    # --- reading --------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """Concatenated arrays (cached until the next append)."""
        if not self.frozen:
            def cat(parts, dtype):
                return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)
            self.frozen.update(
                case_type=cat(self.case_type, np.int8), case_sub=cat(self.case_sub, np.int8),
                case_opened=cat(self.case_opened, np.int64), case_closed=cat(self.case_closed, np.int64),
                case_unit=cat(self.case_unit, np.int32),
                cp_case=cat(self.cp_case, np.int64), cp_person=cat(self.cp_person, np.int32), cp_role=cat(self.cp_role, np.int8),
                as_case=cat(self.as_case, np.int64), as_staff=cat(self.as_staff, np.int32),
                as_assigned=cat(self.as_assigned, np.int64), as_unassigned=cat(self.as_unassigned, np.int64),
                as_role=cat(self.as_role, np.int8),
                op_executed=cat(self.op_executed, np.int64), op_planned=cat(self.op_planned, np.int64),
                op_unit=cat(self.op_unit, np.int32), op_group=cat(self.op_group, np.int32),
                ot_op=cat(self.ot_op, np.int32), ot_person=cat(self.ot_person, np.int32),
                os_op=cat(self.os_op, np.int32), os_staff=cat(self.os_staff, np.int32),
            )
        return self.frozen

    def people_of(self, case: int, role: str | None = None) -> np.ndarray:
        a = self.arrays()
        m = a["cp_case"] == case
        if role is not None:
            m &= a["cp_role"] == CR[role]
        return a["cp_person"][m]

    def cases_of_person(self, person: int) -> np.ndarray:
        a = self.arrays()
        return np.unique(a["cp_case"][a["cp_person"] == person])

    def cases_assigned_to(self, staff: int) -> np.ndarray:
        a = self.arrays()
        return np.unique(a["as_case"][a["as_staff"] == staff])


class StaffPicker:
    """Random eligible staff of a unit or a function (eligible: rostered, not a new joiner)."""

    def __init__(self, force: Force, eligible: np.ndarray) -> None:
        self.force = force
        members = np.flatnonzero(eligible)
        self.by_unit = Groups(force.staff_unit[members], len(force.unit_name), members)
        self.by_function = Groups(force.staff_function()[members], len(F), members)

    def in_unit(self, rng: np.random.Generator, unit: np.ndarray) -> np.ndarray:
        return self.by_unit.pick(rng, unit)

    def in_function(self, rng: np.random.Generator, function: np.ndarray | int, n: int | None = None) -> np.ndarray:
        fn = np.full(n, function) if n is not None else np.asarray(function)
        return self.by_function.pick(rng, fn)


def _lognormal_hours(rng: np.random.Generator, median_h: float, sigma: float, n: int) -> np.ndarray:
    return (rng.lognormal(np.log(median_h), sigma, n) * HOUR).astype(np.int64)


def _pool(rng: np.random.Generator, mask: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """``n`` weighted draws (with replacement) from persons where ``mask``."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0 or n == 0:
        return np.full(n, -1, dtype=np.int32)
    w = weight[idx]
    return idx[rng.choice(len(idx), size=n, p=w / w.sum())].astype(np.int32)


def build_casework(rng: np.random.Generator, force: Force, clock: Clock, case_people: float = 1.0) -> Casework:
    """Generate cases, case people, assignments and operations over pre-history and period.

    ``case_people`` > 1 (the ``busy`` profile) puts that many times the nominals on each crime,
    incident and intelligence case, drawn towards the prolific ones (associates, witnesses and
    further suspects), so a unit's open cases name most of the nominals it meets.
    """
    cw = Casework()
    S = force.n_staff
    func = force.staff_function()
    role = force.staff_role
    # Staff who can be given work: not joining during the period, not volunteers.
    workable = (force.staff_start_day < 0) & (role != R["volunteer"])
    officers = workable & np.isin(role, [R["officer"], R["special"]])
    pick_any = StaffPicker(force, workable)
    pick_officer = StaffPicker(force, officers)
    cj_units = np.flatnonzero(np.array([n.startswith("Criminal Justice") for n in force.unit_name]))
    cj_staff = workable & np.isin(force.staff_unit, cj_units) if len(cj_units) else workable & (func == F["support"])
    cj_pool = np.flatnonzero(cj_staff)

    has = {m: force.has_marker(m) for m in M}
    alive = ~has["deceased"]
    not_staff = force.person_staff < 0
    adult = ~has["child"]
    w = force.person_weight
    general = alive
    suspect_pool = alive & adult & not_staff
    suspect_w = w * (1 + 3 * (has["violence"] | has["drugs_supply"] | has["drugs_use"] | has["ocg_member"] | has["ocg_associate"]))

    # --- base cases -----------------------------------------------------------------------
    days = np.arange(-clock.history_days, clock.days)
    n_per_day = rng.poisson(S * CASES_PER_STAFF_DAY * 0.9, len(days))
    day_of_case = np.repeat(days, n_per_day)
    n = len(day_of_case)
    hour = rng.choice(24, size=n, p=DEMAND_BY_HOUR / DEMAND_BY_HOUR.sum())
    opened = clock.at_local(day_of_case, hour * 60 + rng.integers(0, 60, n)) + rng.integers(0, 60, n)
    order = np.argsort(opened, kind="stable")
    opened = opened[order]
    types = np.array([CT["incident"], CT["crime"], CT["intelligence"], CT["traffic_offence"], CT["missing_person"], CT["other"]])
    ctype = types[rng.choice(len(types), size=n, p=[0.38, 0.36, 0.07, 0.12, 0.03, 0.04])].astype(np.int8)
    sub = np.zeros(n, dtype=np.int8)
    is_crime = ctype == CT["crime"]
    subs = np.array([SUB["domestic_abuse"], SUB["sexual"], SUB["assault"], SUB["acquisitive"], SUB["serious"], SUB["drugs"]])
    sub[is_crime] = subs[rng.choice(len(subs), size=int(is_crime.sum()), p=[0.18, 0.04, 0.20, 0.44, 0.06, 0.08])]

    # Owning function by type (and crime subtype), then a unit of that function (size-weighted).
    u = rng.random(n)
    ofunc = np.full(n, F["investigation"], dtype=np.int64)
    ofunc = np.where(ctype == CT["incident"], np.where(u < 0.75, F["response"], F["neighbourhood"]), ofunc)
    ofunc = np.where(ctype == CT["intelligence"], np.where(u < 0.8, F["intelligence"], F["exploitation"]), ofunc)
    ofunc = np.where(ctype == CT["traffic_offence"], F["roads_policing"], ofunc)
    ofunc = np.where(ctype == CT["missing_person"], np.where(u < 0.5, F["public_protection"], F["neighbourhood"]), ofunc)
    ofunc = np.where(ctype == CT["other"], np.select([u < 0.3, u < 0.6, u < 0.8], [F["professional_standards"], F["support"], F["other"]], F["neighbourhood"]), ofunc)
    cf = np.full(n, F["investigation"])
    cf = np.where(sub == SUB["domestic_abuse"], np.select([u < 0.6, u < 0.9], [F["public_protection"], F["response"]], F["investigation"]), cf)
    cf = np.where(sub == SUB["sexual"], F["public_protection"], cf)
    cf = np.where(sub == SUB["assault"], np.select([u < 0.4, u < 0.7], [F["response"], F["investigation"]], F["neighbourhood"]), cf)
    cf = np.where(sub == SUB["acquisitive"], np.select([u < 0.4, u < 0.8], [F["investigation"], F["neighbourhood"]], F["response"]), cf)
    cf = np.where(sub == SUB["drugs"], np.select([u < 0.5, u < 0.8], [F["neighbourhood"], F["investigation"]], F["exploitation"]), cf)
    ofunc = np.where(is_crime, cf, ofunc)
    owner = pick_any.in_function(rng, ofunc)
    unit = np.where(owner >= 0, force.staff_unit[np.maximum(owner, 0)], -1).astype(np.int32)
    unit = np.where((ctype == CT["other"]) & (rng.random(n) < 0.15), -1, unit)  # some records have no owner

    median = np.select(
        [ctype == CT["incident"], sub == SUB["serious"], is_crime, ctype == CT["intelligence"], ctype == CT["traffic_offence"], ctype == CT["missing_person"]],
        [20.0, 24 * 70.0, 24 * 25.0, 24 * 60.0, 24 * 35.0, 30.0],
        24 * 10.0,
    )
    sigma = np.where(ctype == CT["traffic_offence"], 0.4, 1.0)
    closed = opened + (np.exp(rng.normal(np.log(median), sigma)) * HOUR).astype(np.int64) + 600
    case = cw.add_cases(ctype, sub, opened, closed, unit)

    # --- people on base cases ---------------------------------------------------------------
    people_c: list[np.ndarray] = []
    people_p: list[np.ndarray] = []
    people_r: list[np.ndarray] = []

    def put(mask: np.ndarray, prob: float, pool: np.ndarray, weight: np.ndarray, role_name: str) -> None:
        sel = case[mask & (rng.random(n) < prob)]
        people_c.append(sel)
        people_p.append(_pool(rng, pool, weight, len(sel)))
        people_r.append(np.full(len(sel), CR[role_name], dtype=np.int8))

    inc = ctype == CT["incident"]
    generic_crime = is_crime & ~np.isin(sub, [SUB["domestic_abuse"], SUB["sexual"], SUB["serious"]])
    put(inc, 0.9, general, w, "reporter")
    put(inc, 0.35, general, w, "victim")
    put(inc, 0.3, suspect_pool, suspect_w, "suspect")
    put(inc, 0.3, general, w, "witness")
    put(generic_crime, 0.95, general & not_staff, w, "victim")
    put(generic_crime, 0.02, ~not_staff, np.ones_like(w), "victim")  # officers assaulted on duty
    put(generic_crime, 0.6, suspect_pool, suspect_w, "suspect")
    put(generic_crime, 0.15, suspect_pool, suspect_w, "suspect")
    put(generic_crime, 0.5, general, w, "witness")
    put(generic_crime, 0.15, general, w, "reporter")
    da = is_crime & (sub == SUB["domestic_abuse"])
    put(da, 1.0, has["domestic_abuse_victim"] & alive, w, "victim")
    put(da, 0.9, suspect_pool & ~force.person_female, suspect_w, "suspect")
    put(da, 0.25, general, w, "witness")
    sx = is_crime & (sub == SUB["sexual"])
    put(sx, 1.0, has["sexual_offence_victim"] & alive, w, "victim")
    put(sx, 0.7, suspect_pool & ~force.person_female, suspect_w, "suspect")
    ser = is_crime & (sub == SUB["serious"])
    put(ser, 1.0, general & not_staff, w, "victim")
    for p in (0.9, 0.6, 0.3):
        put(ser, p, (has["ocg_member"] | has["ocg_associate"] | has["violence"]) & alive, w, "suspect")
    put(ser, 0.8, general, w, "witness")
    put(ser, 0.4, general, w, "witness")
    dr = is_crime & (sub == SUB["drugs"])
    put(dr, 1.0, (has["drugs_supply"] | has["drugs_use"]) & alive, w, "suspect")
    mp = ctype == CT["missing_person"]
    put(mp, 1.0, (has["child"] | has["vulnerable"]) & alive, w, "other")
    put(mp, 0.9, general, w, "reporter")
    oth = ctype == CT["other"]
    put(oth, 0.7, general, w, "other")
    tr = ctype == CT["traffic_offence"]
    sel = case[tr]
    people_c.append(sel)
    people_p.append(force.vehicle_keeper[rng.integers(len(force.vehicle_keeper), size=len(sel))])
    people_r.append(np.full(len(sel), CR["offender"], dtype=np.int8))
    # Intelligence: nominals of one OCG group (associates / suspects), or drug-market subjects.
    intel = case[ctype == CT["intelligence"]]
    groups = force.person_ocg_group
    n_groups = int(groups.max()) + 1 if (groups >= 0).any() else 0
    gm = Groups(np.where(groups >= 0, groups, n_groups), n_groups + 1)
    for c in intel:  # a few hundred to a few thousand cases: a small loop is clear and cheap
        if n_groups and rng.random() < 0.7:
            g = int(rng.integers(n_groups))
            mem = gm.of(g)
            k = min(len(mem), int(rng.integers(2, 6)))
            chosen = rng.choice(mem, size=k, replace=False) if k else np.zeros(0, dtype=np.int64)
            roles = np.where(rng.random(k) < 0.7, CR["associate"], CR["suspect"])
        else:
            chosen = _pool(rng, (has["drugs_supply"] | has["ocg_associate"] | has["drugs_use"]) & alive, w, int(rng.integers(1, 4)))
            roles = np.full(len(chosen), CR["associate"])
        people_c.append(np.full(len(chosen), c))
        people_p.append(np.asarray(chosen, dtype=np.int32))
        people_r.append(np.asarray(roles, dtype=np.int8))

    # Counter-allegations: a DA victim named as suspect on an assault case (seed 002).
    da_cases = case[da]
    ca = da_cases[rng.random(len(da_cases)) < 0.03]
    if len(ca):
        vict = _first_role(people_c, people_p, people_r, ca, CR["victim"])
        susp = _first_role(people_c, people_p, people_r, ca, CR["suspect"])
        ok = (vict >= 0) & (susp >= 0)
        ca, vict, susp = ca[ok], vict[ok], susp[ok]
        o2 = opened[ca] + rng.integers(1, 10, len(ca)) * DAY
        owner2 = pick_any.in_function(rng, np.full(len(ca), F["investigation"]))
        c2 = cw.add_cases(np.full(len(ca), CT["crime"]), SUB["assault"], o2, o2 + _lognormal_hours(rng, 24 * 30, 0.8, len(ca)), force.staff_unit[np.maximum(owner2, 0)])
        people_c += [c2, c2]
        people_p += [vict, susp]
        people_r += [np.full(len(c2), CR["suspect"], dtype=np.int8), np.full(len(c2), CR["victim"], dtype=np.int8)]

    if case_people > 1:
        base_c = np.concatenate(people_c)
        base_c = base_c[np.isin(cw.arrays()["case_type"][base_c], [CT["crime"], CT["incident"], CT["intelligence"]])]
        extra_c = np.repeat(base_c, rng.poisson(case_people - 1, len(base_c)))
        people_c.append(extra_c)
        people_p.append(_pool(rng, suspect_pool, suspect_w, len(extra_c)))
        people_r.append(np.array([CR["associate"], CR["witness"], CR["suspect"]], dtype=np.int8)[
            rng.choice(3, size=len(extra_c), p=[0.5, 0.3, 0.2])])
    cw.add_people(np.concatenate(people_c), np.concatenate(people_p), np.concatenate(people_r))
    _assign_base(rng, cw, force, pick_any, pick_officer, cj_pool)
    _custody_from_arrests(rng, cw, force, pick_any, pick_officer)
    _operations(rng, cw, force, clock, pick_any, pick_officer, has, w)
    return cw


def _first_role(cs, ps, rs, cases: np.ndarray, role: int) -> np.ndarray:
    c = np.concatenate(cs)
    p = np.concatenate(ps)
    r = np.concatenate(rs)
    m = (r == role) & (p >= 0)
    c, p = c[m], p[m]
    order = np.argsort(c, kind="stable")
    c, p = c[order], p[order]
    pos = np.searchsorted(c, cases)
    pos = np.minimum(pos, len(c) - 1)
    return np.where((len(c) > 0) & (c[pos] == cases), p[pos], -1)


def _assign_base(rng, cw: Casework, force: Force, pick_any: StaffPicker, pick_officer: StaffPicker, cj_pool: np.ndarray) -> None:
    """Who works each case: owning-unit OIC/investigator/supervisor, response officers attending."""
    a = cw.arrays()
    n = cw.n_cases
    case = np.arange(n)
    ctype, sub, opened, closed, unit = a["case_type"], a["case_sub"], a["case_opened"], a["case_closed"], a["case_unit"]
    life = closed - opened
    out_c, out_s, out_a, out_u, out_r = [], [], [], [], []

    def put(mask, staff, assigned, unassigned, role_name):
        m = mask & (staff >= 0)
        assigned = np.minimum(assigned, closed - 60)
        assigned = np.maximum(assigned, opened)
        unassigned = np.maximum(unassigned, assigned + 600)
        out_c.append(case[m]); out_s.append(staff[m]); out_a.append(assigned[m]); out_u.append(unassigned[m])
        out_r.append(np.full(int(m.sum()), AR[role_name], dtype=np.int8))

    resp_unit_pick = pick_officer.in_function(rng, np.full(n, F["response"]))
    inc = ctype == CT["incident"]
    att1 = pick_officer.in_unit(rng, unit)
    att1 = np.where(att1 >= 0, att1, resp_unit_pick)
    t_att = opened + rng.integers(5, 40, n) * 60
    # Assignments end at (or after) the case's closure, as the records system keeps them.
    put(inc, att1, t_att, closed + rng.integers(0, 120, n) * 60, "attending")
    att2 = pick_officer.in_unit(rng, unit)
    put(inc & (rng.random(n) < 0.4) & (att2 != att1), att2, t_att + 300, closed + rng.integers(0, 120, n) * 60, "attending")
    put(inc & (rng.random(n) < 0.25), pick_any.in_unit(rng, unit), opened + rng.integers(1, 12, n) * HOUR, closed + rng.integers(0, 24, n) * HOUR, "oic")

    not_inc = ~inc & (ctype != CT["custody"])
    oic = pick_any.in_unit(rng, unit)
    # Officers in operational units are OIC; staff investigators also take cases.
    t_oic = opened + np.minimum((rng.lognormal(np.log(6), 1.0, n) * HOUR).astype(np.int64), np.maximum(life // 3, 600))
    put(not_inc, oic, t_oic, closed + rng.integers(0, 48, n) * HOUR, "oic")
    crime = ctype == CT["crime"]
    inv = pick_any.in_unit(rng, unit)
    put((crime | (ctype == CT["intelligence"])) & (rng.random(n) < 0.3) & (inv != oic), inv, t_oic + rng.integers(1, 72, n) * HOUR, closed + rng.integers(0, 48, n) * HOUR, "investigator")
    sup = pick_any.in_unit(rng, unit)
    put(crime & (rng.random(n) < 0.35) & (sup != oic) & (sup != inv), sup, t_oic + rng.integers(1, 48, n) * HOUR, closed + rng.integers(0, 48, n) * HOUR, "supervisor")
    attending = crime & (sub != SUB["serious"]) & (rng.random(n) < 0.5)
    put(attending & (resp_unit_pick != oic), resp_unit_pick, opened + rng.integers(5, 40, n) * 60, closed + rng.integers(0, 48, n) * HOUR, "attending")
    mp = ctype == CT["missing_person"]
    put(mp, resp_unit_pick, opened + rng.integers(5, 40, n) * 60, closed + rng.integers(0, 120, n) * 60, "attending")
    if len(cj_pool):
        cj = cj_pool[rng.integers(len(cj_pool), size=n)]
        put(crime & (rng.random(n) < 0.2) & (life > 5 * DAY), cj, opened + rng.integers(3, 20, n) * DAY, closed + rng.integers(0, 48, n) * HOUR, "support")
    cw.add_assignments(np.concatenate(out_c), np.concatenate(out_s), np.concatenate(out_a), np.concatenate(out_u), np.concatenate(out_r))


def _custody_records(rng, cw: Casework, force: Force, pick_any: StaffPicker, suspects: np.ndarray, arrested_at: np.ndarray, arresting: np.ndarray) -> np.ndarray:
    """Open custody records for detained suspects; returns the new case indices."""
    n = len(suspects)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    func = np.full(n, F["custody"])
    cust_staff = pick_any.in_function(rng, func)
    unit = force.staff_unit[np.maximum(cust_staff, 0)]
    booked = arrested_at + rng.integers(20, 90, n) * 60
    released = booked + _lognormal_hours(rng, 14, 0.5, n)
    c = cw.add_cases(np.full(n, CT["custody"]), SUB["generic"], booked, released, unit)
    cw.add_people(c, suspects, CR["suspect"])
    cw.add_assignments(c, cust_staff, booked + rng.integers(0, 15, n) * 60, released, AR["oic"])
    second = pick_any.in_unit(rng, unit)
    m = (rng.random(n) < 0.5) & (second != cust_staff) & (second >= 0)
    # The second custody officer joins during the detention (before release).
    joins = booked[m] + (rng.random(int(m.sum())) * (released[m] - booked[m]) * 0.7).astype(np.int64)
    cw.add_assignments(c[m], second[m], joins, released[m], AR["support"])
    m = arresting >= 0
    cw.add_assignments(c[m], arresting[m], booked[m], released[m] + rng.integers(0, 120, int(m.sum())) * 60, AR["attending"])
    return c


def _custody_from_arrests(rng, cw: Casework, force: Force, pick_any: StaffPicker, pick_officer: StaffPicker) -> None:
    """Arrests on crimes and incidents produce custody records (about a tenth of all cases)."""
    a = cw.arrays()
    m = (a["cp_role"] == CR["suspect"]) & np.isin(a["case_type"][a["cp_case"]], [CT["crime"], CT["incident"]])
    c = a["cp_case"][m]
    p = a["cp_person"][m]
    keep = rng.random(len(c)) < 0.33
    c, p = c[keep], p[keep]
    arrested = a["case_opened"][c] + np.minimum(_lognormal_hours(rng, 4, 1.2, len(c)), 5 * DAY)
    # The arresting officer: whoever attended or holds the case, else a response officer.
    first_staff = np.full(cw.n_cases, -1, dtype=np.int64)
    order = np.argsort(a["as_case"], kind="stable")[::-1]
    first_staff[a["as_case"][order]] = a["as_staff"][order]
    arresting = first_staff[c]
    arresting = np.where(arresting >= 0, arresting, pick_officer.in_function(rng, np.full(len(c), F["response"])))
    _custody_records(rng, cw, force, pick_any, p, arrested, arresting)


def _operations(rng, cw: Casework, force: Force, clock: Clock, pick_any: StaffPicker, pick_officer: StaffPicker, has: dict, w: np.ndarray) -> None:
    """A few warrant operations a week: dawn execution, OCG/drug-supply targets, briefed teams."""
    per_week = max(2.0, 1.5 * force.n_staff / 1000)
    func = force.staff_function()
    groups = force.person_ocg_group
    n_groups = int(groups.max()) + 1 if (groups >= 0).any() else 0
    supply = np.flatnonzero(has["drugs_supply"] & ~has["deceased"])
    days = np.arange(-30, clock.days)
    n_ops = rng.poisson(per_week / 7, len(days))
    for d, k in zip(days, n_ops):
        for _ in range(k):
            executed = int(clock.at_local(d, int(rng.integers(300, 420))))
            planned = executed - int(rng.integers(3, 15)) * DAY - int(rng.integers(0, 8)) * HOUR
            ofn = rng.choice([F["investigation"], F["intelligence"], F["exploitation"]], p=[0.5, 0.2, 0.3])
            lead = int(pick_any.in_function(rng, np.array([ofn]))[0])
            if lead < 0:
                continue
            unit = int(force.staff_unit[lead])
            g = int(rng.integers(n_groups)) if n_groups else -1
            pool = np.flatnonzero((groups == g) & ~has["deceased"]) if g >= 0 else np.zeros(0, dtype=np.int64)
            pool = np.concatenate([pool, rng.choice(supply, size=min(len(supply), 3), replace=False)]) if len(supply) else pool
            pool = np.unique(pool)
            if len(pool) < 2:
                continue
            targets = rng.choice(pool, size=min(len(pool), int(rng.integers(2, 9))), replace=False)
            n_brief = int(rng.integers(8, 31))
            own = pick_any.by_unit.of(unit)
            own = rng.choice(own, size=min(len(own), int(n_brief * 0.6)), replace=False)
            helpers = pick_officer.in_function(rng, np.array([F["response"]] * (n_brief - len(own))))
            briefed = np.unique(np.concatenate([own, helpers[helpers >= 0], [lead]]))
            cw.add_operation(executed, planned, unit, g, targets, briefed)
            # Arrests at the doors: custody records, and a crime for the operation.
            arrested = targets[rng.random(len(targets)) < 0.6]
            if len(arrested):
                arresting = rng.choice(briefed, size=len(arrested))
                t = np.full(len(arrested), executed) + rng.integers(10, 90, len(arrested)) * 60
                _custody_records(rng, cw, force, pick_any, arrested.astype(np.int32), t, arresting)
                closes = executed + int(rng.integers(30, 120)) * DAY
                crime = cw.add_case("crime", executed, closes, unit, sub="drugs")
                cw.add_people(np.full(len(arrested), crime), arrested, CR["suspect"])
                cw.add_assignments([crime], [lead], [executed + HOUR], [closes + DAY], AR["oic"])
