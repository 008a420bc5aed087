"""Run the check catalogue over a review window and store the hits.

Each check runs in its own transaction: a check that fails is reported by id
with its SQL error, and the others still run. Hits for an as-of date replace
that date's earlier hits, so a re-run changes nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

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


def _wrapped(check: Check) -> str:
    cols = ", ".join(f"h.{c}" for c in HIT_COLUMNS if c != "weight")
    return f"""
        INSERT INTO check_hits (as_of, run_id, hit_id, check_id, check_version, category, status, severity, risk,
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


def run_check(wh: Warehouse, check: Check, settings: Settings, night_params: dict[str, Any], run_id: str) -> CheckOutcome:
    started = time.perf_counter()
    outcome = CheckOutcome(check.id, check.meta.category, "ok", check.scores, version="")
    try:
        params = check_parameters(check, settings, night_params)
    except KeyError as exc:
        outcome.status, outcome.error = "failed", str(exc.args[0])
        return outcome
    outcome.version = check.version(params)
    sql = _wrapped(check)
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
        with wh.transaction():
            wh.execute("DELETE FROM check_hits WHERE as_of = $as_of AND check_id = $c", {"as_of": params["as_of"], "c": check.id})
            wh.run_text(sql, bound, step=f"check {check.id}")
            outcome.hits, outcome.staff_hit = wh.execute(
                "SELECT count(*), count(DISTINCT staff_id) FROM check_hits WHERE as_of = $as_of AND check_id = $c",
                {"as_of": params["as_of"], "c": check.id},
            )[0]
    except QueryError as exc:
        outcome.status = "failed"
        outcome.error = f"check {check.id} failed: {value_free(str(exc.cause))}"
    outcome.seconds = time.perf_counter() - started
    as_of = night_params["as_of"]
    wh.execute("DELETE FROM check_runs WHERE as_of = $as_of AND check_id = $c", {"as_of": as_of, "c": check.id})
    wh.execute(
        "INSERT INTO check_runs VALUES ($as_of, $run_id, $c, $v, $s, $h, $n, $sec, $err, $p)",
        {
            "as_of": as_of,
            "run_id": run_id,
            "c": check.id,
            "v": outcome.version,
            "s": outcome.status,
            "h": outcome.hits,
            "n": outcome.staff_hit,
            "sec": outcome.seconds,
            "err": outcome.error,
            "p": json.dumps({k: params[k] for k in sorted(check.meta.parameters)}, default=str),
        },
        step="record check run",
    )
    return outcome


def run_checks(
    wh: Warehouse,
    settings: Settings,
    params: dict[str, Any],
    run_id: str,
    *,
    only: set[str] | None = None,
    prepare: bool = True,
) -> CheckRunReport:
    """Run every enabled check (or ``only`` these) over the night ``params`` describe
    (:meth:`acu_audit.night.Night.params`) and store their hits."""
    report = CheckRunReport()
    if prepare:
        report.prepare_seconds = prepare_run_tables(wh, params)
    for check in load_catalogue():
        if (only is not None and check.id not in only) or not settings.check_enabled(check.id):
            continue
        report.outcomes.append(run_check(wh, check, settings, params, run_id))
    if only is None:  # calibration compares every check's hits across the whole force
        started = time.perf_counter()
        report.calibration = calibrate_hits(wh, settings, params["as_of"])
        report.calibration_seconds = time.perf_counter() - started
    return report
