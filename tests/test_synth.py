"""Tests of the demo-force generator (``acu_audit.synth``): contract, determinism, plants, realism.

A small force (300 staff, 14 days from 2026-10-18, so the period crosses the October clock
change) is generated once per module; a second small force checks determinism.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from acu_audit.contract import DATE_PATTERN, EVENT_TABLES, INT_PATTERN, SNAPSHOT_TABLES, TABLES, TIMESTAMP_PATTERN
from acu_audit.synth import GenerationReport, generate_force

STAFF, DAYS, START = 300, 14, date(2026, 10, 18)
SCENARIOS = {
    "drug_supply_contact", "prolific_texter", "ocg_screenshot_leak", "victim_relationship", "traffic_deletions",
    "warrant_day_lookups", "email_burst_case_party", "declined_business", "overtime_no_activity",
    "banned_whatsapp_public", "relative_lookups", "vehicle_burst", "colleague_lookups", "high_profile_lookups",
}
DECOYS = {
    "control_room_volume", "da_specialist_victim_contact", "intel_analyst_ocg_views", "briefed_target_views",
    "declared_relative_drugs_use", "roads_own_deletions", "family_heavy_traffic", "overtime_partial_activity",
    "colleague_whatsapp", "neighbour_on_own_case",
}


class Force:
    """Reads a generated landing directory: all rows of event tables, latest snapshots."""

    def __init__(self, report: GenerationReport) -> None:
        self.report = report
        self.drops = sorted(p for p in report.landing_dir.iterdir() if p.is_dir())
        self.truth = json.loads(report.truth_path.read_text())
        self._cache: dict[str, pl.DataFrame] = {}

    def files(self, table: str) -> list[Path]:
        return [d / f"{table}.csv" for d in self.drops if (d / f"{table}.csv").exists()]

    def events(self, table: str) -> pl.DataFrame:
        if table not in self._cache:
            self._cache[table] = pl.concat([pl.read_csv(f, infer_schema=False) for f in self.files(table)])
        return self._cache[table]

    def snapshot(self, table: str) -> pl.DataFrame:
        key = f"snap:{table}"
        if key not in self._cache:
            self._cache[key] = pl.read_csv(self.files(table)[-1], infer_schema=False)
        return self._cache[key]

    def insiders(self, scenario: str) -> list[dict]:
        return [i for i in self.truth["insiders"] if i["scenario"] == scenario]

    def insider(self, scenario: str) -> dict:
        found = self.insiders(scenario)
        assert found, f"{scenario} not planted"
        return found[0]

    def staff_row(self, staff_id: str) -> dict:
        return self.snapshot("staff").filter(pl.col("staff_id") == staff_id).row(0, named=True)


def ts(col: str) -> pl.Expr:
    """Parse contract timestamps (Z or offset) to UTC datetimes."""
    return pl.col(col).str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", time_zone="UTC")


@pytest.fixture(scope="module")
def force(tmp_path_factory: pytest.TempPathFactory) -> Force:
    out = tmp_path_factory.mktemp("force")
    return Force(generate_force(out, staff=STAFF, days=DAYS, seed=11, start=START))


# --- determinism and layout -------------------------------------------------------------------
def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = generate_force(tmp_path / "a", staff=200, days=8, seed=3)
    b = generate_force(tmp_path / "b", staff=200, days=8, seed=3)
    c = generate_force(tmp_path / "c", staff=200, days=8, seed=4)
    ta, tb, tc = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert ta == tb
    assert ta.keys() & tc.keys()
    assert ta["truth.json"] != tc["truth.json"]
    assert ta["landing/2026-10-01/access_events.csv"] != tc["landing/2026-10-01/access_events.csv"]
    assert a.row_counts == b.row_counts


def test_layout(force: Force) -> None:
    r = force.report
    assert r.truth_path == r.out_dir / "truth.json" and r.truth_path.exists()
    assert not list(r.landing_dir.rglob("truth.json"))
    expected = [str(START + timedelta(days=i)) for i in range(DAYS)]
    assert [d.name for d in force.drops] == expected == r.drops
    first = {p.stem for p in force.drops[0].iterdir()}
    assert first == set(SNAPSHOT_TABLES) | set(EVENT_TABLES)
    for d in force.drops[1:]:
        names = {p.stem for p in d.iterdir()}
        assert set(EVENT_TABLES) <= names
        assert names <= set(SNAPSHOT_TABLES) | set(EVENT_TABLES)
    # Cases change every night; staff rarely.
    assert len(force.files("cases")) == DAYS
    assert len(force.files("staff")) < DAYS
    # Report row counts match the files.
    for table, n in r.row_counts.items():
        assert n == sum(pl.read_csv(f, infer_schema=False).height for f in force.files(table)), table


# --- the data contract ------------------------------------------------------------------------
def test_every_file_follows_the_contract(force: Force) -> None:
    ts_re, date_re, int_re = re.compile(TIMESTAMP_PATTERN), re.compile(DATE_PATTERN), re.compile(INT_PATTERN)
    for table, spec in TABLES.items():
        for f in force.files(table):
            df = pl.read_csv(f, infer_schema=False)
            assert tuple(df.columns) == spec.column_names, f
            for col in spec.columns:
                s = df[col.name]
                if not col.nullable:
                    assert s.null_count() == 0, f"{f}: nulls in {col.name}"
                vals = s.drop_nulls()
                if col.type == "enum":
                    assert set(vals.unique()) <= set(col.values), f"{f}: {col.name}"
                elif col.type == "timestamp":
                    assert vals.map_elements(lambda v: bool(ts_re.match(v)), return_dtype=pl.Boolean).all(), f"{f}: {col.name}"
                elif col.type == "date":
                    assert vals.map_elements(lambda v: bool(date_re.match(v)), return_dtype=pl.Boolean).all(), f"{f}: {col.name}"
                elif col.type == "int":
                    assert vals.map_elements(lambda v: bool(int_re.match(v)), return_dtype=pl.Boolean).all(), f"{f}: {col.name}"
                    if col.min_value is not None:
                        assert (vals.cast(pl.Int64) >= col.min_value).all(), f"{f}: {col.name}"
            assert df.select(spec.key).is_duplicated().sum() == 0, f"{f}: duplicate keys {spec.key}"
            for rule in spec.pair_rules:
                both = df.filter(pl.col(rule.later).is_not_null() & pl.col(rule.earlier).is_not_null())
                assert both.select((ts(rule.later) > ts(rule.earlier)).all()).item(), f"{f}: {rule.later} <= {rule.earlier}"


def test_zone_styles_and_drop_days(force: Force) -> None:
    ae = force.events("access_events")
    assert ae["occurred_at"].str.ends_with("Z").all()
    ro = force.events("duty_roster")
    offsets = set(ro["shift_start"].str.slice(-6).unique())
    assert offsets == {"+01:00", "+00:00"}  # the period crosses the October clock change
    # Each event sits in the drop of its local day (Europe/London).
    for f in force.files("access_events")[:3] + force.files("access_events")[-2:]:
        days = pl.read_csv(f, infer_schema=False).select(ts("occurred_at").dt.convert_time_zone("Europe/London").dt.date().unique())
        assert days.to_series().to_list() in ([], [date.fromisoformat(f.parent.name)])


def test_references_resolve(force: Force) -> None:
    staff = set(force.snapshot("staff")["staff_id"])
    persons = set(force.snapshot("persons")["person_id"])
    ae = force.events("access_events")
    assert set(ae["staff_id"]) <= staff
    assert set(ae["person_id"].drop_nulls()) <= persons
    cases = set(force.snapshot("cases")["case_id"])
    assert set(force.snapshot("assignments")["case_id"]) <= cases
    assert set(force.snapshot("case_people")["person_id"]) <= persons


# --- plants and decoys ------------------------------------------------------------------------
def test_every_scenario_is_planted_with_existing_staff(force: Force) -> None:
    t = force.truth
    assert (t["seed"], t["staff"], t["days"], t["start"], t["timezone"]) == (11, STAFF, DAYS, str(START), "Europe/London")
    scenarios = {i["scenario"] for i in t["insiders"]}
    assert SCENARIOS <= scenarios
    assert len(force.insiders("victim_relationship")) == 2
    assert {d["scenario"] for d in t["decoys"]} >= DECOYS
    staff = force.snapshot("staff")
    ids = set(staff["staff_id"])
    insiders = [i["staff_id"] for i in t["insiders"]]
    assert set(insiders) <= ids and len(set(insiders)) == len(insiders)
    assert not set(insiders) & {d["staff_id"] for d in t["decoys"]}
    assert force.staff_row(force.insider("traffic_deletions")["staff_id"])["unit_function"] == "roads_policing"
    assert force.staff_row(force.insider("warrant_day_lookups")["staff_id"])["unit_function"] == "exploitation"
    assert force.staff_row(force.insider("vehicle_burst")["staff_id"])["unit_function"] != "roads_policing"
    joined = date.fromisoformat(force.staff_row(force.insider("drug_supply_contact")["staff_id"])["start_date"])
    assert (date.fromisoformat(t["end"]) - joined).days < 2 * 365


def _device_of(force: Force, staff_id: str) -> pl.DataFrame:
    return force.events("device_messages").filter(pl.col("staff_id") == staff_id)


def _lookups_of(force: Force, staff_id: str) -> pl.DataFrame:
    return force.events("access_events").filter(pl.col("staff_id") == staff_id)


def test_drug_supply_contact_signal(force: Force) -> None:
    ins = force.insider("drug_supply_contact")
    dm = _device_of(force, ins["staff_id"]).filter(pl.col("counterparty").is_in(ins["counterparties"]))
    assert dm["message_count"].cast(pl.Int64).sum() >= 10
    directory = force.snapshot("contact_directory").filter(pl.col("counterparty").is_in(ins["counterparties"]))
    assert set(directory["source"]) == {"case record"}
    markers = force.snapshot("person_markers").filter(pl.col("person_id").is_in(directory["person_id"]))
    assert set(markers.filter(pl.col("marker") == "drugs_supply")["person_id"]) == set(directory["person_id"])
    # Not on any case assigned to him, not declared.
    mine = force.snapshot("assignments").filter(pl.col("staff_id") == ins["staff_id"])["case_id"]
    cp = force.snapshot("case_people").filter(pl.col("case_id").is_in(mine))
    assert not set(cp["person_id"]) & set(ins["persons"])
    assert force.snapshot("declarations").filter(pl.col("staff_id") == ins["staff_id"]).height == 0


def test_prolific_texter_signal(force: Force) -> None:
    ins = force.insider("prolific_texter")
    listed = set(force.snapshot("contact_directory")["counterparty"])
    dm = _device_of(force, ins["staff_id"])
    unknown = dm.filter(pl.col("counterparty").is_in(ins["counterparties"]) & ~pl.col("counterparty").is_in(listed))
    assert unknown["counterparty"].n_unique() >= 5
    per_month = unknown["message_count"].cast(pl.Int64).sum() * 30 / DAYS
    assert 90 <= per_month <= 250
    assert dm.filter(pl.col("counterparty").is_in(listed) & pl.col("counterparty").is_in(ins["counterparties"])).height > 0  # the victim


def test_ocg_screenshot_leak_signal(force: Force) -> None:
    ins = force.insider("ocg_screenshot_leak")
    ae = _lookups_of(force, ins["staff_id"])
    shots = ae.filter((pl.col("action") == "screenshot") & (pl.col("record_type") == "log"))
    assert shots.height >= 1
    hours = set(shots.select(ts("occurred_at").dt.truncate("1h").alias("h"))["h"])
    out = _device_of(force, ins["staff_id"]).filter(pl.col("counterparty").is_in(ins["counterparties"]) & (pl.col("direction") == "out"))
    assert hours & set(out.select(ts("hour_start").alias("h"))["h"])
    partner = ins["persons"][0]
    intel = force.snapshot("cases").filter(pl.col("case_type") == "intelligence")["case_id"]
    assert force.snapshot("case_people").filter(pl.col("case_id").is_in(intel) & (pl.col("person_id") == partner)).height


def test_victim_relationship_signal(force: Force) -> None:
    for ins in force.insiders("victim_relationship"):
        victim = ins["persons"][0]
        assert "domestic_abuse_victim" in set(force.snapshot("person_markers").filter(pl.col("person_id") == victim)["marker"])
        closed = datetime.fromisoformat(ins["signals"]["case_closed"])
        dm = _device_of(force, ins["staff_id"]).filter(pl.col("counterparty").is_in(ins["counterparties"]))
        after = dm.filter(pl.col("hour_start").str.slice(0, 10) > str(closed.date()))
        assert after["message_count"].cast(pl.Int64).sum() >= 20


def test_traffic_deletions_signal(force: Force) -> None:
    ins = force.insider("traffic_deletions")
    unit = force.staff_row(ins["staff_id"])["unit"]
    deletes = _lookups_of(force, ins["staff_id"]).filter((pl.col("action") == "delete") & (pl.col("record_type") == "traffic_offence"))
    cases = force.events("cases").unique("case_id").filter(pl.col("case_id").is_in(deletes["case_id"]))
    foreign = cases.filter(pl.col("owning_unit") != unit)
    assert foreign.height >= 3
    mine = force.events("assignments").filter(pl.col("staff_id") == ins["staff_id"])["case_id"]
    assert not set(foreign["case_id"]) & set(mine)
    contacts = set(_device_of(force, ins["staff_id"])["counterparty"])
    assert set(ins["counterparties"]) <= contacts
    assert force.insiders("traffic_deletions_colleague")


def test_warrant_day_lookups_signal(force: Force) -> None:
    ins = force.insider("warrant_day_lookups")
    ops = force.snapshot("operations")
    day = ins["signals"]["operation_day"]
    op = ops.filter(pl.col("executed_at").str.slice(0, 10) == day)
    assert op.height >= 1
    briefed = force.snapshot("operation_staff").filter(pl.col("operation_id").is_in(op["operation_id"]))
    assert ins["staff_id"] not in set(briefed["staff_id"])
    custody_views = _lookups_of(force, ins["staff_id"]).filter((pl.col("record_type") == "custody") & (pl.col("occurred_at").str.slice(0, 10) == day))
    assert custody_views.height >= 2
    calls = _device_of(force, ins["staff_id"]).filter(pl.col("counterparty").is_in(ins["counterparties"]) & (pl.col("channel") == "call"))
    assert set(calls["direction"]) == {"in", "out"}


def test_email_burst_signal(force: Force) -> None:
    ins = force.insider("email_burst_case_party")
    emails = _device_of(force, ins["staff_id"]).filter(pl.col("counterparty").is_in(ins["counterparties"]) & (pl.col("channel") == "email"))
    daily = emails.group_by(pl.col("hour_start").str.slice(0, 10).str.to_date().alias("d")).agg(pl.col("message_count").cast(pl.Int64).sum().alias("n"))
    best = max(daily.filter((pl.col("d") >= d) & (pl.col("d") < d + timedelta(days=5)))["n"].sum() for d in daily["d"])
    assert best >= 150  # ~200 at intensity 1, within five days
    views = _lookups_of(force, ins["staff_id"]).filter(pl.col("person_id") == ins["persons"][0])
    assert views.height >= 3


def test_declined_business_signal(force: Force) -> None:
    ins = force.insider("declined_business")
    dec = force.snapshot("declarations").filter((pl.col("staff_id") == ins["staff_id"]) & (pl.col("status") == "declined"))
    assert dec.height == 1
    decided = dec["decided_at"][0]
    assert decided < ins["window"][0]
    after = _device_of(force, ins["staff_id"]).filter((pl.col("counterparty") == dec["counterparty"][0]) & (pl.col("hour_start").str.slice(0, 10) > decided))
    assert after.height >= 5
    assert force.snapshot("contact_directory").filter(pl.col("counterparty") == dec["counterparty"][0])["source"].to_list() == ["business register"]


def test_overtime_no_activity_signal(force: Force) -> None:
    ins = force.insider("overtime_no_activity")
    claims = force.events("timesheets").filter((pl.col("staff_id") == ins["staff_id"]) & (pl.col("claim_type") == "overtime"))
    assert claims.height >= 3
    ae = _lookups_of(force, ins["staff_id"]).select(ts("occurred_at").alias("t"))
    dm = _device_of(force, ins["staff_id"]).select(ts("hour_start").alias("t"))
    empty = 0
    for row in claims.select(ts("claimed_start").alias("a"), ts("claimed_end").alias("b")).iter_rows():
        a, b = row
        n = ae.filter((pl.col("t") >= a) & (pl.col("t") < b)).height + dm.filter((pl.col("t") >= a) & (pl.col("t") < b)).height
        empty += n == 0
    assert empty >= 3


def test_banned_whatsapp_public_signal(force: Force) -> None:
    ins = force.insider("banned_whatsapp_public")
    staff_numbers = set(force.snapshot("contact_directory").filter(pl.col("source") == "staff directory")["counterparty"])
    wa = _device_of(force, ins["staff_id"]).filter(pl.col("channel") == "whatsapp")
    assert wa.height >= 10
    assert not set(wa["counterparty"]) & staff_numbers
    # The colleague-only decoy's WhatsApp is all with colleagues.
    decoy = next(d for d in force.truth["decoys"] if d["scenario"] == "colleague_whatsapp")
    wa = _device_of(force, decoy["staff_id"]).filter(pl.col("channel") == "whatsapp")
    assert wa.height and set(wa["counterparty"]) <= staff_numbers


def test_relative_colleague_and_vehicle_lookups(force: Force) -> None:
    persons = force.snapshot("persons")
    ins = force.insider("relative_lookups")
    home = force.staff_row(ins["staff_id"])
    looked = persons.filter(pl.col("person_id").is_in(_lookups_of(force, ins["staff_id"])["person_id"]))
    assert looked.filter((pl.col("surname") == home["surname"]) & (pl.col("postcode") == home["home_postcode"])).height >= 1
    assert looked.filter((pl.col("surname") != home["surname"]) & (pl.col("postcode") == home["home_postcode"])).height >= 1
    ins = force.insider("colleague_lookups")
    looked = persons.filter(pl.col("person_id").is_in(_lookups_of(force, ins["staff_id"])["person_id"]) & pl.col("staff_id").is_not_null())
    assert ins["staff_id"] in set(looked["staff_id"]) and looked.height >= 3
    ins = force.insider("vehicle_burst")
    v = _lookups_of(force, ins["staff_id"]).filter((pl.col("record_type") == "vehicle") & pl.col("reason_code").is_null())
    per_hour = v.group_by(pl.col("occurred_at").str.slice(0, 13)).len()
    assert per_hour["len"].max() >= 10
    assert v.height >= 40


def test_plant_intensity_scales(tmp_path: Path) -> None:
    low = json.loads(generate_force(tmp_path / "low", staff=200, days=10, seed=5, plant_intensity=0.5).truth_path.read_text())
    high = json.loads(generate_force(tmp_path / "high", staff=200, days=10, seed=5, plant_intensity=2.0).truth_path.read_text())

    def sig(t: dict, scenario: str, key: str) -> int:
        return next(i for i in t["insiders"] if i["scenario"] == scenario)["signals"][key]

    assert sig(high, "email_burst_case_party", "emails") > 3 * sig(low, "email_burst_case_party", "emails")
    assert sig(high, "vehicle_burst", "vehicle_lookups") > 3 * sig(low, "vehicle_burst", "vehicle_lookups")
    assert sig(high, "traffic_deletions", "deletions") > sig(low, "traffic_deletions", "deletions")


# --- innocent realism -------------------------------------------------------------------------
def test_volumes_per_on_duty_shift(force: Force) -> None:
    staff = force.snapshot("staff").select("staff_id", "unit_function")
    shifts = force.events("duty_roster").filter(pl.col("duty_type") == "duty").select(
        "staff_id", ts("shift_start").alias("s"), ts("shift_end").alias("e")).join(staff, on="staff_id").with_row_index("shift")

    def per_shift(events: pl.DataFrame, col: str) -> pl.DataFrame:
        ev = events.select("staff_id", ts(col).alias("t"))
        hit = shifts.join(ev, on="staff_id").filter((pl.col("t") >= pl.col("s")) & (pl.col("t") < pl.col("e"))).group_by("shift").len()
        return shifts.join(hit, on="shift", how="left").with_columns(pl.col("len").fill_null(0))

    lk = per_shift(force.events("access_events"), "occurred_at")
    others = lk.filter(pl.col("unit_function") != "control_room")["len"].median()
    control = lk.filter(pl.col("unit_function") == "control_room")["len"].median()
    assert 20 <= others <= 40
    assert control >= 3 * others
    dv = per_shift(force.events("device_messages"), "hour_start")["len"].median()
    assert 15 <= dv <= 25


def test_innocent_noise_exists(force: Force) -> None:
    """Many innocent staff look up people with no recorded purpose (simple approximation)."""
    insiders = {i["staff_id"] for i in force.truth["insiders"]}
    staff = force.snapshot("staff").select("staff_id", "unit", "unit_function")
    ae = force.events("access_events").filter(
        (pl.col("record_type") == "person") & pl.col("reason_code").is_null() & ~pl.col("staff_id").is_in(list(insiders))
        & ~pl.col("system").is_in(["COMMAND_CONTROL", "INTEL", "CUSTODY"]))
    cp = force.events("case_people").unique(["case_id", "person_id"]).select("case_id", "person_id")
    cases = force.events("cases").unique("case_id").select("case_id", "owning_unit")
    assigned = force.events("assignments").unique(["case_id", "staff_id"]).join(cp, on="case_id").select("staff_id", "person_id")
    unit_people = cases.join(cp, on="case_id").select(pl.col("owning_unit").alias("unit"), "person_id")
    targets = force.snapshot("operation_targets").join(force.snapshot("operation_staff"), on="operation_id").select("staff_id", "person_id")
    ae = ae.join(staff, on="staff_id")
    no_purpose = (ae.join(assigned.unique(), on=["staff_id", "person_id"], how="anti")
                  .join(unit_people.unique(), on=["unit", "person_id"], how="anti")
                  .join(targets.unique(), on=["staff_id", "person_id"], how="anti"))
    share = no_purpose.height / force.events("access_events").height
    assert 0.005 < share < 0.10
    curious_staff = no_purpose["staff_id"].n_unique()
    active_staff = force.events("access_events")["staff_id"].n_unique()
    assert curious_staff > 0.3 * active_staff


# --- profiles: forces unlike the demo force ----------------------------------------------------
from acu_audit.synth.profiles import BUSY_CASE_PEOPLE, EARLY_CLEAR_DAYS, parse_profile  # noqa: E402

SINGLE_SIGNAL = {"overtime_claims_single", "neighbour_lookups_off_duty", "declined_business_single", "whatsapp_public_single"}


def test_parse_profile_combines_in_a_canonical_order() -> None:
    assert parse_profile(None).label == parse_profile("default").label == "default"
    both = parse_profile("busy, noisy,noisy")
    assert both.names == ("noisy", "busy") and both.noise > 2 and both.case_people == BUSY_CASE_PEOPLE
    assert parse_profile("mix").function_share == {"control_room": 2.0, "intelligence": 2.0}
    assert parse_profile("early").early and parse_profile("noisy").noise == parse_profile("noisy,early").noise
    with pytest.raises(ValueError, match="unknown profile"):
        parse_profile("noisy,loud")


def test_single_signal_plants_exist(force: Force) -> None:
    assert SINGLE_SIGNAL <= {i["scenario"] for i in force.truth["insiders"]}
    ins = force.insider("whatsapp_public_single")
    wa = _device_of(force, ins["staff_id"]).filter(pl.col("channel") == "whatsapp")
    assert wa.height >= 3 and set(wa["counterparty"]) == set(ins["counterparties"])
    assert not set(ins["counterparties"]) & set(force.snapshot("contact_directory")["counterparty"])
    ins = force.insider("overtime_claims_single")
    claims = force.events("timesheets").filter((pl.col("staff_id") == ins["staff_id"]) & (pl.col("claim_type") == "overtime"))
    assert claims.height >= 2
    ins = force.insider("neighbour_lookups_off_duty")
    home = force.staff_row(ins["staff_id"])
    looked = _lookups_of(force, ins["staff_id"]).filter(pl.col("person_id").is_in(ins["persons"]))
    assert looked.height >= 2
    people = force.snapshot("persons").filter(pl.col("person_id").is_in(ins["persons"]))
    assert (people["postcode"] == home["home_postcode"]).all() and (people["surname"] != home["surname"]).all()
    # Off duty: no on-duty shift of theirs covers any of those look-ups.
    shifts = force.events("duty_roster").filter((pl.col("staff_id") == ins["staff_id"]) & pl.col("duty_type").is_in(["duty", "overtime", "training"]))
    spans = shifts.select(ts("shift_start").alias("s"), ts("shift_end").alias("e"))
    for t in looked.select(ts("occurred_at").alias("t"))["t"]:
        assert spans.filter((pl.col("s") <= t) & (pl.col("e") > t)).height == 0


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Force]:
    """The same small force (seed 5) under each profile, over 45 days so `early` fits."""
    out = tmp_path_factory.mktemp("profiles")
    return {name: Force(generate_force(out / name.replace(",", "+"), staff=300, days=45, seed=5, profile=name))
            for name in ("default", "noisy", "busy", "mix", "early")}


def _off_shift_share(force: Force) -> float:
    """Share of look-ups more than 45 minutes outside every on-duty shift of the staff member."""
    shifts = force.events("duty_roster").filter(pl.col("duty_type").is_in(["duty", "overtime", "training"])).select(
        "staff_id", (ts("shift_start") - pl.duration(minutes=45)).alias("s"), (ts("shift_end") + pl.duration(minutes=45)).alias("e"))
    ev = force.events("access_events").select("event_id", "staff_id", ts("occurred_at").alias("t"))
    inside = ev.join(shifts, on="staff_id").filter((pl.col("t") >= pl.col("s")) & (pl.col("t") < pl.col("e")))["event_id"].n_unique()
    return 1 - inside / ev.height


def test_noisy_profile_raises_every_kind_of_innocent_noise(profiled: dict[str, Force]) -> None:
    base, noisy = profiled["default"], profiled["noisy"]
    insiders = {i["staff_id"] for f in (base, noisy) for i in f.truth["insiders"]}

    def innocent(f: Force, table: str) -> pl.DataFrame:
        return f.events(table).filter(~pl.col("staff_id").is_in(list(insiders)))

    def share(f: Force, expr: pl.Expr) -> float:
        ae = innocent(f, "access_events")
        return ae.filter(expr).height / ae.height

    capture = pl.col("action").is_in(["print", "export", "screenshot"])
    assert share(noisy, capture) > 2 * share(base, capture)
    caseless_vehicle = (pl.col("record_type") == "vehicle") & pl.col("reason_code").is_null() & pl.col("case_id").is_null()
    assert share(noisy, caseless_vehicle) > 2 * share(base, caseless_vehicle)

    def altered_unassigned(f: Force) -> int:
        """Deletes, and updates of traffic offences, of records neither owned by the staff member's unit nor assigned to them."""
        ae = innocent(f, "access_events").filter(
            ((pl.col("action") == "delete") | ((pl.col("action") == "update") & (pl.col("record_type") == "traffic_offence")))
            & pl.col("case_id").is_not_null())
        ae = ae.join(f.snapshot("staff").select("staff_id", "unit"), on="staff_id")
        ae = ae.join(f.events("cases").unique("case_id").select("case_id", "owning_unit"), on="case_id")
        ae = ae.filter(pl.col("owning_unit") != pl.col("unit"))
        return ae.join(f.events("assignments").select("case_id", "staff_id").unique(), on=["case_id", "staff_id"], how="anti").height

    assert altered_unassigned(noisy) > 2 * max(altered_unassigned(base), 5)
    assert _off_shift_share(noisy) > 3 * max(_off_shift_share(base), 1e-4)
    listed = set(noisy.snapshot("contact_directory")["counterparty"]) | set(base.snapshot("contact_directory")["counterparty"])

    def unknown_messages(f: Force) -> int:
        dm = innocent(f, "device_messages").filter(~pl.col("counterparty").is_in(list(listed)))
        return int(dm["message_count"].cast(pl.Int64).sum())

    assert unknown_messages(noisy) > 2 * unknown_messages(base)


def test_busy_profile_names_more_nominals_per_case(profiled: dict[str, Force]) -> None:
    def per_case(f: Force) -> float:
        cp = f.snapshot("case_people")
        crimes = f.snapshot("cases").filter(pl.col("case_type").is_in(["crime", "incident"]))["case_id"]
        on = cp.filter(pl.col("case_id").is_in(crimes))
        return on.height / on["case_id"].n_unique()

    assert per_case(profiled["busy"]) > 2 * per_case(profiled["default"])


def test_mix_profile_doubles_control_room_and_intelligence(profiled: dict[str, Force]) -> None:
    def shares(f: Force) -> dict[str, float]:
        staff = f.snapshot("staff")
        return {fn: staff.filter(pl.col("unit_function") == fn).height / staff.height for fn in ("control_room", "intelligence")}

    base, mix = shares(profiled["default"]), shares(profiled["mix"])
    for fn in base:
        assert 1.6 * base[fn] < mix[fn] < 2.4 * base[fn], fn


def test_early_profile_plants_end_before_the_last_weeks(profiled: dict[str, Force]) -> None:
    f = profiled["early"]
    last = date.fromisoformat(f.drops[-1].name)
    cutoff = str(last - timedelta(days=EARLY_CLEAR_DAYS - 1))
    for ins in f.truth["insiders"]:
        assert ins["window"][1] < cutoff, ins["scenario"]
        # Counterparties only a plant uses carry no traffic in the last weeks.
        mine = [cp for cp in ins["counterparties"] if cp not in set(f.snapshot("contact_directory")["counterparty"])]
        if mine:
            late = f.events("device_messages").filter(pl.col("counterparty").is_in(mine) & (pl.col("hour_start").str.slice(0, 10) >= cutoff))
            assert late.height == 0, ins["scenario"]
    base_windows = {i["window"][1] for i in profiled["default"].truth["insiders"]}
    assert base_windows == {str(last)}


# --- innocent undeclared acquaintances on the index; the high-profile plant ---------------------
WARNING = ["violence", "weapons", "drugs_use", "drugs_supply"]


@pytest.fixture(scope="module")
def mid_force(tmp_path_factory: pytest.TempPathFactory) -> Force:
    """A force big enough to measure shares of the workforce: 1,000 staff over 35 days."""
    return Force(generate_force(tmp_path_factory.mktemp("mid"), staff=1000, days=35, seed=7))


def undeclared_index_contacts(force: Force) -> pl.DataFrame:
    """Calls and texts of innocent staff with people on the index whose number the directory
    knows, who are on none of the staff member's cases and whom they never declared.

    Measured from the CSV files only. Columns: staff_id, person_id, counterparty, hour_start,
    message_count, marked (a warning marker), accused (ever a suspect or offender).
    """
    insiders = [i["staff_id"] for i in force.truth["insiders"]]
    directory = force.snapshot("contact_directory").filter(pl.col("person_id").is_not_null()).select("counterparty", "person_id", "source")
    persons = force.snapshot("persons").select("person_id")
    people = force.snapshot("case_people").select("case_id", "person_id", "role").unique()
    assigned = (force.snapshot("assignments").select("case_id", "staff_id").unique()
                .join(people.select("case_id", "person_id").unique(), on="case_id").select("staff_id", "person_id").unique())
    declared = force.snapshot("declarations").filter(pl.col("person_id").is_not_null()).select("staff_id", "person_id").unique()
    marked = force.snapshot("person_markers").filter(pl.col("marker").is_in(WARNING)).select("person_id").unique().with_columns(marked=pl.lit(True))
    accused = people.filter(pl.col("role").is_in(["suspect", "offender"])).select("person_id").unique().with_columns(accused=pl.lit(True))
    dm = (force.events("device_messages").filter(pl.col("channel").is_in(["call", "sms"]) & ~pl.col("staff_id").is_in(insiders))
          .join(directory, on="counterparty").join(persons, on="person_id")
          .join(assigned, on=["staff_id", "person_id"], how="anti").join(declared, on=["staff_id", "person_id"], how="anti"))
    return (dm.join(marked, on="person_id", how="left").join(accused, on="person_id", how="left")
            .with_columns(pl.col("marked").fill_null(False), pl.col("accused").fill_null(False), pl.col("message_count").cast(pl.Int64))
            .select("staff_id", "person_id", "counterparty", "source", "hour_start", "message_count", "marked", "accused"))


def test_staff_contact_undeclared_people_on_the_index(mid_force: Force) -> None:
    n_staff = mid_force.snapshot("staff").height
    dm = undeclared_index_contacts(mid_force)
    assert set(dm["source"]) == {"case record"}
    per_staff = dm.group_by("staff_id").agg(pl.col("person_id").first(), pl.col("marked").any(), pl.col("accused").any(),
                                             pl.col("message_count").sum().alias("n"))
    # (a) at least 5% of staff: an offender or a marked person, a few times a month.
    risky = per_staff.filter(pl.col("marked") | pl.col("accused"))
    assert risky.height >= 0.05 * n_staff
    assert risky["n"].median() * 30 / len(mid_force.drops) <= 25  # a few times a month, not a relationship
    markers = mid_force.snapshot("person_markers").filter(pl.col("person_id").is_in(risky["person_id"]) & pl.col("marker").is_in(WARNING))
    assert {"drugs_use"} <= set(markers["marker"]) and set(markers["marker"]) & {"violence", "weapons"}
    assert 0.2 * risky.height < risky.filter(pl.col("marked")).height < 0.8 * risky.height  # many have no marker
    # Mostly evenings and off duty, some on duty.
    shifts = mid_force.events("duty_roster").filter(pl.col("duty_type").is_in(["duty", "overtime", "training"])).select(
        "staff_id", ts("shift_start").alias("s"), ts("shift_end").alias("e"))
    rows = dm.filter(pl.col("staff_id").is_in(risky["staff_id"])).with_row_index("row").with_columns(ts("hour_start").alias("h"))
    on_duty = rows.join(shifts, on="staff_id").filter((pl.col("h") >= pl.col("s")) & (pl.col("h") < pl.col("e")))["row"].n_unique()
    assert 0.1 * rows.height < on_duty < 0.5 * rows.height
    # (d) 1% and more: a harmless acquaintance (no warning marker, never a suspect or offender).
    harmless = per_staff.filter(~pl.col("marked") & ~pl.col("accused"))
    assert harmless.height >= 0.01 * n_staff
    # Recorded in truth.json as innocent behaviour, never as insiders or decoys.
    truth = mid_force.truth["innocent"]["undeclared_index_contacts"]
    assert {r["staff_id"] for r in truth} >= set(risky["staff_id"]) | set(harmless["staff_id"])
    assert not {r["staff_id"] for r in truth} & {d["staff_id"] for d in mid_force.truth["decoys"]}


def test_some_contacts_follow_a_routine_lookup_and_some_staff_look_them_up(mid_force: Force) -> None:
    dm = undeclared_index_contacts(mid_force).filter(pl.col("marked") | pl.col("accused"))
    ae = mid_force.events("access_events").filter(pl.col("staff_id").is_in(dm["staff_id"].unique()))
    # (b) within 90 minutes after a look-up (of somebody else, with a case or a reason) by the same staff member.
    routine = ae.filter(pl.col("case_id").is_not_null() | pl.col("reason_code").is_not_null()).select(
        "staff_id", pl.col("person_id").alias("looked_up"), ts("occurred_at").alias("t"))
    contacts = dm.select("staff_id", "person_id", ts("hour_start").alias("h")).unique()
    after = contacts.join(routine, on="staff_id").filter(
        (pl.col("looked_up").is_null() | (pl.col("looked_up") != pl.col("person_id")))
        & (pl.col("h") >= pl.col("t").dt.truncate("1h")) & (pl.col("h") <= pl.col("t") + pl.duration(minutes=90)))
    assert after.select("staff_id", "h").unique().height >= 10
    assert after["staff_id"].n_unique() >= 5
    # (c) some look the person up, with no case and no reason code.
    pairs = dm.select("staff_id", "person_id").unique()
    looked = ae.join(pairs, on=["staff_id", "person_id"]).filter(pl.col("case_id").is_null() & pl.col("reason_code").is_null())
    assert looked["staff_id"].n_unique() >= 3
    assert looked["staff_id"].n_unique() <= 0.3 * pairs["staff_id"].n_unique()  # a few of them, not most


def test_noisy_profile_has_at_least_as_many_undeclared_contacts(profiled: dict[str, Force]) -> None:
    base = undeclared_index_contacts(profiled["default"])["staff_id"].n_unique()
    noisy = undeclared_index_contacts(profiled["noisy"])["staff_id"].n_unique()
    assert base >= 0.05 * profiled["default"].snapshot("staff").height
    assert noisy > 1.5 * base


@pytest.mark.parametrize("which", ["small", "mid"])
def test_high_profile_lookups_signal(which: str, force: Force, mid_force: Force) -> None:
    f = force if which == "small" else mid_force
    ins = f.insider("high_profile_lookups")
    assert ins["expected_categories"] == ["U"] and ins["seed_case"].startswith("domain brief")
    assert 2 <= len(ins["persons"]) <= 3
    marked = f.snapshot("person_markers").filter(pl.col("marker") == "high_profile")["person_id"]
    assert set(ins["persons"]) <= set(marked)
    ev = _lookups_of(f, ins["staff_id"]).filter(pl.col("person_id").is_in(ins["persons"]))
    looks = ev.filter(pl.col("action").is_in(["search", "view"]))
    days = looks.select(ts("occurred_at").dt.convert_time_zone("Europe/London").dt.date().alias("d"))["d"].unique()
    assert len(days) >= 3
    assert ev.filter(pl.col("action").is_in(["print", "screenshot", "export"])).height == 1
    # No policing purpose: no case, no reason code, none of them on a case of theirs or of their unit.
    assert ev["case_id"].null_count() == ev.height and ev["reason_code"].null_count() == ev.height
    unit = f.staff_row(ins["staff_id"])["unit"]
    cases = set(f.snapshot("assignments").filter(pl.col("staff_id") == ins["staff_id"])["case_id"])
    cases |= set(f.snapshot("cases").filter(pl.col("owning_unit") == unit)["case_id"])
    assert not set(f.snapshot("case_people").filter(pl.col("case_id").is_in(list(cases)))["person_id"]) & set(ins["persons"])
    window = [str(x) for x in days]
    assert ins["window"][0] <= min(window) and max(window) <= ins["window"][1]
