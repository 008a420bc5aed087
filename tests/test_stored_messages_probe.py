"""benchmarks/stored_messages.py measures the check stage with the night's resolved messages read
from a stored table (docs/check-stage.md, part 2). Its figures mean something only if the stored
way finds the same hits as the night's own run tables, and if the probe would notice otherwise."""

from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from benchmark_modules import BENCHMARKS, load_benchmark


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # it reads the floor from checks.py beside it
    monkeypatch.delitem(sys.modules, "checks", raising=False)  # and the module it imports goes with the test
    yield load_benchmark("stored_messages.py", "stored_messages")
    monkeypatch.delitem(sys.modules, "checks", raising=False)


def _copy(published: Path, tmp_path: Path) -> tuple[Path, date]:
    source = published / "acu_audit.duckdb"  # only read: the fixture is shared
    with duckdb.connect(str(source), read_only=True) as con:
        as_of = con.sql("SELECT max(local_day) FROM purpose_days").fetchall()[0][0]
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(source, copy)
    return copy, as_of


def _both_ways(probe, db: Path, as_of: date, tamper: str | None = None) -> tuple[list[tuple], list[tuple]]:
    from acu_audit.config import load_settings
    from acu_audit.db import Warehouse
    from acu_audit.night import shared_parameters
    from acu_audit.window import ReviewWindow

    settings = load_settings()
    with Warehouse.configured(db, settings.runtime) as wh:
        params = shared_parameters(settings, ReviewWindow(as_of, settings.review_window_days, settings.timezone))
        assert probe.store_resolved_messages(wh, params) > 0
        if tamper:
            wh.execute(tamper)
        _, _, rebuilt = probe.stage(wh, settings, params, stored=False)
        _, _, stored = probe.stage(wh, settings, params, stored=True)
    return rebuilt, stored


def test_the_stored_messages_give_the_nights_hits(published, tmp_path, probe):
    copy, as_of = _copy(published, tmp_path)
    rebuilt, stored = _both_ways(probe, copy, as_of)
    assert len({h[0] for h in rebuilt}) >= 10  # enough checks hit on the test force to mean something
    assert any(h[0].startswith("s_") for h in rebuilt)  # among them checks that read the messages
    assert stored == rebuilt


@pytest.mark.parametrize("tamper", [
    # messages lost: those of the staff members with a message check's hit
    "DELETE FROM stored_run_messages WHERE staff_id IN (SELECT staff_id FROM check_hits WHERE check_id LIKE 's\\_%' ESCAPE '\\')",
    # a resolution gone wrong: every message's duty state the other way round
    "UPDATE stored_run_messages SET on_duty = NOT on_duty",
], ids=["lost messages", "duty state flipped"])
def test_a_wrong_store_changes_the_hits(published, tmp_path, probe, tamper):
    """The comparison can fail, and the stored way reads the store: a store that lost messages,
    or resolved them wrongly, finds other hits."""
    copy, as_of = _copy(published, tmp_path)
    rebuilt, stored = _both_ways(probe, copy, as_of, tamper)
    assert any(h[0].startswith("s_") for h in rebuilt)
    assert stored != rebuilt


def test_only_the_resolution_is_replaced(probe):
    """The stored way's run tables are the night's, statement for statement, but for run_messages
    (read from the store) and the shifts only it read."""
    rebuilt, stored = probe.statements(probe.run_tables_sql(False)), probe.statements(probe.run_tables_sql(True))
    replaced = [q for q in rebuilt if any(head in q for head in probe.REPLACED)]
    assert len(replaced) == 2 and "FROM device_messages" in replaced[1]
    from_store = [q for q in stored if q.startswith(probe.RUN_MESSAGES_FROM_STORE)]
    assert len(from_store) == 1
    assert [q for q in rebuilt if q not in replaced] == [q for q in stored if q not in from_store]
    assert not any("FROM device_messages" in q or "FROM duty_shifts" in q for q in stored)
