"""A warehouse kept night by night, as drops arrive, holds what one rebuilt from the same landing holds.

Snapshots are stored as changes and each look-up's policing purpose is kept per local day, so
a night reads only what is new. That must not change a result: here a force's last nights are
run as their drops arrive -- with an old drop that arrives late (it changes an old day's events
and is an older snapshot than the ones already loaded) and a snapshot re-sent unchanged -- and
compared with the same nights run on a warehouse built from the final landing in one go.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from acu_audit.config import load_settings
from acu_audit.contract import SNAPSHOT_TABLES
from acu_audit.flow import run_night, settle_night

pytestmark = pytest.mark.slow

# A hit and the rows behind it (its reason's wording and weight also tell the span's calibration,
# which reads the earlier nights: those saw the late drop missing in one warehouse and not the other).
HIT_COLUMNS = "as_of, hit_id, check_id, staff_id, occurred_at, subject, evidence, route"


def _run(landing: Path, root: Path, name: str, night: date) -> None:
    run_night(settle_night(landing=landing, out=root / f"out-{name}", db=root / f"{name}.duckdb",
                           settings=load_settings(None), as_of=night, validate=False))


@pytest.fixture(scope="module")
def two_warehouses(tmp_path_factory) -> tuple[Path, list[date], date]:
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("incremental")
    generate_force(root, staff=150, days=33, seed=9)
    landing = root / "landing"
    drops = sorted(p for p in landing.iterdir() if p.is_dir())
    # The snapshot of cases re-sent unchanged: the second-to-last drop repeats the one before.
    shutil.copy(drops[-3] / "cases.csv", drops[-2] / "cases.csv")
    nights = [date.fromisoformat(p.name) for p in drops[-4:]]
    late = date.fromisoformat(drops[-7].name)

    # As the drops arrive: the late drop is missing from the first two nights' landing.
    arriving = root / "arriving"
    arriving.mkdir()
    for drop in drops:
        if drop.name != late.isoformat():
            shutil.copytree(drop, arriving / drop.name)  # a copy: the landing refuses links
    for night in nights[:2]:
        _run(arriving, root, "incremental", night)
    shutil.copytree(landing / late.isoformat(), arriving / late.isoformat())
    for night in nights[2:]:
        _run(arriving, root, "incremental", night)

    # Rebuilt: the final landing from the start.
    for night in nights:
        _run(landing, root, "rebuilt", night)
    return root, nights, late


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_the_late_drop_loaded_late_and_the_unchanged_snapshot_stored_nothing(two_warehouses):
    root, nights, late = two_warehouses
    db = root / "incremental.duckdb"
    (late_run,) = _rows(db, "SELECT DISTINCT ingest_run_id FROM ingest_files WHERE drop_date = ?", [late])
    (night_run,) = _rows(db, "SELECT DISTINCT ingest_run_id FROM ingest_files WHERE drop_date = ?", [nights[2]])
    assert late_run == night_run  # the late drop came with the third night, not before
    for name in ("incremental", "rebuilt"):
        ((read, loaded, duplicate, rejected),) = _rows(
            root / f"{name}.duckdb",
            "SELECT read, loaded, duplicate, rejected FROM ingest_files WHERE drop_date = ? AND table_name = 'cases'",
            [nights[2]])
        assert read > 0 and (loaded, duplicate, rejected) == (0, read, 0)
        assert _rows(root / f"{name}.duckdb", "SELECT count(*) FROM cases WHERE _drop_date = ?", [nights[2]]) == [(0,)]


@pytest.mark.parametrize("table", SNAPSHOT_TABLES)
def test_every_snapshot_reads_the_same_on_every_day(two_warehouses, table):
    root, nights, late = two_warehouses
    first = _rows(root / "rebuilt.duckdb", "SELECT min(drop_date) FROM ingest_files")[0][0]
    days = [first + timedelta(days=i) for i in range((nights[-1] - first).days + 2)]
    state = f"SELECT * EXCLUDE (_drop_date, _file_id, _line) FROM {table}_as_of(?) ORDER BY ALL"
    for day in days:
        assert _rows(root / "incremental.duckdb", state, [day]) == _rows(root / "rebuilt.duckdb", state, [day]), (table, day)


def test_nights_after_the_late_drop_find_the_same_hits_and_purposes(two_warehouses):
    root, nights, late = two_warehouses
    for night in nights[2:]:
        hits = f"SELECT {HIT_COLUMNS} FROM check_hits WHERE as_of = ? ORDER BY ALL"
        incremental = _rows(root / "incremental.duckdb", hits, [night])
        assert incremental and incremental == _rows(root / "rebuilt.duckdb", hits, [night])
    purposes = "SELECT * FROM access_purpose WHERE local_day >= ? ORDER BY event_id"
    window_start = nights[-1] - timedelta(days=27)
    incremental = _rows(root / "incremental.duckdb", purposes, [window_start])
    assert incremental == _rows(root / "rebuilt.duckdb", purposes, [window_start])
    # The late drop's day was labelled again once its events came.
    assert any(r[3] == late for r in incremental)
