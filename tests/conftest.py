"""Shared test helpers. Prefect and Great Expectations start only in the tests that need them."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from acu_audit.contract import TABLES

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Never touch the user's real secret or Prefect home from tests.
os.environ.setdefault("ACU_AUDIT_SECRET", "test-secret-not-for-production")


def write_table(folder: Path, table: str, rows: list[dict], columns: list[str] | None = None) -> Path:
    """Write ``rows`` as ``folder/<table>.csv`` with the contract's columns (or ``columns``)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = columns or list(TABLES[table].column_names)
    path = folder / f"{table}.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in names})
    return path


@pytest.fixture
def warehouse():
    from acu_audit.db import Warehouse
    from acu_audit.ingest import ensure_schema

    wh = Warehouse(None)
    ensure_schema(wh)
    yield wh
    wh.close()
