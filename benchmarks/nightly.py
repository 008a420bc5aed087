"""One nightly run, timed per phase, once the history is loaded.

    python benchmarks/nightly.py --landing /tmp/force40k/landing --work /tmp/nightly40k [--reuse] [--validate]

1. Loads every drop but the last into WORK/history.duckdb (a full run as of the
   second-to-last drop: this is the history, and takes a while at force scale;
   --reuse keeps an existing one).
2. Copies it, adds the last drop, and runs the night in a fresh process: only the
   new night is ingested and labelled; checks, outlier scores and leads cover the
   28-day window. Prints each phase's wall time and the process's peak memory.
Prefect's start-up is not included (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path


def _run(landing: Path, db: Path, out: Path, as_of: date | None, validate: bool) -> dict:
    from acu_audit.config import load_settings
    from acu_audit.flow import run_night, settle_night

    night = settle_night(landing=landing, out=out, db=db, settings=load_settings(), as_of=as_of, validate=validate)
    started = time.perf_counter()
    result = run_night(night)
    return {
        "as_of": str(night.as_of),
        "total_seconds": time.perf_counter() - started,
        "phases": [(t.name, t.seconds, t.detail) for t in result.timings],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(args: argparse.Namespace) -> None:
    result = _run(args.landing, args.db, args.out, date.fromisoformat(args.as_of) if args.as_of else None, args.validate)
    print(json.dumps(result))


def _in_process(landing: Path, db: Path, out: Path, as_of: str | None, validate: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", "--landing", str(landing), "--db", str(db), "--out", str(out)]
    if as_of:
        cmd += ["--as-of", as_of]
    if validate:
        cmd.append("--validate")
    result = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    if result.returncode != 0:
        sys.exit(result.stderr[-4000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--work", type=Path, help="working folder (required)")
    parser.add_argument("--reuse", action="store_true", help="keep WORK/history.duckdb if it exists")
    parser.add_argument("--validate", action="store_true", help="run the Great Expectations suites on the new night")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    if args.work is None:
        parser.error("--work is required")
    os.environ.setdefault("ACU_AUDIT_SECRET", "benchmark-only-key")
    drops = sorted(p for p in args.landing.iterdir() if p.is_dir())
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    history_landing = work / "landing"
    history_landing.mkdir(exist_ok=True)
    for drop in drops[:-1]:
        link = history_landing / drop.name
        if not link.exists():
            link.symlink_to(drop.resolve())
    history = work / "history.duckdb"
    if not (args.reuse and history.exists()):
        for stale in (history, work / "history.state.duckdb"):
            stale.unlink(missing_ok=True)
        print(f"loading the history: {len(drops) - 1} drops ...", flush=True)
        built = _in_process(history_landing, history, work / "history-out", drops[-2].name, False)
        print(f"history loaded in {built['total_seconds']:.0f} s (peak {built['peak_rss_mb']:,.0f} MB)")
    night_db = work / "night.duckdb"
    shutil.copy(history, night_db)
    if (work / "history.state.duckdb").exists():
        shutil.copy(work / "history.state.duckdb", work / "night.state.duckdb")
    link = history_landing / drops[-1].name
    if not link.exists():
        link.symlink_to(drops[-1].resolve())
    try:
        night = _in_process(history_landing, night_db, work / "out", drops[-1].name, args.validate)
    finally:
        link.unlink()
    print(f"night of {night['as_of']}: {night['total_seconds']:.1f} s wall, peak {night['peak_rss_mb']:,.0f} MB")
    for name, seconds, detail in night["phases"]:
        print(f"  {seconds:6.1f} s  {name:18s} {detail}")


if __name__ == "__main__":
    main()
