"""The warehouse's schema, set up in one place (:func:`ensure_schema`), idempotently.

- ``sql/schema/warehouse.sql``: the ledger (ingest runs and files), the quarantine and the
  validation results.
- the tables of the data contract, derived from ``contract.TABLES`` (:func:`contract_tables`):
  the contract's columns, types and nullability, ``row_id`` for a table with no id column, and
  every row's lineage: the drop it came from (``_drop_date``), the file (``_file_id`` ->
  ``ingest_files``) and the line in that file (``_line``). Snapshot tables hold their history
  as changes: a drop stores only the rows that differ from the state before it, and a row
  ``_removed`` for an entity the drop no longer lists (a snapshot re-sent unchanged stores
  nothing: its rows are duplicates in the ledger). See ``acu_audit.ingest.loader``.
- the as-of macros, one per snapshot table of the data contract (``contract.SNAPSHOT_TABLES``),
  derived here rather than written out by hand: ``<table>_as_of(d)`` is the snapshot as it
  stood after the latest drop on or before ``d`` (each entity's latest row, unless removed).
  A late older snapshot never overrides a newer one, and a re-run for an old date sees the
  reference data of that date. ``<table>_during(lo, hi)``: every version valid on a day from
  ``lo`` to ``hi``, with its validity (``_drop_date`` to ``_valid_to``), for many dates at once.
- ``sql/schema/derived.sql``: what the nightly steps write (hits, scores, the run log...).
"""

from __future__ import annotations

from acu_audit.contract import SNAPSHOT_TABLES, SQL_TYPES, TABLES, TableSpec
from acu_audit.db import Warehouse, quote_identifier
from acu_audit.errors import AcuAuditError

LINEAGE = ("_drop_date DATE NOT NULL", "_file_id VARCHAR NOT NULL", "_line BIGINT")
# A snapshot row that says the entity is no longer listed from its drop on (its last content kept).
REMOVED = "_removed BOOLEAN NOT NULL DEFAULT false"


def table_ddl(spec: TableSpec) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one table of the data contract."""
    columns = ["row_id VARCHAR NOT NULL"] if spec.id_column is None else []
    columns += [f"{quote_identifier(c.name)} {SQL_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in spec.columns]
    lineage = [*LINEAGE, REMOVED] if spec.kind == "snapshot" else list(LINEAGE)
    return f"CREATE TABLE IF NOT EXISTS {quote_identifier(spec.name)} ({', '.join([*columns, *lineage])})"


def contract_tables() -> list[str]:
    """The DDL of every table of the data contract, in the contract's order."""
    return [table_ddl(spec) for spec in TABLES.values()]


def as_of_macros() -> list[str]:
    """``<table>_as_of(as_of)`` and ``<table>_during(lo, hi)`` for every snapshot table of the contract."""
    statements = []
    for table in SNAPSHOT_TABLES:
        name, macro = quote_identifier(table), quote_identifier(f"{table}_as_of")
        key = quote_identifier(TABLES[table].row_id_column)
        statements.append(
            f"CREATE OR REPLACE MACRO {macro}(as_of) AS TABLE "
            f"SELECT * EXCLUDE (_removed) FROM (SELECT * FROM {name} WHERE _drop_date <= as_of "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _drop_date DESC) = 1) WHERE NOT _removed"
        )
        # Every version valid on some day from lo to hi, once, with its validity: from its drop
        # (``_drop_date``) to the key's next stored change (``_valid_to``, exclusive). The rows
        # with ``_drop_date <= d < _valid_to`` are the snapshot as of d, for any d from lo to hi:
        # one read of the table for many dates, where ``_as_of`` reads it once per date.
        statements.append(
            f"CREATE OR REPLACE MACRO {quote_identifier(f'{table}_during')}(lo, hi) AS TABLE "
            f"SELECT * EXCLUDE (_removed) FROM (SELECT *, lead(_drop_date, 1, DATE '9999-12-31') "
            f"OVER (PARTITION BY {key} ORDER BY _drop_date) AS _valid_to FROM {name} WHERE _drop_date <= hi) "
            f"WHERE _valid_to > lo AND NOT _removed"
        )
    return statements


def refuse_whole_snapshot_warehouse(wh: Warehouse) -> None:
    """A warehouse an earlier acu-audit built kept every snapshot whole; its rows read wrongly as changes."""
    for table in SNAPSHOT_TABLES:
        if wh.table_exists(table) and "_removed" not in wh.columns(table):
            raise AcuAuditError(
                f"{wh.path}: built by an earlier acu-audit, which kept every snapshot drop whole (table {table}); "
                "this version keeps snapshots as changes. Load it again from the landing: `acu-audit rebuild`"
            )


def ensure_schema(wh: Warehouse) -> None:
    """Create every warehouse table, macro and view that does not exist yet."""
    wh.script("schema/warehouse.sql")
    refuse_whole_snapshot_warehouse(wh)
    for statement in (*contract_tables(), *as_of_macros()):
        wh.execute(statement, step="contract tables and as-of macros")
    wh.script("schema/derived.sql")
