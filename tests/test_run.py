"""`acu-audit run` end to end on a small generated force, in the data contract's form."""

from __future__ import annotations

import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from acu_audit.cli import app
from acu_audit.contract import TABLES
from conftest import run_contract_form

LEAD_COLUMNS = ["rank", "lead_id", "staff_ref", "score", "categories", "top_checks", "anomaly_score",
                "first_seen", "last_seen", "summary"]


@pytest.fixture(scope="module")
def force(tmp_path_factory):
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("force")
    generate_force(root, staff=300, days=21, seed=11)
    return root


@pytest.fixture(scope="module")
def run(force, prefect_harness):
    """One run in the contract's exact form, from the force's folder (default --db in the cwd)."""
    run_contract_form(force)
    return force


def staff_ids(force: Path) -> set[str]:
    first = sorted((force / "landing").iterdir())[0]
    return set(pl.read_csv(first / "staff.csv")["staff_id"].to_list())


def test_outputs_follow_the_contract(run):
    out = run / "out"
    assert (run / "acu_audit.duckdb").exists()  # the default database, in the working directory
    leads = pl.read_csv(out / "leads.csv")
    assert leads.columns[: len(LEAD_COLUMNS)] == LEAD_COLUMNS
    assert "staff_id" not in leads.columns
    assert leads["rank"].to_list() == list(range(1, leads.height + 1))
    assert leads["score"].to_list() == sorted(leads["score"].to_list(), reverse=True)
    assert pl.read_parquet(out / "leads.parquet").height == leads.height
    assert leads["staff_ref"].str.starts_with("sr-").all()
    assert leads["first_seen"].str.ends_with("Z").all() and leads["last_seen"].str.ends_with("Z").all()
    assert set("|".join(leads["categories"].to_list()).replace("|", "")) <= set("STUDIOMB")
    hits = pl.read_parquet(out / "hits.parquet")
    assert {"staff_ref", "check_id", "category", "reason", "evidence"} <= set(hits.columns)
    assert "staff_id" not in hits.columns


def test_outputs_are_readable_by_the_owner_only(run):
    """Every file 0600 and every folder 0700 (the published names are links into the night's folder)."""
    paths = [p for p in (run / "out").rglob("*") if not p.is_symlink()]
    assert any(p.is_dir() for p in paths) and any(p.is_file() for p in paths)
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_no_output_carries_a_staff_id(run):
    ids = staff_ids(run)
    for path in (p for p in (run / "out").rglob("*") if p.is_file() and not p.is_symlink()):
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found = [s for s in ids if s in text]
        assert not found, f"{path.name} carries staff ids {found[:3]}"


def test_every_check_ran_and_every_row_is_accounted_for(run):
    con = duckdb.connect(str(run / "acu_audit.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM check_runs WHERE status <> 'ok'").fetchall()[0][0] == 0
    read, loaded, dup, rejected = con.execute(
        'SELECT sum("read"), sum(loaded), sum(duplicate), sum(rejected) FROM ingest_files'
    ).fetchall()[0]
    assert read == loaded + dup + rejected
    stored = sum(con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in TABLES)
    assert stored == loaded
    con.close()


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.images = 0
        self.text: list[str] = []
        self.links: list[str] = []  # links within the page (#...)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.external.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.external.append(attrs["href"])
        if tag == "img":
            self.images += 1
            if not (attrs.get("src") or "").startswith(("data:image/png;base64,", "data:image/svg+xml;base64,")):
                self.external.append(attrs.get("src"))
        if (attrs.get("href") or "").startswith("#"):
            self.links.append(attrs["href"][1:])
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if value.startswith(("http:", "https:", "//")):
                self.external.append(value)

    def handle_data(self, data):
        self.text.append(data)


def test_report_is_self_contained_with_legend_and_plots(run):
    html = (run / "out" / "report.html").read_text()
    parser = _Resources()
    parser.feed(html)
    assert parser.external == []
    assert "@import" not in html and "url(http" not in html
    text = " ".join(parser.text)
    assert "Social media" in text and "Unauthorised disclosure" in text
    leads = pl.read_csv(run / "out" / "leads.csv")
    # What changed since the night before, at the top, in numbers that match leads.csv.
    new = leads.filter(pl.col("change") == "new").height
    assert re.search(rf"Since the night before:\s+{new} new lead\(s\)", text), text[:600]
    assert parser.images == min(leads.height, 25)  # one timeline per detailed lead


def test_every_link_within_the_report_leads_to_a_card(run, tmp_path, prefect_harness, monkeypatch):
    """A lead's id links to its card only where it has one. Replayed with fewer cards than leads
    (the small force has fewer than the usual 25), so uncarded leads are in the table."""
    import acu_audit.report

    monkeypatch.setattr(acu_audit.report, "MIN_LEADS_DETAILED", 2)
    result = CliRunner().invoke(app, ["run", "--landing", str(run / "landing"), "--out", str(tmp_path / "few-cards"),
                                      "--db", str(run / "acu_audit.duckdb"), "--no-validation"])
    assert result.exit_code == 0, result.output
    parser = _Resources()
    parser.feed((tmp_path / "few-cards" / "report.html").read_text())
    leads = pl.read_csv(tmp_path / "few-cards" / "leads.csv")
    cards = {i for i in parser.ids if i.startswith("L-")}
    assert 0 < len(cards) < leads.height  # some leads without a card: a link to them would lead nowhere
    assert parser.links and not set(parser.links) - parser.ids, sorted(set(parser.links) - parser.ids)[:5]


def test_rerun_of_the_same_night_is_byte_identical(run):
    before = (run / "out" / "leads.csv").read_bytes()
    state = duckdb.connect(str(run / "acu_audit.state.duckdb"), read_only=True)
    versions = state.execute("SELECT count(*), max(published_at) FROM lead_versions").fetchall()
    state.close()
    run_contract_form(run)
    assert (run / "out" / "leads.csv").read_bytes() == before
    state = duckdb.connect(str(run / "acu_audit.state.duckdb"), read_only=True)
    assert state.execute("SELECT count(*), max(published_at) FROM lead_versions").fetchall() == versions
    state.close()


def test_reveal_identities_adds_staff_id_and_is_recorded(run, tmp_path, prefect_harness):
    result = CliRunner().invoke(app, [
        "run", "--landing", str(run / "landing"), "--out", str(tmp_path / "revealed"), "--db", str(run / "acu_audit.duckdb"),
        "--reveal-identities", "--no-validation", "--actor", "analyst7",
    ])
    assert result.exit_code == 0, result.output
    leads = pl.read_csv(tmp_path / "revealed" / "leads.csv")
    assert "staff_id" in leads.columns and set(leads["staff_id"]) <= staff_ids(run)
    state = duckdb.connect(str(run / "acu_audit.state.duckdb"), read_only=True)
    reveals = state.execute("SELECT actor, reason, scope FROM reveals").fetchall()
    state.close()
    assert ("analyst7", "not given", "run outputs") in reveals


@pytest.mark.browser
def test_report_renders_in_headless_chromium(run, tmp_path):
    import shutil
    import subprocess

    from PIL import Image

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600", f"--screenshot={shot}",
         (run / "out" / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert shot.exists(), result.stderr[-2000:]
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 1600)
    # Something was drawn: the page is not blank, and its top (the title and banner) has ink.
    dark = sum(image.histogram()[:128])  # pixels darker than mid-grey
    assert dark > 0.01 * image.size[0] * image.size[1]
    top = image.crop((0, 0, 1200, 200))
    assert sum(top.histogram()[:128]) > 500


def test_declarations_reminders_are_routed_not_listed(run):
    """Compliance is not misconduct: undeclared contact with nothing beside it goes to declarations.csv
    (pseudonymised), never to the lead list or hits.parquet; nothing is hidden."""
    from acu_audit.checks import load_catalogue

    declarations_route = {c.id for c in load_catalogue() if c.meta.route == "declarations"}
    reminders = pl.read_csv(run / "out" / "declarations.csv")
    assert reminders.columns[:4] == ["staff_ref", "check_id", "subject", "reason"] and "staff_id" not in reminders.columns
    assert reminders.height > 0 and set(reminders["check_id"]) <= declarations_route
    assert reminders["reason"].str.contains("a reminder to declare").all()
    hits = pl.read_parquet(run / "out" / "hits.parquet")
    assert not set(hits["check_id"]) & declarations_route
    leads = pl.read_csv(run / "out" / "leads.csv")
    assert not leads["top_checks"].str.contains("|".join(declarations_route)).any()


def test_runs_lists_past_nights_from_the_warehouse_without_a_prefect_server(run):
    """`acu-audit runs`: what Prefect's history would show, read from run_log and run_failures."""
    import json

    from typer.testing import CliRunner

    from acu_audit.cli import app

    listed = CliRunner().invoke(app, ["runs", "--db", str(run / "acu_audit.duckdb"), "--json"])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    newest = max(p.name for p in (run / "landing").iterdir())
    # Other tests run this night again on the shared force: a replay is listed beside the first run.
    assert rows[0]["as_of"] == newest and rows[0]["leads"] > 0
    assert {r["status"] for r in rows if r["as_of"] == newest} & {"completed", "completed_with_warnings"}
    assert rows[0]["seconds"] > 0  # the night's phases, summed from run_phases
    table = CliRunner().invoke(app, ["runs", "--db", str(run / "acu_audit.duckdb")])
    assert table.exit_code == 0 and newest in table.output


def test_the_timeline_keeps_its_legend_above_the_bars_and_scales_to_the_page():
    """The legend has its own band: no bar, shade or line reaches into it, whatever the day's volume."""
    import base64
    import xml.etree.ElementTree as ET
    from datetime import date, timedelta

    from acu_audit.report import LEGEND_BAND, TIMELINE_SIZE, timeline_svg

    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(28)]
    frame = pl.DataFrame({"day": days, "with_purpose": [40 * (i % 5) for i in range(28)], "no_purpose": [90 if i == 0 else 0 for i in range(28)],
                          "messages": [300 if i == 0 else 5 for i in range(28)], "on_duty": [i % 7 not in (5, 6) for i in range(28)]})
    svg = ET.fromstring(base64.b64decode(timeline_svg(frame).split(",", 1)[1]))
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.get("viewBox") == f"0 0 {TIMELINE_SIZE[0]} {TIMELINE_SIZE[1]}"
    rects = [r for r in svg.iter(f"{ns}rect") if r.get("width") != str(TIMELINE_SIZE[0])]
    legend = [r for r in rects if float(r.get("y")) < LEGEND_BAND]
    plotted = [r for r in rects if float(r.get("y")) >= LEGEND_BAND]
    assert len(legend) == 3 and all(float(r.get("y")) + float(r.get("height")) < LEGEND_BAND for r in legend)
    assert len(plotted) >= 2 * 28  # two bars a day, and the days off shaded, all below the band
    line = next(svg.iter(f"{ns}polyline")).get("points").split()
    assert min(float(p.split(",")[1]) for p in line) >= LEGEND_BAND  # the busiest day's messages stay below it too
    texts = [t.text for t in svg.iter(f"{ns}text")]
    assert {"look-ups with a purpose", "look-ups, no purpose found", "messages and calls", "day off duty"} <= set(texts)
