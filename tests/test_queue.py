"""The analysts' queue end to end: a first run over a history equals nightly runs, and a lead
whose evidence is older than tonight's window keeps it in every output."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from acu_audit.cli import app
from acu_audit.config import load_settings
from acu_audit.flow import NightResult, run_night, settle_night
from acu_audit.privacy import staff_ref
from conftest import run_contract_form


def drops(landing: Path) -> list[date]:
    return sorted(date.fromisoformat(p.name) for p in landing.iterdir() if p.is_dir())


def run(landing: Path, work: Path, as_of: date, catch_up_lanes: int | None = None) -> NightResult:
    work.mkdir(parents=True, exist_ok=True)
    overrides = {"runtime": {"catch_up_lanes": catch_up_lanes}} if catch_up_lanes else None
    return run_night(settle_night(landing=landing, out=work / "out", db=work / "acu.duckdb",
                                  settings=load_settings(None, overrides), as_of=as_of, validate=False))


def kept_lists(work: Path) -> dict[date, list[tuple]]:
    con = duckdb.connect(str(work / "acu.state.duckdb"), read_only=True)
    rows = con.execute("SELECT as_of, lead_id, tier, rank, round(score, 2), change FROM lead_versions ORDER BY as_of, rank").fetchall()
    con.close()
    out: dict[date, list[tuple]] = {}
    for as_of, *rest in rows:
        out.setdefault(as_of, []).append(tuple(rest))
    return out


@pytest.fixture(scope="module")
def small_force(tmp_path_factory) -> Path:
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("queue-force")
    generate_force(root, staff=300, days=32, seed=11)
    return root / "landing"


def test_a_first_run_over_a_history_equals_running_every_night(small_force, tmp_path):
    nights = drops(small_force)
    first_full = nights[0] + timedelta(days=27)
    one = run(small_force, tmp_path / "one", nights[-1])
    assert one.caught_up == [first_full + timedelta(days=i) for i in range((nights[-1] - first_full).days)]
    for night in nights[nights.index(first_full):]:
        each = run(small_force, tmp_path / "each", night)
        assert each.caught_up == []  # never behind by more than one night
    single, nightly = kept_lists(tmp_path / "one"), kept_lists(tmp_path / "each")
    assert sorted(single) == sorted(nightly) == nights[nights.index(first_full):]
    for night in nightly:  # every night's queue: the same leads, tiers, ranks, scores and changes
        assert single[night] == nightly[night], night
    assert any(tier == "review" for _, tier, *_ in single[nights[-1]])
    # Only the last night has outputs; the missed nights are recorded as reviewed.
    con = duckdb.connect(str(tmp_path / "one" / "acu.duckdb"), read_only=True)
    statuses = dict(con.execute("SELECT as_of, status FROM run_log").fetchall())
    assert statuses.pop(nights[-1]).startswith("completed") and set(statuses.values()) == {"reviewed"}


# What a catch-up stores per missed night, whoever ran it (run ids and timings left out).
REVIEWED = {
    "run_log": "SELECT as_of, status, leads FROM run_log",
    "check_hits": "SELECT * EXCLUDE (run_id) FROM check_hits",
    "check_runs": "SELECT * EXCLUDE (run_id, seconds) FROM check_runs",
    "check_rates": "SELECT * FROM check_rates",
    "outlier_scores": "SELECT * FROM outlier_scores",
    "lead_scores": "SELECT * FROM lead_scores",
    "access_purpose": "SELECT * FROM access_purpose",
    "lookup_hours": "SELECT * FROM lookup_hours",
    "purpose_days": "SELECT * EXCLUDE (labelled_at) FROM purpose_days",
}


def reviewed_tables(work: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(work / "acu.duckdb"), read_only=True)
    try:
        return {name: sorted(con.execute(sql).fetchall(), key=repr) for name, sql in REVIEWED.items()}
    finally:
        con.close()


def test_missed_nights_reviewed_side_by_side_store_what_one_at_a_time_stores(small_force, tmp_path, monkeypatch):
    import threading

    from acu_audit.flow import nightly

    nights = drops(small_force)
    one = run(small_force, tmp_path / "one", nights[-1], catch_up_lanes=1)
    gathered_on, gather = {}, nightly.gather_evidence

    def noting_the_lane(wh, night, *rest, **named):
        gathered_on[night.as_of] = threading.current_thread().name
        return gather(wh, night, *rest, **named)

    monkeypatch.setattr(nightly, "gather_evidence", noting_the_lane)
    two = run(small_force, tmp_path / "two", nights[-1], catch_up_lanes=2)
    # The missed nights' evidence was gathered in two lanes, night about.
    assert [gathered_on[d] for d in two.caught_up] == [f"catch-up-lane-{i % 2}" for i in range(len(two.caught_up))]
    assert one.caught_up == two.caught_up and len(two.caught_up) >= 3  # both lanes had nights
    assert kept_lists(tmp_path / "one") == kept_lists(tmp_path / "two")
    single, lanes = reviewed_tables(tmp_path / "one"), reviewed_tables(tmp_path / "two")
    for name in REVIEWED:
        assert single[name] == lanes[name], name
    assert single["check_hits"] and single["outlier_scores"] and single["lead_scores"] and single["lookup_hours"]


def test_a_missed_night_that_fails_in_a_lane_stops_the_catch_up_after_the_nights_before_it(small_force, tmp_path, monkeypatch):
    import threading

    from acu_audit.flow import NightFailed, steps

    nights = drops(small_force)
    first_full = nights[0] + timedelta(days=27)
    broken = first_full + timedelta(days=2)  # the third missed night: the first lane's second
    score = steps.outlier_score

    def failing_on_the_broken_night(wh, night):
        if night.as_of == broken:
            raise RuntimeError("the forest would not fit")
        return score(wh, night)

    monkeypatch.setattr(steps, "outlier_score", failing_on_the_broken_night)
    with pytest.raises(NightFailed) as failed:
        run(small_force, tmp_path / "two", nights[-1], catch_up_lanes=2)
    assert failed.value.step == f"reviewing the missed night {broken} (run again to resume from {broken})"
    assert "the forest would not fit" in str(failed.value)
    assert not [t for t in threading.enumerate() if t.name.startswith("catch-up-lane")]
    con = duckdb.connect(str(tmp_path / "two" / "acu.duckdb"), read_only=True)
    recorded = dict(con.execute("SELECT as_of, status FROM run_log").fetchall())
    con.close()
    assert recorded == {first_full: "reviewed", first_full + timedelta(days=1): "reviewed"}  # in order, none after
    # Run again: the catch-up resumes at the broken night and ends where one lane ends.
    monkeypatch.setattr(steps, "outlier_score", score)
    resumed = run(small_force, tmp_path / "two", nights[-1], catch_up_lanes=2)
    assert resumed.caught_up[0] == broken
    run(small_force, tmp_path / "one", nights[-1], catch_up_lanes=1)
    assert kept_lists(tmp_path / "one") == kept_lists(tmp_path / "two")


def test_a_catch_up_stopped_between_nights_leaves_no_lane_running_and_resumes(small_force, tmp_path, monkeypatch):
    import threading

    from acu_audit.flow.nightly import MissedNightLanes

    nights = drops(small_force)
    first_full = nights[0] + timedelta(days=27)
    reviewed = MissedNightLanes.reviewed

    def stopped_at_the_second_night(self, index, progress):
        if index == 1:
            raise KeyboardInterrupt  # a stop signal while the catch-up waits for its second night
        return reviewed(self, index, progress)

    monkeypatch.setattr(MissedNightLanes, "reviewed", stopped_at_the_second_night)
    with pytest.raises(KeyboardInterrupt):
        run(small_force, tmp_path / "two", nights[-1], catch_up_lanes=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("catch-up-lane")]
    con = duckdb.connect(str(tmp_path / "two" / "acu.duckdb"), read_only=True)  # the lanes' connections are closed
    recorded = [r[0] for r in con.execute("SELECT as_of FROM run_log ORDER BY as_of").fetchall()]
    con.close()
    assert recorded[:1] == [first_full] and recorded == [first_full + timedelta(days=i) for i in range(len(recorded))]
    monkeypatch.setattr(MissedNightLanes, "reviewed", reviewed)
    resumed = run(small_force, tmp_path / "two", nights[-1], catch_up_lanes=2)
    assert resumed.caught_up[0] == first_full + timedelta(days=len(recorded))
    run(small_force, tmp_path / "one", nights[-1], catch_up_lanes=1)
    assert kept_lists(tmp_path / "one") == kept_lists(tmp_path / "two")


@pytest.fixture(scope="module")
def early_run(tmp_path_factory, prefect_harness) -> Path:
    """The `early` profile (plants end before the last 28 days), one `acu-audit run` over it all."""
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("queue-early")
    generate_force(root, staff=300, days=45, seed=5, profile="early")
    run_contract_form(root)
    return root


def test_leads_from_before_the_window_stay_with_their_evidence(early_run, tmp_path):
    root = early_run
    key = os.environ["ACU_AUDIT_SECRET"].encode()
    truth = json.loads((root / "truth.json").read_text())
    leads = pl.read_csv(root / "out" / "leads.csv")
    last_night = leads["as_of"][0]
    assert leads["tier"].to_list() == sorted(leads["tier"].to_list(), key=lambda t: t != "review")  # review first
    assert leads["rank"].to_list() == list(range(1, leads.height + 1))
    plants = {staff_ref(key, p["staff_id"]) for p in truth["insiders"]}
    old = leads.filter(pl.col("staff_ref").is_in(list(plants)) & (pl.col("age_days") > 0))
    assert old.height >= 5  # planted insiders whose activity ended before tonight's window
    hits = pl.read_parquet(root / "out" / "hits.parquet")
    earlier = hits.filter(pl.col("as_of").cast(pl.String) < last_night)
    assert set(old["staff_ref"]) <= set(hits["staff_ref"])
    assert set(earlier["staff_ref"]) & set(old["staff_ref"])
    # Its referral pack holds those hits and their evidence rows.
    lead_id = old.filter(pl.col("staff_ref").is_in(list(earlier["staff_ref"])))["lead_id"][0]
    result = CliRunner().invoke(app, ["lead", "export", lead_id, "--out", str(tmp_path), "--db", str(root / "acu_audit.duckdb"),
                                       "--reason", "referral test"])
    assert result.exit_code == 0, result.output
    (pack,) = tmp_path.glob(f"referral-{lead_id}-*")
    pack_hits = pl.read_csv(pack / "hits.csv")
    assert pack_hits.height >= 1 and (pack_hits["found_on"].cast(pl.String) < last_night).any()
    evidence_rows = sum(pl.read_csv(pack / name).height for name in ("access_events.csv", "device_messages.csv")
                        if (pack / name).stat().st_size)
    assert evidence_rows >= 1
    # And its card in the report shows the night the evidence was found.
    report = (root / "out" / "report.html").read_text()
    assert "Review tier" in report and "found on night" in report
