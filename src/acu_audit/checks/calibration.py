"""Calibrate the night's hits to the force they run on (``sql/transforms/check_calibration.sql``).

A check that trips more than ``checks.calibration.max_share`` of a peer group is, in that
group, a habit of the function rather than evidence: only the members with the most of it keep
their hits, so no check reports more than a few per cent of any function, whatever the force.
Every kept hit carries its measured rarity (the share of its peer group that tripped the check
tonight) for scoring, and the shares per check and unit function are kept in ``check_rates``.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from acu_audit.config import Settings
from acu_audit.db import Warehouse


@dataclass
class CalibrationReport:
    removed: int = 0  # tonight's hits below their group's line over the span (stored, not kept)
    warnings: list[str] = field(default_factory=list)  # checks tripped by too much of a function


def calibration_parameters(settings: Settings) -> dict[str, float]:
    c = settings.checks["calibration"]
    return {
        "max_share": float(c["max_share"]),
        "min_group": int(c["min_group"]),
        "team_min_staff": int(c["team_min_staff"]),
        "team_concentration": float(c["team_concentration"]),
        "habit_weight": float(c["habit_weight"]),
        "estimate_unseen_span": bool(c["estimate_unseen_span"]),
    }


def span_start(settings: Settings, as_of: date) -> date:
    """The first night of the span ending on ``as_of`` (``span_days`` nights in all)."""
    return as_of - timedelta(days=settings.span_days - 1)


def calibrate_hits(wh: Warehouse, settings: Settings, as_of: date, *, in_transaction: bool = False) -> CalibrationReport:
    """Calibrate the checks over the span ending on ``as_of``: mark which of tonight's hits are kept
    as evidence, record the shares, and say which checks are too common. ``in_transaction``: the
    caller's transaction holds it (the check run stores the night's hits and calibrates them in one)."""
    report = CalibrationReport()
    with nullcontext() if in_transaction else wh.transaction():
        wh.run_file("transforms/check_calibration.sql",
                    {"as_of": as_of, "span_start": span_start(settings, as_of), "span_days": settings.span_days,
                     "window_days": settings.review_window_days, **calibration_parameters(settings)},
                    step="calibrate hits")
    report.removed = wh.scalar("SELECT count(*) FROM check_hits WHERE as_of = $d AND route = 'leads' AND NOT kept", {"d": as_of})
    warn = float(settings.checks["calibration"]["warn_share"])
    for r in wh.records(
        """SELECT check_id, unit_function, staff, tripped, share FROM check_rates
           WHERE as_of = $d AND share > $w AND staff >= $m ORDER BY share DESC, check_id, unit_function""",
        {"d": as_of, "w": warn, "m": int(settings.checks["calibration"]["min_group"])},
        step="checks tripped by too much of a function",
    ):
        report.warnings.append(
            f"check {r['check_id']} trips {r['share']:.0%} of {r['unit_function']} ({r['tripped']} of {r['staff']}): "
            "there it is not evidence (only the few with the most are reported), or a feed or the configuration is wrong"
        )
    return report


def function_shares(wh: Warehouse, as_of: date, warn: float) -> list[dict[str, Any]]:
    """The night's share of each unit function that tripped each check (``check_rates``); ``warn``
    flags the rows above the warning share."""
    if not wh.table_exists("check_rates"):
        return []
    return wh.records(
        """SELECT check_id, unit_function, staff, tripped, share, kept, line, share > $w AS warn
           FROM check_rates WHERE as_of = $d ORDER BY check_id, unit_function""",
        {"d": as_of, "w": warn},
        step="share of each function tripping each check",
    )
