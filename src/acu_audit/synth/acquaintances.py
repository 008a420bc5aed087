"""Innocent undeclared acquaintances on the nominal index.

Real forces differ from a generator in which every person with a police record whom staff
contact privately is declared. A share of staff have a relative or friend who is on force
systems (a suspect or offender on some past case, some with warning markers: violence or
weapons, drug use, a few drug supply) and whom they never declared; they ring or text that
person from the work phone a few times a month, mostly in the evenings and off duty, some on
duty, now and then within 90 minutes after a routine look-up (with a genuine purpose) of
somebody else. About a tenth of them also look the person up once or twice with no policing
purpose. Fewer have a harmless acquaintance on the index (no warning marker; a witness or
reporter on some case) whom they contact now and then. These are compliance matters (a
reminder to declare), not corruption.

The behaviour draws from its own random streams (a child seed spawned after the generator's
others) and reads the force, casework, roster and contacts without changing them: only people
whose number is already in the contact directory from a past case record are chosen, so every
snapshot table, every plant and every decoy stays exactly as it was; what it adds is device
rows, a few access events and a summary in truth.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from acu_audit.synth.activity import AC, CH, DI, PHONE, RT, SY, device_frame, event_frame
from acu_audit.synth.casework import CR, CT, Casework
from acu_audit.synth.clock import HOUR, Clock
from acu_audit.synth.contacts import Contacts
from acu_audit.synth.force import Force
from acu_audit.synth.groups import Groups
from acu_audit.synth.roster import DT, Roster
from acu_audit.synth.scenarios import HOME_TERMINAL

# Shares of the workforce (the `noisy` profile multiplies them, up to the caps; never lower).
OFFENDER_SHARE = 0.07  # an undeclared relative/friend who is a past suspect/offender or marked
HARMLESS_SHARE = 0.02  # an undeclared harmless acquaintance (no marker; a witness or reporter)
LOOKER_SHARE = 0.10  # of the former: look the person up once or twice with no purpose
OFFENDER_CAP, HARMLESS_CAP, LOOKER_CAP = 0.20, 0.06, 0.25
RELATIVE_SHARE = 0.35  # of the former: the person is one of their relatives on the index, where one qualifies
# What the friends (not relatives) are on the index for.
OFFENDER_MIX = (("violence", 0.25), ("drugs_use", 0.20), ("drugs_supply", 0.05), ("unmarked", 0.50))
KINDS = ("offender", "harmless")
# Contact occasions a month per pair: floor + Gamma(shape, scale) (means 5 and 2.5).
OFFENDER_PER_MONTH = (2.0, 2.0, 1.5)
HARMLESS_PER_MONTH = (1.0, 1.5, 1.0)
# Of the occasions of someone who made routine look-ups that day: within 90 minutes after one.
AFTER_LOOKUP_SHARE = 0.2
AFTER_LOOKUP_MINUTES = (5, 88)
# Local-hour profile of contact with the acquaintance: mostly evenings.
FRIEND_BY_HOUR = np.array([0.8, 0.3, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 1.2, 1, 1, 1.2, 1.5, 1.2, 1, 1.2, 1.8, 3, 4, 4.5, 4.5, 4, 3, 1.8])
# Markers that keep a person out of this behaviour (victims, children, OCG, the famous, the dead).
EXCLUDED_MARKERS = ("child", "deceased", "vulnerable", "domestic_abuse_victim", "sexual_offence_victim", "high_profile", "ocg_member", "ocg_associate")
WARNING_MARKERS = ("violence", "weapons", "drugs_use", "drugs_supply")


@dataclass
class Acquaintances:
    """Staff-person pairs (one per staff member) and the activity they produce."""

    clock: Clock
    n_staff: int
    staff: np.ndarray
    person: np.ndarray
    cp: np.ndarray  # the person's phone counterparty (in the directory from a case record)
    kind: np.ndarray  # index into KINDS
    relative: np.ndarray  # bool: a relative of the staff member (else a friend)
    per_day: np.ndarray  # expected contact occasions a day
    lookups: np.ndarray  # purposeless look-ups of the person by the staff member
    day_seeds: list
    friend_of: np.ndarray  # [staff] person, or -1
    access: dict[int, list[pl.DataFrame]] = field(default_factory=dict)

    def device(self, day: int, events: pl.DataFrame) -> pl.DataFrame:
        """Device rows with the acquaintances on local ``day``.

        ``events``: the day's access events (integer form), whose purposeful look-ups (a case,
        or a reason code) of other people some contacts follow within 90 minutes.
        """
        rng = np.random.default_rng(self.day_seeds[day])
        clock = self.clock
        d0, d1 = clock.day_bounds(day)
        i = np.repeat(np.arange(len(self.staff)), rng.poisson(self.per_day))
        s = self.staff[i]
        N = len(i)
        hrs = d0 + np.arange((d1 - d0) // HOUR) * HOUR
        w = FRIEND_BY_HOUR[clock.local_hour(hrs)]
        t = hrs[rng.choice(len(hrs), size=N, p=w / w.sum())] + rng.integers(0, HOUR, N)
        # Some follow a routine look-up of somebody else by the same staff member.
        es = events["staff"].to_numpy().astype(np.int64)
        ep = events["person"].to_numpy().astype(np.int64)
        purposeful = (events["case"].to_numpy() >= 0) | (events["rcase"].to_numpy() >= 0) | (events["rnum"].to_numpy() >= 0)
        friend = self.friend_of[es]
        m = purposeful & (friend >= 0) & (ep != friend)
        anchor = Groups(es[m], self.n_staff, events["t"].to_numpy()[m]).pick(rng, s)
        after = (rng.random(N) < AFTER_LOOKUP_SHARE) & (anchor >= 0)
        t = np.where(after, anchor + rng.integers(AFTER_LOOKUP_MINUTES[0] * 60, AFTER_LOOKUP_MINUTES[1] * 60, N), t)
        call = rng.random(N) < 0.4
        out = rng.random(N) < np.where(after, 0.85, 0.55)
        keep = (t >= d0) & (t < d1)
        s, t, call, out, cp = s[keep], t[keep], call[keep], out[keep], self.cp[i[keep]]
        N = len(s)
        ch = np.where(call, CH["call"], CH["sms"])
        cnt = np.where(call, 1 + (rng.random(N) < 0.15), rng.geometric(0.6, N))
        dur = np.where(call, np.clip(cnt * rng.lognormal(np.log(150), 0.9, N), 10, 3600).astype(np.int64), -1)
        direction = np.where(out, DI["out"], DI["in"])
        # A text is often answered within minutes.
        reply = ~call & (rng.random(N) < 0.6)
        tr = np.minimum(t[reply] + rng.integers(60, 25 * 60, int(reply.sum())), d1 - 1)
        rows = [
            device_frame(staff=s, dev=PHONE, ch=ch, dir=direction, cp=cp, hour=t - t % HOUR, cnt=cnt, dur=dur),
            device_frame(staff=s[reply], dev=PHONE, ch=CH["sms"], dir=1 - direction[reply], cp=cp[reply], hour=tr - tr % HOUR,
                         cnt=rng.geometric(0.6, int(reply.sum())), dur=-1),
        ]
        return pl.concat(rows)

    def summary(self, force: Force, person_ids) -> list[dict]:
        """For truth.json: who, whom, what kind, markers, purposeless look-ups."""
        out = []
        for j in np.argsort(force.staff_id[self.staff], kind="stable"):
            p = int(self.person[j])
            out.append({
                "staff_id": str(force.staff_id[self.staff[j]]), "person_id": str(person_ids[p]), "kind": KINDS[int(self.kind[j])],
                "relative": bool(self.relative[j]), "markers": sorted(m for m in force.markers_of(p) if m in WARNING_MARKERS),
                "purposeless_lookups": int(self.lookups[j]),
            })
        return out


def _share(base: float, noise: float, cap: float) -> float:
    return base if noise <= 1 else min(cap, base * noise)


def build_acquaintances(seed: np.random.SeedSequence, force: Force, clock: Clock, cw: Casework, roster: Roster, contacts: Contacts,
                        exclude_staff: set[int], exclude_persons: set[int], noise: float = 1.0) -> Acquaintances:
    """Choose the staff, their undeclared acquaintances on the index, and plan the look-ups."""
    sel_seed, day_seed = seed.spawn(2)
    rng = np.random.default_rng(sel_seed)
    S, P = force.n_staff, force.n_persons
    a = cw.arrays()
    t0 = clock.midnight(0)

    # People on the index whose number the directory knows from a case record before the period.
    ok = a["cp_person"] >= 0
    cp_case, cp_person, cp_role = a["cp_case"][ok], a["cp_person"][ok].astype(np.int64), a["cp_role"][ok]
    past = a["case_opened"][cp_case] < t0
    criminal = a["case_type"][cp_case] != CT["traffic_offence"]  # a speeding ticket is no record to speak of
    accused = np.isin(cp_role, [CR["suspect"], CR["offender"]])
    offender = np.zeros(P, dtype=bool)
    offender[cp_person[past & criminal & accused]] = True
    ever_accused = np.zeros(P, dtype=bool)
    ever_accused[cp_person[accused]] = True
    witness = np.zeros(P, dtype=bool)
    witness[cp_person[past & np.isin(cp_role, [CR["witness"], CR["reporter"]])]] = True
    has = {m: force.has_marker(m) for m in (*EXCLUDED_MARKERS, *WARNING_MARKERS)}
    any_marker = np.zeros(P, dtype=bool)
    any_marker[force.marker_person] = True
    adult = (force.person_birth_year > 0) & (force.person_birth_year <= clock.start.year - 18)
    base = (contacts.person_phone >= 0) & (contacts.person_listed_from < t0) & adult & (force.person_staff < 0)
    for m in EXCLUDED_MARKERS:
        base &= ~has[m]
    if exclude_persons:
        base[np.fromiter(exclude_persons, dtype=np.int64)] = False
    supply = has["drugs_supply"]
    use = has["drugs_use"] & ~supply
    violent = (has["violence"] | has["weapons"]) & ~supply & ~use
    pools = {
        "drugs_supply": np.flatnonzero(base & supply), "drugs_use": np.flatnonzero(base & use),
        "violence": np.flatnonzero(base & violent), "unmarked": np.flatnonzero(base & ~any_marker & offender),
    }
    offender_ok = base & (supply | use | violent | (~any_marker & offender))
    harmless_pool = np.flatnonzero(base & ~any_marker & witness & ~ever_accused)

    # Pairs that would give a purpose or a declaration: the staff member's cases, their unit's
    # cases, operations they were briefed on, their declarations.
    as_df = pl.DataFrame({"staff": a["as_staff"].astype(np.int64), "case": a["as_case"]})
    cp_df = pl.DataFrame({"case": cp_case, "person": cp_person})
    owned = a["case_unit"][cp_case] >= 0
    unit_df = pl.DataFrame({"unit": a["case_unit"][cp_case][owned].astype(np.int64), "person": cp_person[owned]}).unique()
    op_df = pl.DataFrame({"staff": a["os_staff"].astype(np.int64), "op": a["os_op"].astype(np.int64)}).join(
        pl.DataFrame({"op": a["ot_op"].astype(np.int64), "person": a["ot_person"].astype(np.int64)}), on="op").select("staff", "person")
    dec = contacts.declarations
    dec_df = pl.DataFrame({"staff": np.asarray(dec.staff, dtype=np.int64), "person": np.asarray(dec.person, dtype=np.int64)})
    staff_unit = force.staff_unit.astype(np.int64)

    def connected(staff: np.ndarray, person: np.ndarray) -> np.ndarray:
        q = pl.DataFrame({"i": np.arange(len(staff)), "staff": np.asarray(staff, dtype=np.int64), "person": np.asarray(person, dtype=np.int64)})
        hits = [
            q.join(as_df, on="staff").join(cp_df, on=["case", "person"])["i"],
            q.with_columns(unit=pl.Series(staff_unit[q["staff"].to_numpy()])).join(unit_df, on=["unit", "person"])["i"],
            q.join(op_df, on=["staff", "person"])["i"],
            q.join(dec_df, on=["staff", "person"])["i"],
        ]
        bad = np.zeros(len(staff), dtype=bool)
        for h in hits:
            bad[h.to_numpy()] = True
        return bad

    eligible = (force.staff_start_day < -30) & (force.staff_end_day > clock.days + 5)
    if exclude_staff:
        eligible[np.fromiter(exclude_staff, dtype=np.int64)] = False
    n_off = int(np.ceil(_share(OFFENDER_SHARE, noise, OFFENDER_CAP) * S - 1e-6))
    n_harm = int(np.ceil(_share(HARMLESS_SHARE, noise, HARMLESS_CAP) * S - 1e-6))

    # Relatives on the index who qualify (same surname; same address or postcode).
    rs, rp = force.relative_staff.astype(np.int64), force.relative_person.astype(np.int64)
    m = eligible[rs] & offender_ok[rp]
    rs, rp = rs[m], rp[m]
    good = ~connected(rs, rp)
    rs, rp = rs[good], rp[good]
    with_rel = np.unique(rs)
    n_rel = min(len(with_rel), int(round(RELATIVE_SHARE * n_off)))
    rel_staff = np.sort(rng.choice(with_rel, size=n_rel, replace=False)) if n_rel else np.zeros(0, dtype=np.int64)
    rel_person = Groups(rs, S, rp).pick(rng, rel_staff)
    # Drop a relative already taken by another staff member (two staff of one family).
    _, first = np.unique(rel_person, return_index=True)
    keep = np.zeros(len(rel_person), dtype=bool)
    keep[first] = True
    rel_staff, rel_person = rel_staff[keep], rel_person[keep]

    free = eligible.copy()
    free[rel_staff] = False
    pool = np.flatnonzero(free)
    friend_staff = rng.choice(pool, size=min(len(pool), max(0, n_off - len(rel_staff))), replace=False)
    free[friend_staff] = False
    cats = [name for name, _ in OFFENDER_MIX]
    probs = np.array([p for _, p in OFFENDER_MIX])
    cat = rng.choice(len(cats), size=len(friend_staff), p=probs)
    # Small forces: a category with nobody in it falls back to the offenders with no marker.
    fallback = np.flatnonzero(offender_ok)
    cat_pools = [pools[c] if len(pools[c]) else (pools["unmarked"] if len(pools["unmarked"]) else fallback) for c in cats]
    taken = set(int(p) for p in rel_person)
    friend_person = _draw(rng, friend_staff, [cat_pools[c] for c in cat], connected, taken)
    taken |= set(int(p) for p in friend_person if p >= 0)

    pool = np.flatnonzero(free)
    harm_staff = rng.choice(pool, size=min(len(pool), n_harm), replace=False)
    harm_person = _draw(rng, harm_staff, [harmless_pool] * len(harm_staff), connected, taken)

    staff = np.concatenate([rel_staff, friend_staff, harm_staff]).astype(np.int64)
    person = np.concatenate([rel_person, friend_person, harm_person]).astype(np.int64)
    kind = np.concatenate([np.zeros(len(rel_staff) + len(friend_staff), dtype=np.int8), np.ones(len(harm_staff), dtype=np.int8)])
    relative = np.concatenate([np.ones(len(rel_staff), dtype=bool), np.zeros(len(friend_staff) + len(harm_staff), dtype=bool)])
    found = person >= 0
    staff, person, kind, relative = staff[found], person[found], kind[found], relative[found]
    n = len(staff)
    per_month = np.where(kind == 0, OFFENDER_PER_MONTH[0] + rng.gamma(OFFENDER_PER_MONTH[1], OFFENDER_PER_MONTH[2], n),
                         HARMLESS_PER_MONTH[0] + rng.gamma(HARMLESS_PER_MONTH[1], HARMLESS_PER_MONTH[2], n))
    friend_of = np.full(S, -1, dtype=np.int64)
    friend_of[staff] = person

    # A few look the person up once or twice, on duty, with no purpose.
    offenders = np.flatnonzero(kind == 0)
    n_look = min(len(offenders), max(1, int(round(_share(LOOKER_SHARE, noise, LOOKER_CAP) * len(offenders))))) if len(offenders) else 0
    lookers = np.sort(rng.choice(offenders, size=n_look, replace=False)) if n_look else np.zeros(0, dtype=np.int64)
    times = rng.integers(1, 3, size=len(lookers))
    acq = Acquaintances(
        clock=clock, n_staff=S, staff=staff, person=person, cp=contacts.person_phone[person].astype(np.int64), kind=kind,
        relative=relative, per_day=per_month / 30.0, lookups=np.zeros(n, dtype=np.int64), day_seeds=day_seed.spawn(clock.days),
        friend_of=friend_of,
    )
    _plan_lookups(rng, acq, roster, clock, np.repeat(lookers, times))
    return acq


def _draw(rng: np.random.Generator, staff: np.ndarray, pools: list[np.ndarray], connected, taken: set[int]) -> np.ndarray:
    """One person per staff member from their pool, unconnected to them and not already taken."""
    person = np.full(len(staff), -1, dtype=np.int64)
    sizes = np.array([len(p) for p in pools], dtype=np.int64)
    for _ in range(30):
        todo = np.flatnonzero((person < 0) & (sizes > 0))
        if not len(todo):
            break
        u = (rng.random(len(todo)) * sizes[todo]).astype(np.int64)
        cand = np.array([pools[j][k] for j, k in zip(todo, u)], dtype=np.int64)
        bad = connected(staff[todo], cand) | np.isin(cand, np.fromiter(taken, dtype=np.int64, count=len(taken)))
        _, first = np.unique(cand, return_index=True)
        dup = np.ones(len(cand), dtype=bool)
        dup[first] = False
        ok = ~bad & ~dup
        person[todo[ok]] = cand[ok]
        taken.update(int(p) for p in cand[ok])
    return person


def _plan_lookups(rng: np.random.Generator, acq: Acquaintances, roster: Roster, clock: Clock, who_pair: np.ndarray) -> None:
    """Purposeless look-ups of the acquaintance inside one of the staff member's duty shifts."""
    if not len(who_pair):
        return
    staff = acq.staff[who_pair]
    r = roster
    rows = np.flatnonzero((r.duty == DT["duty"]) & np.isin(r.staff, staff) & (r.start >= clock.midnight(0))
                          & (r.end <= clock.midnight(clock.days)) & (r.end - r.start >= 2 * HOUR))
    row = Groups(r.staff[rows], acq.n_staff, rows).pick(rng, staff)
    u = rng.random(len(staff))
    sys_ = np.select([u < 0.5, u < 0.8], [SY["PND"], SY["RMS"]], SY["PNC"])
    act = np.where(rng.random(len(staff)) < 0.6, AC["search"], AC["view"])
    span = r.end[np.maximum(row, 0)] - r.start[np.maximum(row, 0)] - 2 * 1800
    t = r.start[np.maximum(row, 0)] + 1800 + (rng.random(len(staff)) * np.maximum(span, 60)).astype(np.int64)
    ok = row >= 0
    who_pair, staff, t, sys_, act = who_pair[ok], staff[ok], t[ok], sys_[ok], act[ok]
    np.add.at(acq.lookups, who_pair, 1)
    p = acq.person[who_pair]
    fr = event_frame(staff=staff, t=t, sys=sys_, act=act, rt=RT["person"], rec=p, person=p, term=HOME_TERMINAL)
    days = clock.day_of(t)
    for d in np.unique(days):
        acq.access.setdefault(int(d), []).append(fr.filter(pl.Series(days == d)))
