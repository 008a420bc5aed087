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


def run(landing: Path, work: Path, as_of: date) -> NightResult:
    work.mkdir(parents=True, exist_ok=True)
    return run_night(settle_night(landing=landing, out=work / "out", db=work / "acu.duckdb", settings=load_settings(None),
                                  as_of=as_of, validate=False))


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
