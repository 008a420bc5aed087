"""The nightly job as plain functions, one per step.

``pipelines/`` wraps these steps in Prefect tasks; tests and the CLI can call
them directly. Each step reads the previous step's tables and writes its own:

ingest -> policing purpose -> checks -> outlier scores -> leads -> publish
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from acu_audit.config import Settings
from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError, value_free
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
    reveal_reason: str | None = None
    actor: str | None = None
    state: Path | None = None  # analyst-state file; default <db>.state.duckdb
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


def ingest_warnings(report: Any) -> list[str]:
    """What a run says about its ingest: files not loaded, and rows quarantined."""
    warnings = [f"{f.drop_date} {f.file_name}: {f.status}: {f.error}"
                for f in report.processed if f.status in ("unreadable", "rejected", "refused")]
    rejected_rows = sum(f.rejected for f in report.processed if f.status in ("partial", "rejected"))
    if rejected_rows:
        warnings.append(f"{rejected_rows:,} row(s) of the drops loaded now were quarantined; see the report's data "
                        f"quality section or `acu-audit quarantine list`")
    return warnings


def data_docs_staging(ctx: RunContext) -> Path:
    """Where tonight's Great Expectations Data Docs are built before publish moves them into
    the night's folder (``publish.write_outputs``)."""
    return Path(ctx.out) / f".data-docs-{ctx.run_id}"


def step_ingest(wh: Warehouse, ctx: RunContext) -> Any:
    """Load every drop up to the as-of date; settle the as-of date (default: the latest drop)."""
    from acu_audit.ingest import ingest_landing
    from acu_audit.validation import GxValidator

    started = time.perf_counter()
    validator = GxValidator(docs_dir=data_docs_staging(ctx)) if ctx.validate else None
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
        ctx.as_of = default_as_of(report, ctx.landing)
    ctx.warnings.extend(report.warnings)
    ctx.warnings.extend(ingest_warnings(report))
    totals = report.totals()
    ctx.results["ingest"] = report
    ctx.timed(
        "ingest",
        time.perf_counter() - started,
        f"{len(report.processed)} files, {totals['loaded']:,} rows loaded, {totals['duplicate']:,} duplicate, "
        f"{totals['rejected']:,} rejected (Great Expectations {report.gx_seconds:.1f} s)",
    )
    return report


def default_as_of(report: Any, landing: Path) -> date:
    """The night a run audits when no --as-of is given: the newest drop in the landing.

    The newest drop *found*, not the newest that loaded: a drop that is there and did not
    load is never passed over in silence for the night before (its feeds show as missing).
    """
    if report.latest_drop is None:
        raise AcuAuditError(f"no drop in {landing}: nothing to audit (drops are folders named YYYY-MM-DD)")
    return report.latest_drop


def step_feeds(wh: Warehouse, ctx: RunContext) -> Any:
    """Tonight's rows per feed against the trailing baseline; missing or thin feeds become warnings."""
    from acu_audit.feeds import check_feeds

    started = time.perf_counter()
    wh.script("schema/derived.sql")
    health = check_feeds(wh, ctx.settings, ctx.as_of)
    ctx.results["feed_health"] = health
    ctx.warnings.extend(health.warnings())
    bad = [s for s in health.statuses if s.status in ("missing", "thin")]
    ctx.timed("feed health", time.perf_counter() - started, f"data as of {health.data_as_of}; {len(bad)} missing or thin feed(s)")
    return health


def validation_failures(wh: Warehouse, ingest_run_id: str) -> list[dict]:
    """Great Expectations results of one ingest run that failed or could not run, for the analyst."""
    if not wh.table_exists("validation_results"):
        return []
    return wh.records(
        """SELECT CAST(drop_date AS VARCHAR) AS drop_date, table_name, coalesce(description, column_name) AS expectation,
                  expectation AS gx_expectation, unexpected_count, coalesce(error, '') AS error
           FROM validation_results WHERE ingest_run_id = $r AND NOT success ORDER BY ALL""",
        {"r": ingest_run_id},
        step="validation failures",
    )


def record_run(wh: Warehouse, ctx: RunContext, status: str | None = None) -> None:
    """Note the completed night (backfill and the catch-up resume from here).

    ``status`` ``reviewed``: a missed night reviewed by a catch-up, with no outputs of its own. A
    night run again (a replay, ``ctx.results["replay"]``) is added as ``replayed`` beside the
    first run's entry, which it never replaces.
    """
    import hashlib

    replayed = status is None and bool(ctx.results.get("replay"))
    status = status or ("replayed" if replayed else "completed_with_warnings" if ctx.warnings else "completed")
    night_set = ctx.results.get("night_set")
    leads_csv = Path(night_set) / "leads.csv" if night_set else None
    digest = hashlib.sha256(leads_csv.read_bytes()).hexdigest() if leads_csv and leads_csv.exists() else None
    with wh.transaction():
        if not replayed:
            wh.execute("DELETE FROM run_log WHERE as_of = $d", {"d": ctx.as_of})
        wh.execute(
            "INSERT INTO run_log VALUES ($d, $r, now(), $s, $n, $w, $h)",
            {
                "d": ctx.as_of,
                "r": ctx.run_id,
                "s": status,
                "n": len(ctx.results["leads"].rows) if ctx.results.get("leads") else 0,
                "w": ctx.warnings,
                "h": digest,
            },
            step="record run",
        )


class NightFailed(AcuAuditError):
    """The night could not be completed because of acu-audit's own error (not bad data).

    ``step`` says what the run was doing (``loading drop 2026-11-28``, ``checks``...). Nothing is
    published for the night: the previous night's set stays.
    """

    def __init__(self, step: str, cause: BaseException | str):
        self.step = step
        self.cause = cause
        what = cause if isinstance(cause, str) else describe_error(cause)
        super().__init__(f"{step}: {what}")


def describe_error(exc: BaseException) -> str:
    """An error in one line: our own errors by their message, anything else by its type too."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, AcuAuditError):
        return text or type(exc).__name__
    text = value_free(text)  # a third party's message may quote a value from a row
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def record_failure(ctx: RunContext, failure: NightFailed) -> None:
    """Keep the failed night in ``run_failures`` (best effort: the warehouse may be what failed)."""
    try:
        with open_warehouse(ctx) as wh:
            wh.script("schema/derived.sql")
            wh.execute(
                "INSERT INTO run_failures VALUES ($d, $r, now(), $s, $e)",
                {"d": ctx.as_of, "r": ctx.run_id, "s": failure.step, "e": str(failure.cause if isinstance(failure.cause, str)
                                                                            else describe_error(failure.cause))},
                step="record the failed night",
            )
    except Exception as exc:  # noqa: BLE001 - the original failure is what the caller reports
        ctx.progress(f"could not record the failure in the warehouse: {describe_error(exc)}")


def step_purpose(wh: Warehouse, ctx: RunContext) -> Any:
    from acu_audit.purpose import label_policing_purpose

    report = label_policing_purpose(wh, ctx.settings, ctx.window())
    ctx.results["purpose"] = report
    ctx.timed("policing purpose", report.seconds, f"{len(report.days_labelled)} day(s) labelled, {report.events_labelled:,} look-ups")
    return report


def step_checks(wh: Warehouse, ctx: RunContext) -> Any:
    from acu_audit.analyst import check_function_shares
    from acu_audit.checks import run_checks

    report = run_checks(wh, ctx.settings, ctx.window(), ctx.run_id)
    if report.failed:
        # A check that raises is acu-audit's own failure, not bad data: the night fails and
        # the previous night's list stays published (a list without a check is not the list).
        raise AcuAuditError("; ".join(f.error or f"check {f.check_id} failed" for f in report.failed))
    ctx.warnings.extend(report.calibration.warnings)
    ctx.results["checks"] = report
    ctx.results["check_shares"] = check_function_shares(wh, ctx.as_of, float(ctx.settings.checks["calibration"]["warn_share"]))[1]
    hits = sum(o.hits for o in report.outcomes)
    ctx.timed("checks", report.seconds, f"{len(report.outcomes)} checks, {hits - report.calibration.removed:,} hits "
              f"({report.calibration.removed:,} below their function's line), {len(report.failed)} failed")
    return report


def step_outliers(wh: Warehouse, ctx: RunContext) -> Any:
    """Features per member of staff, normalised within peers, scored by an isolation forest."""
    import json

    from acu_audit.checks import shared_parameters
    from acu_audit.outliers import score_outliers

    result = score_outliers(wh, ctx.settings, shared_parameters(ctx.settings, ctx.window()))
    features = result.raw.drop("peer_group")
    frame = result.scores.with_columns(
        features=pl.Series([json.dumps(r, default=float) for r in features.drop("staff_id").iter_rows(named=True)], dtype=pl.String)
    )
    wh.register_frame("outlier_frame", frame)
    with wh.transaction():
        wh.execute("DELETE FROM outlier_scores WHERE as_of = $d", {"d": ctx.as_of})
        wh.execute(
            "INSERT INTO outlier_scores SELECT $d, staff_id, peer_group, anomaly_score, anomaly_percentile, features FROM outlier_frame",
            {"d": ctx.as_of},
            step="store outlier scores",
        )
    wh.unregister("outlier_frame")
    ctx.results["outliers"] = result
    ctx.timed("outlier score", result.seconds, f"{result.scores.height:,} staff")
    return result


def state_path(ctx: RunContext) -> Path:
    from acu_audit.state import default_state_path

    return Path(ctx.state or default_state_path(ctx.db))


def step_leads(wh: Warehouse, ctx: RunContext) -> Any:
    """Score every member of staff's evidence over the span, then build tonight's queue in the state store."""
    import json

    from acu_audit.checks import load_catalogue
    from acu_audit.checks.calibration import span_start
    from acu_audit.leads import QueueRules, publish_leads, span_review_line
    from acu_audit.outliers import explain
    from acu_audit.publish import ensure_staff_refs
    from acu_audit.scoring import ScoringConfig, score_staff
    from acu_audit.state import open_state

    started = time.perf_counter()
    cfg = ScoringConfig.from_settings(ctx.settings)
    window = ctx.window()
    ensure_staff_refs(wh, ctx)
    with open_state(state_path(ctx), create=True) as real_state, _night_queue(real_state, ctx) as (state, suppressions):
        _apply_suppressions(wh, ctx.as_of, suppressions)
        hits = span_evidence(wh, ctx.as_of, suppressions)
        staff = wh.frame("SELECT staff_id, unit_function, peer_group FROM ref_staff", step="staff to score")
        outlier_result = ctx.results.get("outliers")
        outliers = (
            outlier_result.scores
            if outlier_result is not None
            else pl.DataFrame(schema={"staff_id": pl.String, "anomaly_score": pl.Float64, "anomaly_percentile": pl.Float64})
        )
        staff_suppressed = {s["staff_id"] for s in suppressions if s["kind"] == "staff"}
        outliers = outliers.filter(~pl.col("staff_id").is_in(list(staff_suppressed)))
        scored = score_staff(hits, staff, outliers, cfg, ctx.as_of)
        unkeep_weak_evidence(wh, ctx.as_of, hits, scored)
        top = scored.sort("score", descending=True).head(int(ctx.settings.outliers.get("explain_top", 50)))
        explanations = explain(outlier_result, top["staff_id"].to_list()) if outlier_result is not None else {}
        refs = dict(wh.execute("SELECT staff_id, staff_ref FROM staff_refs"))
        review = ctx.settings.leads["review"]
        earlier_best = dict(wh.execute(
            """SELECT staff_id, max(tonight_score) FROM lead_scores
               WHERE as_of BETWEEN $a AND $d - 1 AND tonight_score IS NOT NULL GROUP BY staff_id""",
            {"a": span_start(ctx.settings, ctx.as_of), "d": ctx.as_of}, step="best scores over the span"))
        line = span_review_line(dict(zip(scored["staff_id"].to_list(), scored["score"].to_list())), earlier_best,
                                staff.height, float(review["force_share"]), float(review["min_score"]))
        result = publish_leads(
            state,
            scored,
            as_of=ctx.as_of,
            run_id=ctx.run_id,
            staff_refs=refs,
            peer_groups=dict(zip(staff["staff_id"].to_list(), staff["peer_group"].to_list())),
            check_titles={c.id: c.meta.title for c in load_catalogue()},
            explanations=explanations,
            window_start=window.start_utc,
            rules=QueueRules(
                gap_days=int(ctx.settings.leads["episode_gap_days"]),
                escalation_points=float(ctx.settings.leads["escalation_points"]),
                review_line=line,
            ),
        )
    by_staff = {r["staff_id"]: r for r in scored.iter_rows(named=True)}
    no_evidence = {"evidence": 0.0, "agreement": 1.0, "outlier_component": 0.0, "check_scores": {}}
    rows = []
    for lead in result.rows:
        own = by_staff.get(lead["staff_id"], no_evidence) if lead["tonight_score"] is not None else no_evidence
        rows.append({
            "as_of": ctx.as_of, "lead_id": lead["lead_id"], "staff_id": lead["staff_id"], "rank": lead["rank"],
            "score": lead["score"], "evidence": own["evidence"], "agreement": own["agreement"],
            "outlier_component": own["outlier_component"], "anomaly_score": lead["anomaly_score"],
            "categories": lead["categories"], "top_checks": lead["top_checks"],
            "check_scores": json.dumps(own["check_scores"]), "hit_ids": lead["hit_ids"],
            "first_seen": lead["first_seen"], "last_seen": lead["last_seen"], "change": lead["change"],
            "status": lead["status"], "what_is_new": lead["what_is_new"], "summary": lead["summary"],
            "explanation": lead["explanation"], "tier": lead["tier"], "age_days": lead["age_days"],
            "flag": lead["flag"], "tonight_score": lead["tonight_score"], "hit_nights": lead["hit_nights"],
        })
    with wh.transaction():
        wh.execute("DELETE FROM lead_scores WHERE as_of = $d", {"d": ctx.as_of})
        wh.insert_rows("lead_scores", rows, LEAD_SCORE_SCHEMA, step="store lead scores")
    ctx.results["leads"] = result
    ctx.results["review_line"] = line
    capacity = int(review["capacity"])
    if result.review > capacity:
        ctx.warnings.append(f"{result.review - capacity} lead(s) waiting in the review tier beyond its capacity of {capacity} "
                            f"({result.review} in review; none is hidden)")
    changes = {k: sum(1 for r in result.rows if r["change"] == k) for k in ("new", "escalated", "returning", "unchanged")}
    ctx.timed(
        "leads",
        time.perf_counter() - started,
        f"{len(result.rows)} leads, {result.review} in review (line {line:.1f}; {result.entered_review} entered tonight), "
        f"{result.carried} carried with no kept evidence over the span ({', '.join(f'{v} {k}' for k, v in changes.items())}); "
        f"{result.held_back} closed leads held back",
    )
    return result


def unkeep_weak_evidence(wh: Warehouse, as_of: date, hits: pl.DataFrame, scored: pl.DataFrame) -> int:
    """Tonight's hits of checks whose evidence for the member of staff scoring dropped as too weak
    (``scoring.min_check_evidence``) are not kept: they are no evidence tonight. Returns how many."""
    scored_pairs = {(s, c) for s, scores in zip(scored["staff_id"].to_list(), scored["check_scores"].to_list()) for c in scores}
    weak = {(s, c) for s, c in zip(hits["staff_id"].to_list(), hits["check_id"].to_list())} - scored_pairs
    if not weak:
        return 0
    frame = pl.DataFrame({"staff_id": [s for s, _ in weak], "check_id": [c for _, c in weak]},
                         schema={"staff_id": pl.String, "check_id": pl.String})
    wh.register_frame("weak_evidence", frame)
    try:
        return wh.execute(
            """UPDATE check_hits h SET kept = false FROM weak_evidence w
               WHERE h.as_of = $d AND h.kept AND h.staff_id = w.staff_id AND h.check_id = w.check_id""",
            {"d": as_of}, step="weak evidence is not kept")[0][0]
    finally:
        wh.unregister("weak_evidence")


def span_evidence(wh: Warehouse, as_of: date, suppressions: list[dict]) -> pl.DataFrame:
    """Tonight's evidence over the span: every item the night's calibration keeps (one per check and
    subject, at its strongest night; ``check_calibration.sql``), of stable checks, less what an
    analyst suppressed, with the share of the peer group that tripped its check over the span."""
    with _registered_suppressions(wh, suppressions):
        return wh.frame(
            f"""SELECT i.hit_id, i.found_on, i.staff_id, i.check_id, h.category, h.severity, h.risk, i.weight,
                       d.peer_share, d.team_concentrated, i.evidence_start, i.evidence_at
                FROM span_items i
                JOIN span_calibration d ON d.as_of = $d AND d.check_id = i.check_id AND d.staff_id = i.staff_id AND d.kept
                JOIN check_hits h ON h.as_of = i.found_on AND h.hit_id = i.hit_id
                WHERE h.status = 'stable'
                  AND NOT EXISTS (SELECT 1 FROM suppression_frame s WHERE {SUPPRESSES_HIT})""",
            {"d": as_of},
            step="evidence over the span",
        )


@contextmanager
def _night_queue(state: Any, ctx: RunContext) -> Iterator[tuple[Any, list[dict]]]:
    """The queue a night's list is built in, and the suppressions in force for it.

    A new night (after the latest the queue holds) is built in the analyst state itself, after
    keeping the state it found (``snapshot_before``). A night already published is *replayed*:
    built in a scratch copy of the state as that night first found it, with the suppressions of
    that moment, so its list is the same as the first time and no later night changes.
    """
    latest = state.latest_night()
    replay = latest is not None and ctx.as_of <= latest
    ctx.results["replay"] = replay
    if not replay:
        state.snapshot_before(ctx.as_of)
        yield state, state.active_suppressions(ctx.as_of)
        return
    if state.first_published_at(ctx.as_of) is None:
        raise AcuAuditError(f"the night of {ctx.as_of} is before the latest night the queue holds ({latest}) and was "
                            "never reviewed: only a night already published can be run again")
    scratch = state.replay_copy(ctx.as_of)
    try:
        yield scratch, state.suppressions_as_first_published(ctx.as_of)
    finally:
        scratch.close()


LEAD_SCORE_SCHEMA = {
    "as_of": pl.Date, "lead_id": pl.String, "staff_id": pl.String, "rank": pl.Int32, "score": pl.Float64,
    "evidence": pl.Float64, "agreement": pl.Float64, "outlier_component": pl.Float64, "anomaly_score": pl.Float64,
    "categories": pl.List(pl.String), "top_checks": pl.List(pl.String), "check_scores": pl.String,
    "hit_ids": pl.List(pl.String), "first_seen": pl.Datetime("us", "UTC"), "last_seen": pl.Datetime("us", "UTC"),
    "change": pl.String, "status": pl.String, "what_is_new": pl.String, "summary": pl.String, "explanation": pl.String,
    "tier": pl.String, "age_days": pl.Int32, "flag": pl.String, "tonight_score": pl.Float64, "hit_nights": pl.List(pl.Date),
}


# Whether suppression ``s`` covers hit ``h`` (a row of check_hits): the one rule, for tonight's hits
# and for the span's evidence alike.
SUPPRESSES_HIT = """((s.kind = 'staff' AND s.staff_id = h.staff_id)
                     OR (s.kind = 'check' AND s.check_id = h.check_id)
                     OR (s.kind = 'pair' AND s.staff_id = h.staff_id AND s.subject = h.subject))"""


@contextmanager
def _registered_suppressions(wh: Warehouse, suppressions: list[dict]) -> Iterator[None]:
    """The suppressions in force, as the view ``suppression_frame`` while the block runs."""
    frame = pl.DataFrame(
        suppressions,
        schema={"suppression_id": pl.Int64, "kind": pl.String, "staff_id": pl.String, "check_id": pl.String, "subject": pl.String},
    )
    wh.register_frame("suppression_frame", frame)
    try:
        yield
    finally:
        wh.unregister("suppression_frame")


def _apply_suppressions(wh: Warehouse, as_of: date, suppressions: list[dict]) -> None:
    with _registered_suppressions(wh, suppressions), wh.transaction():
        wh.execute("DELETE FROM suppressed_hits WHERE as_of = $d", {"d": as_of})
        wh.execute(
            f"""INSERT INTO suppressed_hits
                SELECT h.as_of, h.hit_id, min(s.suppression_id)
                FROM check_hits h JOIN suppression_frame s ON {SUPPRESSES_HIT}
                WHERE h.as_of = $d
                GROUP BY h.as_of, h.hit_id""",
            {"d": as_of},
            step="apply suppressions",
        )


def step_publish(wh: Warehouse, ctx: RunContext) -> dict[str, Path]:
    """Write leads, hits and the report into --out; record a reveal if identities are shown."""
    from acu_audit.publish import write_outputs

    started = time.perf_counter()
    paths = write_outputs(wh, ctx)
    ctx.results["outputs"] = paths
    ctx.timed("publish", time.perf_counter() - started, ", ".join(p.name for p in paths.values()))
    return paths


def nights_to_catch_up(wh: Warehouse, ctx: RunContext) -> list[date]:
    """The nights before the as-of date that nightly runs would have reviewed and no run did.

    "What nightly runs would have built" is the queue left by running the nightly review on
    every night from the first night with a full review window (the first drop's date plus
    the window length minus one) -- or from the night after the last night reviewed -- up
    to the as-of night, in order, with the analyst state as it stands. So a first run over a
    60-night landing reviews nights 28 to 59 and then publishes night 60; a gap after an outage
    reviews the nights missed. ``leads.catch_up_step_days`` (1 to 7) reviews only every n-th of
    those nights, windows ending at most n days apart, faster and approximate. A re-run of a
    night at or before the last night reviewed catches up nothing.
    """
    if not wh.table_exists("run_log"):
        wh.script("schema/derived.sql")
    last = wh.scalar("SELECT max(as_of) FROM run_log")
    if last is not None and ctx.as_of <= last:
        return []
    if last is None:
        first_drop = wh.scalar("SELECT min(drop_date) FROM ingest_files WHERE loaded > 0 OR duplicate > 0")
        if first_drop is None:
            return []
        start = first_drop + timedelta(days=ctx.settings.review_window_days - 1)
    else:
        start = last + timedelta(days=1)
    end = ctx.as_of - timedelta(days=1)
    if start > end:
        return []
    step = min(7, max(1, int(ctx.settings.leads.get("catch_up_step_days", 1))))
    nights = [end - timedelta(days=k) for k in range(0, (end - start).days + 1, step)]
    if nights[-1] != start:
        nights.append(start)  # the earliest window must cover the first nights too
    return sorted(nights)


def night_context(ctx: RunContext, night: date) -> RunContext:
    """A context for reviewing one missed night: same landing, database and settings, no outputs."""
    return replace(
        ctx, as_of=night, run_id=f"{ctx.run_id}-{night:%Y%m%d}", timings=[], warnings=[],
        results={"staff_refs_ready": ctx.results.get("staff_refs_ready", False)}, progress=_quiet,
    )


def review_missed_night(wh: Warehouse, ctx: RunContext, night: date) -> RunContext:
    """The nightly review of one missed night, kept in the warehouse and the queue; no outputs.

    Purpose labels, checks, outlier scores and the lead list for that night, recorded in
    ``run_log`` as ``reviewed`` so an interrupted catch-up resumes where it stopped.
    """
    started = time.perf_counter()
    night_ctx = night_context(ctx, night)
    step_purpose(wh, night_ctx)
    step_checks(wh, night_ctx)
    step_outliers(wh, night_ctx)
    step_leads(wh, night_ctx)
    record_run(wh, night_ctx, status="reviewed")
    ctx.results["staff_refs_ready"] = night_ctx.results.get("staff_refs_ready", False)
    leads = night_ctx.results["leads"]
    ctx.progress(f"caught up {night}: {len(leads.rows)} leads, {leads.review} in review ({time.perf_counter() - started:.1f} s)")
    return night_ctx


def catch_up(wh: Warehouse, ctx: RunContext) -> list[date]:
    """Review every missed night before the as-of night (see :func:`nights_to_catch_up`)."""
    started = time.perf_counter()
    nights = nights_to_catch_up(wh, ctx)
    for night in nights:
        review_missed_night(wh, ctx, night)
    if nights:
        ctx.timed("catch-up", time.perf_counter() - started, f"{len(nights)} missed night(s) reviewed, {nights[0]} to {nights[-1]}")
    ctx.results["caught_up"] = nights
    return nights


def run_nightly(ctx: RunContext) -> RunContext:
    """Every step in order, without Prefect: for benchmarks, notebooks and tests.

    ``pipelines/nightly.py`` runs the same steps as Prefect tasks (with one task per drop and
    one per missed night); ``acu-audit run`` uses that flow. Any error fails the night with
    :class:`NightFailed` (recorded in ``run_failures``); nothing is published for it.
    """
    step = "opening the warehouse"
    try:
        with open_warehouse(ctx) as wh:
            step = "loading the drops"
            step_ingest(wh, ctx)
            for step, run_step in (("feed health", step_feeds), ("reviewing missed nights", catch_up),
                                   ("policing purpose", step_purpose), ("checks", step_checks),
                                   ("outlier score", step_outliers), ("leads", step_leads), ("publishing", step_publish)):
                run_step(wh, ctx)
            step = "recording the run"
            record_run(wh, ctx)
            wh.checkpoint()
    except Exception as exc:
        failure = exc if isinstance(exc, NightFailed) else NightFailed(step, exc)
        record_failure(ctx, failure)
        raise failure from exc
    return ctx
