"""benchmarks/checks.py prints the check stage beside its floor and beside one read of the stage's main
inputs (docs/check-stage.md, "The measure"). That read means something only if it covers the
window's rows of those inputs, no more and no fewer, and the stage's figures only if no check failed."""

from __future__ import annotations

import re
import shutil
import sys

import duckdb
import pytest

from benchmark_modules import load_benchmark


@pytest.fixture
def bench():
    return load_benchmark("checks.py", "checks_benchmark")


def test_the_benchmark_reads_the_windows_inputs_once_and_times_every_check(published, tmp_path, bench, monkeypatch, capsys):
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(published / "acu_audit.duckdb", copy)  # it replaces the night's hits: never the shared fixture
    # A week's window ending three days before the last: the test force has rows on both sides of it.
    config = tmp_path / "week.yaml"
    config.write_text("review_window_days: 7\n")
    monkeypatch.setenv("ACU_AUDIT_CONFIG", str(config))
    with duckdb.connect(str(copy), read_only=True) as con:
        as_of = con.sql("SELECT max(local_day) - 3 FROM purpose_days").fetchall()[0][0]
        # The review window as the night's code gives it, counted here on its own terms.
        from acu_audit.config import load_settings
        from acu_audit.window import ReviewWindow

        settings = load_settings()
        assert settings.review_window_days == 7
        window = ReviewWindow(as_of, settings.review_window_days, settings.timezone)
        expected = sum(
            con.execute(sql, params).fetchall()[0][0]
            for sql, params in (
                ("SELECT count(*) FROM access_purpose WHERE local_day >= ? AND local_day <= ?", [window.start, as_of]),
                ("SELECT count(*) FROM device_messages WHERE hour_start >= ? AND hour_start < ?",
                 [window.start_utc, window.end_utc]),
                ("SELECT count(*) FROM lookup_hours WHERE local_day >= ? AND local_day <= ?", [window.start, as_of]),
            )
        )
        before, after = con.execute("SELECT count(*) FILTER (WHERE local_day < ?), count(*) FILTER (WHERE local_day > ?) "
                                    "FROM access_purpose", [window.start, as_of]).fetchall()[0]
    assert expected > 0 and before > 0 and after > 0  # rows on both sides of the window: a missing bound shows

    monkeypatch.setattr(sys, "argv", ["checks.py", "--db", str(copy), "--as-of", as_of.isoformat()])
    bench.main()  # exits non-zero if a check failed
    printed = capsys.readouterr().out

    read = re.search(r"main inputs read once, after it \(([\d,]+) rows.*: +([\d.]+) s", printed)
    assert read, printed
    assert int(read.group(1).replace(",", "")) == expected
    assert re.search(r"floor \(scan and group-by of both tables\): +[\d.]+ s", printed)
    assert re.search(r"check stage: +[\d.]+ s = [\d.]+x the floor", printed)
    assert len(re.findall(r"^ +[\d.]+ s  [a-z]_\w+ +\d+ hits", printed, re.M)) >= 20  # every check timed, by name
