"""benchmarks/check_scaling.py runs benchmarks/checks.py on fresh copies of two warehouses, rounds
alternating, and prints each size's figures and the larger's over the smaller's (issue 25's "twice the
data"). The warehouses it is given must come out untouched, its copies must not outlive it, and a run
that fails must stop it with the warehouse named, not leave a ratio of nothing."""

from __future__ import annotations

import hashlib
import re
import shutil
import sys

import duckdb
import pytest

from benchmark_modules import load_benchmark


@pytest.fixture
def bench():
    return load_benchmark("check_scaling.py", "check_scaling_benchmark")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def window_rows(warehouse) -> int:
    """The access events and messages in the night's review window, counted here on the window's own terms."""
    from acu_audit.config import load_settings
    from acu_audit.window import ReviewWindow

    settings = load_settings()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        as_of = con.sql("SELECT max(local_day) FROM purpose_days").fetchall()[0][0]
        window = ReviewWindow(as_of, settings.review_window_days, settings.timezone)
        return con.execute(
            "SELECT (SELECT count(*) FROM access_events WHERE occurred_at >= $s AND occurred_at < $e)"
            " + (SELECT count(*) FROM device_messages WHERE hour_start >= $s AND hour_start < $e)",
            {"s": window.start_utc, "e": window.end_utc},
        ).fetchall()[0][0]


def test_each_size_is_measured_on_a_copy_and_the_ratios_printed(published, tmp_path, bench, monkeypatch, capsys):
    warehouse = tmp_path / "night.duckdb"
    shutil.copyfile(published / "acu_audit.duckdb", warehouse)
    before = digest(warehouse)
    scratch = tmp_path / "scratch"
    monkeypatch.setattr(sys, "argv", ["check_scaling.py", "--smaller", str(warehouse), "--larger", str(warehouse),
                                      "--rounds", "2", "--scratch", str(scratch)])
    bench.main()
    printed = capsys.readouterr().out

    assert digest(warehouse) == before  # checks.py replaced the hits of a copy, never of the warehouse named
    assert list(scratch.iterdir()) == []  # no copy outlives it (each is 1.9 GB at 40,000 staff)
    # Both sizes in each round, the order swapped in the second (a drift must not favour one size).
    labels = re.findall(r"^round (\d), (smaller|larger) +[\d,]+ ", printed, re.M)
    assert labels == [("1", "smaller"), ("1", "larger"), ("2", "larger"), ("2", "smaller")], printed
    rows = [int(n.replace(",", "")) for n in re.findall(r"^round \d, (?:smaller|larger) +([\d,]+) ", printed, re.M)]
    assert rows == [window_rows(warehouse)] * 4, printed  # each run's own count of the window, read from its print
    median = re.search(r"^median of 2 round\(s\) +([\d.]+)× +(\S+) +(\S+) +(\S+) +(\S+)$", printed, re.M)
    assert median and median.group(1) == "1.00", printed  # the same warehouse twice: the same rows
    assert re.search(r"the stage grew \S+ for 1\.00× the rows; a plain scan-and-group-by", printed)


def test_a_failed_run_stops_it_naming_the_warehouse(tmp_path, bench, monkeypatch):
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()  # a warehouse with no night in it: checks.py cannot run
    scratch = tmp_path / "scratch"
    monkeypatch.setattr(sys, "argv", ["check_scaling.py", "--smaller", str(empty), "--larger", str(empty),
                                      "--rounds", "1", "--scratch", str(scratch)])
    with pytest.raises(SystemExit, match=r"checks\.py failed on a copy of .*empty\.duckdb"):
        bench.main()
    assert list(scratch.iterdir()) == []  # its copy deleted even so
