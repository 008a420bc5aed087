"""The warehouse's schema, set up in one place (:func:`ensure_schema`), idempotently.

- ``sql/schema/warehouse.sql``: the ledger (ingest runs and files), the quarantine and the
  validation results.
- the tables of the data contract, derived from ``contract.TABLES`` (:func:`contract_tables`):
  the contract's columns, types and nullability, ``row_id`` for a table with no id column, and
  every row's lineage: the drop it came from (``_drop_date``), the file (``_file_id`` ->
  ``ingest_files``) and the line in that file (``_line``). Snapshot tables hold every version.
- the as-of macros, one per snapshot table of the data contract (``contract.SNAPSHOT_TABLES``),
  derived here rather than written out by hand: ``<table>_as_of(d)`` is the snapshot version
  from the latest drop on or before ``d``. A late older snapshot never overrides a newer one,
  and a re-run for an old date sees the reference data of that date.
- ``sql/schema/derived.sql``: what the nightly steps write (hits, scores, the run log...).
"""

from __future__ import annotations

from acu_audit.contract import SNAPSHOT_TABLES, SQL_TYPES, TABLES, TableSpec
from acu_audit.db import Warehouse, quote_identifier

LINEAGE = ("_drop_date DATE NOT NULL", "_file_id VARCHAR NOT NULL", "_line BIGINT")


def table_ddl(spec: TableSpec) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one table of the data contract."""
    columns = ["row_id VARCHAR NOT NULL"] if spec.id_column is None else []
    columns += [f"{quote_identifier(c.name)} {SQL_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in spec.columns]
    return f"CREATE TABLE IF NOT EXISTS {quote_identifier(spec.name)} ({', '.join([*columns, *LINEAGE])})"


def contract_tables() -> list[str]:
    """The DDL of every table of the data contract, in the contract's order."""
    return [table_ddl(spec) for spec in TABLES.values()]


def as_of_macros() -> list[str]:
    """``CREATE OR REPLACE MACRO <table>_as_of(as_of)`` for every snapshot table of the contract."""
    statements = []
    for table in SNAPSHOT_TABLES:
        name, macro = quote_identifier(table), quote_identifier(f"{table}_as_of")
        statements.append(
            f"CREATE OR REPLACE MACRO {macro}(as_of) AS TABLE "
            f"SELECT * FROM {name} WHERE _drop_date = (SELECT max(_drop_date) FROM {name} WHERE _drop_date <= as_of)"
        )
    return statements


def ensure_schema(wh: Warehouse) -> None:
    """Create every warehouse table, macro and view that does not exist yet."""
    wh.script("schema/warehouse.sql")
    for statement in (*contract_tables(), *as_of_macros()):
        wh.execute(statement, step="contract tables and as-of macros")
    wh.script("schema/derived.sql")
