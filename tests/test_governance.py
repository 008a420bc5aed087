"""Governance of analyst actions: one rule in the analyst functions, shared by the CLI."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from acu_audit.cli import app
from acu_audit.errors import AcuAuditError
from acu_audit.state import open_state, validate_subject

from test_leads import night


@pytest.fixture
def state_file(tmp_path):
    path = tmp_path / "acu.duckdb.state.duckdb"
    with open_state(path, create=True) as store:
        night(store, date(2026, 3, 20), [{"staff_id": "S1", "score": 80.0}])
    return path


def lead_id(state_file) -> str:
    with open_state(state_file) as store:
        return store.db.scalar("SELECT lead_id FROM leads")


@pytest.mark.parametrize("status", ["referred", "no_further_action"])
def test_a_decision_needs_a_note(state_file, status):
    lid = lead_id(state_file)
    with open_state(state_file) as store:
        for empty in (None, "", "   "):
            with pytest.raises(AcuAuditError, match="needs a note"):
                store.set_status(lid, status, "analyst1", empty)
        assert store.lead(lid)["status"] == "new"  # nothing changed
        store.set_status(lid, status, "analyst1", "explained by a tasking")
        assert store.lead(lid)["status"] == status


def test_reviewing_needs_no_note(state_file):
    lid = lead_id(state_file)
    with open_state(state_file) as store:
        store.set_status(lid, "reviewing", "analyst1")
        assert store.lead(lid)["status"] == "reviewing"


def test_cli_refuses_a_closing_without_a_note(state_file, tmp_path):
    lid = lead_id(state_file)
    result = CliRunner().invoke(app, ["lead", "set-status", lid, "no_further_action", "--state", str(state_file)])
    assert result.exit_code == 2 and "needs a note" in result.output


def test_a_reveal_needs_a_reason_except_the_runs_contract_form(state_file):
    with open_state(state_file) as store:
        with pytest.raises(AcuAuditError, match="needs a reason"):
            store.record_reveal("analyst1", "  ", "staff_ref", None, {"staff_ref": "sr-S1"})
        store.record_reveal("analyst1", None, "run outputs", None, {}, reason_required=False)
        store.record_reveal("analyst1", "PSD referral 42", "staff_ref", None, {"staff_ref": "sr-S1"})
        reasons = [r[0] for r in store.db.execute("SELECT reason FROM reveals ORDER BY recorded_at")]
    assert reasons == ["not given", "PSD referral 42"]


@pytest.mark.parametrize("subject", ["P21863956", "person", "person:", "planet:X1", "vehicle lookups"])
def test_a_suppression_subject_that_can_never_match_is_refused(state_file, subject):
    with open_state(state_file) as store:
        with pytest.raises(AcuAuditError, match="can never match"):
            store.add_suppression(kind="pair", reason="r", owner="ACU", expires_on=date(2099, 1, 1), actor="a",
                                  staff_id="S1", staff_ref="sr-S1", subject=subject)
        assert store.db.scalar("SELECT count(*) FROM suppressions") == 0


@pytest.mark.parametrize("subject", ["person:P21863956", "organisation:O7", "vehicle look-ups", "channel:whatsapp"])
def test_subjects_as_hits_name_them_are_accepted(subject):
    assert validate_subject(subject) == subject


def test_suppressions_list_revoke_and_the_audit_log(state_file):
    runner = CliRunner(env={"COLUMNS": "250"})
    with open_state(state_file) as store:
        first = store.add_suppression(kind="check", reason="pilot", owner="ACU", expires_on=date(2099, 1, 1),
                                      actor="alice", check_id="m_banned_channel")
        store.add_suppression(kind="pair", reason="declared neighbour", owner="ACU", expires_on=date(2099, 1, 1),
                              actor="bob", staff_id="S1", staff_ref="sr-S1", subject="person:P9")
    listed = runner.invoke(app, ["suppressions", "list", "--state", str(state_file)])
    assert listed.exit_code == 0 and "pilot" in listed.output and "sr-S1" in listed.output and "staff_id" not in listed.output

    no_reason = runner.invoke(app, ["suppressions", "revoke", str(first), "--state", str(state_file), "--reason", " "])
    assert no_reason.exit_code == 2 and "needs a reason" in no_reason.output
    revoked = runner.invoke(app, ["suppressions", "revoke", str(first), "--state", str(state_file),
                                  "--reason", "pilot over", "--actor", "carol"])
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(app, ["suppressions", "revoke", str(first), "--state", str(state_file), "--reason", "x"])
    assert again.exit_code == 2 and "already revoked" in again.output
    with open_state(state_file) as store:
        assert [s["check_id"] for s in store.active_suppressions(date(2098, 1, 1))] == [None]  # only the pair is left
        states = {r["suppression_id"]: r["state"] for r in store.list_suppressions(include_ended=True)}
    assert states[first] == "revoked"
    active = runner.invoke(app, ["suppressions", "list", "--state", str(state_file)])
    assert "pilot" not in active.output
    everything = runner.invoke(app, ["suppressions", "list", "--all", "--state", str(state_file)])
    assert "pilot over" in everything.output

    log = runner.invoke(app, ["audit-log", "--json", "--state", str(state_file)])
    actions = [json.loads(line) for line in log.output.splitlines()]
    assert [a["action"] for a in actions][:3] == ["revoke_suppression", "suppress", "suppress"]
    carol = runner.invoke(app, ["audit-log", "--json", "--actor", "carol", "--state", str(state_file)])
    assert [json.loads(x)["actor"] for x in carol.output.splitlines()] == ["carol"]
    future = runner.invoke(app, ["audit-log", "--json", "--since", "2099-01-01", "--state", str(state_file)])
    assert future.output.strip() == ""


def test_reveals_without_a_reason_show_and_write_nothing(published, tmp_path):
    import polars as pl

    root = published
    db = str(root / "acu_audit.duckdb")
    lead = pl.read_csv(root / "out" / "leads.csv").row(0, named=True)
    runner = CliRunner(env={"COLUMNS": "250"})
    export = runner.invoke(app, ["lead", "export", lead["lead_id"], "--out", str(tmp_path / "packs"), "--db", db,
                                 "--reveal-identities"])
    assert export.exit_code == 2 and "needs a reason" in export.output, export.output
    assert not (tmp_path / "packs").exists()  # refused before anything was written
    show = runner.invoke(app, ["leads", "show", lead["lead_id"], "--db", db, "--reveal-identities", "--actor", "refused7"])
    assert show.exit_code == 2 and "needs a reason" in show.output
    log = runner.invoke(app, ["audit-log", "--json", "--db", db, "--actor", "refused7"])
    assert log.exit_code == 0 and log.output.strip() == ""  # a refused reveal is not on the record
    who = runner.invoke(app, ["reveal", lead["staff_ref"], "--db", db])
    assert who.exit_code == 2 and "needs a reason" in who.output and " = " not in who.output
    ok = runner.invoke(app, ["reveal", lead["staff_ref"], "--db", db, "--reason", "PSD request 7"])
    assert ok.exit_code == 0 and " = " in ok.output


def test_a_lead_closed_after_publication_leaves_the_list_now_and_the_next_night(tmp_path):
    state_file = tmp_path / "acu.state.duckdb"
    with open_state(state_file, create=True) as store:
        night(store, date(2026, 3, 20), [{"staff_id": "S1", "score": 90.0}, {"staff_id": "S2", "score": 85.0},
                                         {"staff_id": "S3", "score": 20.0}])
        first, second = [r[0] for r in store.db.execute(
            "SELECT lead_id FROM lead_versions WHERE tier = 'review' ORDER BY rank")]
    runner = CliRunner(env={"COLUMNS": "250"})
    before = runner.invoke(app, ["leads", "list", "--state", str(state_file)])
    assert before.exit_code == 0 and before.output.index(first) < before.output.index(second)

    closed = runner.invoke(app, ["lead", "set-status", first, "no_further_action", "--note", "explained by a tasking",
                                 "--state", str(state_file)])
    assert closed.exit_code == 0, closed.output
    referred = runner.invoke(app, ["lead", "set-status", second, "referred", "--note", "PSD 12", "--state", str(state_file)])
    assert referred.exit_code == 0, referred.output
    after = runner.invoke(app, ["leads", "list", "--state", str(state_file)])
    assert first not in after.output and "1 lead(s) closed with no further action" in after.output
    with open_state(state_file, read_only=True) as store:
        from acu_audit.analyst import latest_list

        listing = latest_list(store)
        everything = latest_list(store, include_closed=True)
    assert [r["lead_id"] for r in listing.rows if r["tier"] == "review"] == []  # closed left, referred watched
    assert {r["lead_id"]: r["tier"] for r in everything.rows}[first] == "closed"
    assert {r["lead_id"]: r["tier"] for r in everything.rows}[second] == "watch"

    with open_state(state_file) as store:  # the next night, no newer evidence: still off the list
        nxt = night(store, date(2026, 3, 21), [{"staff_id": "S1", "score": 90.0}, {"staff_id": "S2", "score": 85.0}])
    assert first not in {r["lead_id"] for r in nxt.rows} and nxt.held_back == 1


def test_bad_option_values_are_refused(tmp_path):
    runner = CliRunner(env={"COLUMNS": "250"})
    result = runner.invoke(app, ["leads", "list", "--status", "bogus", "--state", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2 and "not a status" in result.output
    assert list(tmp_path.iterdir()) == []


READ_COMMANDS = [
    ["leads", "list"], ["leads", "show", "L-0000000000"], ["audit-log"], ["suppressions", "list"], ["checks", "stats"],
    ["quarantine", "list"], ["reveal", "sr-000000000000", "--reason", "x"],
    ["leads", "list", "--db", "typo/acu.duckdb"], ["checks", "list", "--db", "typo/acu.duckdb"],
    ["audit-log", "--db", "typo/acu.duckdb"], ["ingest", "--landing", "/nope", "--db", "typo/acu.duckdb"],
    ["lead", "set-status", "L-0000000000", "reviewing", "--db", "typo/acu.duckdb"],
    ["lead", "export", "L-0000000000", "--reason", "x", "--db", "typo/acu.duckdb"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c))
def test_without_a_database_a_command_creates_nothing_and_names_the_file(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, command)
    assert result.exit_code == 2, result.output
    assert str(tmp_path) in result.output.replace("\n", "") or "/nope" in result.output  # names what it looked for
    assert list(tmp_path.iterdir()) == []  # no database, state file or folder left behind


def test_a_frozen_pack_is_never_overwritten(published, tmp_path):
    import polars as pl

    root = published
    db = str(root / "acu_audit.duckdb")
    lead = pl.read_csv(root / "out" / "leads.csv").row(0, named=True)
    runner = CliRunner(env={"COLUMNS": "250"})
    no_reason = runner.invoke(app, ["lead", "export", lead["lead_id"], "--out", str(tmp_path), "--db", db])
    assert no_reason.exit_code == 2 and list(tmp_path.iterdir()) == []
    first = runner.invoke(app, ["lead", "export", lead["lead_id"], "--out", str(tmp_path), "--db", db,
                                "--reason", "referral 1", "--actor", "alice"])
    assert first.exit_code == 0, first.output
    (pack,) = tmp_path.iterdir()
    frozen = {p.name: p.read_bytes() for p in pack.iterdir()}
    manifest = json.loads(frozen["manifest.json"])
    assert manifest["as_of"] == str(lead["as_of"]) and manifest["actor"] == "alice" and manifest["reason"] == "referral 1"
    assert manifest["exported_at"].endswith("+00:00") and manifest["lead_id"] == lead["lead_id"]
    import time

    time.sleep(1.1)  # a second pack gets its own folder (named by the second it was made in)
    second = runner.invoke(app, ["lead", "export", lead["lead_id"], "--out", str(tmp_path), "--db", db, "--reason", "referral 2"])
    assert second.exit_code == 0, second.output
    assert len(list(tmp_path.iterdir())) == 2
    assert {p.name: p.read_bytes() for p in pack.iterdir()} == frozen


def test_leads_list_fits_80_columns_filters_and_gives_json(tmp_path):
    """Two lines a lead within 80 columns, lead ids whole (to copy); --tier, --category, --json."""
    state_file = tmp_path / "acu.state.duckdb"
    with open_state(state_file, create=True) as store:
        night(store, date(2026, 3, 20), [{"staff_id": "S1", "score": 90.0, "categories": ["U", "S"]},
                                         {"staff_id": "S2", "score": 85.0, "categories": ["O"]},
                                         {"staff_id": "S3", "score": 20.0, "categories": ["U"]}])
        ids = {r[1]: r[0] for r in store.db.execute("SELECT lead_id, staff_ref FROM leads")}
    runner = CliRunner(env={"COLUMNS": "80"})
    listed = runner.invoke(app, ["leads", "list", "--state", str(state_file)])
    assert listed.exit_code == 0, listed.output
    assert all(len(line) <= 80 for line in listed.output.splitlines()), listed.output
    assert all(any(lead in line.split() for line in listed.output.splitlines()) for lead in ids.values())
    only_u = runner.invoke(app, ["leads", "list", "--state", str(state_file), "--category", "u", "--json"])
    rows = [json.loads(line) for line in only_u.output.splitlines()]
    assert sorted(r["staff_ref"] for r in rows) == ["sr-S1", "sr-S3"] and "summary" in rows[0]
    review = runner.invoke(app, ["leads", "list", "--state", str(state_file), "--tier", "review", "--json"])
    assert {json.loads(line)["tier"] for line in review.output.splitlines()} == {"review"}


def test_checks_stats_fits_80_columns_with_every_check_id_whole(published):
    import duckdb

    db = published / "acu_audit.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        tripped = {r[0] for r in con.execute("SELECT DISTINCT check_id FROM check_rates WHERE tripped > 0 "
                                             "AND as_of = (SELECT max(as_of) FROM check_rates)").fetchall()}
    assert tripped
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["checks", "stats", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
    words = {w for line in result.output.splitlines() for w in line.split()}
    assert tripped <= words, tripped - words  # no id cut to "b_dec…"
