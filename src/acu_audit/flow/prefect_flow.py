"""The nightly audit and the backfill as Prefect flows, over the one implementation of a night.

:func:`nightly_audit` runs :func:`acu_audit.flow.nightly.run_night` with a runner that makes
each step a Prefect task: one task per landing drop (retried only for transient input/output
errors), feed health, one per missed night, policing purpose, the run tables, checks, outlier
score, leads and publishing. Bad data (a malformed row or file) is quarantined and reported
and the night goes on: the flow ends Completed, with the warnings in its message and
artifacts. An error of acu-audit's own fails the night: the flow ends Failed, nothing is
published, the previous night's list stays, and the night-summary artifact says what broke.

Deployments are served from ``pipelines/`` (``serve.py``, ``prefect.yaml``), which imports these.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TagsContext
from prefect.states import Completed, Failed
from prefect.utilities.annotations import quote

from acu_audit.config import load_settings
from acu_audit.errors import AcuAuditError, Interrupted
from acu_audit.files import owner_only
from acu_audit.flow.artifacts import publish_artifacts, publish_failure_artifact
from acu_audit.flow.nightly import Journal, NightFailed, backfill_nights, record_failure, run_night, settle_night
from acu_audit.night import Night, Reveal
from acu_audit.paths import absolute, absolute_or_none, text_or_none
from acu_audit.runtime import noting_stop_signals, stop_requested

T = TypeVar("T")


def _progress(logger) -> Callable[[str], None]:
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


def as_task(name: str, fn: Callable[..., T], *args: Any, label: str | None = None, failing: str | None = None,
            retry_io: bool = False) -> T:
    """The Prefect runner of a night (:class:`acu_audit.flow.nightly.Runner`): the step as a task.

    The warehouse connection is an argument of every step, so no step can be cached. A task
    that crashed was stopped from outside (a signal); one that failed is acu-audit's own error.

    Two of Prefect's per-task costs are skipped (together about 0.8 s a task, measured on the
    catch-up of a 2,000-staff force): the arguments are quoted, so Prefect does not walk the
    night's settings, the ingest report and the warehouse looking for futures; and the task runs
    carry no tags (the flow run keeps its own, ``host:`` and ``pid:``), so Prefect does not ask
    its API for tag concurrency slots, with a lease, before every step. No step uses either.
    """
    retries = {"retries": 2, "retry_delay_seconds": 5, "retry_condition_fn": _transient} if retry_io else {}
    step = task(fn, name=name, task_run_name=label or name, cache_policy=NO_CACHE, **retries)
    with TagsContext(current_tags=set()):
        state = step(*(quote(arg) for arg in args), return_state=True)
    if state.is_crashed():
        raise Interrupted(state.message or "a task was stopped")
    if not state.is_completed():
        # The task's own exception, so a failure reads the same as in place (flow.nightly.DIRECT).
        cause = state.result(raise_on_failure=False)
        raise NightFailed(failing or name, cause if isinstance(cause, BaseException)
                          else state.message or f"the {name} task failed")
    return state.result()


def _night_run_name() -> str:
    """A nightly flow run is named by its night (``night-2026-11-29``), not at random: the night
    asked for, or else the newest drop in the landing, found as the night will settle it."""
    from pathlib import Path

    from prefect.runtime import flow_run

    from acu_audit.ingest import discover_drops

    params = flow_run.parameters
    as_of = params.get("as_of")
    if as_of is None:
        try:
            drops, _ = discover_drops(Path(params["landing"]))
        except (OSError, AcuAuditError):  # the night itself says what is wrong with the landing
            drops = []
        as_of = drops[-1].drop_date if drops else "newest-drop"
    return f"night-{as_of}"


def _backfill_run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    return f"backfill-{params.get('start')}-to-{params.get('end')}"


@flow(name="nightly-audit", log_prints=False, flow_run_name=_night_run_name)
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
    progress = _progress(logger)
    night: Night | None = None
    try:
        with noting_stop_signals():
            try:
                # Parameters are paths as the deployment or caller wrote them: absolute from here on.
                night = settle_night(landing=landing, db=db, out=out, as_of=as_of, state=state,
                                     settings=load_settings(absolute_or_none(config)),
                                     reveal=Reveal(reveal_identities, reveal_reason, actor), validate=run_validation)
            except Exception as exc:
                raise NightFailed("settling the night", exc) from exc
            result = run_night(night, run=as_task, progress=progress)
    except NightFailed as failure:
        if stop_requested():  # a signal stopped the night; Prefect's handling of it raised on the way
            raise Interrupted(f"stopped by a signal while {failure.step}") from failure
        if night is None:  # run_night records a failure of its own; this one is of settling the night
            record_failure(absolute(db), as_of, f"run-{uuid.uuid4().hex[:12]}", failure, progress)
        logger.error(f"the night failed: {failure}")
        publish_failure_artifact(night, absolute(out), failure, failure.journal or Journal())
        return Failed(message=f"{failure}; nothing published, the previous night's list stays")
    publish_artifacts(result)
    leads = len(result.leads.rows)
    published = result.published
    summary = (f"as of {night.as_of}: {leads} leads published to {night.paths.out}" if published.made_current else
               f"the night of {night.as_of} run again, as first published: {leads} leads in {published.night_set} "
               f"({night.paths.out / 'current'} stays on the latest night)")
    data = {"as_of": str(night.as_of), "warnings": result.warnings, "leads": leads, "night_set": str(published.night_set),
            "current": published.made_current, "replay": result.reviewed.listed.replay}
    if result.warnings:
        return Completed(message=f"{summary}, with {len(result.warnings)} warning(s): " + "; ".join(result.warnings[:5]), data=data)
    return Completed(message=summary, data=data)


@flow(name="backfill-audit", flow_run_name=_backfill_run_name)
def backfill(
    landing: str,
    db: str,
    out: str,
    start: date,
    end: date,
    state: str | None = None,
    config: str | None = None,
    run_validation: bool = True,
    force: bool = False,
):
    """Run the nightly audit for every date from ``start`` to ``end``, in order; resumable.

    Nights already published (``run_log``) are skipped, so a second call after a crash carries
    on where the first stopped; ``force`` re-runs them, which changes nothing (a replay). Each
    night's outputs go to ``OUT/<date>/``.
    """
    logger = get_run_logger()
    # Parameters are paths as the deployment or caller wrote them: absolute from here on.
    landing, db, out_dir = absolute(landing), absolute(db), absolute(out)
    state, config = text_or_none(absolute_or_none(state)), text_or_none(absolute_or_none(config))
    try:
        nights, skipped = backfill_nights(db, start, end, force=force)
    except Exception as exc:  # noqa: BLE001 - an end before the start
        return Failed(message=str(exc))
    for day in skipped:
        logger.info(f"{day}: already completed, nothing to do")
    for day in nights:
        result = nightly_audit(
            landing=str(landing), db=str(db), out=str(out_dir / day.isoformat()), as_of=day, state=state, config=config,
            run_validation=run_validation, return_state=True,
        )
        if not result.is_completed():
            return Failed(message=f"stopped at {day}: {result.message}; run again to resume from {day}")
    return Completed(message=f"{len(nights)} night(s) run, {len(skipped)} already completed",
                     data={"ran": [str(d) for d in nights]})
