"""Ingestion behaviour across drops: idempotency, conflicts, snapshot versions,
late drops, unreadable files, zones and the clock change, and the CLI ledger."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from acu_audit.cli import app
from acu_audit.ingest import ingest_landing

from conftest import write_table

STAFF = [
    {"staff_id": "S1", "surname": "Smith", "forenames": "Ann", "role": "officer", "unit": "Response North",
     "unit_function": "response", "start_date": "2020-01-01", "home_postcode": "PR1 2AB"},
    {"staff_id": "S2", "surname": "Jones", "forenames": "Bob", "role": "staff", "unit": "Control Room",
     "unit_function": "control_room", "start_date": "2018-05-01", "home_postcode": "PR2 3CD"},
]


def event(event_id: str, occurred_at: str, staff_id: str = "S1", person_id: str | None = "P1", **extra) -> dict:
    return {"event_id": event_id, "occurred_at": occurred_at, "staff_id": staff_id, "system": "PNC",
            "action": "view", "record_type": "person", "record_id": person_id or "R", "person_id": person_id, **extra}


def drop(landing: Path, day: str) -> Path:
    folder = landing / day
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def counts(wh, table: str) -> int:
    return wh.scalar(f'SELECT count(*) FROM "{table}"')


def test_second_load_changes_nothing(tmp_path, warehouse):
    d1 = drop(tmp_path, "2026-03-04")
    write_table(d1, "staff", STAFF)
    write_table(d1, "access_events", [event("E1", "2026-03-04T10:00:00Z"), event("E2", "2026-03-04T11:00:00Z")])
    first = ingest_landing(warehouse, tmp_path)
    assert [f.loaded for f in first.files] == [2, 2]
    before = (counts(warehouse, "staff"), counts(warehouse, "access_events"), counts(warehouse, "ingest_files"))
    second = ingest_landing(warehouse, tmp_path)
    assert sum(f.loaded for f in second.files) == 0
    assert {f.status for f in second.files} == {"already_loaded"}
    assert (counts(warehouse, "staff"), counts(warehouse, "access_events"), counts(warehouse, "ingest_files")) == before


def test_changed_file_in_loaded_drop_is_noticed(tmp_path, warehouse):
    d1 = drop(tmp_path, "2026-03-04")
    write_table(d1, "access_events", [event("E1", "2026-03-04T10:00:00Z")])
    ingest_landing(warehouse, tmp_path)
    # The same night's file re-delivered with one more row: the old row is a duplicate.
    write_table(d1, "access_events", [event("E1", "2026-03-04T10:00:00Z"), event("E2", "2026-03-04T12:00:00Z")])
    (result,) = ingest_landing(warehouse, tmp_path).files
    assert (result.read, result.loaded, result.duplicate, result.rejected) == (2, 1, 1, 0)
    # A new file added to a loaded drop is loaded too.
    write_table(d1, "staff", STAFF)
    results = ingest_landing(warehouse, tmp_path).files
    assert [(f.table, f.status) for f in results] == [("staff", "loaded"), ("access_events", "already_loaded")]


def test_same_key_same_content_is_duplicate_other_content_is_conflict(tmp_path, warehouse):
    write_table(drop(tmp_path, "2026-03-04"), "access_events", [event("E1", "2026-03-04T10:00:00Z")])
    # Next night repeats E1 exactly (written with a +00:00 offset: same instant, same content)
    # and sends E1 again with different content: a conflict.
    write_table(drop(tmp_path, "2026-03-05"), "access_events", [
        event("E1", "2026-03-04T10:00:00+00:00"),
        event("E9", "2026-03-05T09:00:00Z"),
        event("E1", "2026-03-04T10:00:00Z", person_id="P7"),
    ])
    results = ingest_landing(warehouse, tmp_path).files
    night2 = results[1]
    assert (night2.read, night2.loaded, night2.duplicate, night2.rejected, night2.conflicts) == (3, 1, 1, 1, 1)
    (conflict,) = warehouse.records("SELECT * FROM quarantine WHERE kind = 'conflict'")
    assert conflict["line"] == 4
    assert "P7" in conflict["raw_text"]
    assert json.loads(conflict["stored_version"])["person_id"] == "P1"  # both versions kept
    assert warehouse.scalar("SELECT person_id FROM access_events WHERE event_id = 'E1'") == "P1"  # never overwritten


def test_snapshots_are_versioned_and_late_older_snapshot_does_not_override(tmp_path, warehouse):
    newer = [dict(STAFF[0], unit="Response South"), STAFF[1]]
    write_table(drop(tmp_path, "2026-03-06"), "staff", newer)
    ingest_landing(warehouse, tmp_path)
    # The 4 March snapshot arrives late.
    write_table(drop(tmp_path, "2026-03-04"), "staff", STAFF)
    late = ingest_landing(warehouse, tmp_path).files
    assert [(f.drop_date, f.status) for f in late] == [(date(2026, 3, 4), "loaded"), (date(2026, 3, 6), "already_loaded")]

    def unit_as_of(day: str) -> str | None:
        return warehouse.scalar("SELECT unit FROM staff_as_of($d) WHERE staff_id = 'S1'", {"d": date.fromisoformat(day)})

    assert unit_as_of("2026-03-04") == "Response North"
    assert unit_as_of("2026-03-05") == "Response North"
    assert unit_as_of("2026-03-06") == "Response South"
    assert unit_as_of("2026-03-20") == "Response South"
    assert unit_as_of("2026-03-03") is None


def test_versions_during_a_span_read_as_each_date_s_snapshot(tmp_path, warehouse):
    """``staff_during(lo, hi)``, cut at any date d from lo to hi (``_drop_date <= d < _valid_to``),
    is ``staff_as_of(d)``: through a change, a removal and a return (the policing-purpose step
    labels many days from one read of it)."""
    north, south = STAFF[0], dict(STAFF[0], unit="Response South")
    for day, rows in (("2026-03-04", [north, STAFF[1]]), ("2026-03-06", [south, STAFF[1]]),
                      ("2026-03-08", [STAFF[1]]), ("2026-03-10", [north, STAFF[1]])):
        write_table(drop(tmp_path, day), "staff", rows)
    ingest_landing(warehouse, tmp_path)
    lo, hi = date(2026, 3, 5), date(2026, 3, 11)
    for n in range(5, 12):
        d = date(2026, 3, n)
        as_of = warehouse.execute("SELECT staff_id, unit, _drop_date FROM staff_as_of($d) ORDER BY ALL", {"d": d})
        cut = warehouse.execute(
            "SELECT staff_id, unit, _drop_date FROM staff_during($lo, $hi) WHERE _drop_date <= $d AND $d < _valid_to "
            "ORDER BY ALL", {"lo": lo, "hi": hi, "d": d})
        assert cut == as_of, d
    assert [r[0] for r in warehouse.execute("SELECT staff_id FROM staff_as_of(DATE '2026-03-09')")] == [STAFF[1]["staff_id"]]


def test_late_drop_is_loaded_and_drops_load_in_date_order(tmp_path, warehouse):
    write_table(drop(tmp_path, "2026-03-06"), "access_events", [event("E6", "2026-03-06T10:00:00Z")])
    ingest_landing(warehouse, tmp_path)
    write_table(drop(tmp_path, "2026-03-05"), "access_events", [event("E5", "2026-03-05T10:00:00Z")])
    write_table(drop(tmp_path, "2026-03-04"), "access_events", [event("E4", "2026-03-04T10:00:00Z")])
    results = [f for f in ingest_landing(warehouse, tmp_path).files if f.status != "already_loaded"]
    assert [str(f.drop_date) for f in results] == ["2026-03-04", "2026-03-05"]
    assert counts(warehouse, "access_events") == 3


def test_unreadable_file_is_recorded_and_the_night_goes_on(tmp_path, warehouse):
    d1 = drop(tmp_path, "2026-03-04")
    write_table(d1, "staff", STAFF)
    (d1 / "access_events.csv").write_bytes(b"\x00\x01\xff\xfe binary junk \x00")
    (d1 / "device_messages.parquet").write_bytes(b"PAR1 not really parquet")
    write_table(d1, "duty_roster", [{"staff_id": "S1", "shift_start": "2026-03-04T07:00:00Z",
                                     "shift_end": "2026-03-04T15:00:00Z", "duty_type": "duty"}])
    (d1 / "notes.txt").write_text("hello")
    results = {f.file_name: f for f in ingest_landing(warehouse, tmp_path).files}
    assert results["access_events.csv"].status == "unreadable"
    assert "access_events.csv" in results["access_events.csv"].error
    assert results["device_messages.parquet"].status == "unreadable"
    # What the night's warnings (and the report's warning box) say: the reason in words first, never
    # a bare exception; DuckDB's own words, where kept, come last in brackets.
    assert results["access_events.csv"].error.endswith(": the header line is not UTF-8 text (byte 2)")
    parquet = results["device_messages.parquet"].error.split(": ", 1)[1]
    assert parquet.startswith("not a Parquet file, or cut short") and "Traceback" not in parquet
    assert results["staff.csv"].status == "loaded" and results["duty_roster.csv"].status == "loaded"
    assert results["notes.txt"].status == "unrecognised"
    kinds = warehouse.execute("SELECT file_name, kind FROM quarantine ORDER BY file_name")
    assert kinds == [("access_events.csv", "file"), ("device_messages.parquet", "file")]


def test_missing_required_column_rejects_every_row_with_reason(tmp_path, warehouse):
    d1 = drop(tmp_path, "2026-03-04")
    cols = [c for c in ("event_id", "occurred_at", "staff_id", "system", "action", "record_type", "record_id")]
    write_table(d1, "access_events", [event("E1", "2026-03-04T10:00:00Z")], columns=[c for c in cols if c != "staff_id"])
    (result,) = ingest_landing(warehouse, tmp_path).files
    assert (result.read, result.rejected, result.status) == (1, 1, "rejected")
    assert "no column 'staff_id'" in result.error


def test_extra_columns_are_accepted_and_noted(tmp_path, warehouse):
    d1 = drop(tmp_path, "2026-03-04")
    cols = list(event("E1", "x").keys()) + ["source_system_version"]
    write_table(d1, "access_events", [dict(event("E1", "2026-03-04T10:00:00Z"), source_system_version="7")], columns=cols)
    (result,) = ingest_landing(warehouse, tmp_path).files
    assert result.loaded == 1 and result.extra_columns == ["source_system_version"]


def test_october_clock_change_timestamps(tmp_path, warehouse):
    # 25 Oct 2026: 01:30 happens twice in London, first in BST (+01:00) then GMT (+00:00).
    write_table(drop(tmp_path, "2026-10-25"), "access_events", [
        event("E1", "2026-10-25T01:30:00+01:00"),
        event("E2", "2026-10-25T01:30:00+00:00"),
        event("E3", "2026-10-25T00:30:00Z"),
    ])
    (result,) = ingest_landing(warehouse, tmp_path).files
    # E1 and E3 are the same instant under different keys: both load.
    assert result.loaded == 3
    rows = warehouse.execute(
        "SELECT event_id, strftime(occurred_at, '%Y-%m-%dT%H:%M'), strftime(timezone('Europe/London', occurred_at), '%H:%M') "
        "FROM access_events ORDER BY event_id"
    )
    assert rows == [("E1", "2026-10-25T00:30", "01:30"), ("E2", "2026-10-25T01:30", "01:30"), ("E3", "2026-10-25T00:30", "01:30")]


def test_parquet_drop_loads_like_csv(tmp_path, warehouse):
    d1 = drop(tmp_path, "2026-03-04")
    frame = pl.DataFrame([event("E1", "2026-03-04T10:00:00Z"), event("E2", "2026-03-04T11:00:00Z")]).with_columns(
        pl.col("occurred_at").str.to_datetime(time_zone="UTC"), terminal_id=pl.lit(None, pl.String), case_id=pl.lit(None, pl.String),
        reason_code=pl.lit(None, pl.String),
    )
    frame.write_parquet(d1 / "access_events.parquet")
    (result,) = ingest_landing(warehouse, tmp_path).files
    assert (result.format, result.loaded, result.rejected) == ("parquet", 2, 0)
    assert warehouse.scalar("SELECT _line FROM access_events WHERE event_id = 'E2'") == 3


def test_unresolved_references_are_kept_and_counted(tmp_path, warehouse):
    d1 = drop(tmp_path, "2026-03-04")
    write_table(d1, "staff", STAFF)
    write_table(d1, "access_events", [event("E1", "2026-03-04T10:00:00Z", staff_id="S1", person_id=None),
                                       event("E2", "2026-03-04T10:00:00Z", staff_id="S404", person_id=None)])
    results = ingest_landing(warehouse, tmp_path).files
    events = results[1]
    assert (events.loaded, events.unresolved_refs) == (2, 1)


def test_cli_ingest_json_ledger(tmp_path):
    d1 = drop(tmp_path / "landing", "2026-03-04")
    write_table(d1, "staff", STAFF)
    write_table(d1, "access_events", [event("E1", "2026-03-04T10:00:00Z"), event("E1", "2026-03-04T10:00:00Z"),
                                       event("E2", "not a time")])
    db = tmp_path / "acu.duckdb"
    result = CliRunner().invoke(app, ["ingest", "--landing", str(tmp_path / "landing"), "--db", str(db), "--json", "--no-validation"])
    assert result.exit_code == 0, result.output
    ledger = json.loads(result.stdout)
    keys = {"drop", "table", "read", "loaded", "duplicate", "rejected", "status", "error"}
    assert all(keys <= set(f) for f in ledger["files"])
    events = [f for f in ledger["files"] if f["table"] == "access_events"][0]
    assert (events["read"], events["loaded"], events["duplicate"], events["rejected"]) == (3, 1, 1, 1)
    assert "line 4" in events["error"] and "occurred_at" in events["error"]
    again = json.loads(CliRunner().invoke(app, ["ingest", "--landing", str(tmp_path / "landing"), "--db", str(db), "--json", "--no-validation"]).stdout)
    assert sum(f["loaded"] for f in again["files"]) == 0


def test_missing_landing_folder_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["ingest", "--landing", str(tmp_path / "nope"), "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 2
    assert "landing folder not found" in result.output


def test_files_validated_together_store_what_each_file_validated_alone_stores(tmp_path):
    """Great Expectations' chunks (runtime.validation_chunk_rows): one validation for many small
    files, and a failure still stored against its own file, never its neighbours."""
    from acu_audit.db import Warehouse
    from acu_audit.validation import GxValidator

    for day, n in (("2026-03-04", 3), ("2026-03-05", 2), ("2026-03-06", 4)):
        rows = [event(f"E{day}-{i}", f"{day}T10:0{i}:00Z") for i in range(n)]
        if day == "2026-03-05":
            rows[1]["action"] = "teleport"  # quarantined in SQL; GX fails it on this file alone
        write_table(drop(tmp_path, day), "access_events", rows)
    results = {}
    for chunk_rows in (0, 10**6):
        with Warehouse(None) as wh:
            ingest_landing(wh, tmp_path, validator=GxValidator(chunk_rows=chunk_rows))
            results[chunk_rows] = wh.execute(
                """SELECT drop_date, expectation, column_name, success, element_count, unexpected_count
                   FROM validation_results ORDER BY ALL""")
    assert results[0] == results[10**6]
    failed = {(r[0].isoformat(), r[2]) for r in results[0] if not r[3]}
    assert failed == {("2026-03-05", "action")}


def test_a_loaded_file_is_not_read_again_unless_it_changes(tmp_path, warehouse, monkeypatch):
    """A night does not hash the landing's whole history again: a file recorded with the same
    drop, name, size and modification time is already loaded without a read; a rewritten one is read."""
    import os

    import acu_audit.ingest.loader as loader

    d1 = drop(tmp_path, "2026-03-04")
    write_table(d1, "access_events", [event("E1", "2026-03-04T10:00:00Z")])
    ingest_landing(warehouse, tmp_path)
    hashed = []
    real = loader.sha256_of
    monkeypatch.setattr(loader, "sha256_of", lambda opened, **kw: hashed.append(opened.name) or real(opened, **kw))
    assert [f.status for f in ingest_landing(warehouse, tmp_path).files] == ["already_loaded"] and hashed == []
    path = d1 / "access_events.csv"
    before = os.stat(path).st_mtime_ns
    write_table(d1, "access_events", [event("E1", "2026-03-04T10:00:00Z"), event("E2", "2026-03-04T11:00:00Z")])
    os.utime(path, ns=(before + 10**9, before + 10**9))
    (result,) = ingest_landing(warehouse, tmp_path).files
    assert hashed == ["access_events.csv"] and (result.status, result.loaded, result.duplicate) == ("loaded", 1, 1)


def test_a_warehouse_that_kept_snapshots_whole_is_refused_with_the_way_out(tmp_path):
    """An earlier version kept every snapshot drop whole: read as changes, its rows would mislead."""
    from acu_audit.db import Warehouse
    from acu_audit.errors import AcuAuditError
    from acu_audit.schema import ensure_schema

    with Warehouse(tmp_path / "old.duckdb") as wh:
        wh.execute("CREATE TABLE staff (staff_id VARCHAR, _drop_date DATE, _file_id VARCHAR, _line BIGINT)")
        with pytest.raises(AcuAuditError, match="acu-audit rebuild"):
            ensure_schema(wh)
    with Warehouse(tmp_path / "new.duckdb") as wh:
        ensure_schema(wh)
        assert "_removed" in wh.columns("staff") and "_removed" not in wh.columns("access_events")


def test_a_snapshot_row_quarantined_for_a_bad_value_keeps_its_entity(tmp_path, warehouse):
    """A bad start date on one member of staff quarantines that row; it does not take them off the
    force: their previous state stands, as it does for a conflicting row (a missed insider would
    otherwise drop out of every check that night)."""
    write_table(drop(tmp_path, "2026-03-04"), "staff", STAFF)
    ingest_landing(warehouse, tmp_path)
    moved = [dict(STAFF[0], unit="Response South"), dict(STAFF[1], start_date="not a date")]
    write_table(drop(tmp_path, "2026-03-05"), "staff", moved)
    (result,) = ingest_landing(warehouse, tmp_path).processed
    assert (result.loaded, result.rejected) == (1, 1)

    def staff_on(day: str) -> dict:
        return dict(warehouse.execute("SELECT staff_id, unit FROM staff_as_of($d)", {"d": date.fromisoformat(day)}))

    assert staff_on("2026-03-05") == {"S1": "Response South", "S2": "Control Room"}  # S2 as it stood
    # Left out of a later snapshot altogether, S2 is removed as before.
    write_table(drop(tmp_path, "2026-03-06"), "staff", moved[:1])
    ingest_landing(warehouse, tmp_path)
    assert staff_on("2026-03-06") == {"S1": "Response South"}


def test_a_night_reads_only_the_drops_the_ledger_has_not_seen_as_they_are(tmp_path):
    """A landing keeps every drop; a night spends no task on a drop whose every file the ledger
    recorded with the same name, size and time, and still reports each of its files."""
    import os

    from acu_audit.config import load_settings
    from acu_audit.flow import nightly

    landing = tmp_path / "landing"
    for day in ("2026-03-04", "2026-03-05"):
        write_table(drop(landing, day), "access_events", [event(f"E{day}", f"{day}T10:00:00Z")])
    night = nightly.settle_night(landing=landing, db=tmp_path / "wh.duckdb", out=tmp_path / "out", settings=load_settings(),
                                 validate=False)

    def load() -> tuple[list[str], list[tuple[str, str]]]:
        tasks = []

        def runner(name, fn, *args, label=None, **kw):
            tasks.append(label)
            return nightly.DIRECT(name, fn, *args, label=label, **kw)

        with nightly.open_warehouse(night) as wh:
            report = nightly.load_drops(wh, night, runner, nightly.Journal(), None).report
        return tasks, [(str(f.drop_date), f.status) for f in report.files]

    assert load() == (["ingest-2026-03-04", "ingest-2026-03-05"], [("2026-03-04", "loaded"), ("2026-03-05", "loaded")])
    assert load() == ([], [("2026-03-04", "already_loaded"), ("2026-03-05", "already_loaded")])
    path = landing / "2026-03-04" / "access_events.csv"
    later = os.stat(path).st_mtime_ns + 10**9
    os.utime(path, ns=(later, later))  # touched: read again (hashed: the same content, so already loaded)
    assert load() == (["ingest-2026-03-04"], [("2026-03-04", "already_loaded"), ("2026-03-05", "already_loaded")])


def test_a_failed_file_stops_the_other_lane_before_its_next_file(tmp_path):
    """A file failing in one lane stops the other lane at its next file, not after its whole
    queue: the lane is between statements (our Python scan of a file) when the failure comes, so
    interrupting its connection alone misses it. The files it has not begun load on the next run."""
    import threading
    import time

    from acu_audit.db import Warehouse
    from acu_audit.ingest import Lanes
    from acu_audit.ingest.landing import LandingFile

    def landing_file(table: str, n: int) -> LandingFile:
        path = tmp_path / f"{table}-{n}.csv"
        path.write_text("x" * 10)
        return LandingFile(date(2026, 3, 4), path, table, "csv")

    # cases takes the first lane and access_events the second (the lane with the fewest bytes).
    files = [landing_file(table, n) for n in range(4) for table in ("cases", "access_events")]
    failed, begun = threading.Event(), []

    def load_one(connection, landing_file):
        begun.append(landing_file.name)
        if landing_file.table == "access_events":
            failed.set()
            raise RuntimeError("access_events-0.csv: a bad file")
        if landing_file.name == "cases-0.csv":
            failed.wait(timeout=10)  # still in Python when the other lane fails
            time.sleep(1.0)
        return landing_file.name

    with Warehouse(tmp_path / "w.duckdb") as wh, Lanes(wh, 2) as lanes, pytest.raises(RuntimeError, match="a bad file"):
        lanes.load(files, load_one)
    assert sorted(begun) == ["access_events-0.csv", "cases-0.csv"]
    assert not [t for t in threading.enumerate() if t.name.startswith("ingest-lane")]


def test_files_loaded_side_by_side_store_what_one_at_a_time_stores(tmp_path):
    """Two lanes (ingest.Lanes: a drop's files on two connections at once) store the same rows,
    ledger, quarantine and Great Expectations results as one lane: on a generated force with bad
    rows, a stray quote (the slow path), a conflict with a stored row, a file of no table and a
    late drop, validated in chunks that wait across drops."""
    import shutil

    from acu_audit.contract import TABLES
    from acu_audit.db import Warehouse
    from acu_audit.synth import generate_force
    from acu_audit.validation import GxValidator

    generate_force(tmp_path / "force", staff=100, days=7, seed=5)
    landing = tmp_path / "force" / "landing"
    drops = sorted(p for p in landing.iterdir() if p.is_dir())
    with open(drops[2] / "access_events.csv", "a", encoding="utf-8") as handle:
        handle.write("E-BAD-1,yesterday,S1,PNC,view,person,R1,P1,,,\n")
        handle.write('E-BAD-2,2026-10-03T10:00:00Z,S1,PNC,"view,person,R1,P1,,,\n')
    first_event = (drops[1] / "access_events.csv").read_text().splitlines()[1].split(",")
    first_event[3] = "ANPR" if first_event[3] != "ANPR" else "PNC"  # the same event id, other content: a conflict
    with open(drops[3] / "access_events.csv", "a", encoding="utf-8") as handle:
        handle.write(",".join(first_event) + "\n")
    with open(drops[3] / "cases.csv", "a", encoding="utf-8") as handle:
        handle.write("C-BAD,burglary,not-a-date,,Response North\n")
    (drops[4] / "notes.csv").write_text("a,b\n1,2\n")
    late = tmp_path / "late"
    shutil.move(str(drops[2]), late)

    def load(lanes: int) -> dict:
        with Warehouse(tmp_path / f"lanes{lanes}.duckdb") as wh:
            validator = GxValidator(chunk_rows=5000)
            ingest_landing(wh, landing, validator=validator, lanes=lanes)
            shutil.move(str(late), drops[2])  # the late drop arrives
            ingest_landing(wh, landing, validator=validator, lanes=lanes)
            shutil.move(str(drops[2]), late)
            stored = {t: wh.execute(f'SELECT * FROM "{t}" ORDER BY ALL') for t in TABLES}
            stored["ledger"] = wh.execute(
                "SELECT * EXCLUDE (ingest_run_id, seconds, loaded_at) FROM ingest_files ORDER BY ALL")
            stored["quarantine"] = wh.execute("SELECT * EXCLUDE (quarantined_at) FROM quarantine ORDER BY ALL")
            stored["validation"] = wh.execute(
                "SELECT * EXCLUDE (ingest_run_id, gx_seconds) FROM validation_results ORDER BY ALL")
            # What was really exercised: the statuses, quarantine kinds and GX failures seen.
            stored["seen"] = wh.execute(
                """SELECT (SELECT list(DISTINCT status ORDER BY status) FROM ingest_files),
                          (SELECT list(DISTINCT kind ORDER BY kind) FROM quarantine),
                          (SELECT count(*) FROM validation_results WHERE NOT success)""")[0]
            return stored

    one, two = load(1), load(2)
    assert one == two
    statuses, kinds, failed_expectations = one["seen"]
    assert {"loaded", "partial", "unrecognised"} <= set(statuses), statuses
    assert {"type", "parse", "conflict"} <= set(kinds), kinds
    assert failed_expectations > 0


@pytest.mark.parametrize("rows_held", [2_000_000, 1])
def test_validation_beside_the_night_stores_what_validating_in_turn_stores(tmp_path, monkeypatch, rows_held):
    """A night's Great Expectations work on a thread of their own (runtime.validation_beside):
    the same results, each failure against its own file, stored only when collected. With a
    budget of one row held, GX starts during the loading and a lane waits for the frame before
    its own to be validated (a first run's many frames): still the same, and no lane stuck."""
    from acu_audit import validation
    from acu_audit.db import Warehouse
    from acu_audit.validation import GxValidator

    monkeypatch.setattr(validation, "_ROWS_HELD", rows_held)
    for day, n in (("2026-03-04", 3), ("2026-03-05", 2), ("2026-03-06", 4)):
        rows = [event(f"E{day}-{i}", f"{day}T10:0{i}:00Z") for i in range(n)]
        if day == "2026-03-05":
            rows[1]["action"] = "teleport"  # quarantined in SQL; GX fails it on this file alone
        write_table(drop(tmp_path, day), "access_events", rows)
        messages = [{"staff_id": "S1", "device_id": "D1", "hour_start": f"{day}T{h:02d}:00:00Z", "channel": "sms", "direction": "out",
                     "counterparty": "+447700900001", "message_count": 1 if day != "2026-03-06" or h else -1}
                    for h in range(n)]  # a negative count on the last day: GX fails it there
        write_table(drop(tmp_path, day), "device_messages", messages)
    query = """SELECT drop_date, table_name, expectation, column_name, success, element_count, unexpected_count
               FROM validation_results ORDER BY ALL"""
    results = {}
    for beside in (False, True):
        with Warehouse(None) as wh, GxValidator(chunk_rows=0, beside=beside) as validator:
            ingest_landing(wh, tmp_path, validator=validator, lanes=2)
            before_collect = wh.execute("SELECT count(*) FROM validation_results")[0][0]
            validator.collect(wh)
            results[beside] = wh.execute(query)
            assert before_collect == (0 if beside else len(results[beside]))
    assert results[True] == results[False]
    failed = {(r[0].isoformat(), r[1], r[3]) for r in results[True] if not r[4]}
    assert failed == {("2026-03-05", "access_events", "action"), ("2026-03-06", "device_messages", "message_count")}


def test_closing_a_validator_drops_what_waits_for_the_loading_to_end():
    """A night failing before its loading ends never lets GX's thread start: closing the validator
    (the night's end, failed or not) drops what waits there instead of waiting for a start."""
    import threading

    from acu_audit.validation import GxValidator

    called = []
    validator = GxValidator(beside=True)
    validator._on_gx_thread(called.append, "frame", rows=10)
    closing = threading.Thread(target=validator.close)
    closing.start()
    closing.join(timeout=60)  # a hang detector, not a speed figure
    assert not closing.is_alive() and called == []
