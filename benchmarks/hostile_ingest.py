"""Hostile input: malformed records of every kind in every contract table, and where each went.

    python benchmarks/hostile_ingest.py [--per-table 1000] [--seed 1] [--json FILE]

Writes one drop of the 15 contract tables, each with ``--per-table`` records
drawn from the property test's kinds (tests/test_ingest_hostile.py: wrong
types, bad enums, empty keys, missing zones, stray and unclosed quotes, NULs,
invalid UTF-8, blank lines, byte-order marks, mixed line ends, over-long
records, duplicates, conflicts, quoted line breaks, Rich markup in text, a staff
id with an apostrophe planted in typed columns), ingests it into a fresh DuckDB
file, and prints per table: records written, malformed among them, and what
became of them (loaded, duplicate, quarantined, unaccounted), good rows lost, and
reasons or warnings that quote the planted staff id. Aims: 0 unaccounted, 0 good
rows lost, 0 malformed loaded, 0 leaks.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

from test_ingest_hostile import PARSE_KINDS, PLANTED_ID, TYPED_KINDS, build_file  # noqa: E402

from acu_audit.contract import TABLES  # noqa: E402
from acu_audit.db import Warehouse  # noqa: E402
from acu_audit.files import owner_only  # noqa: E402
from acu_audit.ingest import ingest_landing  # noqa: E402
from acu_audit.flow.steps import ingest_warnings  # noqa: E402

HARMLESS = ["good", "quoted_comma", "quoted_newline", "bom", "crlf", "cr", "markup"]
MALFORMED = [k for k in TYPED_KINDS + PARSE_KINDS if k not in HARMLESS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-table", type=int, default=1000, help="records per table file (about 70%% malformed)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    owner_only()  # what it writes (copies, logs, results) holds a force's data: owner-only, as acu-audit's own files
    rng = random.Random(args.seed)
    rows, totals = [], dict.fromkeys(("records", "read", "malformed", "loaded", "duplicate", "quarantined", "unaccounted",
                                      "malformed_loaded", "good_lost", "leaks"), 0)
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        drop = landing / "2026-03-04"
        drop.mkdir(parents=True)
        plans = {}
        for table in TABLES:
            kinds, longs = [], 0
            while len(kinds) < args.per_table:
                kind = rng.choice(MALFORMED) if rng.random() < 0.7 else rng.choice(HARMLESS)
                if kind == "long":
                    if longs >= 2:
                        continue
                    longs += 1
                kinds.append(kind)
            data, expects, _ = build_file(table, kinds, unterminated_last=True, crlf_file=rng.random() < 0.3)
            (drop / f"{table}.csv").write_bytes(data)
            plans[table] = expects
        started = time.perf_counter()
        with Warehouse(Path(tmp) / "hostile.duckdb") as wh:
            report = ingest_landing(wh, landing)
            seconds = time.perf_counter() - started
            warnings = " ".join(report.warnings + ingest_warnings(report))
            for result in report.files:
                expects = plans[result.table]
                loaded = {r[0] for r in wh.execute(f'SELECT _line FROM "{result.table}" WHERE _file_id = $f', {"f": result.file_id})}
                quarantined = {r[0] for r in wh.execute("SELECT line FROM quarantine WHERE file_id = $f", {"f": result.file_id})}
                malformed = [e for e in expects if e.outcome != "load"]
                good = [e for e in expects if e.outcome == "load"]
                row = {
                    "table": result.table,
                    "records": len(expects),
                    "read": result.read,
                    "malformed": len(malformed),
                    "loaded": result.loaded,
                    "duplicate": result.duplicate,
                    "quarantined": len(quarantined),
                    "unaccounted": sum(1 for e in expects if e.line not in loaded | quarantined and e.outcome != "duplicate")
                    + (sum(e.outcome == "duplicate" for e in expects) - result.duplicate),
                    "malformed_loaded": sum(1 for e in malformed if e.line in loaded),
                    "good_lost": sum(1 for e in good if e.line not in loaded),
                    "leaks": wh.scalar("SELECT count(*) FROM quarantine WHERE file_id = $f AND contains(reason, $p)",
                                       {"f": result.file_id, "p": PLANTED_ID})
                    + sum(PLANTED_ID in (t or "") for t in (result.error, result.note)),
                    "path": "slow" if result.note else "fast",
                }
                rows.append(row)
                for key in totals:
                    totals[key] += row[key]
    totals["leaks"] += warnings.count(PLANTED_ID)
    header = ["table", "records", "read", "malformed", "loaded", "duplicate", "quarantined", "unaccounted",
              "malformed_loaded", "good_lost", "leaks", "path"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{row[h]:,}" if isinstance(row[h], int) else str(row[h]) for h in header) + " |")
    print("| **all** | " + " | ".join(f"{totals[h]:,}" if h in totals else "" for h in header[1:]) + " |")
    print(f"\ningest of {totals['records']:,} records in {len(rows)} files: {seconds:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"tables": rows, "totals": totals, "seconds": seconds}, indent=1))


if __name__ == "__main__":
    main()
