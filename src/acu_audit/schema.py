"""The warehouse's schema, set up in one place (:func:`ensure_schema`), idempotently.

- ``sql/schema/warehouse.sql``: the loaded tables, the ledger and the quarantine.
- the as-of macros, one per snapshot table of the data contract (``contract.SNAPSHOT_TABLES``),
  derived here rather than written out by hand: ``<table>_as_of(d)`` is the snapshot version
  from the latest drop on or before ``d``. A late older snapshot never overrides a newer one,
  and a re-run for an old date sees the reference data of that date.
- ``sql/schema/derived.sql``: what the nightly steps write (hits, scores, the run log...).
"""

from __future__ import annotations

from acu_audit.contract import SNAPSHOT_TABLES
from acu_audit.db import Warehouse, quote_identifier


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
    for statement in as_of_macros():
        wh.execute(statement, step="as-of macros")
    wh.script("schema/derived.sql")
