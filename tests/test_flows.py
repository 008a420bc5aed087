"""The Prefect flows, run for real under one test harness per session."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from acu_audit.checks import load_catalogue, run_checks
from acu_audit.config import load_settings
from acu_audit.db import Warehouse
from acu_audit.night import shared_parameters
from acu_audit.window import ReviewWindow

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def force(tmp_path_factory):
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("flows")
    generate_force(root, staff=150, days=10, seed=5)
    return root


def drops(force: Path) -> list[str]:
    return sorted(p.name for p in (force / "landing").iterdir())


def read_artifact(key: str, flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
        )


def flow_run_name(flow_run_id) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).name


def test_full_night_completes_with_artifacts(force, tmp_path):
    from acu_audit.flow.prefect_flow import nightly_audit

    db = tmp_path / "acu.duckdb"
    state = nightly_audit(landing=str(force / "landing"), db=str(db), out=str(tmp_path / "out"), run_validation=True, return_state=True)
    assert state.is_completed(), state.message
    assert (tmp_path / "out" / "leads.csv").exists() and (tmp_path / "out" / "report.html").exists()
    run_id = state.state_details.flow_run_id
    assert flow_run_name(run_id) == f"night-{drops(force)[-1]}"  # named by its night, not at random
    (top,) = read_artifact("top-leads", run_id)
    assert "staff_ref" in top.data and "sr-" in top.data
    staff = duckdb.connect(str(db), read_only=True).execute("SELECT DISTINCT staff_id FROM staff").fetchall()
    assert not any(s in top.data for (s,) in staff)  # staff_ref only
    (summary,) = read_artifact("night-summary", run_id)
    assert "rows:" in summary.data and "hits per category" in summary.data and "new" in summary.data
    assert read_artifact("validation-results", run_id)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM validation_results").fetchall()[0][0] > 0
    assert con.execute("SELECT status FROM run_log").fetchall()[0][0].startswith("completed")


def test_a_bad_drop_is_reported_and_the_night_goes_on(force, tmp_path):
    from acu_audit.flow.prefect_flow import nightly_audit

    landing = tmp_path / "landing"
    shutil.copytree(force / "landing", landing)
    last = sorted(landing.iterdir())[-1]
    (last / "access_events.csv").write_bytes(b"\x00\xff not a csv at all \x00")
    state = nightly_audit(landing=str(landing), db=str(tmp_path / "acu.duckdb"), out=str(tmp_path / "out"),
                          run_validation=False, return_state=True)
    assert state.is_completed(), state.message
    warnings = state.result()["warnings"]
    assert any("access_events.csv: unreadable" in w for w in warnings), warnings
    assert any("missing feed: access_events" in w for w in warnings), warnings  # tonight's look-ups are missing
    leads = (tmp_path / "out" / "leads.csv").read_text()
    assert "missing_feeds" in leads.splitlines()[0] and "access_events" in leads


def test_no_drops_means_failed(tmp_path):
    from acu_audit.flow.prefect_flow import nightly_audit

    (tmp_path / "landing").mkdir()
    state = nightly_audit(landing=str(tmp_path / "landing"), db=str(tmp_path / "acu.duckdb"), out=str(tmp_path / "out"),
                          run_validation=False, return_state=True)
    assert state.is_failed() and "no drop in" in state.message and "nothing published" in state.message


def test_rerun_of_a_night_is_idempotent(force, tmp_path):
    from acu_audit.flow.prefect_flow import nightly_audit

    kwargs = dict(landing=str(force / "landing"), db=str(tmp_path / "acu.duckdb"), out=str(tmp_path / "out"), run_validation=False)
    assert nightly_audit(**kwargs, return_state=True).is_completed()
    first = (tmp_path / "out" / "leads.csv").read_bytes()
    state_db = tmp_path / "acu.state.duckdb"
    versions = duckdb.connect(str(state_db), read_only=True).execute("SELECT count(*), max(published_at) FROM lead_versions").fetchall()
    assert nightly_audit(**kwargs, return_state=True).is_completed()
    assert (tmp_path / "out" / "leads.csv").read_bytes() == first
    assert duckdb.connect(str(state_db), read_only=True).execute("SELECT count(*), max(published_at) FROM lead_versions").fetchall() == versions


def test_backfill_interrupted_then_resumed(force, tmp_path, monkeypatch):
    import acu_audit.flow.steps as steps
    from acu_audit.flow.prefect_flow import backfill

    days = [date.fromisoformat(d) for d in drops(force)]
    start, crash, end = days[-4], days[-2], days[-1]
    real_step = steps.leads

    def crashing(wh, night, *inputs):
        if night.as_of == crash:
            raise RuntimeError("power cut")
        return real_step(wh, night, *inputs)

    kwargs = dict(landing=str(force / "landing"), db=str(tmp_path / "acu.duckdb"), out=str(tmp_path / "out"),
                  start=start, end=end, run_validation=False)
    monkeypatch.setattr(steps, "leads", crashing)
    first = backfill(**kwargs, return_state=True)
    assert first.is_failed() and str(crash) in first.message
    assert flow_run_name(first.state_details.flow_run_id) == f"backfill-{start}-to-{end}"
    con = duckdb.connect(str(tmp_path / "acu.duckdb"), read_only=True)
    done = [r[0] for r in con.execute("SELECT as_of FROM run_log ORDER BY as_of").fetchall()]
    finished = {r[0]: r[1] for r in con.execute("SELECT as_of, finished_at FROM run_log").fetchall()}
    con.close()
    assert done == [start, start + timedelta(days=1)]

    monkeypatch.setattr(steps, "leads", real_step)
    second = backfill(**kwargs, return_state=True)
    assert second.is_completed(), second.message
    assert "2 night(s) run, 2 already completed" in second.message
    con = duckdb.connect(str(tmp_path / "acu.duckdb"), read_only=True)
    after = {r[0]: r[1] for r in con.execute("SELECT as_of, finished_at FROM run_log").fetchall()}
    assert sorted(after) == [start + timedelta(days=i) for i in range(4)]
    assert all(after[d] == finished[d] for d in finished)  # the finished nights were not run again
    for day in after:
        assert (tmp_path / "out" / day.isoformat() / "leads.csv").exists()


def test_a_failed_check_is_reported_by_id_and_the_others_run(tmp_path):
    # A parameter of the wrong type (a number where a list of record types belongs) makes one check's SQL fail.
    settings = load_settings(overrides={"checks": {"parameters": {"u_lookup_burst": {"record_types": 5}}}})
    with Warehouse(None) as wh:
        from acu_audit.ingest import ensure_schema

        ensure_schema(wh)
        window = ReviewWindow(date(2026, 3, 28), 28, settings.timezone)
        report = run_checks(wh, settings, shared_parameters(settings, window), "run-x")
    failed = {o.check_id: o.error for o in report.failed}
    assert list(failed) == ["u_lookup_burst"]
    assert failed["u_lookup_burst"].startswith("check u_lookup_burst failed: Binder Error")
    assert len([o for o in report.outcomes if o.status == "ok"]) == len(load_catalogue()) - 1



def test_a_failed_check_keeps_the_nights_earlier_hits_and_the_others_replace_theirs(tmp_path):
    """The night's hits are stored together after every check has run: a check that fails leaves
    its earlier hits for the night as they were; a check that ran replaces its own."""
    settings = load_settings(overrides={"checks": {"parameters": {"u_lookup_burst": {"record_types": 5}}}})
    window = ReviewWindow(date(2026, 3, 28), 28, settings.timezone)
    with Warehouse(None) as wh:
        from acu_audit.ingest import ensure_schema

        ensure_schema(wh)
        earlier = [{"as_of": window.as_of, "run_id": "earlier", "hit_id": f"h-{c}", "check_id": c, "check_version": "v",
                    "category": "U", "status": "stable", "severity": "high", "risk": 70, "staff_id": "S1",
                    "reason": "an earlier run", "evidence": ["access_events:1"], "weight": 1.0, "route": "leads", "kept": True}
                   for c in ("u_lookup_burst", "u_no_purpose_excess")]
        wh.insert_rows("check_hits", earlier)
        report = run_checks(wh, settings, shared_parameters(settings, window), "run-x")
        left = {r[0]: r[1] for r in wh.execute("SELECT check_id, run_id FROM check_hits WHERE as_of = $d", {"d": window.as_of})}
        runs = {r[0]: r[1] for r in wh.execute("SELECT check_id, status FROM check_runs WHERE as_of = $d", {"d": window.as_of})}
    assert [o.check_id for o in report.failed] == ["u_lookup_burst"]
    assert left == {"u_lookup_burst": "earlier"}  # u_no_purpose_excess ran on no data: its earlier hit is gone
    assert runs["u_lookup_burst"] == "failed" and runs["u_no_purpose_excess"] == "ok"
    assert len(runs) == len(load_catalogue())


def test_a_stop_signal_that_surfaces_as_a_librarys_panic_still_ends_the_run_as_stopped(force, tmp_path, monkeypatch):
    """SIGTERM delivered while polars calls back into Python: the exception Prefect's handler raises
    goes into the library, which panics with its own error, so Prefect never delivers the signal again. The run
    must still end as stopped (exit 143, nothing published), not as a failed night (exit 1): seen in CI
    in `test_acu_audit_run_stopped_or_killed_leaves_a_whole_set_no_process_and_no_running_flow_run`."""
    import signal

    import polars.exceptions
    from typer.testing import CliRunner

    import acu_audit.flow.steps as steps
    from acu_audit import runtime
    from acu_audit.cli import app

    def stopped_inside_a_library(wh, night, *inputs):
        try:
            signal.raise_signal(signal.SIGTERM)  # handled now, in this thread: noted, then Prefect's handler raises
        except BaseException as exc:  # what a compiled library does with its callback's exception
            raise polars.exceptions.PanicException(f"called `Result::unwrap()` on an `Err` value: {exc!r}") from None
        raise AssertionError("SIGTERM was not handled in the step")

    monkeypatch.setattr(steps, "leads", stopped_inside_a_library)
    monkeypatch.setenv("ACU_AUDIT_PROGRESS", "console")  # what run sets for itself: not left to later tests
    before = signal.getsignal(signal.SIGTERM)
    try:
        result = CliRunner().invoke(app, ["run", "--landing", str(force / "landing"), "--out", str(tmp_path / "out"),
                                          "--db", str(tmp_path / "acu.duckdb"), "--no-validation"])
    finally:
        signal.signal(signal.SIGTERM, before)
        runtime.forget_stop_signals()
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "stopped:" in result.output and "PanicException" in result.output
    assert "the night failed" not in result.output
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:  # the night's flow run: Crashed, as Prefect marks a stop
        latest = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
    assert latest.state_type.value == "CRASHED", latest.state


def test_demo_command_says_plainly_when_the_force_asked_for_cannot_be_built(tmp_path):
    """A size the generator refuses is a usage error (exit 2, the reason), not a traceback."""
    from typer.testing import CliRunner

    from acu_audit.cli import app

    result = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path / "demo"), "--staff", "40"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "staff must be at least 100" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "demo" / "demo.json").exists()


def test_demo_command_generates_runs_two_nights_and_prints_the_top_leads(tmp_path):
    """The README's first command, on a tiny force: a list, a report and an analyst copy with a yesterday."""
    from typer.testing import CliRunner

    from acu_audit.cli import app

    folder = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--dir", str(folder), "--staff", "150", "--days", "8", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "report:" in result.output and "sr-" in result.output
    out = folder / "out"
    assert (out / "leads.csv").exists() and (out / "report.html").exists()
    with duckdb.connect(str(out / "analyst.duckdb"), read_only=True) as con:
        nights = [r[0] for r in con.execute("SELECT DISTINCT as_of FROM lead_history ORDER BY 1").fetchall()]
    landing_nights = sorted(p.name for p in (folder / "landing").iterdir())
    assert [d.isoformat() for d in nights][-2:] == landing_nights[-2:]
    assert not (folder / "landing" / "truth.json").exists() and (folder / "truth.json").exists()


def test_data_docs_are_built_offline_linked_and_name_the_right_expectation(force, tmp_path):
    """Great Expectations' Data Docs of the night under --out, linked from the report and a
    Prefect link artifact, with no values in them; the validation-results artifact says what
    failed in words (an unparseable timestamp is not 'not null')."""
    import json

    from acu_audit.flow.prefect_flow import nightly_audit

    landing = tmp_path / "landing"
    shutil.copytree(force / "landing", landing)
    last = sorted(landing.iterdir())[-1]
    with open(last / "access_events.csv", "a", encoding="utf-8") as handle:
        handle.write("E-BAD-1,yesterday,S-NAME-SMITH,PNC,view,person,R1,P1,,,\n")
    out = tmp_path / "out"
    state = nightly_audit(landing=str(landing), db=str(tmp_path / "acu.duckdb"), out=str(out), run_validation=True,
                          return_state=True)
    assert state.is_completed(), state.message
    index = out / "data-docs" / "index.html"
    assert index.exists() and index.resolve().parent.parent.name.startswith(last.name)  # inside tonight's folder
    pages = list((out / "data-docs" / "validations").rglob("*.html"))
    assert len(pages) >= 10  # one per file validated (every drop: this was a first run)
    assert not any("S-NAME-SMITH" in p.read_text() or "yesterday" in p.read_text() for p in pages)
    assert 'id="data-docs-link" href="data-docs/index.html"' in (out / "report.html").read_text()
    run_id = state.state_details.flow_run_id
    (link,) = read_artifact("data-docs", run_id)
    assert "data-docs/index.html" in str(link.data) and "file://" in str(link.data)
    (validation,) = read_artifact("validation-results", run_id)
    rows = json.loads(validation.data) if isinstance(validation.data, str) else validation.data
    failed = [r for r in rows if r.get("table_name") == "access_events"]
    assert any(r["expectation"] == "occurred_at: the value given is an ISO-8601 timestamp with a zone (e.g. 2026-03-04T21:15:00Z)"
               for r in failed), failed
    assert not list(out.glob(".data-docs-*"))  # the staging folder became part of the night's set
