"""Run one check against a small data fixture in in-memory DuckDB.

A fixture (``tests/fixtures/checks/<check_id>.yaml``) adds rows to a shared
base force (``_base.yaml``) and has a ``positive`` case that must hit and a
near-miss ``negative`` case that must not. Rows may expand:

- ``_times: N`` repeats a row N times, formatting ``{i}`` (1..N) in its values;
- ``_days: [first, last]`` repeats a row per day, formatting ``{date}`` (YYYY-MM-DD).

Snapshot tables land in a drop dated at the start of the base's history, event
tables in a drop on the as-of date, and the real pipeline steps run: ingest,
policing purpose, run tables, then the one check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from acu_audit.checks.catalogue import check_by_id
from acu_audit.checks.runner import prepare_run_tables, run_check
from acu_audit.config import load_settings
from acu_audit.contract import TABLES
from acu_audit.db import Warehouse
from acu_audit.ingest import ingest_landing
from acu_audit.night import shared_parameters
from acu_audit.purpose import label_policing_purpose
from acu_audit.window import ReviewWindow

from conftest import FIXTURES, write_table

CHECK_FIXTURES = FIXTURES / "checks"


def _expand(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        row = dict(row)
        times = row.pop("_times", None)
        days = row.pop("_days", None)
        if times:
            out.extend({k: (v.format(i=i) if isinstance(v, str) else v) for k, v in row.items()} for i in range(1, times + 1))
        elif days:
            first, last = (date.fromisoformat(str(d)) for d in days)
            n = (last - first).days + 1
            for k in range(n):
                day = (first + timedelta(days=k)).isoformat()
                out.append({key: (v.format(date=day) if isinstance(v, str) else v) for key, v in row.items()})
        else:
            out.append(row)
    return out


def load_fixture(check_id: str) -> dict:
    return yaml.safe_load((CHECK_FIXTURES / f"{check_id}.yaml").read_text(encoding="utf-8"))


def fixture_ids() -> list[str]:
    return sorted(p.stem for p in CHECK_FIXTURES.glob("*.yaml") if not p.name.startswith("_"))


def merge_tables(*parts: dict[str, list[dict]] | None) -> dict[str, list[dict]]:
    merged: dict[str, list[dict]] = {}
    for part in parts:
        for table, rows in (part or {}).items():
            if table not in TABLES:
                raise KeyError(f"fixture names unknown table {table!r}")
            merged.setdefault(table, []).extend(_expand(rows or []))
    return merged


def load_base() -> dict:
    """The shared base force (``_base.yaml``)."""
    return yaml.safe_load((CHECK_FIXTURES / "_base.yaml").read_text(encoding="utf-8"))


@contextmanager
def warehouse_with_run_tables(tables: dict[str, list[dict]], as_of: date, settings: Any, landing: Path) -> Iterator[tuple[Warehouse, dict[str, Any]]]:
    """The real steps up to the checks, in memory: ``tables`` written into ``landing`` (snapshots in a
    drop dated at the start of the base's history, events in one on ``as_of``), ingested, labelled
    for policing purpose and made into the run tables. Yields the warehouse and the night's parameters."""
    snapshot_drop = date.fromisoformat(str(load_base()["snapshot_drop"]))
    for table, rows in tables.items():
        drop = snapshot_drop if TABLES[table].kind == "snapshot" else as_of
        write_table(landing / drop.isoformat(), table, rows)
    window = ReviewWindow(as_of, settings.review_window_days, settings.timezone)
    with Warehouse(None) as wh:
        report = ingest_landing(wh, landing)
        bad = [f for f in report.files if f.rejected]
        assert not bad, [f.error for f in bad]  # a fixture must itself follow the contract
        label_policing_purpose(wh, settings, window)
        params = shared_parameters(settings, window)
        prepare_run_tables(wh, params)
        yield wh, params


def run_fixture_case(check_id: str, case: str, tmp_path: Path) -> list[dict[str, Any]]:
    """Run ``check_id`` on its fixture's ``case`` (positive, negative, or a named extra case) and return the hits."""
    base = load_base()
    fixture = load_fixture(check_id)
    fixture = fixture | (fixture.get("extra_cases") or {})
    as_of = date.fromisoformat(str(fixture.get("as_of", base["as_of"])))
    tables = merge_tables(base["tables"], fixture.get("common"), fixture[case].get("tables"))
    for table, removals in (fixture[case].get("remove") or {}).items():
        tables[table] = [r for r in tables.get(table, []) if not all(r.get(k) == v for k, v in removals.items())]

    overrides = deepcopy(base.get("config") or {})
    for key, value in (fixture.get("config") or {}).items():
        overrides.setdefault(key, {})
        overrides[key] = {**overrides[key], **value} if isinstance(value, dict) else value
    settings = load_settings(overrides=overrides)
    check = check_by_id(check_id)
    with warehouse_with_run_tables(tables, as_of, settings, tmp_path / case / "landing") as (wh, params):
        outcome = run_check(wh, check, settings, params, run_id=f"fixture-{case}")
        assert outcome.status == "ok", outcome.error
        return wh.records("SELECT * FROM check_hits WHERE check_id = $c ORDER BY staff_id, subject", {"c": check_id})
