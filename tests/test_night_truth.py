"""What the night says is true: paths as a user types them, and failures that look like failures.

The commands run as a user types them: relative paths, from the folder that holds the files,
in a child process (so what Prefect and Great Expectations print is what a user sees).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def acu(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """``acu-audit ARGS`` in a child process from ``cwd``; stdout and stderr together."""
    return subprocess.run([sys.executable, "-m", "acu_audit.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200"})


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def assert_clean(result: subprocess.CompletedProcess) -> None:
    """Exit 0 and nothing that looks like a failure on the terminal."""
    text = output(result)
    assert result.returncode == 0, text[-4000:]
    assert "ERROR" not in text and "Traceback" not in text, text[-4000:]


def drops(landing: Path) -> list[str]:
    return sorted(p.name for p in landing.iterdir() if p.is_dir())


def loaded_drops(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0].isoformat() for r in con.execute(
            "SELECT DISTINCT drop_date FROM ingest_files WHERE status IN ('loaded', 'partial')").fetchall()}


@pytest.fixture(scope="module")
def force(tmp_path_factory) -> Path:
    """A small force whose history (all drops but the last) is loaded into history.duckdb."""
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("relative")
    generate_force(root, staff=150, days=7, seed=5)
    nights = drops(root / "landing")
    result = acu("ingest", "--landing", "landing", "--db", "history.duckdb", "--as-of", nights[-2], "--no-validation", cwd=root)
    assert_clean(result)
    return root


def fresh_db(force: Path, name: str) -> str:
    """A copy of the loaded history, so each case loads (and validates) only the last drop."""
    shutil.copy(force / "history.duckdb", force / name)
    return name


def test_run_with_relative_paths_loads_and_validates_every_drop(force):
    """The contract's run form as a cron line types it: cd /srv/acu && acu-audit run --landing landing --out out ..."""
    nights = drops(force / "landing")
    db = fresh_db(force, "acu.duckdb")
    result = acu("run", "--landing", "landing", "--out", "out", "--db", db, cwd=force)
    assert_clean(result)
    assert loaded_drops(force / db) == set(nights)
    leads = pl.read_csv(force / "out" / "leads.csv")
    assert set(leads["as_of"].cast(pl.String)) == {nights[-1]} and set(leads["data_as_of"].cast(pl.String)) == {nights[-1]}
    assert (force / "out" / "data-docs" / "index.html").exists()  # Great Expectations built its site under --out
    assert not list(force.glob("**/gx")) and not (force / "uncommitted").exists()
    # The night keeps where its time and memory went, phase by phase (benchmarks/nightly.py reads it).
    with duckdb.connect(str(force / db), read_only=True) as con:
        phases = con.execute("SELECT phase, seconds, rss_mb, peak_rss_mb, duckdb_mb FROM run_phases ORDER BY rowid").fetchall()
        within = dict(con.execute("SELECT phase, [step_peak_mb, step_peak_duckdb_mb] FROM run_phases").fetchall())
    # Great Expectations works beside the night; it waits for its results before it publishes.
    assert [p[0] for p in phases] == ["ingest", "feed health", "policing purpose", "run tables", "checks", "outlier score",
                                      "leads", "validation", "publish"]
    assert all(seconds >= 0 and 0 < rss <= peak and 0 < duck < peak for _, seconds, rss, peak, duck in phases), phases
    # What each phase's peak was made of (a phase shorter than the quarter-second sampling may have none).
    assert within["ingest"] != [None, None]
    assert all(peak > 0 and duck >= 0 for peak, duck in within.values() if peak is not None), within


def test_rebuild_and_export_with_relative_paths(force):
    nights = drops(force / "landing")
    db = fresh_db(force, "rebuilt.duckdb")
    shutil.rmtree(force / "rebuilt-out", ignore_errors=True)
    result = acu("rebuild", "--landing", "landing", "--out", "rebuilt-out", "--db", db, "--yes", cwd=force)
    assert_clean(result)
    assert loaded_drops(force / db) == set(nights)
    lead_id = pl.read_csv(force / "rebuilt-out" / "leads.csv")["lead_id"][0]
    result = acu("lead", "export", lead_id, "--out", "packs", "--db", db, "--reason", "referral 7", cwd=force)
    assert_clean(result)
    (pack,) = (force / "packs").iterdir()
    assert pack.name.startswith(f"referral-{lead_id}-") and (pack / "manifest.json").exists()


@pytest.mark.usefixtures("prefect_harness")
def test_the_flows_called_with_relative_parameters_load_every_drop(force, monkeypatch):
    """As a deployment or a backfill passes them: parameters relative to the worker's working folder."""
    from acu_audit.flow.prefect_flow import backfill, nightly_audit

    nights = drops(force / "landing")
    monkeypatch.chdir(force)
    deployed = nightly_audit(landing="landing", db=fresh_db(force, "deployed.duckdb"), out="deployed-out",
                             run_validation=True, return_state=True)
    assert deployed.is_completed(), deployed.message
    assert loaded_drops(force / "deployed.duckdb") == set(nights)
    assert (force / "deployed-out" / "data-docs" / "index.html").exists()

    last = date.fromisoformat(nights[-1])
    filled = backfill(landing="landing", db=fresh_db(force, "backfilled.duckdb"), out="backfilled-out", start=last, end=last,
                      run_validation=True, return_state=True)
    assert filled.is_completed(), filled.message
    assert loaded_drops(force / "backfilled.duckdb") == set(nights)
    assert (force / "backfilled-out" / nights[-1] / "leads.csv").exists()


def _working_tree_copy(target: Path) -> Path:
    """The repository as a fresh clone of the working tree would hold it (tracked and new files)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_the_demo_as_the_readme_types_it_loads_every_night(tmp_path):
    """`scripts/dev demo` from a fresh clone's root, with a smaller force: every night loaded, no ERROR."""
    clone = _working_tree_copy(tmp_path / "clone")
    venv = REPO / ".venv"
    # scripts/dev's stamp: a venv set up from these very pyproject.toml and constraints.txt.
    fingerprint = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + (REPO / "constraints.txt").read_bytes()).hexdigest()[:16]
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        # The same files, so scripts/dev finds its set-up done (a stale stamp would make it
        # reinstall the shared venv from the temporary clone).
        (clone / ".venv").symlink_to(venv)
        command = ["bash", "scripts/dev", "demo", "--staff", "300", "--days", "35"]
    else:  # a venv elsewhere (an IDE's): the same command behind scripts/dev
        command = [sys.executable, "-m", "acu_audit.cli", "demo", "--staff", "300", "--days", "35"]
    result = subprocess.run(command, cwd=clone, capture_output=True, text=True, timeout=1200,
                            env={**os.environ, "COLUMNS": "120"})
    assert_clean(result)
    demo = clone / "demo"
    nights = drops(demo / "landing")
    assert loaded_drops(demo / "acu_audit.duckdb") == set(nights)
    leads = pl.read_csv(demo / "out" / "leads.csv")
    assert set(leads["data_as_of"].cast(pl.String)) == {nights[-1]}
    with duckdb.connect(str(demo / "acu_audit.duckdb"), read_only=True) as con:
        published = {r[0].isoformat() for r in con.execute("SELECT as_of FROM run_log WHERE status LIKE 'completed%'").fetchall()}
    assert published == set(nights[-2:])
    assert "report:" in result.stdout and "Top ten" in result.stdout


def _latest_flow_run():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
        return run


@pytest.mark.usefixtures("prefect_harness")
def test_a_loader_that_raises_fails_the_night_and_the_last_list_stays(force, tmp_path, monkeypatch):
    """acu-audit's own error while loading tonight's drop is not bad data: the night fails."""
    from typer.testing import CliRunner

    import acu_audit.ingest as ingest
    from acu_audit.cli import app
    from test_flows import read_artifact

    nights = drops(force / "landing")
    db, out = tmp_path / "acu.duckdb", tmp_path / "out"
    shutil.copy(force / "history.duckdb", db)
    runner = CliRunner(env={"COLUMNS": "250"})
    command = ["run", "--landing", str(force / "landing"), "--out", str(out), "--db", str(db), "--no-validation"]
    assert runner.invoke(app, [*command, "--as-of", nights[-2]]).exit_code == 0
    published = (out / "current").resolve()

    calls, real = [], ingest.load_file

    def broken(wh, landing_file, *args, **kwargs):
        if landing_file.drop_date.isoformat() != nights[-1]:
            return real(wh, landing_file, *args, **kwargs)  # the drops loaded before: "already loaded"
        calls.append(landing_file)
        raise RuntimeError("loader bug 42")

    monkeypatch.setattr(ingest, "load_file", broken)
    failed = runner.invoke(app, command)
    assert failed.exit_code == 1, failed.output
    assert "the night failed" in failed.output and f"loading drop {nights[-1]}" in failed.output
    assert "loader bug 42" in failed.output
    # Our own error is not retried: no file is tried twice (the drop's files load two at a
    # time, so the other lane's first file may be tried too).
    assert 1 <= len(calls) <= 2 and len({f.path for f in calls}) == len(calls)
    assert (out / "current").resolve() == published  # the previous night's set stays published
    flow_run = _latest_flow_run()
    assert flow_run.state.is_failed()
    (summary,) = read_artifact("night-summary", flow_run.id)
    assert "FAILED" in summary.data and "loader bug 42" in summary.data and f"still the night of {nights[-2]}" in summary.data
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT step FROM run_failures").fetchall() == [(f"loading drop {nights[-1]}",)]

    monkeypatch.undo()
    fixed = runner.invoke(app, command)
    assert fixed.exit_code == 0, fixed.output
    assert loaded_drops(db) == set(nights)
    report = (out / "report.html").read_text()
    assert "Runs that failed since the last published night" in report and "loader bug 42" in report


def test_a_check_that_raises_fails_the_night(force, tmp_path, monkeypatch):
    from acu_audit.config import Settings, load_settings
    from acu_audit.flow import NightFailed, run_night, settle_night

    db = tmp_path / "acu.duckdb"
    shutil.copy(force / "history.duckdb", db)
    own = Settings.check_params
    monkeypatch.setattr(Settings, "check_params", lambda self, check_id: {} if check_id == "u_lookup_burst" else own(self, check_id))
    night = settle_night(landing=force / "landing", out=tmp_path / "out", db=db, settings=load_settings(), validate=False)
    with pytest.raises(NightFailed, match="checks: .*u_lookup_burst"):
        run_night(night)
    assert not (tmp_path / "out" / "current").exists()  # nothing published
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT step FROM run_failures").fetchall() == [("checks",)]
        assert con.execute("SELECT count(*) FROM run_log").fetchall() == [(0,)]


@pytest.mark.usefixtures("prefect_harness")
def test_an_outlier_step_that_raises_fails_the_night_run_in_place_or_as_a_flow(force, tmp_path, monkeypatch):
    """One implementation of a night: a failed step stops it the same way whoever runs it."""
    import acu_audit.flow.steps as steps
    from acu_audit.config import load_settings
    from acu_audit.flow import NightFailed, run_night, settle_night
    from acu_audit.flow.prefect_flow import nightly_audit

    def broken(wh, night):
        raise RuntimeError("the forest fell over")

    monkeypatch.setattr(steps, "outlier_score", broken)
    failures = {}
    for how in ("in place", "as a flow"):
        db = tmp_path / how / "acu.duckdb"
        db.parent.mkdir()
        shutil.copy(force / "history.duckdb", db)
        out = tmp_path / how / "out"
        if how == "in place":
            night = settle_night(landing=force / "landing", out=out, db=db, settings=load_settings(), validate=False)
            with pytest.raises(NightFailed) as failed:
                run_night(night)
            message = str(failed.value)
        else:
            final = nightly_audit(landing=str(force / "landing"), db=str(db), out=str(out), run_validation=False,
                                  return_state=True)
            assert final.is_failed()
            message = final.message
        assert "outlier score: RuntimeError: the forest fell over" in message
        assert not (out / "current").exists()  # nothing published
        with duckdb.connect(str(db), read_only=True) as con:
            steps_failed = [r[0] for r in con.execute("SELECT step FROM run_failures").fetchall()]
            assert con.execute("SELECT count(*) FROM run_log WHERE status <> 'reviewed'").fetchall() == [(0,)]
        failures[how] = steps_failed
    assert failures["in place"] == failures["as a flow"] and len(failures["in place"]) == 1
