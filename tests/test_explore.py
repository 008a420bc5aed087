"""The analysts' copy and the explore functions the notebooks call."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from acu_audit import explore


@pytest.fixture(scope="module")
def pub(published) -> explore.Published:
    return explore.Published.find(published / "out")


def _staff_ids(root: Path) -> set[str]:
    first = sorted((root / "landing").iterdir())[0]
    return set(pl.read_csv(first / "staff.csv")["staff_id"].to_list())


def _warehouse(root: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(root / "acu_audit.duckdb"), read_only=True)


def _staff_id_of(root: Path, ref: str) -> str:
    from acu_audit.privacy import load_secret, staff_ref

    key = load_secret(create=False)
    return next(s for s in _staff_ids(root) if staff_ref(key, s) == ref)


def test_the_copy_names_no_member_of_staff(published, pub):
    """Scanning bytes misses compressed strings, so every text column is queried."""
    ids = _staff_ids(published)
    con = duckdb.connect(str(pub.path), read_only=True)
    try:
        columns = con.sql(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
        ).fetchall()
        assert not [c for c in columns if c[1] == "staff_id"]
        for table, column, data_type in columns:
            if "VARCHAR" not in data_type:
                continue
            values = con.sql(f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{table}"').fetchall()
            text = " ".join(v[0] for v in values if v[0])
            found = [s for s in ids if s in text]
            assert not found, f"{table}.{column} carries staff ids {found[:3]}"
    finally:
        con.close()


def test_todays_leads_are_the_published_list(published, pub):
    leads = explore.todays_leads(pub)
    published_csv = pl.read_csv(published / "out" / "leads.csv")
    assert leads["lead_id"].to_list() == published_csv["lead_id"].to_list()
    assert leads["rank"].to_list() == list(range(1, leads.height + 1))
    assert explore.todays_leads(pub, top=5).height == min(5, leads.height)
    assert pub.meta()["as_of"] == max(date.fromisoformat(p.name) for p in (published / "landing").iterdir())


def test_changes_since_yesterday_compare_with_the_night_before(pub):
    changes = explore.changes_since_yesterday(pub)
    leads = explore.todays_leads(pub)
    kinds = ("new", "escalated", "returning", "unchanged")
    assert sum(changes[k].height for k in kinds) == leads.height
    history = pub.frame("SELECT * FROM lead_history")
    yesterday = set(history.filter(pl.col("as_of") == pub.meta()["as_of"] - timedelta(days=1))["lead_id"])
    assert yesterday, "the fixture runs two nights"
    assert not set(changes["new"]["lead_id"]) & yesterday
    assert set(changes["unchanged"]["lead_id"]) <= yesterday
    assert set(changes["left the list"]["lead_id"]) == yesterday - set(leads["lead_id"])


def test_lead_detail_shows_checks_evidence_and_why_unusual(published, pub):
    top = explore.todays_leads(pub, top=1).row(0, named=True)
    detail = explore.lead_detail(pub, top["lead_id"])
    assert detail["lead"]["staff_ref"] == top["staff_ref"]
    assert detail["hits"].height > 0
    assert set(top["categories"].split("|")) <= set(detail["hits"]["category"])
    hit_ids = pub.frame("SELECT unnest(hit_ids) AS hit_id FROM leads WHERE lead_id = $l", {"l": top["lead_id"]})
    hits = pl.read_parquet(published / "out" / "hits.parquet").join(hit_ids, on="hit_id")
    evidence = hits["evidence"].explode()
    lookups = evidence.filter(evidence.str.starts_with("access_events:")).str.split(":").list.get(1)
    assert set(detail["evidence_lookups"]["event_id"]) == set(lookups)
    assert (detail["evidence_lookups"]["staff_ref"] == top["staff_ref"]).all()
    assert isinstance(detail["why_unusual"], list)
    # What a person reads is local time with the zone named, in every frame of the detail.
    import re

    times = [*detail["hits"]["occurred_at"].drop_nulls(), *detail["evidence_lookups"]["occurred_at"]]
    assert times and all(re.fullmatch(r"\d{2} \w{3} \d{4} \d{2}:\d{2} (GMT|BST)", t) for t in times), times[:3]
    with pytest.raises(KeyError):
        explore.lead_detail(pub, "L-not-a-lead")


def test_staff_timeline_counts_every_lookup_in_the_window(published, pub):
    ref = explore.todays_leads(pub, top=1)["staff_ref"][0]
    timeline = explore.staff_timeline(pub, ref)
    meta = pub.meta()
    assert timeline["local_day"].to_list() == [
        meta["window_start"] + timedelta(days=i) for i in range((meta["as_of"] - meta["window_start"]).days + 1)
    ]
    con = _warehouse(published)
    try:
        purpose = con.execute(
            """SELECT count(*) FILTER (WHERE has_purpose), count(*) FILTER (WHERE NOT has_purpose)
               FROM access_purpose WHERE staff_id = $s AND local_day BETWEEN $a AND $b""",
            {"s": _staff_id_of(published, ref), "a": meta["window_start"], "b": meta["as_of"]},
        ).fetchall()[0]
    finally:
        con.close()
    assert (timeline["with_purpose"].sum(), timeline["no_purpose"].sum()) == purpose
    assert timeline["on_duty"].any()


def test_check_summary_and_hits_match_the_published_hits(published, pub):
    from acu_audit.checks import load_catalogue

    summary = explore.check_summary(pub)
    assert summary.height == len(load_catalogue())
    hits = pl.read_parquet(published / "out" / "hits.parquet")
    busiest = hits.group_by("check_id").len().sort(["len", "check_id"], descending=[True, False])["check_id"][0]
    per_check = explore.check_hits(pub, busiest)
    assert per_check.height == hits.filter(pl.col("check_id") == busiest).height
    assert per_check["unit_function"].null_count() == 0
    # The summary counts every hit the check made tonight, kept as evidence or not; the hits table
    # holds the kept ones (and the earlier nights' hits behind listed leads).
    row = summary.filter(pl.col("check_id") == busiest).row(0, named=True)
    night = hits["as_of"].max()
    con = duckdb.connect(str(published / "acu_audit.duckdb"), read_only=True)
    try:
        (made,) = con.execute("SELECT count(*) FROM check_hits WHERE as_of = $d AND check_id = $c", {"d": night, "c": busiest}).fetchall()[0]
    finally:
        con.close()
    assert row["hits"] == made >= hits.filter((pl.col("check_id") == busiest) & (pl.col("as_of") == night)).height
    assert row["status"] == "ok"


def test_what_if_with_the_same_weights_moves_nobody_and_writes_nothing(pub):
    before = hashlib.sha256(pub.path.read_bytes()).hexdigest()
    # The copy reproduces the night's own ranking: the queue, its tiers and kept scores.
    for top in (5, 20, 10**6):
        assert explore.what_if(pub, top=top).is_empty()
    assert hashlib.sha256(pub.path.read_bytes()).hexdigest() == before


def test_what_if_reads_the_configuration_the_night_used(pub, tmp_path, monkeypatch):
    """Not the configuration in force now: another force file in the environment changes nothing."""
    other = tmp_path / "other.yaml"
    other.write_text("checks:\n  min_peer_group: 500\nscoring:\n  outlier:\n    weight: 0.0\n  rarity:\n    exponent: 0.5\n",
                     encoding="utf-8")
    monkeypatch.setenv("ACU_AUDIT_CONFIG", str(other))
    assert explore.what_if(pub, top=20).is_empty()
    assert not explore.what_if(pub, top=20, scoring={"outlier": {"weight": 0.0}, "rarity": {"exponent": 0.5}}).is_empty()


def test_what_if_without_a_check_drops_the_leads_that_rest_on_it(pub):
    leads = explore.todays_leads(pub)
    # A watch-tier lead scored on tonight's evidence of one category, with a scored lead below it.
    own = pub.frame("SELECT lead_id FROM leads WHERE tonight_score IS NOT NULL AND tier = 'watch'")["lead_id"]
    last_scored = leads.filter(pl.col("score") > 0)["rank"].max()
    single = leads.filter(~pl.col("categories").str.contains("|", literal=True) & (pl.col("anomaly_score") < 0.6)
                          & pl.col("lead_id").is_in(own.to_list()) & (pl.col("rank") < last_scored))
    lead = single.row(0, named=True)
    detail = explore.lead_detail(pub, lead["lead_id"])
    checks = tuple(detail["hits"]["check_id"].unique())
    # Without its evidence it scores 0: it stays on the queue (open until an analyst closes it), below
    # every lead that still has evidence, so it leaves the top places it held.
    moved = explore.what_if(pub, exclude_checks=checks, top=lead["rank"])
    row = moved.filter(pl.col("staff_ref") == lead["staff_ref"])
    assert row.height == 1 and row["change"][0] == "leaves the top" and row["score_after"][0] == 0
    heavier = explore.what_if(pub, scoring={"outlier": {"weight": 3.0}}, top=10)
    assert not heavier.is_empty()  # a heavier outlier weight reorders the top ten
    assert set(heavier["change"]) <= {"enters the top", "leaves the top"}


def test_plots_draw_for_a_lead_and_a_check(pub):
    import matplotlib

    matplotlib.use("Agg")
    ref = explore.todays_leads(pub, top=1)["staff_ref"][0]
    fig = explore.plot_staff_timeline(pub, ref)
    assert len(fig.axes) == 2 and fig.axes[0].patches
    check = explore.check_summary(pub).sort("hits", descending=True, nulls_last=True)["check_id"][0]
    fig = explore.plot_check_hits(pub, check)
    assert len(fig.axes) == 2 and fig.axes[0].patches
    fig = explore.plot_top_leads(pub, top=5)
    assert len(fig.axes[0].patches) == min(5, explore.todays_leads(pub).height)


def test_the_top_leads_legend_shows_each_change_in_its_own_colour(pub):
    import matplotlib
    from matplotlib.colors import to_hex

    matplotlib.use("Agg")
    legend = explore.plot_top_leads(pub, top=5).axes[0].get_legend()
    swatches = {t.get_text(): to_hex(h.get_facecolor()) for t, h in zip(legend.get_texts(), legend.legend_handles)}
    assert list(swatches) == ["new", "escalated", "returning", "unchanged"]
    assert len(set(swatches.values())) == 4, swatches  # four different colours, not the default four times


def test_hits_by_day_are_plotted_on_the_windows_days_with_none_left_out(pub):
    import matplotlib

    matplotlib.use("Agg")
    meta = pub.meta()
    check = explore.check_summary(pub).sort("hits", descending=True, nulls_last=True)["check_id"][0]
    by_day, outside = explore.hits_by_day(pub, explore.check_hits(pub, check))
    days = by_day["local_day"].to_list()
    assert days[0] == meta["window_start"] and days[-1] == meta["as_of"]
    assert len(days) == (meta["as_of"] - meta["window_start"]).days + 1  # a day without hits is a zero, not a gap
    assert int(by_day["hits"].sum()) + outside == explore.check_hits(pub, check).height
    axis = explore.plot_check_hits(pub, check).axes[1]
    assert len(axis.patches) == len(days)
    low, high = matplotlib.dates.num2date(axis.get_xlim()[0]).date(), matplotlib.dates.num2date(axis.get_xlim()[1]).date()
    assert low >= meta["window_start"] - timedelta(days=1) and high <= meta["as_of"] + timedelta(days=1)


def test_tables_read_as_words_with_no_types_quotes_or_nulls():
    frame = pl.DataFrame({"staff_ref": ["sr-1", None], "score": [12.345, None], "categories": [["U", "S"], []],
                          "first_seen": [date(2026, 11, 28), None], "flagged": [True, False]})
    html = explore.table_html(frame)
    assert "<th style=\"text-align:left\">staff_ref</th>" in html and "12.35" in html and "U, S" in html
    assert "str" not in html and "f64" not in html and "null" not in html and "&quot;" not in html and '"sr-1"' not in html
    assert "2 rows" in html
    assert "the first 1 shown" in explore.table_html(frame, max_rows=1)


def test_find_fails_clearly_without_a_copy(tmp_path, monkeypatch):
    monkeypatch.delenv(explore.PUBLISHED_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="acu-audit demo"):
        explore.Published.find()


_READER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)    # a notebook left open overnight
    print(con.execute("SELECT run_id FROM meta").fetchone()[0], flush=True)
    sys.stdin.readline()                                  # ... while the nightly run completes
    print(con.execute("SELECT run_id FROM meta").fetchone()[0], flush=True)
    con.close()
    print(duckdb.connect(sys.argv[1], read_only=True).execute("SELECT run_id FROM meta").fetchone()[0], flush=True)
    """
)


def test_an_open_notebook_never_blocks_the_nightly_run(published, pub):
    from acu_audit.cli import run_flow

    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(pub.path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        before = reader.stdout.readline().strip()
        assert before, "the reader could not open the published copy"
        result = run_flow(landing=published / "landing", out_dir=published / "out", db=published / "acu_audit.duckdb",
                          as_of=pub.meta()["as_of"], validate=False)
        assert "warnings" in result
        out, _ = reader.communicate("\n", timeout=60)
    finally:
        reader.kill()
        reader.wait(timeout=10)
        for pipe in (reader.stdin, reader.stdout):
            pipe.close()
    still_open, reopened = out.split()
    assert still_open == before  # the open reader kept last night's copy
    assert reopened != before and reopened == pub.meta()["run_id"]  # reopening picks up the new one


@pytest.mark.slow
def test_what_if_moves_nobody_with_closed_referred_and_suppressed_leads(tmp_path, prefect_harness):
    """Closed leads held back, a referred lead in watch and a suppressed member of staff: with
    no change, what-if still moves nobody (it reproduces the night's own queue)."""
    from typer.testing import CliRunner

    from acu_audit.cli import app, run_flow
    from acu_audit.synth import generate_force

    generate_force(tmp_path, staff=300, days=21, seed=11)
    nights = sorted(p.name for p in (tmp_path / "landing").iterdir())
    db, out = tmp_path / "acu_audit.duckdb", tmp_path / "out"
    run_flow(landing=tmp_path / "landing", out_dir=out, db=db, as_of=date.fromisoformat(nights[-2]), validate=False)
    leads = pl.read_csv(out / "leads.csv")
    assert leads.height >= 6
    runner = CliRunner()
    for lead_id in leads["lead_id"][:2]:
        assert runner.invoke(app, ["lead", "set-status", lead_id, "no_further_action", "--note", "explained",
                                   "--db", str(db)]).exit_code == 0
    assert runner.invoke(app, ["lead", "set-status", leads["lead_id"][2], "referred", "--note", "to PSD",
                               "--db", str(db)]).exit_code == 0
    assert runner.invoke(app, ["suppress", "--staff-ref", leads["staff_ref"][3], "--reason", "authorised test account",
                               "--owner", "ACU", "--expires", "2099-01-01", "--db", str(db)]).exit_code == 0
    run_flow(landing=tmp_path / "landing", out_dir=out, db=db, as_of=date.fromisoformat(nights[-1]), validate=False)
    pub = explore.Published.find(out)
    statuses = set(pub.frame("SELECT status FROM leads")["status"])
    assert "referred" in statuses
    for top in (5, 20, 10**6):
        moved = explore.what_if(pub, top=top)
        assert moved.is_empty(), moved
