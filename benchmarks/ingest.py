"""Ingest throughput against the floor: a bare DuckDB ``read_csv`` of the same files.

    python benchmarks/ingest.py --landing /tmp/force40k/landing [--drops N] [--validate [--data-docs]]

Generate a force first, e.g. ``acu-audit generate --out /tmp/force40k --staff 40000 --days 30``.
Prints rows per second for (1) the floor: every file read with read_csv (types
auto-detected) into a table of a fresh DuckDB file, and (2) acu-audit's typed
load with quarantine and ledger into another fresh file, their ratio, and peak
memory of each phase. With --validate, also the Great Expectations time; with --data-docs,
Great Expectations also renders the night's Data Docs (as a nightly run does), timed within it.
Each phase runs in its own process so peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from acu_audit.files import owner_only


def _floor(landing: Path, db: Path, drops: int | None) -> dict:
    import duckdb

    con = duckdb.connect(str(db))
    folders = sorted(p for p in landing.iterdir() if p.is_dir())[:drops]
    rows = 0
    started = time.perf_counter()
    for i, folder in enumerate(folders):
        for file in sorted(folder.glob("*.csv")):
            table = f"{file.stem}_{i}"
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv(?)", [str(file)])
            rows += con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds}


def _ingest(landing: Path, db: Path, drops: int | None, validate: bool, data_docs: bool = False) -> dict:
    from acu_audit.ingest import ingest_landing, loading_warehouse
    from acu_audit.validation import GxValidator

    folders = sorted(p for p in landing.iterdir() if p.is_dir())[:drops]
    up_to = None
    if drops:
        from datetime import date

        up_to = date.fromisoformat(folders[-1].name)
    docs = db.parent / "data-docs" if data_docs else None
    from acu_audit.config import load_settings

    settings = load_settings()
    validator = GxValidator.from_settings(settings, docs_dir=docs) if validate else None
    # Loading as acu-audit loads; the time includes the log's fold when loading ends and the
    # checkpoint DuckDB makes when the warehouse closes.
    started = time.perf_counter()
    with loading_warehouse(db, settings.runtime) as wh:
        report = ingest_landing(wh, landing, up_to=up_to, validator=validator, lanes=int(settings.runtime["ingest_lanes"]))
        if docs is not None:
            validator.build_docs()
    seconds = time.perf_counter() - started
    totals = report.totals()
    return {"rows": totals["read"], "loaded": totals["loaded"], "seconds": seconds,
            "gx_seconds": validator.seconds if validator else 0.0,
            "pages": len(list(docs.rglob("*.html"))) if docs is not None else 0}


def _child(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        if args.phase == "floor":
            result = _floor(args.landing, db, args.drops)
        else:
            result = _ingest(args.landing, db, args.drops, args.validate, args.data_docs)
        result["db_bytes"] = db.stat().st_size if db.exists() else 0
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss is in KiB; a megabyte is 10^6 bytes, as the run counts it
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--drops", type=int, default=None, help="only the first N drops")
    parser.add_argument("--validate", action="store_true", help="run the Great Expectations suites too")
    parser.add_argument("--data-docs", action="store_true", help="with --validate: render the Data Docs too, as a night does")
    parser.add_argument("--phase", choices=["floor", "ingest"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    owner_only()  # what it writes (copies, logs, results) holds a force's data: owner-only, as acu-audit's own files
    if args.phase:
        _child(args)
        return

    def run(phase: str) -> dict:
        cmd = [sys.executable, __file__, "--landing", str(args.landing), "--phase", phase]
        if args.drops:
            cmd += ["--drops", str(args.drops)]
        if args.validate:
            cmd.append("--validate")
        if args.data_docs:
            cmd.append("--data-docs")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ).stdout
        return json.loads(out.strip().splitlines()[-1])

    floor = run("floor")
    ingest = run("ingest")
    print(f"landing: {args.landing} ({args.drops or 'all'} drops)")
    print(f"floor  (bare read_csv into DuckDB): {floor['rows']:>12,} rows in {floor['seconds']:7.1f} s = "
          f"{floor['rows'] / floor['seconds']:>12,.0f} rows/s, peak {floor['peak_rss_mb']:,.0f} MB")
    print(f"ingest (typed, quarantine, ledger): {ingest['rows']:>12,} rows in {ingest['seconds']:7.1f} s = "
          f"{ingest['rows'] / ingest['seconds']:>12,.0f} rows/s, peak {ingest['peak_rss_mb']:,.0f} MB")
    print(f"ratio ingest / floor time: {ingest['seconds'] / floor['seconds']:.2f}x")
    if args.validate:
        print(f"Great Expectations: {ingest['gx_seconds']:.1f} s of the ingest time"
              + (f" (Data Docs: {ingest['pages']} pages)" if args.data_docs else ""))


if __name__ == "__main__":
    main()
