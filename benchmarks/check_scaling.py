"""Twice the staff against the check stage's time, and against its floor's, in one command.

    python benchmarks/check_scaling.py --smaller W20K.duckdb --larger W40K.duckdb [--rounds 4] [--scratch DIR]

Issue 25 asks that twice the data take at most 2.1 times the time (shown at 20,000 and 40,000 staff).
One pair of runs says little on a shared 2-core machine, whose speed drifts within minutes. So this
runs ``benchmarks/checks.py`` on a fresh copy of each warehouse, ``--rounds`` times, the two sizes
alternating and the order swapped each round (a drift would otherwise always favour one size; an even
number of rounds gives each size the first place equally often). Each run is its own process, as
``checks.py`` is run by hand, on a copy written to disk before the clock starts, in a folder of its
own that is deleted after it: the warehouses named are only read.

For each round it prints the window's rows, the floor, the run tables, the checks and the stage of
each size, then the larger's over the smaller's for each. At the end it prints each ratio's median
over the rounds. The floor's ratio is printed beside the stage's because a plain scan-and-group-by of
twice the rows does not take exactly twice the time either: the stage can scale no better than what
it reads.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from acu_audit.files import owner_only

CHECKS = Path(__file__).resolve().with_name("checks.py")
# What checks.py prints, and the figure taken from each line.
PRINTED = {
    "rows": re.compile(r"^window \S+ to \S+: ([\d,]+) access events and device messages$", re.M),
    "floor": re.compile(r"^floor \(scan and group-by of both tables\): +([\d.]+) s$", re.M),
    "run tables": re.compile(r"^run tables \(reference as of, resolved messages\): +([\d.]+) s$", re.M),
    "stage": re.compile(r"^check stage: +([\d.]+) s = ", re.M),
}
MEASURES = ("rows", "floor", "run tables", "checks", "stage")


def measure(warehouse: Path, scratch: Path) -> dict[str, float]:
    """``checks.py`` on a fresh copy of ``warehouse`` (it replaces the night's hits), in its own process."""
    # A folder per run: DuckDB puts its log and its spill files beside the copy, and all go with it.
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
    try:
        copy = folder / warehouse.name
        shutil.copyfile(warehouse, copy)
        with copy.open("r+b") as written:
            os.fsync(written.fileno())  # on disk before the clock starts: the larger copy's flush must not be timed
        run = subprocess.run([sys.executable, str(CHECKS), "--db", str(copy)], capture_output=True, text=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if run.returncode != 0:
        raise SystemExit(f"checks.py failed on a copy of {warehouse} (exit {run.returncode}):\n{run.stdout}{run.stderr}")
    figures = {}
    for name, pattern in PRINTED.items():
        found = pattern.search(run.stdout)
        if not found:
            raise SystemExit(f"checks.py on a copy of {warehouse} printed no {name} figure:\n{run.stdout}")
        figures[name] = float(found.group(1).replace(",", ""))
    figures["checks"] = figures["stage"] - figures["run tables"]
    return figures


def divide(larger: float, smaller: float) -> float:
    """The ratio; not a number when the smaller printed 0.00 s (a tiny force), not a division error."""
    return larger / smaller if smaller else math.nan


def median_of(values) -> float:
    # A round without a ratio (a 0.00 s figure) says nothing about growth: left out, not counted as 0.
    known = [v for v in values if not math.isnan(v)]
    return statistics.median(known) if known else math.nan


def cell(name: str, value: float, as_ratio: bool) -> str:
    if math.isnan(value):
        return "-"
    if as_ratio:
        return f"{value:.2f}×"
    return f"{value:,.0f}" if name == "rows" else f"{value:.2f} s"


def row(label: str, figures: dict[str, float], as_ratio: bool = False) -> str:
    return f"{label:24s}" + "".join(f"{cell(m, figures[m], as_ratio):>14s}" for m in MEASURES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smaller", type=Path, required=True, help="a night's warehouse of the smaller force")
    parser.add_argument("--larger", type=Path, required=True, help="a night's warehouse of the larger force")
    parser.add_argument("--rounds", type=int, default=4,
                        help="rounds of one run of each size (default 4; even, so each size goes first as often)")
    parser.add_argument("--scratch", type=Path, help="where the copies go (default: the system's temporary folder)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    for warehouse in (args.smaller, args.larger):
        if not warehouse.is_file():
            parser.error(f"no warehouse at {warehouse}")
        if Path(f"{warehouse}.wal").exists():  # its latest changes are in the log: a copy of the file alone is older
            parser.error(f"{warehouse} has a write-ahead log beside it: open and close it once to fold it in")
    if args.scratch and args.scratch.exists() and not args.scratch.is_dir():
        parser.error(f"--scratch {args.scratch} is not a folder")
    owner_only()  # the copies hold a force's data
    if args.scratch:
        args.scratch.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="check-scaling-", dir=args.scratch))
    sizes = {"smaller": args.smaller, "larger": args.larger}
    ratios: list[dict[str, float]] = []
    try:
        print(f"{'':24s}" + "".join(f"{m:>14s}" for m in MEASURES), flush=True)
        for number in range(1, args.rounds + 1):
            order = ("smaller", "larger") if number % 2 else ("larger", "smaller")
            figures = {}
            for size in order:
                figures[size] = measure(sizes[size], scratch)
                print(row(f"round {number}, {size}", figures[size]), flush=True)
            ratio = {m: divide(figures["larger"][m], figures["smaller"][m]) for m in MEASURES}
            ratios.append(ratio)
            print(row(f"round {number}, larger ÷", ratio, as_ratio=True), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    median = {m: median_of(r[m] for r in ratios) for m in MEASURES}
    print(row(f"median of {args.rounds} round(s)", median, as_ratio=True))
    print(f"the stage grew {cell('stage', median['stage'], True)} for {cell('rows', median['rows'], True)} the rows; "
          f"a plain scan-and-group-by of the same rows (the floor) grew {cell('floor', median['floor'], True)} "
          "(aim: ≤ 2.1× for twice the data)")


if __name__ == "__main__":
    main()
