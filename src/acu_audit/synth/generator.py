"""``generate_force``: build the demo force and write its nightly landing drops and truth.json."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from acu_audit.contract import EVENT_TABLES, SNAPSHOT_TABLES
from acu_audit.synth.acquaintances import build_acquaintances
from acu_audit.synth.activity import ActivityModel, apply_suppressions, merge_device
from acu_audit.synth.casework import build_casework
from acu_audit.synth.clock import NEVER, ZONE_NAME, Clock
from acu_audit.synth.contacts import build_contacts
from acu_audit.synth.force import build_force
from acu_audit.synth.profiles import Profile, parse_profile
from acu_audit.synth.roster import add_operation_overtime, build_roster
from acu_audit.synth.scenarios import HOME_TERMINAL, Planter, plant_all
from acu_audit.synth.tables import (
    EARLIEST, access_events_text, build_identifiers, build_snapshots, device_messages_text, roster_text, timesheets_text, write_csv,
)

NEW_PERSON_SHARE = 0.08  # nominals first created on the index by a case during the period


@dataclass
class GenerationReport:
    """What :func:`generate_force` wrote."""

    out_dir: Path
    landing_dir: Path
    truth_path: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    drops: list[str] = field(default_factory=list)


def generate_force(
    out_dir: Path,
    staff: int = 2000,
    days: int = 60,
    seed: int = 7,
    start: date = date(2026, 10, 1),
    plant_intensity: float = 1.0,
    progress: Callable[[str], None] | None = None,
    profile: Profile | str | None = None,
) -> GenerationReport:
    """Generate a demo force of ``staff`` people over ``days`` local days from ``start``.

    ``profile`` (a :class:`Profile` or a spec such as ``"noisy,busy"``) makes a force unlike the
    demo force; see :mod:`acu_audit.synth.profiles`. Writes ``out_dir/landing/<YYYY-MM-DD>/<table>.csv`` (one drop per local day, Europe/London)
    and ``out_dir/truth.json`` (planted insiders and decoys; never inside ``landing/``). The same
    arguments always give byte-identical files. An existing ``out_dir/landing`` is replaced.
    """
    t_start = time.perf_counter()
    say = progress or (lambda _msg: None)
    profile = profile if isinstance(profile, Profile) else parse_profile(profile)
    if staff < 100:
        raise ValueError("staff must be at least 100 (every unit function and scenario needs people)")
    if days < 7:
        raise ValueError("days must be at least 7")
    out_dir = Path(out_dir)
    landing = out_dir / "landing"
    if landing.exists():
        shutil.rmtree(landing)
    landing.mkdir(parents=True)
    seq = np.random.SeedSequence(seed)
    r_force, r_cases, r_roster, r_contacts, r_plants, r_model, r_misc, r_days = (np.random.default_rng(s) for s in seq.spawn(8))
    day_seeds = np.random.SeedSequence(int(r_days.integers(1 << 62))).spawn(days)
    # Streams added later are spawned after these, so the ones above draw what they always drew.
    acq_seed = seq.spawn(1)[0]  # innocent undeclared acquaintances on the index

    clock = Clock(start, days)
    say("building the force")
    force = build_force(r_force, staff, clock, function_share=profile.function_share)
    say(f"force: {force.n_staff} staff in {len(force.unit_name)} units, {force.n_persons} persons (profile: {profile.label})")
    cw = build_casework(r_cases, force, clock, case_people=profile.case_people)
    roster = build_roster(r_roster, force, clock)
    a = cw.arrays()
    add_operation_overtime(roster, clock, a["op_executed"], a["os_op"], a["os_staff"], a["op_executed"])
    say(f"casework: {cw.n_cases} cases, {len(a['as_case'])} assignments, {cw.n_ops} operations")

    # Some nominals are first created on the index by a case during the period.
    general = (force.person_staff < 0) & ~np.isin(np.arange(force.n_persons), force.relative_person) & (force.person_ocg_group < 0)
    person_new = general & (r_misc.random(force.n_persons) < NEW_PERSON_SHARE)
    first_open = _first_case_open(force.n_persons, cw)
    on_case = np.flatnonzero(first_open < NEVER)
    contacts = build_contacts(r_contacts, force, clock, seed, on_case, first_open[on_case], noise=profile.noise)

    say("planting insiders and decoys")
    planter = Planter(r_plants, force, clock, cw, roster, contacts, plant_intensity, person_new, early=profile.early)
    plan = plant_all(planter)
    _dedupe_roster(roster)

    first_open = _first_case_open(force.n_persons, cw)
    period_start = clock.midnight(0)
    person_created = np.where(person_new & (first_open >= period_start) & (first_open < NEVER), first_open - 60, EARLIEST).astype(np.int64)
    contacts.person_listed_from = np.minimum(contacts.person_listed_from, np.where(first_open < NEVER, first_open, NEVER))

    model = ActivityModel(r_model, force, clock, cw, roster, contacts, person_created, noise=profile.noise)
    for s, m in plan.rate_mult.items():
        model.rate_mult[s] = m
    model.whatsapp_colleagues[plan.whatsapp_colleagues] = True
    contacts.heavy_personal[plan.heavy_personal] = True
    # Innocent: undeclared relatives and friends on the index (reads, never changes, the rest).
    plant_persons = {int(p) for e in plan.insiders for p in e["persons"]}
    acq = build_acquaintances(acq_seed, force, clock, cw, roster, contacts, set(planter.used), plant_persons, noise=profile.noise)
    say(f"undeclared acquaintances on the index: {int((acq.kind == 0).sum())} offenders/marked, {int((acq.kind == 1).sum())} harmless, "
        f"{int((acq.lookups > 0).sum())} looked up")

    ids = build_identifiers(force, cw, contacts, model.terminal_names, contacts.registry.hashes())
    snapshots = build_snapshots(force, clock, cw, contacts, ids, person_created)
    counts = {name: 0 for name in (*SNAPSHOT_TABLES, *EVENT_TABLES)}

    # Timesheet claims are numbered once, in time order, so ids are stable across days.
    claim_order = np.lexsort((roster.claim_type, roster.claim_staff, roster.claim_start))
    claim_no = np.empty(len(claim_order), dtype=np.int64)
    claim_no[claim_order] = np.arange(1, len(claim_order) + 1)
    event_no = 1
    drops: list[str] = []
    for d in range(days):
        d0, d1 = clock.day_bounds(d)
        drop = landing / str(clock.date_of(d))
        drop.mkdir()
        drops.append(drop.name)
        for snap in snapshots:
            if d == 0 or snap.changed(d0, d1):
                counts[snap.name] += write_csv(snap.as_of(d1), drop / f"{snap.name}.csv")
        rng = np.random.default_rng(day_seeds[d])
        events = pl.concat([model.lookups(rng, d), model.briefing_lookups(rng, d), model.admin_touches(rng, d), *plan.access.get(d, []),
                            *acq.access.get(d, [])])
        device = pl.concat([model.device(rng, d), *plan.device.get(d, []), acq.device(d, events)])
        todays = [sp for sp in plan.suppressions if sp.start < d1 and sp.end > d0]
        events, device = apply_suppressions(events, device, todays)
        home = pl.Series(model.home_term)
        events = events.with_columns(
            pl.when(pl.col("term") == HOME_TERMINAL).then(home.gather(events["staff"].cast(pl.Int64)).cast(pl.Int32)).otherwise(pl.col("term")).alias("term")
        ).sort(["t", "staff"], maintain_order=True)
        counts["access_events"] += write_csv(access_events_text(events, ids, event_no), drop / "access_events.csv")
        event_no += events.height
        counts["device_messages"] += write_csv(device_messages_text(merge_device(device), ids), drop / "device_messages.csv")
        rows = np.flatnonzero((roster.start >= d0) & (roster.start < d1))
        rows = rows[np.lexsort((roster.duty[rows], roster.staff[rows], roster.start[rows]))]
        counts["duty_roster"] += write_csv(roster_text(roster.staff[rows], roster.start[rows], roster.end[rows], roster.duty[rows], ids), drop / "duty_roster.csv")
        cl = np.flatnonzero((roster.claim_start >= d0) & (roster.claim_start < d1))
        cl = cl[np.argsort(claim_no[cl])]
        counts["timesheets"] += write_csv(
            timesheets_text(claim_no[cl], roster.claim_staff[cl], roster.claim_start[cl], roster.claim_end[cl], roster.claim_type[cl], ids), drop / "timesheets.csv")
        say(f"{drop.name}: {events.height} look-ups")

    truth_path = out_dir / "truth.json"
    truth = _truth(seed, staff, days, clock, plant_intensity, plan, ids, force)
    truth["profile"] = profile.label
    truth["innocent"] = {"undeclared_index_contacts": acq.summary(force, force.person_id)}
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - t_start
    say(f"done in {seconds:.1f} s")
    return GenerationReport(out_dir=out_dir, landing_dir=landing, truth_path=truth_path, row_counts=counts, seconds=seconds, drops=drops)


def _first_case_open(n_persons: int, cw) -> np.ndarray:
    a = cw.arrays()
    first = np.full(n_persons, NEVER, dtype=np.int64)
    ok = a["cp_person"] >= 0
    np.minimum.at(first, a["cp_person"][ok], a["case_opened"][a["cp_case"][ok]])
    return first


def _dedupe_roster(roster) -> None:
    """Keep one row per contract key (staff, shift_start, duty_type); the later one wins."""
    key = np.stack([roster.staff.astype(np.int64), roster.start, roster.duty.astype(np.int64)], axis=1)
    _, last = np.unique(key[::-1], axis=0, return_index=True)
    keep = np.sort(len(key) - 1 - last)
    drop = np.setdiff1d(np.arange(len(key)), keep)
    if len(drop):
        roster.drop_rows(drop)


def _truth(seed: int, staff: int, days: int, clock: Clock, intensity: float, plan, ids, force) -> dict:
    cps = ids.counterparty
    persons = ids.person

    def cp_text(xs):
        return [cps[int(x)] for x in xs]

    insiders = []
    for e in plan.insiders:
        insiders.append({
            "staff_id": force.staff_id[e["staff"]], "scenario": e["scenario"], "seed_case": e["seed_case"],
            "expected_categories": e["expected_categories"], "window": e["window"],
            "counterparties": cp_text(e["cps"]), "persons": [persons[int(p)] for p in dict.fromkeys(e["persons"])],
            "notes": e["notes"], "signals": e["signals"],
        })
    decoys = [{"staff_id": force.staff_id[e["staff"]], "scenario": e["scenario"], "notes": e["notes"]} for e in plan.decoys]
    return {
        "seed": seed, "staff": staff, "days": days, "start": str(clock.start), "end": str(clock.end),
        "plant_intensity": intensity, "timezone": ZONE_NAME, "insiders": insiders, "decoys": decoys,
    }
