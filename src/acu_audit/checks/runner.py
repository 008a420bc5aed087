"""Run the check catalogue over a review window and store the hits.

A check that fails is reported by id with its SQL error, and the others still
run. The night's hits are gathered in a temporary table and stored, with every
check run's record and the calibration over the span, in one transaction: they
replace the checks' earlier hits for that as-of date, so a re-run changes nothing.
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from acu_audit.checks.calibration import CalibrationReport, calibrate_hits
from acu_audit.checks.catalogue import HIT_COLUMNS, Check, load_catalogue
from acu_audit.config import Settings
from acu_audit.db import Warehouse
from acu_audit.errors import QueryError, value_free


@dataclass
class CheckOutcome:
    check_id: str
    category: str
    status: str  # ok | failed
    scores: bool
    version: str
    hits: int = 0
    staff_hit: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class CheckRunReport:
    outcomes: list[CheckOutcome] = field(default_factory=list)
    prepare_seconds: float = 0.0
    calibration: CalibrationReport = field(default_factory=CalibrationReport)
    calibration_seconds: float = 0.0

    @property
    def failed(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def seconds(self) -> float:
        return self.prepare_seconds + sum(o.seconds for o in self.outcomes) + self.calibration_seconds

    def hits_by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.category] = out.get(o.category, 0) + o.hits
        return dict(sorted(out.items()))


def register_local_stamp(wh: Warehouse) -> None:
    """``local_stamp(ts, tz)`` for check reasons: an instant as people read it everywhere
    (:func:`acu_audit.clock.local_time`, ``19 Nov 2026 20:35 GMT``).

    A Python function because the zone's abbreviation needs the zone database; it runs only on
    the few rows that become reasons.
    """
    from acu_audit.clock import local_time

    wh.create_function("local_stamp", local_time, ["TIMESTAMPTZ", "VARCHAR"], "VARCHAR", null_handling="special")


def prepare_run_tables(wh: Warehouse, params: dict[str, Any]) -> float:
    """The run-wide stage every check, feature and output reads: the reference data as of the
    night (``ref_*``) and the run tables (``run_*``) over its window, built from the night's
    ``params`` (:meth:`acu_audit.night.Night.params`). Returns seconds."""
    started = time.perf_counter()
    register_local_stamp(wh)
    wh.run_file("transforms/reference_as_of.sql", params, step="reference data as of the run date")
    wh.run_file("transforms/run_tables.sql", params, step="run tables")
    return time.perf_counter() - started


STAGED = "staged_hits"  # a temporary table: the night's hits as the checks find them, before they are stored


def _wrapped(check: Check) -> str:
    cols = ", ".join(f"h.{c}" for c in HIT_COLUMNS if c != "weight")
    return f"""
        INSERT INTO {STAGED} (as_of, run_id, hit_id, check_id, check_version, category, status, severity, risk,
                                {", ".join(HIT_COLUMNS)}, route, kept)
        SELECT $as_of, $run_id,
               left(md5(concat_ws('|', $check_id, h.staff_id, coalesce(h.subject, ''),
                                  coalesce(CAST(h.window_start AS VARCHAR), CAST(h.occurred_at AS VARCHAR), ''))), 20),
               $check_id, $check_version, $category, $check_status, $severity, $risk,
               {cols}, coalesce(CAST(h.weight AS DOUBLE), 1.0), $route, false
        FROM (
{check.sql}
        ) h
    """


def check_parameters(check: Check, settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    """The values one check binds: the night's ``params`` plus its own from configs/."""
    own = settings.check_params(check.id)
    missing = set(check.meta.parameters) - own.keys()
    if missing:
        raise KeyError(f"configs/ has no value for {check.id} parameter(s) {sorted(missing)}")
    return {**params, **own}


@dataclass
class _Evaluated:
    outcome: CheckOutcome
    parameters: str = "{}"  # JSON of the check's own bound values, for check_runs


def _evaluate(wh: Warehouse, check: Check, settings: Settings, night_params: dict[str, Any], run_id: str) -> _Evaluated:
    """Run one check and append its hits to the staged table; a SQL error fails the check, not the run
    (the statement is atomic: a failed check appends nothing)."""
    started = time.perf_counter()
    outcome = CheckOutcome(check.id, check.meta.category, "ok", check.scores, version="")
    try:
        params = check_parameters(check, settings, night_params)
    except KeyError as exc:
        outcome.status, outcome.error = "failed", str(exc.args[0])
        return _Evaluated(outcome)
    outcome.version = check.version(params)
    bound = {
        **params,
        "run_id": run_id,
        "check_id": check.id,
        "check_version": outcome.version,
        "category": check.meta.category,
        "check_status": check.meta.status,
        "severity": check.meta.severity,
        "risk": check.meta.risk,
        "route": check.meta.route,
    }
    try:
        wh.run_text(_wrapped(check), bound, step=f"check {check.id}")
    except QueryError as exc:
        outcome.status = "failed"
        outcome.error = f"check {check.id} failed: {value_free(str(exc.cause))}"
    outcome.seconds = time.perf_counter() - started
    return _Evaluated(outcome, json.dumps({k: params[k] for k in sorted(check.meta.parameters)}, default=str))


def _count_hits(wh: Warehouse, outcomes: list[CheckOutcome], as_of: Any) -> None:
    counts = {r[0]: (r[1], r[2]) for r in wh.execute(
        f"SELECT check_id, count(*), count(DISTINCT staff_id) FROM {STAGED} WHERE as_of = $d GROUP BY check_id",
        {"d": as_of}, step="hits per check")}
    for o in outcomes:
        if o.status == "ok":
            o.hits, o.staff_hit = counts.get(o.check_id, (0, 0))


def _record_check_runs(wh: Warehouse, as_of: Any, run_id: str, evaluated: list[_Evaluated]) -> None:
    """One row per check run in ``check_runs``, replacing the night's earlier row for the check."""
    if not evaluated:
        return
    wh.execute("DELETE FROM check_runs WHERE as_of = $d AND list_contains($c, check_id)",
               {"d": as_of, "c": [e.outcome.check_id for e in evaluated]}, step="record check runs")
    # One statement through a frame: executemany inserted the 27 rows one by one (57 ms a night).
    wh.insert_rows(
        "check_runs",
        [{"as_of": as_of, "run_id": run_id, "check_id": o.check_id, "check_version": o.version, "status": o.status,
          "hits": o.hits, "staff_hit": o.staff_hit, "seconds": o.seconds, "error": o.error, "parameters": e.parameters}
         for e in evaluated for o in [e.outcome]],
        {"as_of": pl.Date, "run_id": pl.String, "check_id": pl.String, "check_version": pl.String, "status": pl.String,
         "hits": pl.Int64, "staff_hit": pl.Int64, "seconds": pl.Float64, "error": pl.String, "parameters": pl.String},
        step="record check runs",
    )


def run_check(wh: Warehouse, check: Check, settings: Settings, night_params: dict[str, Any], run_id: str) -> CheckOutcome:
    """One check on its own, its hits stored for the night (replacing the check's earlier ones) but
    not calibrated: what a check's fixture and its benchmark run."""
    return _run_and_store(wh, [check], settings, night_params, run_id, calibrate=False).outcomes[0]


def run_checks(
    wh: Warehouse,
    settings: Settings,
    params: dict[str, Any],
    run_id: str,
    *,
    only: set[str] | None = None,
    prepare: bool = True,
    store_in_turn: AbstractContextManager[Any] | None = None,
) -> CheckRunReport:
    """Run every enabled check (or ``only`` these) over the night ``params`` describe
    (:meth:`acu_audit.night.Night.params`) and store their hits; the whole catalogue's hits are
    calibrated over the span. ``store_in_turn`` holds the storing and calibration (not the
    checks) until the night before has stored its hits: calibration reads the span's."""
    prepare_seconds = prepare_run_tables(wh, params) if prepare else 0.0
    checks = [c for c in load_catalogue()
              if (only is None or c.id in only) and settings.check_enabled(c.id)]
    report = _run_and_store(wh, checks, settings, params, run_id, calibrate=only is None, store_in_turn=store_in_turn)
    report.prepare_seconds = prepare_seconds
    return report


def _run_and_store(wh: Warehouse, checks: list[Check], settings: Settings, params: dict[str, Any], run_id: str, *,
                   calibrate: bool, store_in_turn: AbstractContextManager[Any] | None = None) -> CheckRunReport:
    """Each check appends its hits to a temporary table (a failed check appends nothing, and the
    others still run); then one transaction replaces the night's hits of the checks that ran,
    records every check run and, for the whole catalogue, calibrates over the span. One commit a
    night instead of one per check: the night's hits are written once."""
    as_of = params["as_of"]
    report = CheckRunReport()
    wh.execute(f"CREATE OR REPLACE TEMP TABLE {STAGED} AS SELECT * FROM check_hits LIMIT 0", step="stage the night's hits")
    evaluated = [_evaluate(wh, check, settings, params, run_id) for check in checks]
    report.outcomes = [e.outcome for e in evaluated]
    _count_hits(wh, report.outcomes, as_of)
    ran = [o.check_id for o in report.outcomes if o.status == "ok"]
    with store_in_turn or nullcontext(), wh.transaction():
        # A failed check keeps the night's earlier hits, as a check left out does.
        wh.execute("DELETE FROM check_hits WHERE as_of = $d AND list_contains($c, check_id)", {"d": as_of, "c": ran},
                   step="replace the night's hits")
        wh.execute(f"INSERT INTO check_hits SELECT * FROM {STAGED}", step="replace the night's hits")
        _record_check_runs(wh, as_of, run_id, evaluated)
        if calibrate:  # calibration compares every check's hits across the whole force
            started = time.perf_counter()
            report.calibration = calibrate_hits(wh, settings, as_of, in_transaction=True)
            report.calibration_seconds = time.perf_counter() - started
    wh.execute(f"DROP TABLE {STAGED}", step="stage the night's hits")
    return report

