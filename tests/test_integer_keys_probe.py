"""benchmarks/integer_keys.py measures the checks on integer keys; its figures mean something only
if every check runs there and finds the same hits as on the text ids."""

from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from benchmark_modules import load_benchmark


@pytest.fixture
def probe():
    return load_benchmark("integer_keys.py", "integer_keys")


def _run_checks(db: Path, as_of: date) -> tuple[list[str], list[tuple]]:
    """The checks that failed, and every hit stored: check, staff id (the text id where the copy
    numbered them), when, the evidence in order, the weight."""
    from acu_audit.checks.runner import run_checks
    from acu_audit.config import load_settings
    from acu_audit.db import Warehouse
    from acu_audit.night import shared_parameters
    from acu_audit.window import ReviewWindow

    settings = load_settings()
    with Warehouse.configured(db, settings.runtime) as wh:
        window = ReviewWindow(as_of, settings.review_window_days, settings.timezone)
        report = run_checks(wh, settings, shared_parameters(settings, window), run_id="probe-test")
        numbered = wh.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'probe_key_staff'")
        staff = "coalesce((SELECT v FROM probe_key_staff WHERE CAST(k AS VARCHAR) = h.staff_id), h.staff_id)" if numbered else "h.staff_id"
        hits = wh.execute(f"""SELECT check_id, {staff}, occurred_at, window_start, window_end, list_sort(evidence), weight
                              FROM check_hits h WHERE run_id = 'probe-test' ORDER BY ALL""")
    return [o.check_id for o in report.failed], hits


def _copies(published: Path, tmp_path: Path) -> tuple[Path, Path, date]:
    source = published / "acu_audit.duckdb"  # only read: the fixture is shared
    with duckdb.connect(str(source), read_only=True) as con:
        as_of = con.sql("SELECT max(local_day) FROM purpose_days").fetchall()[0][0]
    text, numbered = tmp_path / "text.duckdb", tmp_path / "numbered.duckdb"
    shutil.copyfile(source, text)
    shutil.copyfile(source, numbered)
    return text, numbered, as_of


def test_every_check_finds_the_same_hits_on_integer_keys(published, tmp_path, probe):
    text, numbered, as_of = _copies(published, tmp_path)
    with duckdb.connect(str(text)) as con:
        before = con.sql("SELECT local_day, staff_id, person_id FROM access_purpose ORDER BY rowid").fetchall()
    with duckdb.connect(str(numbered)) as con:
        probe.rewrite_with_integer_keys(con, list(probe.KEY_COLUMNS))
        columns = probe.input_id_columns(con, list(probe.KEY_COLUMNS))
        types = {(t, c): ty for t, c, ty in con.sql(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_catalog = current_database()").fetchall()}
        staff = dict(con.sql("SELECT v, k FROM probe_key_staff").fetchall())
        person = dict(con.sql("SELECT v, k FROM probe_key_person").fetchall())
        after = con.sql("SELECT local_day, staff_id, person_id FROM access_purpose ORDER BY rowid").fetchall()
    # Every id column of every input table numbered (device_messages, access_purpose, the snapshots ...).
    assert {t for t, _, _ in columns} >= {"access_purpose", "device_messages", "contact_directory", "staff", "persons"}
    assert {types[(t, c)] for t, c, _ in columns} == {"INTEGER"}
    # Same rows in the same order, each id its number.
    assert after == [(d, staff[s], person.get(p)) for d, s, p in before]

    failed_text, hits_text = _run_checks(text, as_of)
    failed_numbers, hits_numbers = _run_checks(numbered, as_of)
    assert failed_text == failed_numbers == []
    assert len({h[0] for h in hits_text}) >= 10  # enough checks hit on the test force to mean something
    assert hits_numbers == hits_text


def test_a_column_left_as_text_fails_a_check(published, tmp_path, probe, monkeypatch):
    # The probe's figures are trusted because a half-numbered warehouse fails loudly (checks.py
    # exits non-zero on a failed check), not quietly faster.
    _, numbered, as_of = _copies(published, tmp_path)
    monkeypatch.setitem(probe.KEY_COLUMNS, "staff", ("staff_id",))  # subject_staff_id left as text
    with duckdb.connect(str(numbered)) as con:
        probe.rewrite_with_integer_keys(con, list(probe.KEY_COLUMNS))
    failed, _ = _run_checks(numbered, as_of)
    assert failed


def test_the_probe_refuses_to_write_over_a_file(tmp_path, probe, monkeypatch):
    existing = tmp_path / "existing.duckdb"
    existing.write_bytes(b"kept")
    source = tmp_path / "source.duckdb"
    duckdb.connect(str(source)).close()
    monkeypatch.setattr(sys, "argv", ["integer_keys.py", "--from", str(source), "--to", str(existing)])
    with pytest.raises(SystemExit) as refused:
        probe.main()
    assert refused.value.code == 2
    assert existing.read_bytes() == b"kept"
