"""Data quality in view: the report's section, the quarantine list, raw text masked."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from acu_audit.cli import app
from acu_audit.data_quality import reason_group


def test_alike_reasons_group_without_their_lines_or_values():
    a = reason_group("line 12: column 'occurred_at': '2026-03-04T10:15:00' is not an ISO 8601 timestamp with a zone")
    b = reason_group("line 99: column 'occurred_at': 'yesterday' is not an ISO 8601 timestamp with a zone")
    assert a == b == "column 'occurred_at': '…' is not an ISO 8601 timestamp with a zone"
    assert reason_group("lines 4-5: the record could not be read: a stray quote") == "the record could not be read: a stray quote"


@pytest.fixture(scope="module")
def bad_night(tmp_path_factory, prefect_harness):
    """A small force whose last drop has a few bad rows, run through the nightly flow."""
    from acu_audit.cli import run_flow
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("dq")
    generate_force(root, staff=200, days=14, seed=3)
    last = sorted((root / "landing").iterdir())[-1]
    with open(last / "access_events.csv", "a", encoding="utf-8") as handle:
        handle.write("E-BAD-1,yesterday,S-NAME-SMITH,PNC,view,person,R1,P1,,,\n")
        handle.write('E-BAD-2,2026-03-04T10:00:00Z,S1,PNC,"view,person,R1,P1,,,\n')
    run_flow(landing=root / "landing", out_dir=root / "out", db=root / "acu_audit.duckdb",
             as_of=date.fromisoformat(last.name), validate=False)
    return root, last.name


def test_the_report_shows_tonights_rejected_rows_masked(bad_night):
    root, night = bad_night
    html = (root / "out" / "report.html").read_text()
    assert 'id="data-quality"' in html
    section = html[html.index('id="data-quality"'):html.index("Lead details")]
    assert "access_events" in section and "not an ISO-8601 timestamp" in section and "a quoted value is not closed" in section
    assert "S-NAME-SMITH" not in html and "yesterday" not in section  # values and raw text stay hidden


def test_the_run_warns_and_the_quarantine_list_masks_raw_text(bad_night):
    root, night = bad_night
    db = str(root / "acu_audit.duckdb")
    runner = CliRunner(env={"COLUMNS": "250"})
    listed = runner.invoke(app, ["quarantine", "list", "--drop", night, "--db", db])
    assert listed.exit_code == 0, listed.output
    assert "E-BAD-1" not in listed.output and "S-NAME-SMITH" not in listed.output and "masked" in listed.output
    refused = runner.invoke(app, ["quarantine", "list", "--drop", night, "--db", db, "--reveal-raw"])
    assert refused.exit_code == 2 and "needs a reason" in refused.output
    shown = runner.invoke(app, ["quarantine", "list", "--drop", night, "--table", "access_events", "--db", db,
                                "--reveal-raw", "--reason", "fixing the feed", "--actor", "dq1"])
    assert shown.exit_code == 0 and "S-NAME-SMITH" in shown.output
    log = runner.invoke(app, ["audit-log", "--actor", "dq1", "--db", db])
    assert "quarantined raw text" in log.output
    import duckdb

    con = duckdb.connect(db, read_only=True)
    warnings = con.execute("SELECT warnings FROM run_log ORDER BY as_of DESC LIMIT 1").fetchall()[0][0]
    con.close()
    assert any("quarantined" in w for w in warnings)


def test_no_time_in_the_report_lacks_its_zone_and_no_hit_is_after_the_night(bad_night):
    import re
    from datetime import datetime

    root, night = bad_night
    html = (root / "out" / "report.html").read_text()
    text = re.sub(r'src="data:image/(png|svg\+xml);base64,[^"]*"', "", html)
    times = re.findall(r"\b\d{2}:\d{2}\b(?!:)( (?:GMT|BST|UTC))?", text)
    assert times and all(zone for zone in times), [t for t in times if not t][:5]
    # "when (local)" of every hit in a card: never after the as-of night
    for day in re.findall(r"<td>(\d{2} \w{3} \d{4}) \d{2}:\d{2} (?:GMT|BST)</td><td>\d{4}-\d{2}-\d{2}</td>", text):
        assert datetime.strptime(day, "%d %b %Y").date().isoformat() <= night, day
