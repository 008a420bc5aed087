"""What integer keys would buy the check stage, measured before anyone builds them.

    python benchmarks/integer_keys.py --from NIGHT.duckdb --to /tmp/keys.duckdb [--kinds staff,person,counterparty]
    python benchmarks/integer_keys.py --from NIGHT.duckdb --to /tmp/text.duckdb --control

The checks join and group on text ids: staff (7 characters), people (7-9) and counterparties
(16-character hashes). This copies a night's warehouse (``--from`` is only read), gives each
distinct staff id, person id and counterparty a whole number, rewrites every input table holding
ids of those kinds with the numbers in their place (in the same row order), and then runs
``benchmarks/checks.py`` on the copy. The check SQL runs unchanged: a column's type is all that
differs, so each check should find as many hits as on the original (``checks.py`` exits non-zero if
one fails, as a check left half-converted would).

Rewriting a table also compacts it (fresh row groups, no deleted rows, new compression), which
can speed a scan by itself. ``--control`` rewrites the same tables the same way with the text ids
kept: compare integer keys with that copy, not with the original.

A probe, not the product: the stored hits' subjects and evidence still name the text ids, their
staff ids are mapped only so the calibration can join tonight's hits with earlier nights', and the
ids the analyst sees, pseudonymisation and ingest would all have to map numbers back.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from acu_audit.config import load_settings
from acu_audit.db import Warehouse, quote_identifier
from acu_audit.files import owner_only

# The columns holding each kind of id, wherever they appear among the input tables.
KEY_COLUMNS = {
    "staff": ("staff_id", "subject_staff_id"),
    "person": ("person_id",),
    "counterparty": ("counterparty",),
}
# Tables the night writes and the check stage reads back (the calibration): their staff ids become
# the number's text, as tonight's hits' will.
OUTPUT_TABLES = ("check_hits", "span_calibration")


def input_id_columns(con: duckdb.DuckDBPyConnection, kinds: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, kind) for every id column of these kinds in the warehouse's input tables."""
    kind_of = {c: kind for kind in kinds for c in KEY_COLUMNS[kind]}
    rows = con.sql(
        """SELECT c.table_name, c.column_name FROM information_schema.columns c
           JOIN duckdb_tables() t ON t.database_name = c.table_catalog AND t.schema_name = c.table_schema
                                  AND t.table_name = c.table_name
           WHERE c.table_catalog = current_database() AND c.table_schema = 'main'
           ORDER BY c.table_name, c.ordinal_position"""
    ).fetchall()
    return [(t, c, kind_of[c]) for t, c in rows if c in kind_of and t not in OUTPUT_TABLES]


def rewrite_with_integer_keys(con: duckdb.DuckDBPyConnection, kinds: list[str], *, control: bool = False) -> list[tuple[str, float]]:
    """Number every id of these kinds and rewrite each input table holding them with the numbers in
    their place, row order kept; with ``control``, rewrite the same tables with the ids kept."""
    con.execute("SET preserve_insertion_order = true")
    columns = input_id_columns(con, kinds)
    timings = []
    if not control:
        for kind in kinds:
            started = time.perf_counter()
            sources = " UNION ".join(f"SELECT {quote_identifier(c)} AS v FROM {quote_identifier(t)}"
                                     for t, c, k in columns if k == kind)
            con.execute(
                f"CREATE TABLE {quote_identifier('probe_key_' + kind)} AS "
                f"SELECT v, CAST(row_number() OVER (ORDER BY v) AS INTEGER) AS k FROM ({sources}) WHERE v IS NOT NULL"
            )
            timings.append((f"numbering {kind} ids", time.perf_counter() - started))
    for table in sorted({t for t, _, _ in columns}):
        started = time.perf_counter()
        if control:
            select = "x.*"
        else:
            select = "x.* REPLACE ({})".format(", ".join(
                f"(SELECT k FROM {quote_identifier('probe_key_' + k)} WHERE v = x.{quote_identifier(c)}) AS {quote_identifier(c)}"
                for t, c, k in columns if t == table))
        name = quote_identifier(table)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {select} FROM {name} x ORDER BY x.rowid")
        timings.append((table, time.perf_counter() - started))
    if not control and "staff" in kinds:
        for table in OUTPUT_TABLES:
            con.execute(f"UPDATE {quote_identifier(table)} SET staff_id = CAST(p.k AS VARCHAR) "
                        f"FROM probe_key_staff p WHERE p.v = {quote_identifier(table)}.staff_id")
    con.execute("CHECKPOINT")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, required=True, help="a night's warehouse (only read)")
    parser.add_argument("--to", dest="target", type=Path, required=True, help="the copy to write (must not exist)")
    parser.add_argument("--kinds", default=",".join(KEY_COLUMNS),
                        help=f"the kinds of id to number, comma-separated (default: {','.join(KEY_COLUMNS)})")
    parser.add_argument("--control", action="store_true", help="rewrite the same tables with the text ids kept")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not kinds or any(k not in KEY_COLUMNS for k in kinds):
        parser.error(f"--kinds takes some of {', '.join(KEY_COLUMNS)}, got {args.kinds!r}")
    for wal in (args.source, args.target):
        if wal.with_name(wal.name + ".wal").exists():
            parser.error(f"{wal} has a write-ahead log beside it: open and close the warehouse with acu-audit, or remove the stale log")
    owner_only()  # the copy holds the force's data: created as every acu-audit file is
    try:
        target = open(args.target, "xb")
    except FileExistsError:
        parser.error(f"{args.target} exists: the probe writes a new copy and never overwrites a file")
    with target, open(args.source, "rb") as source:
        shutil.copyfileobj(source, target, 16 * 1024 * 1024)
    started = time.perf_counter()
    with Warehouse.configured(args.target, load_settings().runtime) as wh:
        timings = rewrite_with_integer_keys(wh.con, kinds, control=args.control)
    for name, seconds in timings:
        print(f"  {seconds:6.1f} s  {name}")
    what = "with the text ids kept (control)" if args.control else f"with integer keys ({', '.join(kinds)})"
    print(f"rewritten {what} in {time.perf_counter() - started:.1f} s: {args.target}", flush=True)
    checks = Path(__file__).with_name("checks.py")
    sys.exit(subprocess.run([sys.executable, str(checks), "--db", str(args.target)], check=False).returncode)


if __name__ == "__main__":
    main()
