"""benchmarks/integer_keys.py measures the checks on integer keys; its figures mean something only
if the checks find the same hits there as on the text ids, with the rows in the same order."""

from __future__ import annotations

import importlib.util
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _probe():
    spec = importlib.util.spec_from_file_location("integer_keys", ROOT / "benchmarks" / "integer_keys.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hits_per_check(db: Path, as_of: date) -> dict[str, int]:
    from acu_audit.checks.runner import run_checks
    from acu_audit.config import load_settings
    from acu_audit.db import Warehouse
    from acu_audit.night import shared_parameters
    from acu_audit.window import ReviewWindow

    settings = load_settings()
    with Warehouse.configured(db, settings.runtime) as wh:
        window = ReviewWindow(as_of, settings.review_window_days, settings.timezone)
        report = run_checks(wh, settings, shared_parameters(settings, window), run_id="probe-test")
    return {o.check_id: o.hits for o in report.outcomes if o.status == "ok"}


def test_the_checks_find_the_same_hits_on_integer_keys(published, tmp_path):
    source = published / "acu_audit.duckdb"
    with duckdb.connect(str(source), read_only=True) as con:
        as_of = con.sql("SELECT max(local_day) FROM purpose_days").fetchall()[0][0]
        day_order = con.sql("SELECT local_day, staff_id FROM access_purpose ORDER BY rowid").fetchall()
    text, numbered = tmp_path / "text.duckdb", tmp_path / "numbered.duckdb"
    shutil.copyfile(source, text)
    shutil.copyfile(source, numbered)
    with duckdb.connect(str(numbered)) as con:
        _probe().rewrite_with_integer_keys(con, ["staff", "person", "counterparty"])
        types = dict(con.sql("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'device_messages'").fetchall())
        keys = dict(con.sql("SELECT v, k FROM probe_key_staff").fetchall())
        numbered_order = con.sql("SELECT local_day, staff_id FROM access_purpose ORDER BY rowid").fetchall()
    assert types["staff_id"] == types["counterparty"] == "INTEGER"
    # Row order kept (the zone maps the checks rely on), each id its number.
    assert numbered_order == [(d, keys[s]) for d, s in day_order]

    on_text, on_numbers = _hits_per_check(text, as_of), _hits_per_check(numbered, as_of)
    assert sum(on_text.values()) > 0
    assert on_numbers == on_text


def test_the_probe_refuses_to_write_over_a_file(tmp_path):
    probe = _probe()
    existing = tmp_path / "existing.duckdb"
    existing.write_bytes(b"")
    source = tmp_path / "source.duckdb"
    duckdb.connect(str(source)).close()
    import sys

    argv = sys.argv
    sys.argv = ["integer_keys.py", "--from", str(source), "--to", str(existing)]
    try:
        with pytest.raises(SystemExit):
            probe.main()
    finally:
        sys.argv = argv
    assert existing.read_bytes() == b""
