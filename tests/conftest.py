"""Shared test helpers. Prefect and Great Expectations start only in the tests that need them."""

from __future__ import annotations

import atexit
import csv
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Never touch the user's real key or Prefect home from tests. Prefect reads its settings
# when first imported, so these are set before anything imports it.
_PREFECT_TMP = Path(tempfile.mkdtemp(prefix="acu-audit-prefect-"))
atexit.register(shutil.rmtree, _PREFECT_TMP, ignore_errors=True)
os.environ.setdefault("ACU_AUDIT_SECRET", "test-secret-not-for-production")
os.environ["PREFECT_HOME"] = str(_PREFECT_TMP / "home")
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(_PREFECT_TMP / "storage")  # cached results outlive a harness
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)

from acu_audit.contract import TABLES  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Fixtures that start Prefect or generate and run a force: a test using any of them (directly or
# through another fixture) is end-to-end, marked ``slow``. `pytest -m "not slow"` is the fast loop
# (a few minutes on 2 cores); the README's test command and .ci/run run everything.
END_TO_END_FIXTURES = {
    "prefect_harness", "published", "force", "small_force", "early_run", "nights_run", "hostile_force", "bad_night",
    "profiled", "mid_force", "run",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if END_TO_END_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (it takes ~20 s to start)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):  # saves ~1 s per flow run
        with prefect_test_harness(server_startup_timeout=None):
            yield


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


def run_contract_form(folder: Path, *extra: str) -> None:
    """`acu-audit run --landing landing --out out --no-validation` from ``folder`` (default --db in the cwd)."""
    from typer.testing import CliRunner

    from acu_audit.cli import app

    cwd = os.getcwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(app, ["run", "--landing", "landing", "--out", "out", "--no-validation", *extra])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output


@pytest.fixture
def warehouse():
    from acu_audit.db import Warehouse
    from acu_audit.ingest import ensure_schema

    wh = Warehouse(None)
    ensure_schema(wh)
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def published(tmp_path_factory, prefect_harness) -> Path:
    """A small generated force with its last two nights run through the nightly flow.

    What the notebooks and the explore functions read: ``out/analyst.duckdb`` holds the
    last night and, through the lead history, the night before.
    """
    from datetime import date

    from acu_audit.cli import run_flow
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("published")
    generate_force(root, staff=300, days=21, seed=11)
    drops = sorted(p.name for p in (root / "landing").iterdir() if p.is_dir())
    for night in drops[-2:]:
        run_flow(landing=root / "landing", out_dir=root / "out", db=root / "acu_audit.duckdb",
                 as_of=date.fromisoformat(night), validate=False)
    return root
