"""The nightly audit as a Prefect flow.

Thin orchestration over ``acu_audit.pipeline``: one task per landing drop (with
retries for transient file errors), then feed health, validation results, policing
purpose, checks, outlier score, leads and publishing. A bad drop is quarantined and
reported and the night goes on; a failed check is reported by id and the others
run; the flow ends Completed (with a warnings message and artifacts naming what was
missing) or Failed only when no list could be published.

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
from acu_audit.files import owner_only
from acu_audit.ingest import discover_drops, finish_ingest_run, ingest_drop, start_ingest_run
from acu_audit.pipeline import (
    RunContext,
    data_docs_staging,
    ingest_warnings,
    nights_to_catch_up,
    open_warehouse,
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
from pipelines.artifacts import publish_artifacts  # noqa: E402

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


@task(name="ingest-drop", retries=2, retry_delay_seconds=5, **STEP)
def ingest_drop_task(wh, drop, report, validator, progress) -> list:
    """Load one drop; a transient error (a file still being written) is retried."""
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
    """Load new drops, run the checks and the outlier score over the window, publish leads."""
    owner_only()  # a served flow runs outside the CLI: its files are owner-only too
    logger = get_run_logger()
    ctx = RunContext(
        landing=Path(landing), out=Path(out), db=Path(db), state=Path(state) if state else None,
        settings=load_settings(config), as_of=as_of, reveal_identities=reveal_identities,
        reveal_reason=reveal_reason, actor=actor, validate=run_validation, progress=_progress(logger),
    )
    from acu_audit.validation import GxValidator

    validator = GxValidator(docs_dir=data_docs_staging(ctx)) if run_validation else None
    with open_warehouse(ctx) as wh:
        started = time.perf_counter()
        report = start_ingest_run(wh, ctx.landing, as_of, f"ingest-{ctx.run_id}")
        drops, report.warnings = discover_drops(ctx.landing, as_of)
        ctx.warnings.extend(report.warnings)
        for drop in drops:
            state_ = ingest_drop_task(wh, drop, report, validator, ctx.progress, return_state=True)
            if not state_.is_completed():
                ctx.warnings.append(f"drop {drop.drop_date} could not be loaded: {state_.message}")
        finish_ingest_run(wh, report, validator, started)
        ctx.results["ingest"] = report
        ctx.results["validation_rows"] = validation_failures(wh, report.run_id)
        ctx.warnings.extend(ingest_warnings(report))
        totals = report.totals()
        ctx.timed("ingest", report.seconds, f"{len(report.processed)} files, {totals['loaded']:,} rows loaded, "
                  f"{totals['duplicate']:,} duplicate, {totals['rejected']:,} rejected (Great Expectations {report.gx_seconds:.1f} s)")
        if ctx.as_of is None:
            ctx.as_of = wh.scalar("SELECT max(drop_date) FROM ingest_files WHERE loaded > 0 OR duplicate > 0")
            if ctx.as_of is None:
                return Failed(message=f"no drop in {landing} could be loaded: no list published")

        feed_health_task(wh, ctx)
        # Behind by more than one night: review the missed nights first, so tonight's queue is
        # what nightly runs would have built (acu_audit.pipeline.nights_to_catch_up).
        missed = nights_to_catch_up(wh, ctx)
        if missed:
            ctx.progress(f"the database is behind: reviewing {len(missed)} missed night(s), {missed[0]} to {missed[-1]}")
            started = time.perf_counter()
        for night in missed:
            night_state = catch_up_task(wh, ctx, night, return_state=True)
            if not night_state.is_completed():
                return Failed(message=f"catch-up stopped at {night}: {night_state.message}; run again to resume from {night}")
        if missed:
            ctx.timed("catch-up", time.perf_counter() - started, f"{len(missed)} missed night(s) reviewed")
        ctx.results["caught_up"] = missed
        try:
            purpose_task(wh, ctx)
            checks_task(wh, ctx)
        except Exception as exc:  # without labelled events and hits there is nothing to rank
            return Failed(message=f"no list published: {exc}")
        outlier_state = outliers_task(wh, ctx, return_state=True)
        if not outlier_state.is_completed():
            ctx.warnings.append(f"outlier score failed, leads use check hits only: {outlier_state.message}")
            ctx.results["outliers"] = None
        try:
            leads_task(wh, ctx)
            publish_task(wh, ctx)
        except Exception as exc:
            return Failed(message=f"no list published: {exc}")
        record_run(wh, ctx)
    publish_artifacts(ctx)
    summary = f"as of {ctx.as_of}: {len(ctx.results['leads'].rows)} leads published to {out}"
    if ctx.warnings:
        return Completed(message=f"{summary}, with {len(ctx.warnings)} warning(s): " + "; ".join(ctx.warnings[:5]),
                         data={"as_of": str(ctx.as_of), "warnings": ctx.warnings, "leads": len(ctx.results["leads"].rows)})
    return Completed(message=summary, data={"as_of": str(ctx.as_of), "warnings": [], "leads": len(ctx.results["leads"].rows)})


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
