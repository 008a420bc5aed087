"""Evidence that is complete and right: every table a check cites, in the card and the pack."""

from __future__ import annotations

import csv
import re

import duckdb
import pytest
from typer.testing import CliRunner

from acu_audit.cli import app
from acu_audit.evidence import EVIDENCE_TABLES, cited_ids


def test_cited_ids_are_each_once_and_subjects_cite_their_record():
    cited = cited_ids(["access_events:E1", "timesheets:C1", "access_events:E1", "access_events:E2"],
                      ["case:K9", "operation:OP1", "person:P1", None])
    assert cited["access_events"] == ["E1", "E2"] and cited["timesheets"] == ["C1"]
    assert cited["cases"] == ["K9"] and cited["operations"] == ["OP1"]


def _leads_citing(root, check_id: str) -> list[str]:
    con = duckdb.connect(str(root / "acu_audit.duckdb"), read_only=True)
    try:
        return [r[0] for r in con.execute(
            """SELECT DISTINCT l.lead_id, l.rank FROM lead_scores l
               JOIN lead_evidence e ON e.as_of = l.as_of AND e.lead_id = l.lead_id
               JOIN check_hits h ON h.as_of = e.found_on AND h.hit_id = e.hit_id
               WHERE l.as_of = (SELECT max(as_of) FROM lead_scores) AND h.check_id = $c ORDER BY l.rank""",
            {"c": check_id}).fetchall()]
    finally:
        con.close()


def test_an_overtime_leads_card_and_pack_hold_its_claims_and_shifts(published, tmp_path):
    root = published
    leads = _leads_citing(root, "t_overtime_without_activity")
    assert leads, "the published force plants overtime claims with no activity"
    lead_id = leads[0]
    result = CliRunner().invoke(app, ["lead", "export", lead_id, "--out", str(tmp_path), "--db", str(root / "acu_audit.duckdb"),
                                       "--reason", "referral test"])
    assert result.exit_code == 0, result.output
    (pack,) = tmp_path.glob(f"referral-{lead_id}-*")
    for name in EVIDENCE_TABLES:
        header = (pack / f"{name}.csv").read_text().splitlines()[0]
        assert header and "staff_id" not in header.split(","), name  # a header even when empty; no identity
    with open(pack / "timesheets.csv", newline="") as handle:
        claims = list(csv.DictReader(handle))
    with open(pack / "hits.csv", newline="") as handle:
        cited = {e.split(":", 1)[1] for h in csv.DictReader(handle) for e in re.findall(r"timesheets:[^\"',\]\s]+", h["evidence"])}
    assert claims and {c["claim_id"] for c in claims} == cited
    html = (root / "out" / "report.html").read_text()
    card = html[html.index(f'id="{lead_id}"'):]
    card = card[:card.index('<div class="lead"', 10)] if '<div class="lead"' in card[10:] else card
    assert "overtime claim" in card
    shown = re.search(r"Evidence \((\d+) of (\d+) rows shown", card)
    assert shown and int(shown.group(1)) > 0


def test_evidence_rows_in_a_card_appear_once(published):
    html = (published / "out" / "report.html").read_text()
    for card in html.split('<div class="lead"')[1:]:
        evidence = card[card.index("<h3>Evidence"):]
        rows = re.findall(r"<tr><td>[^<]+</td><td class=\"small\">([^<]+)</td>", evidence)
        assert len(rows) == len(set(rows)), rows


def test_the_colleague_is_named_and_linked(published):
    root = published
    leads = _leads_citing(root, "u_lookup_for_colleague")
    if not leads:
        pytest.fail("the published force plants a colleague who checks registrations for a sender")
    html = (root / "out" / "report.html").read_text()
    carded = [lead for lead in leads if f'id="{lead}"' in html]
    assert carded, "a lead citing the colleague check is in the review tier or the top 25, so it has a card"
    card = html[html.index(f'id="{carded[0]}"'):]
    named = re.search(r"The colleague:\s*<strong>(sr-[0-9a-f]+)</strong>", card[:card.index("Evidence")])
    assert named
    shown = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["leads", "show", carded[0], "--db", str(root / "acu_audit.duckdb"),
                                       "--reason", "referral test"])
    assert shown.exit_code == 0 and f"the colleague: {named.group(1)}" in shown.output, shown.output


def test_every_card_shows_evidence(published):
    html = (published / "out" / "report.html").read_text()
    cards = html.split('<div class="lead"')[1:]
    with open(published / "out" / "leads.csv", newline="") as handle:
        listed = list(csv.DictReader(handle))
    carded = [r["lead_id"] for i, r in enumerate(listed) if r["tier"] == "review" or i < 25]
    assert len(cards) == len(carded) and all(f'id="{lead_id}"' in html for lead_id in carded)
    # Only a lead with a card is linked: no link leads nowhere.
    assert set(re.findall(r'href="#(L-[0-9a-f]+)"', html)) <= set(carded)
    outlier_only = 0
    for card in cards:
        shown = re.search(r"Evidence \((\d+) of (\d+) rows shown", card)
        if "No check fired" in card:  # a lead on the outlier score alone cites no row, and says so
            assert shown and int(shown.group(2)) == 0
            outlier_only += 1
            continue
        assert shown and int(shown.group(1)) > 0 and int(shown.group(2)) >= int(shown.group(1)), card[:200]
    assert outlier_only < len(cards)


def test_every_hit_is_dated_by_its_latest_evidence_row(published):
    """One clock: a hit's time (occurred_at) is the time of the latest row it cites, for every check."""
    con = duckdb.connect(str(published / "acu_audit.duckdb"), read_only=True)
    try:
        mismatched = con.execute(
            """WITH cited AS (
                   SELECT h.as_of, h.hit_id, h.check_id, h.occurred_at, split_part(e, ':', 1) AS tbl, split_part(e, ':', 2) AS id
                   FROM check_hits h, unnest(h.evidence) AS t(e)
               ), timed AS (
                   SELECT c.*, coalesce(a.occurred_at, m.hour_start, t.claimed_start, d.shift_start) AS t
                   FROM cited c
                   LEFT JOIN access_events a ON c.tbl = 'access_events' AND a.event_id = c.id
                   LEFT JOIN device_messages m ON c.tbl = 'device_messages' AND m.row_id = c.id
                   LEFT JOIN timesheets t ON c.tbl = 'timesheets' AND t.claim_id = c.id
                   LEFT JOIN duty_roster d ON c.tbl = 'duty_roster' AND d.row_id = c.id
               )
               SELECT check_id, count(*) FROM (
                   SELECT check_id, hit_id, as_of, any_value(occurred_at) AS occurred_at, max(t) AS latest FROM timed GROUP BY ALL)
               WHERE occurred_at IS DISTINCT FROM latest GROUP BY check_id ORDER BY check_id"""
        ).fetchall()
        checks = {r[0] for r in con.execute("SELECT DISTINCT check_id FROM check_hits").fetchall()}
    finally:
        con.close()
    assert len(checks) >= 12  # most checks fired on the published force
    assert mismatched == []


def test_a_hit_reads_the_same_in_the_card_the_pack_the_cli_and_the_notebook(published, tmp_path):
    import polars as pl

    from acu_audit import explore
    from acu_audit.clock import local_time

    root = published
    lead_id = pl.read_csv(root / "out" / "leads.csv")["lead_id"][0]
    con = duckdb.connect(str(root / "acu_audit.duckdb"), read_only=True)
    try:
        check_id, occurred_at = con.execute(
            """SELECT h.check_id, h.occurred_at FROM lead_evidence e JOIN check_hits h ON h.as_of = e.found_on AND h.hit_id = e.hit_id
               WHERE e.lead_id = $l AND e.as_of = (SELECT max(as_of) FROM lead_evidence) ORDER BY h.check_id, h.occurred_at LIMIT 1""",
            {"l": lead_id}).fetchall()[0]
    finally:
        con.close()
    when = local_time(occurred_at, "Europe/London")
    html = (root / "out" / "report.html").read_text()
    card = html[html.index(f'id="{lead_id}"'):]
    row = next(r for r in card.split("<tr>") if f'<span class="small">{check_id}</span>' in r)
    assert f"<td>{when}</td>" in row
    exported = CliRunner().invoke(app, ["lead", "export", lead_id, "--out", str(tmp_path), "--db", str(root / "acu_audit.duckdb"),
                                        "--reason", "clock test"])
    assert exported.exit_code == 0, exported.output
    (pack,) = tmp_path.glob(f"referral-{lead_id}-*")
    with open(pack / "hits.csv", newline="") as handle:
        assert when in {h["when_local"] for h in csv.DictReader(handle) if h["check_id"] == check_id}
    shown = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["leads", "show", lead_id, "--db", str(root / "acu_audit.duckdb")])
    assert shown.exit_code == 0 and f"{check_id} (" in shown.output and when in shown.output
    notebook = explore.lead_detail(explore.Published.find(root / "out"), lead_id)["hits"]
    assert when in notebook.filter(pl.col("check_id") == check_id)["occurred_at"].to_list()
