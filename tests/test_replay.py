"""A night run again is replayed: the same list as the first time, and the present untouched.

`run --as-of D` for a night already published writes D's set beside the others, leaves
out/current on the latest night, builds the list from the analyst state as D first found it,
and changes no later night's state.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from acu_audit.cli import app
from acu_audit.config import load_settings
from acu_audit.flow import NightFailed, run_night, settle_night

pytestmark = pytest.mark.slow


def state_tables(state: Path) -> dict[str, list]:
    with duckdb.connect(str(state), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("leads", "lead_versions", "lead_notes", "lead_snapshots")}


def night_sets(out: Path) -> dict[str, Path]:
    return {p.name: p for p in (out / "nights").iterdir()}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def nights_run(tmp_path_factory) -> tuple[Path, list[date]]:
    """Four nights run in order (the first reviews the window before it), then an analyst's morning."""
    from acu_audit.state import open_state
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("replay")
    generate_force(root, staff=300, days=31, seed=3)
    landing = root / "landing"
    nights = sorted(date.fromisoformat(p.name) for p in landing.iterdir())[-4:]
    for night in nights:
        run_night(settle_night(landing=landing, out=root / "out", db=root / "acu.duckdb", settings=load_settings(None),
                               as_of=night, validate=False))
    with open_state(root / "acu.state.duckdb") as state:  # the morning after the last night
        first = state.db.scalar("SELECT lead_id FROM lead_versions WHERE as_of = $d ORDER BY rank LIMIT 1", {"d": nights[-1]})
        state.set_status(first, "no_further_action", "analyst1", "explained by a tasking")
    return root, nights


def test_an_older_night_run_again_is_its_first_list_and_changes_nothing_now(nights_run, prefect_harness):
    root, nights = nights_run
    old = nights[-3]
    first_sets = night_sets(root / "out")
    (first_old,) = [p for name, p in first_sets.items() if name.startswith(old.isoformat())]
    current = (root / "out" / "current").resolve()
    before = state_tables(root / "acu.state.duckdb")

    result = CliRunner(env={"COLUMNS": "300"}).invoke(app, [
        "run", "--landing", str(root / "landing"), "--out", str(root / "out"), "--db", str(root / "acu.duckdb"),
        "--as-of", old.isoformat(), "--no-validation"])
    assert result.exit_code == 0, result.output
    (replayed,) = [p for name, p in night_sets(root / "out").items() if name not in first_sets]
    assert replayed.name.startswith(old.isoformat()) and str(replayed) in result.output.replace("\n", "")
    assert (root / "out" / "current").resolve() == current  # out/current stays on the latest night
    assert digest(replayed / "leads.csv") == digest(first_old / "leads.csv")
    assert state_tables(root / "acu.state.duckdb") == before  # no night's analyst state changed


def test_the_latest_night_run_again_after_an_older_one_is_unchanged(nights_run):
    root, nights = nights_run
    sets = night_sets(root / "out")
    (first_latest,) = [p for name, p in sets.items() if name.startswith(nights[-1].isoformat())]
    before = state_tables(root / "acu.state.duckdb")
    result = run_night(settle_night(landing=root / "landing", out=root / "out", db=root / "acu.duckdb",
                                    settings=load_settings(None), as_of=nights[-1], validate=False))
    assert result.reviewed.listed.replay
    assert digest(result.published.night_set / "leads.csv") == digest(first_latest / "leads.csv")
    assert state_tables(root / "acu.state.duckdb") == before
    with duckdb.connect(str(root / "acu.duckdb"), read_only=True) as con:
        statuses = dict(con.execute("SELECT as_of, list(status ORDER BY finished_at) FROM run_log GROUP BY as_of").fetchall())
    assert statuses[nights[-1]][0].startswith("completed") and statuses[nights[-1]][-1] == "replayed"


def test_a_night_never_reviewed_before_the_queue_is_refused(nights_run):
    root, nights = nights_run
    before = state_tables(root / "acu.state.duckdb")
    early = date.fromordinal(nights[0].toordinal() - 10)
    with pytest.raises(NightFailed, match="never reviewed"):
        run_night(settle_night(landing=root / "landing", out=root / "out", db=root / "acu.duckdb",
                               settings=load_settings(None), as_of=early, validate=False))
    assert state_tables(root / "acu.state.duckdb") == before
