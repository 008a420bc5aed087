"""benchmarks/check_scaling.py runs benchmarks/checks.py on fresh copies of two warehouses, rounds
alternating, and prints each size's figures and the larger's over the smaller's (issue 25's "twice the
data"). The warehouses it is given must come out untouched, no copy may outlive its run, the sizes must
run in the order printed, the ratios and medians must be the figures' own, and a run that fails must
stop it with the warehouse named, not leave a ratio of nothing."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from benchmark_modules import load_benchmark


@pytest.fixture
def bench():
    return load_benchmark("check_scaling.py", "check_scaling_benchmark")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def window_rows(warehouse) -> int:
    """The access events and messages in the night's review window, counted with checks.py's own query (so
    this checks what is read from each run's print, not the count itself: tests/test_checks_benchmark.py does)."""
    from acu_audit.config import load_settings
    from acu_audit.window import ReviewWindow

    settings = load_settings()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        as_of = con.sql("SELECT max(local_day) FROM purpose_days").fetchall()[0][0]
        window = ReviewWindow(as_of, settings.review_window_days, settings.timezone)
        count_sql = load_benchmark("checks.py", "checks_benchmark").WINDOW_ROWS_SQL
        return con.execute(count_sql, {"s": window.start_utc, "e": window.end_utc}).fetchall()[0][0]


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


# What checks.py prints (benchmarks/checks.py, main), with the figures this fake run gives each size.
PRINTED = """window 2026-10-03 to 2026-10-30: {rows} access events and device messages
floor (scan and group-by of both tables): {floor:6.2f} s
the stage's main inputs read once, after it (1 rows; every column it reads of the window's labelled look-ups, messages and look-up hours):   0.50 s
run tables (reference as of, resolved messages): {run_tables:6.2f} s
    0.97 s  u_lookup_for_colleague               1347 hits
check stage: {stage:6.2f} s = 12.4x the floor (then storing and calibrating the hits: 0.43 s, of it calibration 0.27 s)
"""


def fake_checks(tmp_path, monkeypatch, bench, figures_by_round):
    """checks.py replaced by canned prints: round r's figures for each size, in the order runs come. Each run
    also checks that its copy is the only file left in the scratch folder (every earlier copy deleted)."""
    runs = []

    def run(command, **_):
        copy = Path(command[command.index("--db") + 1])
        scratch_files = [f for f in (tmp_path / "scratch").rglob("*") if f.is_file()]
        assert scratch_files == [copy], scratch_files  # the copies of earlier runs are gone
        size = copy.stem
        runs.append(size)
        figures = figures_by_round[sum(1 for r in runs if r == size) - 1][size]
        return subprocess.CompletedProcess(command, 0, PRINTED.format(**figures), "")

    monkeypatch.setattr(bench.subprocess, "run", run)
    for size in ("smaller", "larger"):
        (tmp_path / f"{size}.duckdb").write_bytes(b"not read by the fake")
    return runs


def test_the_ratios_and_medians_are_the_runs_own(tmp_path, bench, monkeypatch, capsys):
    small = {"rows": "1,000", "floor": 0.50, "run_tables": 2.00, "stage": 5.00}
    rounds = [
        {"smaller": small, "larger": {"rows": "2,000", "floor": 1.00, "run_tables": 4.00, "stage": 11.00}},
        {"smaller": small, "larger": {"rows": "2,000", "floor": 1.20, "run_tables": 3.00, "stage": 10.00}},
        {"smaller": {**small, "floor": 0.00}, "larger": {"rows": "2,000", "floor": 1.10, "run_tables": 5.00, "stage": 12.00}},
        {"smaller": small, "larger": {"rows": "2,000", "floor": 1.30, "run_tables": 4.00, "stage": 10.50}},
    ]
    runs = fake_checks(tmp_path, monkeypatch, bench, rounds)
    monkeypatch.setattr(sys, "argv", ["check_scaling.py", "--smaller", str(tmp_path / "smaller.duckdb"),
                                      "--larger", str(tmp_path / "larger.duckdb"), "--rounds", "4",
                                      "--scratch", str(tmp_path / "scratch")])
    bench.main()
    printed = capsys.readouterr().out

    assert runs == ["smaller", "larger", "larger", "smaller", "smaller", "larger", "larger", "smaller"]
    ratio_rows = re.findall(r"^round (\d), larger ÷ +(.*)$", printed, re.M)
    assert [(n, cells.split()) for n, cells in ratio_rows] == [
        ("1", ["2.00×", "2.00×", "2.00×", "2.33×", "2.20×"]),  # checks alone: (11 - 4) / (5 - 2)
        ("2", ["2.00×", "2.40×", "1.50×", "2.33×", "2.00×"]),
        ("3", ["2.00×", "-", "2.50×", "2.33×", "2.40×"]),  # a 0.00 s floor has no ratio
        ("4", ["2.00×", "2.60×", "2.00×", "2.17×", "2.10×"]),
    ], printed
    # Medians of four: the middle pair's mean; the round without a floor ratio left out (of 2.0, 2.4, 2.6).
    median = re.search(r"^median of 4 round\(s\) +(.*)$", printed, re.M).group(1).split()
    assert median == ["2.00×", "2.40×", "2.00×", "2.33×", "2.15×"], printed
    assert "the stage grew 2.15× for 2.00× the rows; a plain scan-and-group-by of the same rows (the floor) grew 2.40×" in printed


def test_a_run_that_prints_no_figure_stops_it(tmp_path, bench, monkeypatch):
    monkeypatch.setattr(bench.subprocess, "run",
                        lambda command, **_: subprocess.CompletedProcess(command, 0, "window 2026-10-03 to 2026-10-30: 5 access events and device messages\n", ""))
    warehouse = tmp_path / "night.duckdb"
    warehouse.write_bytes(b"not read")
    monkeypatch.setattr(sys, "argv", ["check_scaling.py", "--smaller", str(warehouse), "--larger", str(warehouse),
                                      "--rounds", "1", "--scratch", str(tmp_path / "scratch")])
    with pytest.raises(SystemExit, match=r"printed no floor figure"):
        bench.main()
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_warehouse_with_its_log_beside_it_is_refused(tmp_path, bench, monkeypatch, capsys):
    warehouse = tmp_path / "night.duckdb"
    warehouse.write_bytes(b"not read")
    Path(f"{warehouse}.wal").write_bytes(b"changes not yet in the file")
    monkeypatch.setattr(sys, "argv", ["check_scaling.py", "--smaller", str(warehouse), "--larger", str(warehouse)])
    with pytest.raises(SystemExit):
        bench.main()
    assert "has a write-ahead log beside it" in capsys.readouterr().err
