"""The workforce and the nominal index of the demo force.

Builds units, staff, addresses, persons (including staff who are on force systems and staff's
relatives), warning markers, OCG groups and vehicles. Everything is held as numpy arrays
indexed by integer position; identifiers are text only when written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acu_audit.contract import MARKERS, STAFF_ROLES, UNIT_FUNCTIONS
from acu_audit.synth import names
from acu_audit.synth.clock import Clock

F = {name: i for i, name in enumerate(UNIT_FUNCTIONS)}
M = {name: i for i, name in enumerate(MARKERS)}
R = {name: i for i, name in enumerate(STAFF_ROLES)}

# Approximate workforce shares per unit function (the brief) and a typical unit size.
FUNCTION_SHARE = {
    "response": 0.24, "neighbourhood": 0.14, "investigation": 0.14, "public_protection": 0.07,
    "roads_policing": 0.04, "custody": 0.04, "control_room": 0.08, "intelligence": 0.04,
    "exploitation": 0.02, "professional_standards": 0.01, "support": 0.16, "other": 0.02,
}
UNIT_SIZE = {
    "response": 45, "neighbourhood": 30, "investigation": 40, "public_protection": 35, "roads_policing": 30,
    "custody": 30, "control_room": 60, "intelligence": 35, "exploitation": 25, "professional_standards": 20,
    "support": 40, "other": 25,
}
# Role mix per function: officer, staff, special, volunteer, contractor.
ROLE_MIX = {
    "response": (0.90, 0.02, 0.07, 0.01, 0.0),
    "neighbourhood": (0.70, 0.18, 0.08, 0.04, 0.0),
    "investigation": (0.80, 0.18, 0.0, 0.0, 0.02),
    "public_protection": (0.75, 0.25, 0.0, 0.0, 0.0),
    "roads_policing": (0.60, 0.40, 0.0, 0.0, 0.0),
    "custody": (0.40, 0.55, 0.0, 0.0, 0.05),
    "control_room": (0.10, 0.90, 0.0, 0.0, 0.0),
    "intelligence": (0.30, 0.68, 0.0, 0.0, 0.02),
    "exploitation": (0.50, 0.50, 0.0, 0.0, 0.0),
    "professional_standards": (0.60, 0.40, 0.0, 0.0, 0.0),
    "support": (0.05, 0.80, 0.0, 0.03, 0.12),
    "other": (0.20, 0.70, 0.0, 0.05, 0.05),
}
# Share of persons with each marker (a person may have several).
MARKER_SHARE = {
    "vulnerable": 0.05, "domestic_abuse_victim": 0.03, "sexual_offence_victim": 0.01, "child": 0.08,
    "ocg_member": 0.004, "ocg_associate": 0.008, "drugs_supply": 0.008, "drugs_use": 0.03, "violence": 0.04,
    "weapons": 0.01, "high_profile": 0.001, "deceased": 0.005,
}
PERSONS_PER_STAFF = 6
STAFF_PERSON_SHARE = 0.15
RELATIVE_SHARE = 0.45  # staff with 1-3 relatives on force systems
ADDRESSES_PER_STAFF = 5.5
ADDRESSES_PER_POSTCODE = 14


@dataclass
class Force:
    """Units, staff, addresses, persons, markers, OCG groups and vehicles (parallel arrays)."""

    # units
    unit_name: np.ndarray
    unit_function: np.ndarray  # int8 index into UNIT_FUNCTIONS
    unit_code: np.ndarray
    # staff
    staff_id: np.ndarray
    staff_surname: np.ndarray
    staff_forenames: np.ndarray
    staff_female: np.ndarray
    staff_role: np.ndarray  # int8 index into STAFF_ROLES
    staff_unit: np.ndarray
    staff_team: np.ndarray  # 0-3 within unit, for 24/7 rotations
    staff_start_day: np.ndarray  # day index (negative: joined before the period)
    staff_end_day: np.ndarray  # day index of leaving, or a large number
    staff_address: np.ndarray
    staff_person: np.ndarray  # person index of the staff member's own record, or -1
    # addresses
    address_id: np.ndarray
    address_postcode: np.ndarray
    postcode: np.ndarray
    # persons
    person_id: np.ndarray
    person_surname: np.ndarray
    person_forenames: np.ndarray
    person_female: np.ndarray
    person_birth_year: np.ndarray  # -1 = unknown
    person_address: np.ndarray  # -1 = none
    person_postcode: np.ndarray  # -1 = none (postcode index)
    person_staff: np.ndarray  # staff index or -1
    person_weight: np.ndarray  # how often the person turns up in police work
    person_ocg_group: np.ndarray  # -1 or group number
    # markers (long form)
    marker_person: np.ndarray
    marker_code: np.ndarray
    marker_added_day: np.ndarray
    # relatives of staff (pairs)
    relative_staff: np.ndarray
    relative_person: np.ndarray
    # vehicles
    vrm: np.ndarray
    vehicle_keeper: np.ndarray
    person_vehicle: np.ndarray  # -1 or vehicle index
    joiner_day: np.ndarray  # days on which an intake cohort joined (for notes)

    @property
    def n_staff(self) -> int:
        return len(self.staff_id)

    @property
    def n_persons(self) -> int:
        return len(self.person_id)

    def staff_function(self) -> np.ndarray:
        return self.unit_function[self.staff_unit]

    def has_marker(self, marker: str) -> np.ndarray:
        """Boolean mask over persons."""
        mask = np.zeros(self.n_persons, dtype=bool)
        mask[self.marker_person[self.marker_code == M[marker]]] = True
        return mask

    def markers_of(self, person: int) -> list[str]:
        return [MARKERS[c] for c in self.marker_code[self.marker_person == person]]


def _unique_ids(rng: np.random.Generator, n: int, prefix: str, digits: int) -> np.ndarray:
    """Opaque, unique, zero-padded identifiers (random numbers, so order reveals nothing)."""
    nums = rng.choice(10**digits - 10 ** (digits - 1), size=n, replace=False) + 10 ** (digits - 1)
    return np.array([f"{prefix}{x}" for x in nums], dtype=object)


def _unit_names(function: str, k: int) -> list[str]:
    """Named units of a function, e.g. "Response North 2", "Roads Policing West"."""
    base: list[str]
    if function == "response":
        base = [f"Response {a} {i}" for i in (1, 2, 3, 4) for a in names.AREAS]
    elif function == "neighbourhood":
        base = [f"Neighbourhood {t}" for t in names.TOWNS]
    elif function == "investigation":
        base = [f"CID {a}" for a in names.AREAS] + ["Major Investigation Team", "Serious Organised Crime Unit", "Economic Crime Unit"]
    elif function == "public_protection":
        base = [f"Public Protection {a}" for a in names.AREAS] + [f"Domestic Abuse Team {a}" for a in names.AREAS]
    elif function == "roads_policing":
        base = [f"Roads Policing {a}" for a in ("West", "East", "North", "South", "Central")] + ["Collision Investigation Unit", "Central Ticket Office"]
    elif function == "custody":
        base = [f"Custody {t}" for t in names.TOWNS]
    elif function == "control_room":
        base = [f"Force Control Room Team {c}" for c in "ABCDEFGH"]
    elif function == "intelligence":
        base = ["Force Intelligence Bureau"] + [f"Intelligence {a}" for a in names.AREAS]
    elif function == "exploitation":
        base = [f"Exploitation Team {a}" for a in names.AREAS]
    elif function == "professional_standards":
        base = ["Professional Standards", "Anti-Corruption Unit", "Vetting and Integrity"]
    elif function == "support":
        base = list(names.SUPPORT_UNITS)
    else:
        base = list(names.OTHER_UNITS)
    out = list(base[:k])
    i = 2
    while len(out) < k:  # large forces: "CID North 2", ...
        out.extend(f"{b} {i}" for b in base[: k - len(out)])
        i += 1
    return out


def _postcodes(rng: np.random.Generator, n: int) -> np.ndarray:
    letters = names.INWARD_LETTERS
    per_out = 10 * len(letters) * len(letters)
    total = per_out * len(names.OUTWARD_CODES)
    picks = rng.choice(total, size=n, replace=False)
    out_i, rest = np.divmod(picks, per_out)
    digit, rest = np.divmod(rest, len(letters) ** 2)
    l1, l2 = np.divmod(rest, len(letters))
    return np.array(
        [f"{names.OUTWARD_CODES[o]} {d}{letters[a]}{letters[b]}" for o, d, a, b in zip(out_i, digit, l1, l2)],
        dtype=object,
    )


def _vrms(rng: np.random.Generator, n: int) -> np.ndarray:
    """UK-style registrations ("PN19 XKD"), unique."""
    memory = np.array(["PN", "PE", "PF", "PG", "PK", "PL", "PO", "PX", "PY", "MA", "MF", "BD", "YK", "DK", "LL"])
    ages = np.array([f"{y:02d}" for y in list(range(10, 26)) + list(range(60, 76))])
    tail = "ABCDEFGHJKLMNOPRSTUVWXY"
    out: set[str] = set()
    result = np.empty(n, dtype=object)
    i = 0
    while i < n:
        m = rng.integers(len(memory), size=n - i)
        a = rng.integers(len(ages), size=n - i)
        t = rng.integers(len(tail), size=(n - i, 3))
        for k in range(n - i):
            v = f"{memory[m[k]]}{ages[a[k]]} {tail[t[k, 0]]}{tail[t[k, 1]]}{tail[t[k, 2]]}"
            if v not in out:
                out.add(v)
                result[i] = v
                i += 1
    return result


def build_force(rng: np.random.Generator, n_staff: int, clock: Clock, function_share: dict[str, float] | None = None) -> Force:
    """Build the workforce and nominal index for a force of ``n_staff`` staff.

    ``function_share`` multiplies the workforce share of named unit functions (the ``mix``
    profile); response absorbs the difference.
    """
    sw = names.surname_weights()
    surnames = np.array(names.SURNAMES, dtype=object)
    fem_names = np.array(names.FORENAMES_F, dtype=object)
    male_names = np.array(names.FORENAMES_M, dtype=object)

    def forenames(female: np.ndarray) -> np.ndarray:
        f = fem_names[rng.integers(len(fem_names), size=len(female))]
        m = male_names[rng.integers(len(male_names), size=len(female))]
        return np.where(female, f, m)

    # --- units and staff per function ------------------------------------------------
    share = {f: FUNCTION_SHARE[f] * (function_share or {}).get(f, 1.0) for f in UNIT_FUNCTIONS}
    counts = {f: max(3, int(round(share[f] * n_staff))) for f in UNIT_FUNCTIONS}
    counts["roads_policing"] = max(counts["roads_policing"], 6)  # two roads units at least
    counts["response"] += n_staff - sum(counts.values())
    if counts["response"] < 3:
        raise ValueError("staff must be at least about 60 to build every unit function")
    unit_name: list[str] = []
    unit_function: list[int] = []
    staff_unit_list: list[np.ndarray] = []
    staff_func_list: list[np.ndarray] = []
    for f in UNIT_FUNCTIONS:
        n_f = counts[f]
        k = max(1, int(round(n_f / UNIT_SIZE[f])))
        if f in ("roads_policing", "response") and n_f >= 6:
            k = max(2, k)  # always more than one roads unit and response team
        k = min(k, n_f)
        sizes = rng.multinomial(n_f - k, rng.dirichlet(np.full(k, 8.0))) + 1
        first = len(unit_name)
        unit_name.extend(_unit_names(f, k))
        unit_function.extend([F[f]] * k)
        staff_unit_list.append(np.repeat(np.arange(first, first + k), sizes))
        staff_func_list.append(np.full(n_f, F[f]))
    n_units = len(unit_name)
    order = rng.permutation(n_staff)  # shuffle so ids and rows are not grouped by unit
    staff_unit = np.concatenate(staff_unit_list)[order].astype(np.int32)
    func = np.asarray(unit_function, dtype=np.int8)[staff_unit]
    unit_code = np.array([f"U{i:03d}" for i in range(n_units)], dtype=object)

    role_p = np.array([ROLE_MIX[f] for f in UNIT_FUNCTIONS])
    cum = np.cumsum(role_p[func], axis=1)
    staff_role = (rng.random(n_staff)[:, None] > cum).sum(axis=1).astype(np.int8)
    staff_role = np.minimum(staff_role, len(STAFF_ROLES) - 1)
    p_male = np.where(staff_role == R["officer"], 0.65, 0.40)
    staff_female = rng.random(n_staff) >= p_male
    staff_surname = surnames[rng.choice(len(surnames), size=n_staff, p=sw)]
    staff_forenames = forenames(staff_female)
    staff_team = np.zeros(n_staff, dtype=np.int8)
    for u in range(n_units):  # teams A-D within each unit, for shift rotations
        members = np.flatnonzero(staff_unit == u)
        staff_team[members] = rng.permutation(len(members)) % 4

    # Service: recent uplift recruitment gives many officers under two years' service.
    years = np.where(rng.random(n_staff) < 0.22, rng.uniform(0.05, 2.0, n_staff), 2.0 + np.minimum(rng.exponential(9.0, n_staff), 28.0))
    years = np.where(staff_role == R["contractor"], rng.uniform(0.1, 5.0, n_staff), years)
    staff_start_day = (-np.round(years * 365.25)).astype(np.int32) - 1
    staff_end_day = np.full(n_staff, 10**6, dtype=np.int32)
    # Joiners: one intake cohort (response and control room) every ~30 days of the period.
    joiner_days = [d for d in range(12, clock.days - 3, 30)]
    for d in joiner_days:
        pool = np.flatnonzero(np.isin(func, [F["response"], F["control_room"]]) & (staff_start_day < -730))
        k = min(len(pool), max(1, n_staff // 150))
        chosen = rng.choice(pool, size=k, replace=False)
        staff_start_day[chosen] = d
    # Leavers: about 0.4% of staff a month, on a few nights.
    n_leave = max(1, int(round(0.004 * n_staff * clock.days / 30)))
    pool = np.flatnonzero(staff_start_day < -30)
    leavers = rng.choice(pool, size=min(n_leave, len(pool)), replace=False)
    leave_nights = rng.integers(2, max(3, clock.days - 1), size=max(1, clock.days // 10))
    staff_end_day[leavers] = leave_nights[rng.integers(len(leave_nights), size=len(leavers))]

    # --- addresses ----------------------------------------------------------------------
    n_addr = int(n_staff * ADDRESSES_PER_STAFF) + 50
    n_pc = max(20, n_addr // ADDRESSES_PER_POSTCODE)
    postcode = _postcodes(rng, n_pc)
    address_postcode = rng.integers(n_pc, size=n_addr).astype(np.int32)
    address_id = _unique_ids(rng, n_addr, "AD", 8)
    pc_order = np.argsort(address_postcode, kind="stable")
    pc_start = np.searchsorted(address_postcode[pc_order], np.arange(n_pc + 1))

    def address_in_postcode(pc: np.ndarray) -> np.ndarray:
        lo, hi = pc_start[pc], pc_start[pc + 1]
        return pc_order[lo + (rng.random(len(pc)) * (hi - lo)).astype(np.int64)]

    staff_address = rng.choice(n_addr, size=n_staff, replace=False).astype(np.int32) if n_addr > n_staff else rng.integers(n_addr, size=n_staff).astype(np.int32)

    # --- persons ------------------------------------------------------------------------
    n_persons = PERSONS_PER_STAFF * n_staff
    p_surname = np.empty(n_persons, dtype=object)
    p_fore = np.empty(n_persons, dtype=object)
    p_female = np.zeros(n_persons, dtype=bool)
    p_birth = np.full(n_persons, -1, dtype=np.int32)
    p_addr = np.full(n_persons, -1, dtype=np.int32)
    p_staff = np.full(n_persons, -1, dtype=np.int32)
    p_kind = np.zeros(n_persons, dtype=np.int8)  # 0 general, 1 staff record, 2 relative of staff
    i = 0
    # Staff who are on force systems themselves (victims, witnesses, old reports).
    sp = np.flatnonzero((rng.random(n_staff) < STAFF_PERSON_SHARE) & (staff_start_day < 0))
    k = len(sp)
    p_surname[i : i + k] = staff_surname[sp]
    p_fore[i : i + k] = staff_forenames[sp]
    p_female[i : i + k] = staff_female[sp]
    p_birth[i : i + k] = clock.start.year - (22 + np.maximum(0, -staff_start_day[sp]) // 365 + rng.integers(0, 15, k))
    p_addr[i : i + k] = staff_address[sp]
    p_staff[i : i + k] = sp
    p_kind[i : i + k] = 1
    staff_person = np.full(n_staff, -1, dtype=np.int32)
    staff_person[sp] = np.arange(i, i + k)
    i += k
    # Relatives: same surname, same address (household) or same postcode (down the road).
    has_rel = np.flatnonzero(rng.random(n_staff) < RELATIVE_SHARE)
    n_rel = rng.choice([1, 2, 3], size=len(has_rel), p=[0.55, 0.30, 0.15])
    rel_staff = np.repeat(has_rel, n_rel)
    k = min(len(rel_staff), n_persons - i - n_staff)
    rel_staff = rel_staff[:k]
    rel_female = rng.random(k) < 0.5
    p_surname[i : i + k] = staff_surname[rel_staff]
    p_fore[i : i + k] = forenames(rel_female)
    p_female[i : i + k] = rel_female
    p_birth[i : i + k] = rng.integers(1945, 2012, k)
    same_home = rng.random(k) < 0.5
    p_addr[i : i + k] = np.where(same_home, staff_address[rel_staff], address_in_postcode(address_postcode[staff_address[rel_staff]]))
    p_kind[i : i + k] = 2
    relative_person = np.arange(i, i + k, dtype=np.int32)
    i += k
    # Everyone else on the nominal index; some in households of two.
    k = n_persons - i
    gen = np.arange(i, n_persons)
    p_surname[gen] = surnames[rng.choice(len(surnames), size=k, p=sw)]
    p_birth[gen] = np.where(rng.random(k) < 0.04, -1, rng.integers(1940, 2008, k))
    addr = np.where(rng.random(k) < 0.9, rng.integers(n_addr, size=k), -1)
    household = rng.random(k) < 0.3
    household[0] = False
    prev = np.maximum(gen - 1, i)
    p_surname[gen] = np.where(household, p_surname[prev], p_surname[gen])
    addr = np.where(household, np.roll(addr, 1), addr)
    p_addr[gen] = addr

    # --- markers ------------------------------------------------------------------------
    is_gen = p_kind == 0
    is_rel = p_kind == 2
    gen_share = max(is_gen.mean(), 1e-9)
    mk = np.zeros((n_persons, len(MARKERS)), dtype=bool)
    u = rng.random((n_persons, len(MARKERS)))
    for m, share in MARKER_SHARE.items():
        mk[:, M[m]] = is_gen & (u[:, M[m]] < share / gen_share * 0.85)
    # Relatives of staff: ordinary families, some with drug use or violence on record.
    for m, share in (("drugs_use", 0.08), ("violence", 0.05), ("vulnerable", 0.05)):
        mk[:, M[m]] |= is_rel & (u[:, M[m]] < share)
    # Correlated markers: OCG members are often violent, armed, suppliers.
    om = mk[:, M["ocg_member"]]
    r = rng.random((n_persons, 3))
    mk[:, M["violence"]] |= om & (r[:, 0] < 0.45)
    mk[:, M["weapons"]] |= om & (r[:, 1] < 0.25)
    mk[:, M["drugs_supply"]] |= om & (r[:, 2] < 0.35)
    oa = mk[:, M["ocg_associate"]] & ~om
    mk[:, M["ocg_associate"]] = oa
    mk[:, M["drugs_use"]] |= oa & (r[:, 0] < 0.2)
    # Children: no adult-only markers.
    ch = mk[:, M["child"]]
    for m in ("ocg_member", "ocg_associate", "drugs_supply", "high_profile", "deceased", "domestic_abuse_victim", "weapons"):
        mk[:, M[m]] &= ~ch
    p_birth = np.where(ch, rng.integers(clock.start.year - 17, clock.start.year - 1, n_persons), p_birth)
    # Sex and forenames (general persons): DA and sexual-offence victims mostly women.
    pf = np.full(n_persons, 0.5)
    pf = np.where(mk[:, M["domestic_abuse_victim"]], 0.85, pf)
    pf = np.where(mk[:, M["sexual_offence_victim"]], 0.8, pf)
    pf = np.where(mk[:, M["ocg_member"]] | mk[:, M["drugs_supply"]] | mk[:, M["violence"]], 0.18, pf)
    g_female = rng.random(n_persons) < pf
    p_female = np.where(is_gen, g_female, p_female)
    p_fore = np.where(is_gen, forenames(p_female), p_fore)

    # OCG groups: a handful, each partly built around one family (same surname and postcode).
    n_members = int(mk[:, M["ocg_member"]].sum())
    n_groups = max(3, int(round(n_members / 9)))
    ocg_group = np.full(n_persons, -1, dtype=np.int16)
    members = np.flatnonzero(mk[:, M["ocg_member"]])
    assocs = np.flatnonzero(mk[:, M["ocg_associate"]])
    ocg_group[members] = rng.integers(n_groups, size=len(members))
    ocg_group[assocs] = rng.integers(n_groups, size=len(assocs))
    for g in range(n_groups):
        gm = members[ocg_group[members] == g]
        if len(gm) >= 2:
            fam = gm[rng.random(len(gm)) < 0.35]
            head = gm[0]
            p_surname[fam] = p_surname[head]
            if p_addr[head] < 0:
                p_addr[head] = rng.integers(n_addr)
            p_addr[fam] = address_in_postcode(np.full(len(fam), address_postcode[p_addr[head]]))

    marker_person, marker_code = np.nonzero(mk)
    n_mk = len(marker_person)
    added = -rng.integers(1, 3650, n_mk)
    recent = rng.random(n_mk) < 0.06  # some markers are added during the period
    added = np.where(recent, rng.integers(0, max(1, clock.days), n_mk), added).astype(np.int32)

    # How often each person turns up in police work (prolific nominals exist).
    weight = rng.lognormal(0.0, 1.0, n_persons)
    marked = mk[:, [M["violence"], M["drugs_supply"], M["drugs_use"], M["ocg_member"], M["ocg_associate"], M["weapons"]]].any(axis=1)
    weight = np.where(marked, weight * 3.0, weight)
    weight = np.where(p_kind == 1, weight * 0.05, weight)
    weight = np.where(p_kind == 2, weight * 0.4, weight)
    weight = np.where(mk[:, M["deceased"]], weight * 0.02, weight)

    # Vehicles: registered keepers among adults.
    adult = (p_birth > 0) & (p_birth <= clock.start.year - 18) & ~mk[:, M["deceased"]]
    keepers = np.flatnonzero(adult & (rng.random(n_persons) < 0.45))
    vrm = _vrms(rng, len(keepers))
    person_vehicle = np.full(n_persons, -1, dtype=np.int32)
    person_vehicle[keepers] = np.arange(len(keepers))

    p_postcode = np.where(p_addr >= 0, address_postcode[np.maximum(p_addr, 0)], -1).astype(np.int32)
    return Force(
        unit_name=np.array(unit_name, dtype=object),
        unit_function=np.asarray(unit_function, dtype=np.int8),
        unit_code=unit_code,
        staff_id=_unique_ids(rng, n_staff, "S", 6),
        staff_surname=staff_surname,
        staff_forenames=staff_forenames,
        staff_female=staff_female,
        staff_role=staff_role,
        staff_unit=staff_unit,
        staff_team=staff_team,
        staff_start_day=staff_start_day,
        staff_end_day=staff_end_day,
        staff_address=staff_address,
        staff_person=staff_person,
        address_id=address_id,
        address_postcode=address_postcode,
        postcode=postcode,
        person_id=_unique_ids(rng, n_persons, "P", 8),
        person_surname=p_surname,
        person_forenames=p_fore,
        person_female=p_female,
        person_birth_year=p_birth,
        person_address=p_addr,
        person_postcode=p_postcode,
        person_staff=p_staff,
        person_weight=weight,
        person_ocg_group=ocg_group,
        marker_person=marker_person.astype(np.int32),
        marker_code=marker_code.astype(np.int8),
        marker_added_day=added,
        relative_staff=rel_staff.astype(np.int32),
        relative_person=relative_person,
        vrm=vrm,
        vehicle_keeper=keepers.astype(np.int32),
        person_vehicle=person_vehicle,
        joiner_day=np.array(joiner_days, dtype=np.int32),
    )
