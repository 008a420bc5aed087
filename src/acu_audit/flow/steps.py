"""The steps of a night, each a plain function ``(warehouse, night, inputs) -> typed result``.

A step reads the night (:class:`acu_audit.night.Night`) and the results of the steps before it,
writes its own tables, and returns what it found; nothing is kept on the night. The order, and
what each step is given, is :func:`acu_audit.flow.nightly.run_night`:

    load drops -> feed health -> [review missed nights] -> policing purpose -> run-wide tables
    -> checks -> outlier score -> leads -> publish -> record the run
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError
from acu_audit.feeds import FeedHealth
from acu_audit.ingest import Drop, FileResult, IngestReport
from acu_audit.night import Findings, Night

Progress = Callable[[str], None]


# ---- results ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Loaded:
    """The drops loaded tonight, and the Great Expectations results that failed or could not run."""

    report: IngestReport
    validation_failures: list[dict]
    # Great Expectations still at work beside the night (the failures are not known yet).
    validation_beside: bool = False

    @property
    def warnings(self) -> list[str]:
        return [*self.report.warnings, *ingest_warnings(self.report)]

    @property
    def detail(self) -> str:
        t = self.report.totals()
        resent = f" ({t['resent']:,} of them snapshot rows sent as before, not typed)" if t["resent"] else ""
        gx = "beside the night's steps" if self.validation_beside else f"{self.report.gx_seconds:.1f} s"
        return (f"{len(self.report.processed)} files, {t['loaded']:,} rows loaded, {t['duplicate']:,} duplicate{resent}, "
                f"{t['rejected']:,} rejected (Great Expectations {gx})")

    @property
    def validation_detail(self) -> str:
        """The night summary's line for Great Expectations' results once collected."""
        failed = len(self.validation_failures)
        return (f"Great Expectations on the new rows: {failed} expectation(s) failed "
                f"({self.report.gx_seconds:.1f} s of its own, beside the night's steps)")


@dataclass(frozen=True)
class Checked:
    """Tonight's check runs, and the share of each unit function each check tripped."""

    report: Any  # acu_audit.checks.CheckRunReport
    shares: list[dict]

    @property
    def warnings(self) -> list[str]:
        return list(self.report.calibration.warnings)

    @property
    def detail(self) -> str:
        r = self.report
        hits = sum(o.hits for o in r.outcomes)
        return (f"{len(r.outcomes)} checks, {hits - r.calibration.removed:,} hits ({r.calibration.removed:,} below their "
                f"function's line), {len(r.failed)} failed")


@dataclass(frozen=True)
class Listed:
    """Tonight's lead list as built in the queue, the review line drawn, and whether the night was
    a replay of one already published."""

    result: Any  # acu_audit.leads.LeadListResult
    review_line: float
    replay: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def changes(self) -> dict[str, int]:
        """Tonight's leads by what changed since the night before."""
        rows = self.result.rows
        return {k: sum(1 for row in rows if row["change"] == k) for k in ("new", "escalated", "returning", "unchanged")}

    @property
    def detail(self) -> str:
        r, changes = self.result, self.changes
        return (f"{len(r.rows)} leads, {r.review} in review (line {self.review_line:.1f}; {r.entered_review} entered tonight), "
                f"{r.carried} carried with no kept evidence over the span ({', '.join(f'{v} {k}' for k, v in changes.items())}); "
                f"{r.held_back} closed leads held back")


@dataclass(frozen=True)
class Published:
    """The night's set of outputs: its folder, whether out/current now points at it, the links."""

    paths: dict[str, Path]
    night_set: Path
    made_current: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def detail(self) -> str:
        return ", ".join(p.name for p in self.paths.values())


# ---- load ------------------------------------------------------------------------------------

def ingest_warnings(report: IngestReport) -> list[str]:
    """What a run says about its ingest: files not loaded, and rows quarantined."""
    warnings = [f"{f.drop_date} {f.file_name}: {f.status}: {f.error}"
                for f in report.processed if f.status in ("unreadable", "rejected", "refused")]
    rejected_rows = sum(f.rejected for f in report.processed if f.status in ("partial", "rejected"))
    if rejected_rows:
        warnings.append(f"{rejected_rows:,} row(s) of the drops loaded now were quarantined; see the report's data "
                        f"quality section or `acu-audit quarantine list`")
    return warnings


def load_drop(wh: Warehouse, drop: Drop, report: IngestReport, validator: Any, progress: Progress, lanes: Any) -> list[FileResult]:
    """Load one drop (reference data first, then events, side by side in ``lanes``:
    :class:`acu_audit.ingest.Lanes`); what each file came to goes to ``progress``."""
    from acu_audit.ingest import ingest_drop

    return ingest_drop(
        wh, drop, report, validator,
        on_file=lambda f: progress(f"  {f.drop_date} {f.file_name}: {f.status} ({f.loaded:,} loaded, {f.rejected:,} rejected)")
        if f.status != "already_loaded" else None,
        lanes=lanes,
    )


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


# ---- tonight's data --------------------------------------------------------------------------

def feed_health(wh: Warehouse, night: Night) -> FeedHealth:
    """Tonight's rows per feed against the trailing baseline; missing or thin feeds become warnings."""
    from acu_audit.feeds import check_feeds

    return check_feeds(wh, night.settings, night.as_of)


def policing_purpose(wh: Warehouse, night: Night) -> Any:
    """Label every look-up of the window with its policing purpose (days already labelled are kept)."""
    from acu_audit.purpose import label_policing_purpose

    return label_policing_purpose(wh, night.settings, night.window)


def run_tables(wh: Warehouse, night: Night) -> float:
    """The run-wide stage the checks, the features and the outputs read (``ref_*``, ``run_*``)."""
    from acu_audit.checks import prepare_run_tables

    return prepare_run_tables(wh, night.params())


def checks(wh: Warehouse, night: Night, store_in_turn: AbstractContextManager[Any] | None = None) -> Checked:
    """Every enabled check over the window, calibrated over the span (reads the run-wide tables).
    ``store_in_turn``: see :func:`acu_audit.checks.run_checks`."""
    from acu_audit.checks import run_checks
    from acu_audit.checks.calibration import function_shares

    report = run_checks(wh, night.settings, night.params(), night.run_id, prepare=False, store_in_turn=store_in_turn)
    if report.failed:
        # A check that raises is acu-audit's own failure, not bad data: the night fails and
        # the previous night's list stays published (a list without a check is not the list).
        raise AcuAuditError("; ".join(f.error or f"check {f.check_id} failed" for f in report.failed))
    shares = function_shares(wh, night.as_of, float(night.settings.checks["calibration"]["warn_share"]))
    return Checked(report, shares)


def outlier_score(wh: Warehouse, night: Night) -> Any:
    """Features per member of staff (from the run-wide tables), normalised within peers, scored by
    an isolation forest; stored in ``outlier_scores``."""
    from acu_audit.outliers import score_outliers

    result = score_outliers(wh, night.settings, night.params())
    features = result.raw.drop("peer_group")
    frame = result.scores.with_columns(
        features=pl.Series([json.dumps(r, default=float) for r in features.drop("staff_id").iter_rows(named=True)], dtype=pl.String)
    )
    wh.register_frame("outlier_frame", frame)
    with wh.transaction():
        wh.execute("DELETE FROM outlier_scores WHERE as_of = $d", {"d": night.as_of})
        wh.execute(
            "INSERT INTO outlier_scores SELECT $d, staff_id, peer_group, anomaly_score, anomaly_percentile, features FROM outlier_frame",
            {"d": night.as_of},
            step="store outlier scores",
        )
    wh.unregister("outlier_frame")
    return result


# ---- leads -----------------------------------------------------------------------------------

def leads(wh: Warehouse, night: Night, outliers: Any, progress: Progress) -> Listed:
    """Score every member of staff's evidence over the span, then build tonight's queue in the state store."""
    from acu_audit.checks import load_catalogue
    from acu_audit.checks.calibration import span_start
    from acu_audit.leads import QueueRules, publish_leads, span_review_line
    from acu_audit.outliers import explain
    from acu_audit.privacy import ensure_staff_refs
    from acu_audit.scoring import ScoringConfig, score_staff
    from acu_audit.state import open_state

    cfg = ScoringConfig.from_settings(night.settings)
    ensure_staff_refs(wh, notify=progress)
    with open_state(night.paths.state, create=True) as real_state, night_queue(real_state, night.as_of) as (state, suppressions, replay):
        apply_suppressions(wh, night.as_of, suppressions)
        hits = span_evidence(wh, night.as_of, suppressions)
        staff = wh.frame("SELECT staff_id, unit_function, peer_group FROM ref_staff", step="staff to score")
        staff_suppressed = {s["staff_id"] for s in suppressions if s["kind"] == "staff"}
        scores = outliers.scores.filter(~pl.col("staff_id").is_in(list(staff_suppressed)))
        scored = score_staff(hits, staff, scores, cfg, night.as_of, night.window.end_utc)
        unkeep_weak_evidence(wh, night.as_of, hits, scored)
        top = scored.sort("score", descending=True).head(int(night.settings.outliers["explain_top"]))
        explanations = explain(outliers, top["staff_id"].to_list())
        refs = dict(wh.execute("SELECT staff_id, staff_ref FROM staff_refs"))
        review = night.settings.leads["review"]
        earlier_best = dict(wh.execute(
            """SELECT staff_id, max(tonight_score) FROM lead_scores
               WHERE as_of BETWEEN $a AND $d - 1 AND tonight_score IS NOT NULL GROUP BY staff_id""",
            {"a": span_start(night.settings, night.as_of), "d": night.as_of}, step="best scores over the span"))
        line = span_review_line(dict(zip(scored["staff_id"].to_list(), scored["score"].to_list())), earlier_best,
                                staff.height, float(review["force_share"]), float(review["min_score"]))
        result = publish_leads(
            state,
            scored,
            as_of=night.as_of,
            run_id=night.run_id,
            staff_refs=refs,
            peer_groups=dict(zip(staff["staff_id"].to_list(), staff["peer_group"].to_list())),
            check_titles={c.id: c.meta.title for c in load_catalogue()},
            explanations=explanations,
            window_start=night.window.start_utc,
            night_end=night.window.end_utc,
            rules=QueueRules.from_settings(night.settings, review_line=line),
        )
    store_lead_scores(wh, night.as_of, result.rows, scored)
    capacity = int(review["capacity"])
    warnings = []
    if result.review > capacity:
        warnings.append(f"{result.review - capacity} lead(s) waiting in the review tier beyond its capacity of {capacity} "
                        f"({result.review} in review; none is hidden)")
    return Listed(result, line, replay, warnings)


def store_lead_scores(wh: Warehouse, as_of: date, leads: list[dict], scored: pl.DataFrame) -> None:
    """Tonight's list with each lead's evidence, agreement and outlier parts, in ``lead_scores``."""
    by_staff = {r["staff_id"]: r for r in scored.iter_rows(named=True)}
    no_evidence = {"evidence": 0.0, "agreement": 1.0, "outlier_component": 0.0, "check_scores": {}}
    copied = ("lead_id", "staff_id", "rank", "score", "anomaly_score", "categories", "top_checks", "hit_ids", "first_seen",
              "last_seen", "change", "status", "what_is_new", "summary", "explanation", "tier", "age_days", "flag",
              "tonight_score", "hit_nights")
    rows = []
    for lead in leads:
        own = by_staff.get(lead["staff_id"], no_evidence) if lead["tonight_score"] is not None else no_evidence
        rows.append({"as_of": as_of, **{k: lead[k] for k in copied}, "evidence": own["evidence"], "agreement": own["agreement"],
                     "outlier_component": own["outlier_component"], "check_scores": json.dumps(own["check_scores"])})
    with wh.transaction():
        wh.execute("DELETE FROM lead_scores WHERE as_of = $d", {"d": as_of})
        wh.insert_rows("lead_scores", [{k: r[k] for k in LEAD_SCORE_SCHEMA} for r in rows], LEAD_SCORE_SCHEMA,
                       step="store lead scores")


LEAD_SCORE_SCHEMA = {
    "as_of": pl.Date, "lead_id": pl.String, "staff_id": pl.String, "rank": pl.Int32, "score": pl.Float64,
    "evidence": pl.Float64, "agreement": pl.Float64, "outlier_component": pl.Float64, "anomaly_score": pl.Float64,
    "categories": pl.List(pl.String), "top_checks": pl.List(pl.String), "check_scores": pl.String,
    "hit_ids": pl.List(pl.String), "first_seen": pl.Datetime("us", "UTC"), "last_seen": pl.Datetime("us", "UTC"),
    "change": pl.String, "status": pl.String, "what_is_new": pl.String, "summary": pl.String, "explanation": pl.String,
    "tier": pl.String, "age_days": pl.Int32, "flag": pl.String, "tonight_score": pl.Float64, "hit_nights": pl.List(pl.Date),
}


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


# Whether suppression ``s`` covers hit ``h`` (a row of check_hits): the one rule, for tonight's hits
# and for the span's evidence alike.
SUPPRESSES_HIT = """((s.kind = 'staff' AND s.staff_id = h.staff_id)
                     OR (s.kind = 'check' AND s.check_id = h.check_id)
                     OR (s.kind = 'pair' AND s.staff_id = h.staff_id AND s.subject = h.subject))"""


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
def night_queue(state: Any, as_of: date) -> Iterator[tuple[Any, list[dict], bool]]:
    """The queue a night's list is built in, the suppressions in force for it, and whether it is a replay.

    A new night (after the latest the queue holds) is built in the analyst state itself, after
    keeping the state it found (``snapshot_before``). A night already published is *replayed*:
    built in a scratch copy of the state as that night first found it, with the suppressions of
    that moment, so its list is the same as the first time and no later night changes.
    """
    latest = state.latest_night()
    if latest is None or as_of > latest:
        state.snapshot_before(as_of)
        yield state, state.active_suppressions(as_of), False
        return
    if state.first_published_at(as_of) is None:
        raise AcuAuditError(f"the night of {as_of} is before the latest night the queue holds ({latest}) and was "
                            "never reviewed: only a night already published can be run again")
    scratch = state.replay_copy(as_of)
    try:
        yield scratch, state.suppressions_as_first_published(as_of), True
    finally:
        scratch.close()


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


def apply_suppressions(wh: Warehouse, as_of: date, suppressions: list[dict]) -> None:
    """Tonight's hits an analyst's suppression covers, in ``suppressed_hits``."""
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


# ---- publish ---------------------------------------------------------------------------------

def publish(wh: Warehouse, night: Night, findings: Findings, progress: Progress) -> Published:
    """Write leads, hits, declarations, the report and the analyst copy as tonight's set."""
    from acu_audit.publish import write_outputs

    return Published(**write_outputs(wh, night, findings, progress))


def findings_of(feeds: FeedHealth, listed: Listed, warnings: list[str]) -> Findings:
    return Findings(review_line=listed.review_line, data_as_of=feeds.data_as_of, missing_feeds=tuple(feeds.missing_feeds),
                    warnings=tuple(warnings))
