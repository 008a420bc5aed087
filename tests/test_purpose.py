"""Policing purpose: each kind of purpose, on and off duty, and incremental relabelling."""

from __future__ import annotations

from datetime import date

import pytest

from acu_audit.config import load_settings
from acu_audit.ingest import ingest_landing
from acu_audit.purpose import _batches, _plan, label_policing_purpose
from acu_audit.window import ReviewWindow

from conftest import write_table

SETTINGS = load_settings()
WINDOW = ReviewWindow(date(2026, 3, 28), 28, SETTINGS.timezone)

STAFF = [
    {"staff_id": "S1", "surname": "Smith", "forenames": "Ann", "role": "officer", "unit": "Response North",
     "unit_function": "response", "start_date": "2015-01-01", "home_postcode": "PR1 1AA"},
    {"staff_id": "S3", "surname": "Patel", "forenames": "Cara", "role": "staff", "unit": "Control Room",
     "unit_function": "control_room", "start_date": "2018-03-01", "home_postcode": "PR3 3CC"},
]
REFERENCE = {
    "staff": STAFF,
    "persons": [{"person_id": f"P{i}", "surname": "X", "forenames": "Y"} for i in range(1, 8)],
    "cases": [
        {"case_id": "C1", "case_type": "crime", "opened_at": "2026-03-01T09:00:00Z", "owning_unit": "CID"},
        {"case_id": "C2", "case_type": "crime", "opened_at": "2026-03-01T09:00:00Z", "owning_unit": "Response North"},
    ],
    "case_people": [{"case_id": "C1", "person_id": "P1", "role": "victim"}, {"case_id": "C2", "person_id": "P2", "role": "suspect"}],
    "assignments": [{"case_id": "C1", "staff_id": "S1", "assigned_at": "2026-03-01T10:00:00Z", "assignment_role": "oic"}],
    "operations": [{"operation_id": "OP1", "executed_at": "2026-03-20T05:30:00Z", "owning_unit": "CID"}],
    "operation_targets": [{"operation_id": "OP1", "person_id": "P3"}],
    "operation_staff": [{"operation_id": "OP1", "staff_id": "S1"}],
}
ROSTER = [{"staff_id": s, "shift_start": f"2026-03-{d:02d}T08:00:00Z", "shift_end": f"2026-03-{d:02d}T18:00:00Z",
           "duty_type": "duty"} for s in ("S1", "S3") for d in range(1, 29)]


def event(event_id, at, staff="S1", system="PND", record_type="person", person=None, case=None, reason=None):
    return {"event_id": event_id, "occurred_at": at, "staff_id": staff, "system": system, "action": "view",
            "record_type": record_type, "record_id": person or case or "R", "person_id": person, "case_id": case,
            "reason_code": reason}


EVENTS = [
    event("E-assigned-case", "2026-03-10T10:00:00Z", record_type="case", case="C1"),
    event("E-person-on-my-case", "2026-03-10T10:05:00Z", person="P1"),
    event("E-unit-case", "2026-03-10T10:10:00Z", record_type="case", case="C2"),
    event("E-person-on-unit-case", "2026-03-10T10:15:00Z", person="P2"),
    event("E-function", "2026-03-10T10:20:00Z", staff="S3", system="COMMAND_CONTROL", record_type="log", case="L9"),
    event("E-briefed", "2026-03-18T10:00:00Z", person="P3"),
    event("E-reason", "2026-03-10T10:25:00Z", person="P4", reason="CAD-7"),
    event("E-none", "2026-03-10T10:30:00Z", person="P5"),
    event("E-off-duty", "2026-03-10T21:30:00Z", person="P6"),
    event("E-just-after-shift", "2026-03-10T18:30:00Z", person="P7"),
]


@pytest.fixture
def loaded(tmp_path, warehouse):
    write_table(tmp_path / "2026-03-01", "staff", STAFF)
    for table, rows in REFERENCE.items():
        write_table(tmp_path / "2026-03-01", table, rows)
    write_table(tmp_path / "2026-03-01", "duty_roster", ROSTER)
    write_table(tmp_path / "2026-03-28", "access_events", EVENTS)
    ingest_landing(warehouse, tmp_path)
    return warehouse, tmp_path


def labels(wh) -> dict[str, dict]:
    return {r["event_id"]: r for r in wh.records("SELECT * FROM access_purpose")}


def test_each_kind_of_purpose_and_none(loaded):
    wh, _ = loaded
    label_policing_purpose(wh, SETTINGS, WINDOW)
    got = labels(wh)
    assert got["E-assigned-case"]["via_assignment"] and got["E-person-on-my-case"]["via_assignment"]
    assert got["E-unit-case"]["via_unit_case"] and got["E-person-on-unit-case"]["via_unit_case"]
    assert got["E-function"]["via_function"] and not got["E-function"]["via_assignment"]
    assert got["E-briefed"]["via_operation"]
    assert got["E-reason"]["via_reason_code"]
    assert not got["E-none"]["has_purpose"]
    assert all(got[e]["has_purpose"] for e in got if e not in ("E-none", "E-off-duty", "E-just-after-shift"))


def test_on_duty_uses_the_roster_with_a_margin(loaded):
    wh, _ = loaded
    label_policing_purpose(wh, SETTINGS, WINDOW)
    got = labels(wh)
    assert got["E-none"]["on_duty"]
    assert got["E-just-after-shift"]["on_duty"]  # 30 minutes after the shift: inside the 45-minute margin
    assert not got["E-off-duty"]["on_duty"]


def test_labelling_is_incremental_by_day(loaded):
    wh, landing = loaded
    first = label_policing_purpose(wh, SETTINGS, WINDOW)
    assert len(first.days_labelled) == 28 and first.days_relabelled == []
    assert label_policing_purpose(wh, SETTINGS, WINDOW).days_labelled == []  # nothing changed
    # A late event for 12 March relabels that day only.
    write_table(landing / "2026-03-29", "access_events", [event("E-late", "2026-03-12T11:00:00Z", person="P5")])
    ingest_landing(wh, landing)
    again = label_policing_purpose(wh, SETTINGS, WINDOW)
    assert again.days_labelled == again.days_relabelled == [date(2026, 3, 12)]  # the night summary says so
    assert "E-late" in labels(wh) and "E-none" in labels(wh)


def test_a_days_labels_are_stored_unexplained_first_then_by_record_type(loaded):
    # The checks' scans for unexplained look-ups, or for a record type, skip a day's other rows
    # only if they are stored apart (DuckDB's min/max per row group): rowid is the stored order.
    wh, _ = loaded
    label_policing_purpose(wh, SETTINGS, WINDOW)
    stored = [(r["local_day"], r["has_purpose"], r["record_type"], r["staff_id"])
              for r in wh.records("SELECT local_day, has_purpose, record_type, staff_id FROM access_purpose ORDER BY rowid")]
    assert len(stored) == len(EVENTS)
    assert {has_purpose for day, has_purpose, *_ in stored if day == date(2026, 3, 10)} == {True, False}
    assert stored == sorted(stored)


def test_another_time_zone_relabels_the_window(loaded):
    # A look-up's local day and hour depend on the zone: labels kept from another zone would put
    # look-ups on the wrong days (and outside the hours the checks count).
    wh, _ = loaded
    label_policing_purpose(wh, SETTINGS, WINDOW)
    assert label_policing_purpose(wh, SETTINGS, WINDOW).days_labelled == []
    kolkata = load_settings(overrides={"timezone": "Asia/Kolkata"})
    again = label_policing_purpose(wh, kolkata, ReviewWindow(WINDOW.as_of, 28, kolkata.timezone))
    assert len(again.days_relabelled) == 28
    assert labels(wh)["E-off-duty"]["local_day"] == date(2026, 3, 11)  # 21:30 UTC is 03:00 the next day in Kolkata


def test_a_late_snapshot_relabels_the_days_it_covers(loaded):
    wh, landing = loaded
    label_policing_purpose(wh, SETTINGS, WINDOW)
    assert not labels(wh)["E-none"]["has_purpose"]
    # A new assignments version from 5 March: S1 was on the case P5 is on. Days from 5 March relabel.
    cases = REFERENCE["cases"] + [{"case_id": "C5", "case_type": "crime", "opened_at": "2026-03-05T09:00:00Z", "owning_unit": "CID"}]
    write_table(landing / "2026-03-05", "cases", cases)
    write_table(landing / "2026-03-05", "case_people", REFERENCE["case_people"] + [{"case_id": "C5", "person_id": "P5", "role": "witness"}])
    write_table(landing / "2026-03-05", "assignments", REFERENCE["assignments"] + [
        {"case_id": "C5", "staff_id": "S1", "assigned_at": "2026-03-05T10:00:00Z", "assignment_role": "investigator"}])
    ingest_landing(wh, landing)
    again = label_policing_purpose(wh, SETTINGS, WINDOW)
    assert min(again.days_labelled) == date(2026, 3, 5) and date(2026, 3, 4) not in again.days_labelled
    assert labels(wh)["E-none"]["via_assignment"]


def purpose_tables(wh) -> tuple[list[dict], list[dict]]:
    return (wh.records("SELECT * FROM access_purpose ORDER BY event_id"),
            wh.records("SELECT * FROM lookup_hours ORDER BY ALL"))


def test_a_day_topped_up_reads_as_if_labelled_again_in_full(loaded):
    wh, landing = loaded
    label_policing_purpose(wh, SETTINGS, WINDOW)
    assert not labels(wh)["E-off-duty"]["on_duty"]
    # A later drop brings, for 10 March, an overtime shift of S1's covering E-off-duty and a late look-up of S3's.
    write_table(landing / "2026-03-29", "duty_roster", [{"staff_id": "S1", "shift_start": "2026-03-10T21:00:00Z",
                                                         "shift_end": "2026-03-10T23:00:00Z", "duty_type": "overtime"}])
    write_table(landing / "2026-03-29", "access_events", [event("E-late-S3", "2026-03-10T12:00:00Z", staff="S3", person="P5")])
    ingest_landing(wh, landing)
    topped = label_policing_purpose(wh, SETTINGS, WINDOW)
    # Only S1's eight look-ups of the day (their roster changed) and the new one; not S3's E-function.
    assert topped.days_labelled == topped.days_topped_up == [date(2026, 3, 10)]
    assert topped.events_labelled == 9
    assert topped.detail == ("1 day(s) labelled, 9 look-ups (1 again: their data, or how look-ups are labelled, changed since; "
                             "1 only topped up: new look-ups, and those of staff whose roster changed)")
    assert labels(wh)["E-off-duty"]["on_duty"] and not labels(wh)["E-late-S3"]["has_purpose"]
    after_top_up = purpose_tables(wh)
    wh.execute("DELETE FROM purpose_days")  # forget every day: all 28 are labelled again in full
    again = label_policing_purpose(wh, SETTINGS, WINDOW)
    assert len(again.days_labelled) == 28 and again.days_topped_up == []
    assert purpose_tables(wh) == after_top_up


def test_each_look_up_reads_the_snapshot_as_of_its_day_in_batches_of_any_size(loaded):
    """The versions of all the days are built once and each batch cuts the snapshot of each of its
    days from them: an assignment added from 12 March and withdrawn from 16 March explains only
    the look-up between, whether the 28 days are labelled in one batch or a day at a time."""
    wh, landing = loaded
    write_table(landing / "2026-03-12", "cases", REFERENCE["cases"] + [
        {"case_id": "C5", "case_type": "crime", "opened_at": "2026-03-05T09:00:00Z", "owning_unit": "CID"}])
    write_table(landing / "2026-03-12", "case_people", REFERENCE["case_people"] + [{"case_id": "C5", "person_id": "P5", "role": "witness"}])
    write_table(landing / "2026-03-12", "assignments", REFERENCE["assignments"] + [
        {"case_id": "C5", "staff_id": "S1", "assigned_at": "2026-03-05T10:00:00Z", "assignment_role": "investigator"}])
    write_table(landing / "2026-03-16", "assignments", REFERENCE["assignments"])  # withdrawn: C5's row removed
    write_table(landing / "2026-03-27", "access_events", [event(f"E-{d}", f"2026-03-{d}T11:00:00Z", person="P5")
                                                          for d in ("10", "14", "20")])
    ingest_landing(wh, landing)
    in_one_batch = load_settings(None, {"runtime": {"purpose_batch_lookups": 10**9, "purpose_batch_days": 28}})
    one_batch = label_policing_purpose(wh, in_one_batch, WINDOW)
    assert len(one_batch.days_labelled) == 28
    got = labels(wh)
    assert not got["E-10"]["has_purpose"]  # before the version that knew the assignment
    assert got["E-14"]["via_assignment"]
    assert not got["E-20"]["has_purpose"]  # the assignment withdrawn from 16 March
    in_one = purpose_tables(wh)
    wh.execute("DELETE FROM purpose_days")
    day_by_day = label_policing_purpose(wh, load_settings(None, {"runtime": {"purpose_batch_lookups": 1}}), WINDOW)
    assert len(day_by_day.days_labelled) == 28
    assert purpose_tables(wh) == in_one


def test_batches_hold_whole_days_up_to_the_look_up_budget_topped_up_days_first():
    def day(n, events, partial=False):
        return {"local_day": date(2026, 3, n), "partial": partial, "new_events": events}

    def days(batches):
        return [[d["local_day"].day for d in batch] for batch in batches]

    todo = [day(1, 3), day(2, 3), day(3, 5), day(4, 1), day(9, 2, partial=True)]
    assert days(_batches(todo, 6, 7)) == [[9, 1], [2], [3, 4]]  # a day larger than what is left starts a batch; none is split
    assert days(_batches(todo, 1, 7)) == [[9], [1], [2], [3], [4]]
    assert days(_batches(todo, 100, 2)) == [[9, 1], [2, 3], [4]]  # and no more days than the cap
    assert _batches([], 6, 7) == []


def test_a_changed_snapshot_relabels_the_day_in_full_not_topped_up(loaded):
    wh, landing = loaded
    label_policing_purpose(wh, SETTINGS, WINDOW)
    write_table(landing / "2026-03-27", "assignments", REFERENCE["assignments"])  # unchanged: stores nothing
    write_table(landing / "2026-03-27", "operation_staff", [{"operation_id": "OP1", "staff_id": "S3"}])  # changed from 27 March
    ingest_landing(wh, landing)
    again = label_policing_purpose(wh, SETTINGS, WINDOW)
    assert again.days_labelled == [date(2026, 3, 27), date(2026, 3, 28)] and again.days_topped_up == []


def test_look_ups_count_on_their_local_day_in_a_zone_a_quarter_hour_off(warehouse, tmp_path):
    # Kathmandu is UTC+05:45: 18:14Z is 23:59 on the 10th there, 18:16Z is 00:01 on the 11th.
    write_table(tmp_path / "2026-03-28", "access_events",
                [event("E-before-midnight", "2026-03-10T18:14:00Z"), event("E-after-midnight", "2026-03-10T18:16:00Z")])
    ingest_landing(warehouse, tmp_path)
    window = ReviewWindow(date(2026, 3, 28), 28, "Asia/Kathmandu")
    events = {p["local_day"]: p["events"] for p in _plan(warehouse, window, "fingerprint", SETTINGS)}
    assert events[date(2026, 3, 10)] == 1 and events[date(2026, 3, 11)] == 1
