"""The check catalogue: metadata, configuration, and each check's own fixtures."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import yaml

from acu_audit.checks import load_catalogue
from acu_audit.checks.catalogue import CheckMeta, check_by_id
from acu_audit.checks.runner import run_check
from acu_audit.config import load_settings
from acu_audit.contract import UNIT_FUNCTIONS
from acu_audit.errors import QueryError
from acu_audit.resources import sql_dir

from check_fixtures import fixture_ids, load_base, load_fixture, merge_tables, run_fixture_case, warehouse_with_run_tables

CATALOGUE = load_catalogue()
SETTINGS = load_settings()
RUN_PARAMETERS = {"tz", "as_of", "window_start", "window_start_utc", "window_end_utc", "baseline_start_utc",
                  "shift_margin_minutes", "min_peer_group", "unit_case_days_after_close"}


def test_every_check_has_valid_metadata_and_sql():
    files = sorted(p.stem for p in (sql_dir() / "checks").glob("*.sql"))
    assert files == sorted(c.id for c in CATALOGUE), "every .sql has a .yaml beside it and vice versa"
    for check in CATALOGUE:
        CheckMeta.model_validate(check.meta.model_dump())
        assert check.sql.lstrip().startswith(("--", "WITH", "SELECT")), check.id


def test_every_category_letter_is_covered():
    assert {c.meta.category for c in CATALOGUE if c.scores} == set("STUDIOMB")


def test_check_parameters_are_declared_configured_and_used():
    shared = set(SETTINGS.checks["shared"]) - {"baseline_days"} | RUN_PARAMETERS
    for check in CATALOGUE:
        used = check.sql_parameters()
        declared = set(check.meta.parameters)
        assert used - shared <= declared, (check.id, "uses undeclared parameters", used - shared - declared)
        assert declared <= used, (check.id, "declares parameters its SQL never uses", declared - used)
        assert set(SETTINGS.check_params(check.id)) == declared, (check.id, "configs/ values differ from declared parameters")


def test_no_unit_function_names_in_check_sql():
    # Which functions legitimately view what lives in configs/, never in check SQL.
    # Look for them as SQL string literals ('control_room'); "other" also occurs in prose.
    pattern = re.compile(r"'(" + "|".join(UNIT_FUNCTIONS) + r")'")
    for check in CATALOGUE:
        found = pattern.findall(check.sql)
        assert not found, f"{check.id} names unit functions {found}; move that knowledge to configs/"


def test_changed_parameter_value_changes_check_version_not_code():
    check = next(c for c in CATALOGUE if c.meta.parameters)
    params = SETTINGS.check_params(check.id)
    name = sorted(params)[0]
    changed = load_settings(overrides={"checks": {"parameters": {check.id: {name: 999}}}}).check_params(check.id)
    assert check.version(params) != check.version(changed)


def test_every_check_has_positive_and_negative_fixtures():
    assert fixture_ids() == sorted(c.id for c in CATALOGUE)
    for check_id in fixture_ids():
        fixture = load_fixture(check_id)
        assert fixture["positive"]["expect"], check_id
        assert fixture["negative"]["expect_none_for"] and fixture["negative"]["why"], check_id


@pytest.mark.parametrize("check_id", fixture_ids())
def test_positive_fixture_hits(check_id, tmp_path):
    hits = run_fixture_case(check_id, "positive", tmp_path)
    for expected in load_fixture(check_id)["positive"]["expect"]:
        matching = [h for h in hits if all(h[k] == v for k, v in expected.items())]
        assert matching, f"{check_id}: expected a hit like {expected}, got {[(h['staff_id'], h['subject']) for h in hits]}"
        for hit in matching:
            assert hit["reason"] and hit["evidence"] and hit["weight"] > 0
            assert all(":" in e for e in hit["evidence"])


@pytest.mark.parametrize("check_id", fixture_ids())
def test_negative_fixture_does_not_hit(check_id, tmp_path):
    hits = run_fixture_case(check_id, "negative", tmp_path)
    quiet = set(load_fixture(check_id)["negative"]["expect_none_for"])
    assert not [h for h in hits if h["staff_id"] in quiet], [(h["staff_id"], h["reason"]) for h in hits]


def test_operation_target_preview_weighs_down_targets_a_function_checks_routinely(tmp_path):
    """Peers, not a crowd of one: the same look-ups score less when S7's peers check the targets too."""
    alone = run_fixture_case("u_operation_target_preview", "positive", tmp_path / "alone")
    routine = run_fixture_case("u_operation_target_preview", "routine_target", tmp_path / "routine")
    [hit_alone] = [h for h in alone if h["staff_id"] == "S7"]
    [hit_routine] = [h for h in routine if h["staff_id"] == "S7"]
    assert hit_routine["weight"] == pytest.approx(hit_alone["weight"] * 0.25)
    assert "weighted down: 57% of force peers" in hit_routine["reason"]
    assert "weighted down" not in hit_alone["reason"]


def test_lookup_for_colleague_reads_either_device_and_weighs_the_senders_own_check(tmp_path):
    """The request shows on the receiver's phone alone; the sender's own check of the same vehicle adds weight."""
    both = run_fixture_case("u_lookup_for_colleague", "positive", tmp_path / "both")
    receiver_only = run_fixture_case("u_lookup_for_colleague", "receiver_device_only", tmp_path / "receiver")
    [with_own_check] = [h for h in both if h["staff_id"] == "S1"]
    [without] = [h for h in receiver_only if h["staff_id"] == "S1"]
    assert with_own_check["weight"] == pytest.approx(1.5)
    assert "checked 1 of the same record(s)" in with_own_check["reason"]
    assert without["weight"] == pytest.approx(1.0)
    assert without["subject"] == "counterparty:N-S4"
    assert {"access_events:V1", "access_events:V2", "access_events:V3"} <= set(without["evidence"])


def test_lookup_burst_sums_an_hour_that_straddles_a_local_midnight(tmp_path):
    """In a zone whose offset is not whole hours, one UTC hour falls on two local days and is kept
    as two rows of the per-day look-up hours; the burst check adds them up. Nine checks either
    side of midnight in Kolkata (+5:30) are one burst of 18 (15 make a burst, 9 do not)."""
    fixture = load_fixture("u_lookup_burst")
    burst = [  # UTC 18:01-18:09 is 23:31-23:39 on the 15th in Kolkata; 18:51-18:59 is 00:21-00:29 on the 16th
        {"event_id": "K{i}", "occurred_at": "2026-03-15T18:0{i}:00Z", "staff_id": "S1", "system": "PNC", "action": "search",
         "record_type": "vehicle", "record_id": "K{i}", "_times": 9},
        {"event_id": "L{i}", "occurred_at": "2026-03-15T18:5{i}:00Z", "staff_id": "S1", "system": "PNC", "action": "search",
         "record_type": "vehicle", "record_id": "L{i}", "_times": 9},
    ]
    tables = merge_tables(load_base()["tables"], fixture["common"], {"access_events": burst})
    settings = load_settings(overrides={"timezone": "Asia/Kolkata"})
    with warehouse_with_run_tables(tables, date(2026, 3, 28), settings, tmp_path / "landing") as (wh, params):
        days = wh.records("SELECT local_day, lookups FROM run_lookup_hours WHERE staff_id = 'S1' AND epoch_hour = $h ORDER BY local_day",
                          {"h": 20527 * 24 + 18})  # 2026-03-15 18:00 UTC
        assert [(str(d["local_day"]), d["lookups"]) for d in days] == [("2026-03-15", 9), ("2026-03-16", 9)]
        outcome = run_check(wh, check_by_id("u_lookup_burst"), settings, params, run_id="straddle")
        assert outcome.status == "ok", outcome.error
        hits = wh.records("SELECT * FROM check_hits WHERE check_id = 'u_lookup_burst' AND staff_id = 'S1'")
    assert len(hits) == 1 and hits[0]["reason"].startswith("18 vehicle look-ups in the hour from ")
    assert len(hits[0]["evidence"]) == 18


@pytest.mark.parametrize("zone", ["Europe/London", "Asia/Kolkata"])
def test_days_and_hours_in_window_count_distinct_values_and_refuse_one_outside(zone, tmp_path):
    """The run tables' days_in_window(day) and hours_in_window(epoch_hour) are count(DISTINCT ...)
    over the window's local days and the UTC hours it touches (in Kolkata, +5:30, the first and last
    hours are half in the window), without a distinct aggregate; a value outside is an error rather
    than a wrong count."""
    tables = merge_tables(load_base()["tables"])
    as_of = date(2026, 3, 28)
    settings = load_settings(overrides={"timezone": zone})
    with warehouse_with_run_tables(tables, as_of, settings, tmp_path / "landing") as (wh, params):
        start_day, start_utc, end_utc = params["window_start"], params["window_start_utc"], params["window_end_utc"]
        first = int(start_utc.timestamp()) // 3600                                 # the hour the window starts in
        last = int((end_utc - timedelta(microseconds=1)).timestamp()) // 3600      # the hour it ends in
        rows = wh.records(
            """SELECT g, days_in_window(d) AS days, count(DISTINCT d) AS distinct_days,
                      hours_in_window(h) AS hours, count(DISTINCT h) AS distinct_hours
               FROM (VALUES (1, $start, $first), (1, $start, $first), (1, $as_of, $last), (2, $as_of, $last),
                            (2, CAST(NULL AS DATE), CAST(NULL AS BIGINT)), (3, CAST(NULL AS DATE), CAST(NULL AS BIGINT))) t(g, d, h)
               GROUP BY g ORDER BY g""",
            {"start": start_day, "as_of": as_of, "first": first, "last": last})
        assert [(r["g"], r["days"], r["hours"]) for r in rows] == [(1, 2, 2), (2, 1, 1), (3, 0, 0)]
        assert all(r["days"] == r["distinct_days"] and r["hours"] == r["distinct_hours"] for r in rows)
        for day in (start_day - timedelta(days=1), as_of + timedelta(days=1)):
            with pytest.raises(QueryError, match="outside"):
                wh.records("SELECT days_in_window($d) AS days", {"d": day})
        for hour in (first - 1, last + 1):
            with pytest.raises(QueryError, match="outside"):
                wh.records("SELECT hours_in_window($h) AS hours", {"h": hour})


def test_contact_explained_only_by_a_unit_case_is_a_weaker_hit_not_none(tmp_path):
    """Graded explanations: an assignment explains; a case of one's unit only weakly."""
    (full,) = [h for h in run_fixture_case("d_drug_nominal_contact", "positive", tmp_path) if h["staff_id"] == "S1"]
    (weak,) = [h for h in run_fixture_case("d_drug_nominal_contact", "unit_case_only", tmp_path) if h["staff_id"] == "S1"]
    assert 0 < weak["weight"] < full["weight"]
    assert "on a case of their unit only" in weak["reason"] and "weighted x" in weak["reason"]
    assert not [h for h in run_fixture_case("d_drug_nominal_contact", "negative", tmp_path) if h["staff_id"] == "S1"]


def test_an_ocg_look_up_explained_only_by_a_unit_case_is_a_weak_hit(tmp_path):
    """Graded explanations for look-ups that qualify on other grounds (an OCG subject, off duty)."""
    hits = [h for h in run_fixture_case("o_ocg_lookup_no_purpose", "unit_case_only", tmp_path) if h["subject"] == "person:P7"]
    (weak,) = hits
    assert weak["staff_id"] == "S1" and 0 < weak["weight"] < 1
    assert "on a case of their unit only" in weak["reason"]


def test_undeclared_contact_alone_is_a_reminder_and_with_a_sign_is_evidence(tmp_path):
    """Compliance is not misconduct: contact with a drug user or an offender and nothing else goes to the
    declarations reminders; a look-up of the person with no purpose beside it makes it evidence."""
    assert not [h for h in run_fixture_case("d_drug_nominal_contact", "user_alone", tmp_path / "a") if h["staff_id"] == "S1"]
    (drug,) = [h for h in run_fixture_case("d_drug_nominal_contact", "user_looked_up", tmp_path / "b") if h["staff_id"] == "S1"]
    assert "looked them up 1 time(s) with no policing purpose" in drug["reason"] and "access_events:E1" in drug["evidence"]
    (reminder,) = [h for h in run_fixture_case("i_undeclared_association", "positive", tmp_path / "c") if h["staff_id"] == "S1"]
    assert reminder["route"] == "declarations" and "a reminder to declare" in reminder["reason"]
    assert not [h for h in run_fixture_case("i_undeclared_offender_contact", "negative", tmp_path / "d") if h["staff_id"] == "S1"]
    assert not [h for h in run_fixture_case("i_undeclared_offender_contact", "assigned", tmp_path / "e") if h["staff_id"] == "S1"]


def test_a_look_up_then_a_call_counts_only_when_the_look_up_is_linked_to_the_person(tmp_path):
    """003 cases 1 and 4: the record viewed concerns the person texted (or an associate), with a
    purpose or without. A look-up of something else followed by a call to one's friend with a
    record is not a leak: time alone links nothing."""
    assert not [h for h in run_fixture_case("u_lookup_then_contact", "unconnected_lookup", tmp_path / "a") if h["staff_id"] == "S1"]
    (linked,) = [h for h in run_fixture_case("u_lookup_then_contact", "with_a_purpose", tmp_path / "b") if h["staff_id"] == "S1"]
    assert linked["subject"] == "person:P6" and "access_events:E1" in linked["evidence"]
    (asked,) = [h for h in run_fixture_case("u_lookup_then_contact", "asked_first", tmp_path / "c") if h["staff_id"] == "S1"]
    assert "they had messaged first" in asked["reason"] and len([e for e in asked["evidence"] if e.startswith("device_messages:")]) == 2
    # A look-up late in its clock hour reaches a message two clock hours on (10:59, then 12:00 within 90
    # minutes), and no further (13:00); a look-up at 10:10 does not reach 12:00 (110 minutes): the join on
    # clock hours covers every hour the minutes reach, and the minutes still decide.
    (late,) = [h for h in run_fixture_case("u_lookup_then_contact", "late_in_the_hour", tmp_path / "d") if h["staff_id"] == "S1"]
    assert "2 look-up(s)" in late["reason"] and len([e for e in late["evidence"] if e.startswith("device_messages:")]) == 2
    assert late["window_end"].isoformat().startswith("2026-03-12T13:00")
    (early,) = [h for h in run_fixture_case("u_lookup_then_contact", "past_the_minutes", tmp_path / "e") if h["staff_id"] == "S1"]
    assert len([e for e in early["evidence"] if e.startswith("device_messages:")]) == 1
    assert early["window_end"].isoformat().startswith("2026-03-12T11:00")


def test_contact_before_a_raid_is_a_sign_only_for_someone_who_knew_of_it(tmp_path):
    """003 case 1 (a tip-off): contact in the days before an operation against the person, by staff
    briefed on it or who looked its targets up. Without that knowledge it is coincidence."""
    (tip,) = [h for h in run_fixture_case("d_drug_nominal_contact", "user_before_a_raid_she_knew_of", tmp_path / "a")
              if h["staff_id"] == "S1"]
    assert "days before operation OP2 against them, which they knew of" in tip["reason"]
    assert not [h for h in run_fixture_case("d_drug_nominal_contact", "user_before_a_raid_she_did_not_know_of", tmp_path / "b")
                if h["staff_id"] == "S1"]
