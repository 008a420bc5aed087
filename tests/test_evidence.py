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
    result = CliRunner().invoke(app, ["lead", "export", lead_id, "--out", str(tmp_path), "--db", str(root / "acu_audit.duckdb")])
    assert result.exit_code == 0, result.output
    pack = tmp_path / f"referral-{lead_id}"
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
    card = html[html.index(f'id="{leads[0]}"'):]
    named = re.search(r"The colleague:\s*<strong>(sr-[0-9a-f]+)</strong>", card[:card.index("Evidence")])
    assert named
    shown = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["leads", "show", leads[0], "--db", str(root / "acu_audit.duckdb")])
    assert shown.exit_code == 0 and f"the colleague: {named.group(1)}" in shown.output, shown.output


def test_every_card_shows_evidence(published):
    html = (published / "out" / "report.html").read_text()
    cards = html.split('<div class="lead"')[1:]
    assert len(cards) == 25
    for card in cards:
        shown = re.search(r"Evidence \((\d+) of (\d+) rows shown", card)
        assert shown and int(shown.group(1)) > 0 and int(shown.group(2)) >= int(shown.group(1)), card[:200]
