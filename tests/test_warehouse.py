"""The warehouse connection: closed means let go, and a closed warehouse says so when used."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError


def test_a_closed_warehouse_held_at_exit_leaves_no_leak_report():
    """Prefect's loop thread still holds a finished run's arguments when the process exits. A
    closed warehouse must not keep its connection (with a Python function registered on it, as
    every night registers local_stamp): DuckDB's bindings would print "nanobind: leaked ..."
    about forty lines long at exit."""
    script = textwrap.dedent("""
        import threading, time
        from acu_audit.db import Warehouse
        wh = Warehouse(None)
        wh.create_function("twice", lambda s: s + s, ["VARCHAR"], "VARCHAR")
        assert wh.scalar("SELECT twice('a')") == "aa"
        wh.close()
        threading.Thread(target=lambda held: time.sleep(3600), args=(wh,), daemon=True).start()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr, done.stderr[:500]


def test_a_closed_warehouse_says_it_is_closed():
    wh = Warehouse(None)
    wh.close()
    wh.close()  # closing twice is harmless (a with block after an explicit close)
    with pytest.raises(AcuAuditError, match="closed"):
        wh.scalar("SELECT 1")


def test_a_frame_for_great_expectations_has_the_values_and_dtypes_duckdb_would_give():
    """Warehouse.pandas goes through Arrow (DuckDB's .df() makes an object per text value, 7 s for
    a 40,000-staff night's look-ups); GX must see the same frame either way: text, 32- and 64-bit
    integers with and without a NULL, dates (one all NULL), naive instants, booleans, in order."""
    import pandas as pd

    wh = Warehouse(None)
    sql = """SELECT i AS _line, 'e' || i AS event_id, CASE WHEN i % 3 = 0 THEN NULL ELSE 'x' || i END AS maybe_text,
                    CAST(i AS INTEGER) AS small, CASE WHEN i % 4 = 0 THEN NULL ELSE CAST(i AS INTEGER) END AS small_null,
                    CASE WHEN i % 5 = 0 THEN NULL ELSE i * 1000000000000 END AS big_null,
                    CASE WHEN i = 7 THEN 9007199254740993 END AS beyond_float,
                    DATE '2026-01-01' + CAST(i AS INTEGER) AS day, CASE WHEN i % 2 = 0 THEN DATE '2026-02-01' END AS day_null,
                    CAST(NULL AS DATE) AS day_all_null,
                    TIMESTAMP '2026-01-01 10:00' + to_hours(i) AS naive_instant, i % 2 = 0 AS even
             FROM range(0, 50) t(i) ORDER BY i DESC"""
    expected = wh.con.sql(sql).df()
    frame = wh.pandas(sql)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert frame["beyond_float"].dropna().tolist() == [9007199254740993]  # not through a float


def test_a_night_s_warehouse_takes_its_memory_spilling_and_checkpoint_settings_from_the_configuration(tmp_path):
    """``runtime.memory_limit``, ``temp_directory`` and ``checkpoint_threshold`` reach DuckDB (a
    threshold left at DuckDB's 16 MB checkpoints a first run's log every few files)."""
    from acu_audit.config import load_settings
    from acu_audit.flow.nightly import open_warehouse, settle_night

    (tmp_path / "landing" / "2026-03-04").mkdir(parents=True)
    settings = load_settings(overrides={"runtime": {"memory_limit": "3GB", "temp_directory": str(tmp_path / "spill"),
                                                    "checkpoint_threshold": "300MB"}})
    night = settle_night(landing=tmp_path / "landing", db=tmp_path / "w.duckdb", out=tmp_path / "out", settings=settings,
                         validate=False)
    with open_warehouse(night) as wh:
        setting = dict(wh.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                  "('memory_limit', 'temp_directory', 'checkpoint_threshold')"))
    assert setting["memory_limit"].startswith("2.7 GiB")
    assert setting["temp_directory"] == str(tmp_path / "spill")
    assert setting["checkpoint_threshold"].startswith("286.1 MiB")


class _SettingsSeen(Exception):
    """Raised by the spy below once it has seen the loading's DuckDB settings: nothing more to run."""


def _spy_on_loading(monkeypatch, seen: dict, stop: bool = False) -> None:
    """Record DuckDB's memory limit, spill folder and threads as ``ingest_landing`` finds them."""
    import acu_audit.ingest as ingest

    real = ingest.ingest_landing

    def spy(wh, *args, **kwargs):
        seen.update(wh.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                               "('memory_limit', 'temp_directory', 'threads')"))
        if stop:
            raise _SettingsSeen
        return real(wh, *args, **kwargs)

    monkeypatch.setattr(ingest, "ingest_landing", spy)


@pytest.mark.parametrize("command", ["ingest", "demo"])
def test_loading_history_takes_the_configured_memory_limit_spilling_and_threads(tmp_path, monkeypatch, command):
    """``acu-audit ingest`` and the demo's history load a force's history under the same runtime
    settings as a night. Opened plainly, DuckDB would take 80% of the machine's memory and every core."""
    from typer.testing import CliRunner

    from acu_audit.cli import app
    from acu_audit.config import CONFIG_ENV

    config = tmp_path / "force.yaml"
    config.write_text(f"runtime:\n  memory_limit: 700MB\n  threads: 1\n  temp_directory: {tmp_path / 'spill'}\n")
    monkeypatch.setenv(CONFIG_ENV, str(config))
    seen: dict = {}
    _spy_on_loading(monkeypatch, seen, stop=command == "demo")
    if command == "ingest":
        landing = tmp_path / "landing" / "2026-03-04"
        landing.mkdir(parents=True)
        args = ["ingest", "--landing", str(tmp_path / "landing"), "--db", str(tmp_path / "w.duckdb"), "--no-validation"]
    else:
        args = ["demo", "--dir", str(tmp_path / "demo"), "--staff", "100", "--days", "7", "--seed", "3"]
    result = CliRunner().invoke(app, args)
    assert seen, result.output
    if command == "demo":  # stopped by the spy once loading began: the demo's nights are other tests'
        assert isinstance(result.exception, _SettingsSeen), result.output
    else:
        assert result.exit_code == 0, result.output
    assert seen["memory_limit"].startswith("667.5 MiB")
    assert seen["temp_directory"] == str(tmp_path / "spill")
    assert seen["threads"] == "1"


def test_bulk_loading_folds_the_log_in_once_at_its_end_and_goes_back_to_the_threshold_before(tmp_path):
    """``checkpoints_at`` (the drops' loading): within it committed rows wait in the log up to its
    threshold, on every connection; at its end the threshold is the one before, also when the
    block fails, and a log past it is folded into the file (a log within it stays, as after any
    commit)."""
    db = tmp_path / "w.duckdb"
    wal = tmp_path / "w.duckdb.wal"

    def log_bytes():
        return wal.stat().st_size if wal.exists() else 0

    def insert_two_megabytes(wh):  # a commit of its own, through the log (too small to go to the file directly)
        wh.execute("INSERT INTO t SELECT range, 'row ' || range FROM range(100000)")

    with Warehouse(db, checkpoint_threshold="1MB") as wh:
        wh.execute("CREATE TABLE t (n BIGINT, s VARCHAR)")
        insert_two_megabytes(wh)
        assert log_bytes() == 0, "the control: past the warehouse's threshold, a commit is folded in"
        with wh.checkpoints_at("1GB"):
            lane = wh.another_connection()
            assert lane.scalar("SELECT current_setting('checkpoint_threshold')").startswith("953.6 MiB")
            for _ in range(3):
                insert_two_megabytes(lane)
            lane.close()
            assert log_bytes() > 6_000_000, "rows folded in before the end"
        assert log_bytes() == 0, "the log was not folded in at the end"
        assert wh.scalar("SELECT current_setting('checkpoint_threshold')").startswith("976.5 KiB")
        assert wh.scalar("SELECT count(*) FROM t") == 400_000

        with pytest.raises(RuntimeError), wh.checkpoints_at("1GB"):
            raise RuntimeError("a drop failed")
        assert wh.scalar("SELECT current_setting('checkpoint_threshold')").startswith("976.5 KiB")

        with wh.checkpoints_at("1GB"):
            wh.execute("INSERT INTO t VALUES (1, 'one row')")
        assert 0 < log_bytes() < 1_000_000, "a log within the threshold before was folded in"
        assert wh.log_bytes() == log_bytes()


def test_timing_statements_reports_each_statement_that_ran_once_from_any_thread_and_only_while_held(tmp_path):
    import threading

    from acu_audit.db import timing_statements
    from acu_audit.errors import QueryError

    seen: list[tuple[str, str, float]] = []
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.execute("CREATE TABLE before_timing AS SELECT 1 AS x", step="untimed")
        with timing_statements(lambda step, sql, seconds: seen.append((step, sql.strip().rstrip(";"), seconds))):
            wh.execute("CREATE TABLE t AS SELECT range AS x FROM range(10)", step="make t")
            # A script: each of its statements as it runs, not the script once more when it is parsed.
            wh.run_text("INSERT INTO t VALUES ($v); INSERT INTO t VALUES (11)", {"v": 10}, step="fill t")
            with pytest.raises(QueryError):
                wh.execute("SELECT * FROM no_such_table", step="fails")
            other = wh.another_connection()
            worker = threading.Thread(target=lambda: other.execute("SELECT count(*) FROM t", step="in a lane"))
            worker.start()
            worker.join()
            other.close()
        wh.execute("SELECT 1", step="after")
    assert all(seconds >= 0 for _, _, seconds in seen)
    assert [(step, sql) for step, sql, _ in seen] == [
        ("make t", "CREATE TABLE t AS SELECT range AS x FROM range(10)"),
        ("fill t", "INSERT INTO t VALUES ($v)"),
        ("fill t", "INSERT INTO t VALUES (11)"),
        ("in a lane", "SELECT count(*) FROM t"),
    ]
