"""The nightly job as plain functions, one per step.

``pipelines/`` wraps these steps in Prefect tasks; tests and the CLI can call
them directly. Each step reads the previous step's tables and writes its own:

ingest -> policing purpose -> checks -> outlier scores -> leads -> publish
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from acu_audit.config import Settings
from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError
from acu_audit.window import ReviewWindow

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class StepTiming:
    name: str
    seconds: float
    detail: str = ""


@dataclass
class RunContext:
    """Everything one run needs; passed from step to step."""

    landing: Path
    out: Path
    db: Path
    settings: Settings
    as_of: date | None = None
    reveal_identities: bool = False
    validate: bool = True
    run_id: str = field(default_factory=lambda: f"run-{uuid.uuid4().hex[:12]}")
    progress: Progress = _quiet
    timings: list[StepTiming] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    def window(self) -> ReviewWindow:
        if self.as_of is None:
            raise AcuAuditError("no as-of date: nothing has been loaded yet")
        return ReviewWindow(self.as_of, self.settings.review_window_days, self.settings.timezone)

    def timed(self, name: str, seconds: float, detail: str = "") -> None:
        self.timings.append(StepTiming(name, seconds, detail))
        self.progress(f"{name}: {detail} ({seconds:.1f} s)" if detail else f"{name} ({seconds:.1f} s)")


def open_warehouse(ctx: RunContext) -> Warehouse:
    rt = ctx.settings.runtime
    return Warehouse(ctx.db, threads=rt.get("threads"), memory_limit=rt.get("memory_limit"))


def step_ingest(wh: Warehouse, ctx: RunContext) -> Any:
    """Load every drop up to the as-of date; settle the as-of date (default: the latest drop)."""
    from acu_audit.ingest import ingest_landing
    from acu_audit.validation import GxValidator

    started = time.perf_counter()
    validator = GxValidator() if ctx.validate else None
    report = ingest_landing(
        wh,
        ctx.landing,
        up_to=ctx.as_of,
        validator=validator,
        run_id=f"ingest-{ctx.run_id}",
        on_file=lambda f: ctx.progress(f"  {f.drop_date} {f.file_name}: {f.status}")
        if f.status != "already_loaded"
        else None,
    )
    if ctx.as_of is None:
        latest = wh.scalar("SELECT max(drop_date) FROM ingest_files WHERE loaded > 0 OR duplicate > 0")
        if latest is None:
            raise AcuAuditError(f"no drop in {ctx.landing} could be loaded: nothing to audit")
        ctx.as_of = latest
    ctx.warnings.extend(report.warnings)
    for f in report.processed:
        if f.status in ("unreadable", "rejected"):
            ctx.warnings.append(f"{f.drop_date} {f.file_name}: {f.status}: {f.error}")
    totals = report.totals()
    ctx.results["ingest"] = report
    ctx.timed(
        "ingest",
        time.perf_counter() - started,
        f"{len(report.processed)} files, {totals['loaded']:,} rows loaded, {totals['duplicate']:,} duplicate, "
        f"{totals['rejected']:,} rejected (Great Expectations {report.gx_seconds:.1f} s)",
    )
    return report


def step_purpose(wh: Warehouse, ctx: RunContext) -> Any:
    from acu_audit.purpose import label_policing_purpose

    report = label_policing_purpose(wh, ctx.settings, ctx.window())
    ctx.results["purpose"] = report
    ctx.timed("policing purpose", report.seconds, f"{len(report.days_labelled)} day(s) labelled, {report.events_labelled:,} look-ups")
    return report


def step_checks(wh: Warehouse, ctx: RunContext) -> Any:
    from acu_audit.checks import run_checks

    report = run_checks(wh, ctx.settings, ctx.window(), ctx.run_id)
    for failed in report.failed:
        ctx.warnings.append(failed.error or f"check {failed.check_id} failed")
    ctx.results["checks"] = report
    hits = sum(o.hits for o in report.outcomes)
    ctx.timed("checks", report.seconds, f"{len(report.outcomes)} checks, {hits:,} hits, {len(report.failed)} failed")
    return report


def step_publish_hits(wh: Warehouse, ctx: RunContext) -> Path:
    from acu_audit.publish import write_hits

    started = time.perf_counter()
    path = write_hits(wh, ctx)
    ctx.timed("publish hits", time.perf_counter() - started, str(path))
    return path


def run_nightly(ctx: RunContext) -> RunContext:
    """Every step in order, without Prefect (the flow in pipelines/ runs the same steps as tasks)."""
    with open_warehouse(ctx) as wh:
        step_ingest(wh, ctx)
        step_purpose(wh, ctx)
        step_checks(wh, ctx)
        step_publish_hits(wh, ctx)
        wh.checkpoint()
    return ctx
