"""The nightly audit as a Prefect flow.

Thin orchestration over ``acu_audit.pipeline``: one task per landing drop (retried only
for transient input/output errors), then feed health, policing purpose, checks, outlier
score, leads and publishing. Bad data (a malformed row or file) is quarantined and reported
and the night goes on: the flow ends Completed, with the warnings in its message and
artifacts. An error of acu-audit's own (a drop that raised while loading, a check that
raised, any step) fails the night: the flow ends Failed, nothing is published, the previous
night's list stays, and the night-summary artifact says what broke.

Local run (Prefect's ephemeral API, no server):

    python pipelines/nightly.py --landing demo/landing --db demo/acu_audit.duckdb --out demo/out
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed

from acu_audit.config import load_settings
from acu_audit.errors import Interrupted
from acu_audit.files import owner_only
from acu_audit.ingest import discover_drops, finish_ingest_run, ingest_drop, start_ingest_run
from acu_audit.paths import absolute, absolute_or_none
from acu_audit.runtime import noting_stop_signals, stop_requested
from acu_audit.pipeline import (
    NightFailed,
    RunContext,
    data_docs_staging,
    default_as_of,
    ingest_warnings,
    nights_to_catch_up,
    open_warehouse,
    record_failure,
    record_run,
    review_missed_night,
    step_checks,
    step_feeds,
    step_leads,
    step_outliers,
    step_publish,
    step_purpose,
    validation_failures,
)

if __package__ in (None, ""):  # run as a script: python pipelines/nightly.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipelines.artifacts import publish_artifacts, publish_failure_artifact  # noqa: E402

# The DuckDB connection is an argument of every task: it cannot be a cache key.
STEP = {"cache_policy": NO_CACHE}


def _progress(logger):
    """Log to Prefect; with ACU_AUDIT_PROGRESS=console also print plain lines (acu-audit run)."""
    console = os.environ.get("ACU_AUDIT_PROGRESS") == "console"

    def emit(message: str) -> None:
        logger.info(message)
        if console:
            print(f"  {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)

    return emit


def _transient(task, task_run, state) -> bool:
    """Retry a drop only for an input/output error (a file still being written, a network share
    that blinked); acu-audit's own error would fail the same way again."""
    exc = state.data if isinstance(state.data, BaseException) else None
    return isinstance(exc, OSError) and not isinstance(exc, (FileNotFoundError, PermissionError))


@task(name="ingest-drop", task_run_name="ingest-{drop.drop_date}", retries=2, retry_delay_seconds=5,
      retry_condition_fn=_transient, **STEP)
def ingest_drop_task(wh, drop, report, validator, progress) -> list:
    """Load one drop; a transient input/output error is retried."""
    results = ingest_drop(
        wh, drop, report, validator,
        on_file=lambda f: progress(f"  {f.drop_date} {f.file_name}: {f.status} ({f.loaded:,} loaded, {f.rejected:,} rejected)")
        if f.status != "already_loaded" else None,
    )
    return [r.ledger_json() for r in results]


@task(name="feed-health", **STEP)
def feed_health_task(wh, ctx):
    return step_feeds(wh, ctx)


@task(name="catch-up-night", task_run_name="catch-up-{night}", **STEP)
def catch_up_task(wh, ctx, night):
    """Review one night the database missed (a first run, a gap): no outputs, the queue kept."""
    review_missed_night(wh, ctx, night)


@task(name="policing-purpose", **STEP)
def purpose_task(wh, ctx):
    return step_purpose(wh, ctx)


@task(name="checks", **STEP)
def checks_task(wh, ctx):
    return step_checks(wh, ctx)


@task(name="outlier-score", **STEP)
def outliers_task(wh, ctx):
    return step_outliers(wh, ctx)


@task(name="leads", **STEP)
def leads_task(wh, ctx):
    return step_leads(wh, ctx)


@task(name="publish", **STEP)
def publish_task(wh, ctx):
    return step_publish(wh, ctx)


@flow(name="nightly-audit", log_prints=False)
def nightly_audit(
    landing: str,
    db: str,
    out: str,
    as_of: date | None = None,
    state: str | None = None,
    config: str | None = None,
    reveal_identities: bool = False,
    reveal_reason: str | None = None,
    actor: str | None = None,
    run_validation: bool = True,
) -> Any:
    """Load new drops, run the checks and the outlier score over the window, publish leads.

    Completed (perhaps with warnings about bad data) when tonight's list is published; Failed,
    with the previous night's list left published, when acu-audit itself could not finish.
    """
    owner_only()  # a served flow runs outside the CLI: its files are owner-only too
    logger = get_run_logger()
    # Parameters are paths as the deployment or caller wrote them: absolute from here on.
    ctx = RunContext(
        landing=absolute(landing), out=absolute(out), db=absolute(db), state=absolute_or_none(state),
        settings=load_settings(absolute_or_none(config)), as_of=as_of, reveal_identities=reveal_identities,
        reveal_reason=reveal_reason, actor=actor, validate=run_validation, progress=_progress(logger),
    )
    try:
        with noting_stop_signals():
            _night(ctx)
    except NightFailed as failure:
        if stop_requested():  # a signal stopped the night; Prefect's handling of it raised on the way
            raise Interrupted(f"stopped by a signal while {failure.step}") from failure
        record_failure(ctx, failure)
        logger.error(f"the night failed: {failure}")
        publish_failure_artifact(ctx, failure)
        return Failed(message=f"{failure}; nothing published, the previous night's list stays")
    publish_artifacts(ctx)
    leads = len(ctx.results["leads"].rows)
    night_set, current = ctx.results["night_set"], ctx.results["made_current"]
    summary = (f"as of {ctx.as_of}: {leads} leads published to {ctx.out}" if current else
               f"the night of {ctx.as_of} run again, as first published: {leads} leads in {night_set} "
               f"({ctx.out / 'current'} stays on the latest night)")
    data = {"as_of": str(ctx.as_of), "warnings": ctx.warnings, "leads": leads, "night_set": str(night_set),
            "current": current, "replay": bool(ctx.results.get("replay"))}
    if ctx.warnings:
        return Completed(message=f"{summary}, with {len(ctx.warnings)} warning(s): " + "; ".join(ctx.warnings[:5]), data=data)
    return Completed(message=summary, data=data)


def _stop_if_crashed(state) -> None:
    """A task that crashed was stopped from outside (a signal), not failed by our code."""
    if state.is_crashed():
        raise Interrupted(state.message or "a task was stopped")


def _night(ctx: RunContext) -> None:
    """The night's tasks in order; any error in them raises :class:`NightFailed` naming the step."""
    from acu_audit.validation import GxValidator

    step = "opening the warehouse"
    try:
        validator = GxValidator(docs_dir=data_docs_staging(ctx)) if ctx.validate else None
        with open_warehouse(ctx) as wh:
            step = "loading the drops"
            started = time.perf_counter()
            report = start_ingest_run(wh, ctx.landing, ctx.as_of, f"ingest-{ctx.run_id}")
            drops, report.warnings = discover_drops(ctx.landing, ctx.as_of)
            report.drops_found = [d.drop_date for d in drops]
            ctx.warnings.extend(report.warnings)
            for drop in drops:
                drop_state = ingest_drop_task(wh, drop, report, validator, ctx.progress, return_state=True)
                _stop_if_crashed(drop_state)
                if not drop_state.is_completed():
                    # Bad data in a file is a warning (the ledger says so); a drop that raised is ours.
                    raise NightFailed(f"loading drop {drop.drop_date}", drop_state.message or "the ingest task failed")
            finish_ingest_run(wh, report, validator, started)
            ctx.results["ingest"] = report
            ctx.results["validation_rows"] = validation_failures(wh, report.run_id)
            ctx.warnings.extend(ingest_warnings(report))
            totals = report.totals()
            ctx.timed("ingest", report.seconds, f"{len(report.processed)} files, {totals['loaded']:,} rows loaded, "
                      f"{totals['duplicate']:,} duplicate, {totals['rejected']:,} rejected (Great Expectations {report.gx_seconds:.1f} s)")
            if ctx.as_of is None:
                step = "settling the night"
                ctx.as_of = default_as_of(report, ctx.landing)

            step = "feed health"
            feed_health_task(wh, ctx)
            # Behind by more than one night: review the missed nights first, so tonight's queue is
            # what nightly runs would have built (acu_audit.pipeline.nights_to_catch_up).
            missed = nights_to_catch_up(wh, ctx)
            if missed:
                ctx.progress(f"the database is behind: reviewing {len(missed)} missed night(s), {missed[0]} to {missed[-1]}")
                started = time.perf_counter()
            for night in missed:
                night_state = catch_up_task(wh, ctx, night, return_state=True)
                _stop_if_crashed(night_state)
                if not night_state.is_completed():
                    raise NightFailed(f"reviewing the missed night {night}",
                                      f"{night_state.message}; run again to resume from {night}")
            if missed:
                ctx.timed("catch-up", time.perf_counter() - started, f"{len(missed)} missed night(s) reviewed")
            ctx.results["caught_up"] = missed
            for step, step_task in (("policing purpose", purpose_task), ("checks", checks_task),
                                    ("outlier score", outliers_task), ("leads", leads_task), ("publishing", publish_task)):
                step_state = step_task(wh, ctx, return_state=True)
                _stop_if_crashed(step_state)
                if not step_state.is_completed():
                    raise NightFailed(step, step_state.message or f"the {step} task failed")
            step = "recording the run"
            record_run(wh, ctx)
    except NightFailed:
        raise
    except Exception as exc:
        raise NightFailed(step, exc) from exc


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Run the nightly audit flow once (ephemeral Prefect API).")
    parser.add_argument("--landing", required=True)
    parser.add_argument("--db", default="acu_audit.duckdb")
    parser.add_argument("--out", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat)
    args = parser.parse_args()
    final = nightly_audit(landing=args.landing, db=args.db, out=args.out, as_of=args.as_of, return_state=True)
    print(final.message)
    sys.exit(0 if final.is_completed() else 1)
