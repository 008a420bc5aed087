"""What integer keys would buy the check stage, measured before anyone builds them.

    python benchmarks/integer_keys.py --from NIGHT.duckdb --to /tmp/intkeys.duckdb [--kinds staff,person,counterparty]

The checks join and group on text ids: staff (7 characters), people (7-9) and counterparties
(16-character hashes). This copies a night's warehouse (``--from`` is only read), gives each
distinct staff id, person id and counterparty a whole number, rewrites every input table's
columns of those kinds as numbers in the copy (each table's row order kept, so DuckDB's zone maps
skip what they skipped before), maps the ids in the stored hits and scores the same way (the
calibration compares tonight's hits with them), and then runs ``benchmarks/checks.py`` on the
copy. The check SQL runs unchanged: a column's type is all that differs, so the hits per check
should equal those of ``checks.py`` on the original (compare them); the text in the hits names
numbers where it named ids, which is why this is a probe and not the product.

It measures the route, not a design: the ids the analyst sees, the evidence, the
pseudonymisation and ingest would all have to map numbers back, and none of that is here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

# The columns holding each kind of id, wherever they appear among the input tables.
KEY_COLUMNS = {
    "staff": ("staff_id", "subject_staff_id"),
    "person": ("person_id",),
    "counterparty": ("counterparty",),
}
# Tables the night writes: their staff ids become the number's text (the hits' column is text).
OUTPUT_TABLES = ("check_hits", "lead_scores", "outlier_scores", "span_calibration")


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rewrite_with_integer_keys(con: duckdb.DuckDBPyConnection, kinds: list[str]) -> list[tuple[str, float]]:
    """Number every id of these kinds and rewrite the input tables' columns of them as those numbers."""
    con.execute("SET preserve_insertion_order = true")
    base_tables = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
    columns = [
        (t, c)
        for t, c in con.sql(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
        ).fetchall()
        if t in base_tables and t not in OUTPUT_TABLES
    ]
    timings = []
    key_columns = {kind: KEY_COLUMNS[kind] for kind in kinds}
    for kind, names in key_columns.items():
        started = time.perf_counter()
        sources = " UNION ".join(f"SELECT {quoted(c)} AS v FROM {quoted(t)}" for t, c in columns if c in names)
        con.execute(
            f"CREATE TABLE {quoted('probe_key_' + kind)} AS "
            f"SELECT v, CAST(row_number() OVER (ORDER BY v) AS INTEGER) AS k FROM ({sources}) WHERE v IS NOT NULL"
        )
        timings.append((f"numbering {kind} ids", time.perf_counter() - started))
    kind_of = {c: kind for kind, names in key_columns.items() for c in names}
    for table in sorted({t for t, c in columns if c in kind_of}):
        started = time.perf_counter()
        replaced = ", ".join(
            f"(SELECT k FROM {quoted('probe_key_' + kind_of[c])} WHERE v = x.{quoted(c)}) AS {quoted(c)}"
            for t, c in columns if t == table and c in kind_of
        )
        con.execute(f"CREATE OR REPLACE TABLE {quoted(table)} AS "
                    f"SELECT x.* REPLACE ({replaced}) FROM {quoted(table)} x ORDER BY x.rowid")
        timings.append((table, time.perf_counter() - started))
    for table in OUTPUT_TABLES:
        if table in base_tables and "staff" in key_columns:
            con.execute(f"UPDATE {quoted(table)} SET staff_id = CAST(p.k AS VARCHAR) "
                        f"FROM probe_key_staff p WHERE p.v = {quoted(table)}.staff_id")
    con.execute("CHECKPOINT")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, required=True, help="a night's warehouse (only read)")
    parser.add_argument("--to", dest="target", type=Path, required=True, help="the copy to rewrite (must not exist)")
    parser.add_argument("--kinds", default=",".join(KEY_COLUMNS),
                        help=f"the kinds of id to number, comma-separated (default: {','.join(KEY_COLUMNS)})")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not kinds or any(k not in KEY_COLUMNS for k in kinds):
        parser.error(f"--kinds takes some of {', '.join(KEY_COLUMNS)}, got {args.kinds!r}")
    if args.target.exists():
        parser.error(f"{args.target} exists: the probe writes a new copy and never overwrites a file")
    if args.source.with_suffix(args.source.suffix + ".wal").exists():
        parser.error(f"{args.source} has a write-ahead log: open and close it with acu-audit first")
    os.umask(0o077)
    shutil.copyfile(args.source, args.target)
    os.chmod(args.target, 0o600)
    started = time.perf_counter()
    con = duckdb.connect(str(args.target))
    try:
        timings = rewrite_with_integer_keys(con, kinds)
    finally:
        con.close()
    for name, seconds in timings:
        print(f"  {seconds:6.1f} s  {name}")
    print(f"rewritten with integer keys in {time.perf_counter() - started:.1f} s: {args.target}", flush=True)
    checks = Path(__file__).with_name("checks.py")
    sys.exit(subprocess.run([sys.executable, str(checks), "--db", str(args.target)], check=False).returncode)


if __name__ == "__main__":
    main()
