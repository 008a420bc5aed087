"""The night a run audits: one frozen value, settled once before any step runs.

Every step of a night (``acu_audit.flow``) and every output (``publish``, ``report``,
``analyst_copy``) reads the same :class:`Night`: the as-of date, the run id, the review
window, the settings, the paths, who runs it and whether identities are revealed. Its
:meth:`Night.params` is the one dictionary of SQL bind values a transform, check or output
may use. What a step finds is returned as a typed result and passed along; nothing is
stored on the night.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from acu_audit.config import Settings
from acu_audit.contract import ON_DUTY_TYPES
from acu_audit.paths import absolute, absolute_or_none
from acu_audit.state import default_state_path
from acu_audit.window import ReviewWindow


@dataclass(frozen=True)
class NightPaths:
    """Where a night reads and writes; absolute from the moment they are made."""

    landing: Path
    db: Path
    out: Path
    state: Path

    @classmethod
    def of(cls, *, landing: str | Path, db: str | Path, out: str | Path, state: str | Path | None = None) -> NightPaths:
        db = absolute(db)
        return cls(landing=absolute(landing), db=db, out=absolute(out), state=absolute_or_none(state) or default_state_path(db))


@dataclass(frozen=True)
class Reveal:
    """Whether tonight's outputs show staff_id beside staff_ref, why, and who runs the night."""

    identities: bool = False
    reason: str | None = None
    actor: str | None = None


def purpose_parameters(settings: Settings) -> dict[str, Any]:
    """What makes a look-up's policing purpose (``purpose`` in configs/), as bind values."""
    p = settings.purpose
    return {
        "assignment_grace_hours": int(p["assignment_grace_hours"]),
        "unit_case_days_after_close": int(p["unit_case_days_after_close"]),
        "operation_days_before": int(p["operation_days_before"]),
        "operation_days_after": int(p["operation_days_after"]),
        "reason_code_counts": bool(p["reason_code_counts"]),
        "shift_margin_minutes": int(p["shift_margin_minutes"]),
        "on_duty_types": list(ON_DUTY_TYPES),  # the contract's duty types that count as on duty
    }


def shared_parameters(settings: Settings, window: ReviewWindow) -> dict[str, Any]:
    """Values every transform and check may bind: the window and the shared vocabulary."""
    shared = dict(settings.checks["shared"])
    baseline_days = int(shared.pop("baseline_days"))
    return {
        **window.params(),
        "baseline_start_utc": window.start_utc - timedelta(days=baseline_days),
        **purpose_parameters(settings),
        "min_peer_group": int(settings.checks["min_peer_group"]),
        **shared,
    }


@dataclass(frozen=True)
class Night:
    """One night of the nightly audit, settled before any step (see the module's docstring)."""

    as_of: date
    settings: Settings
    paths: NightPaths
    run_id: str = field(default_factory=lambda: f"run-{uuid.uuid4().hex[:12]}")
    reveal: Reveal = Reveal()
    validate: bool = True

    @cached_property
    def window(self) -> ReviewWindow:
        return ReviewWindow(self.as_of, self.settings.review_window_days, self.settings.timezone)

    @cached_property
    def _params(self) -> dict[str, Any]:
        return shared_parameters(self.settings, self.window)

    def params(self) -> dict[str, Any]:
        """Every bind name a transform, check or output may use (a fresh copy each call)."""
        return dict(self._params)

    @property
    def docs_staging(self) -> Path:
        """Where tonight's Great Expectations Data Docs are built before publishing moves them
        into the night's set."""
        return self.paths.out / f".data-docs-{self.run_id}"

    def missed(self, night: date) -> Night:
        """A missed night reviewed on the way to this one: same paths and settings, its own run id."""
        return replace(self, as_of=night, run_id=f"{self.run_id}-{night:%Y%m%d}")


@dataclass(frozen=True)
class Findings:
    """What tonight's outputs say beyond the warehouse's tables: the review line drawn, the date the
    data is as of, the feeds missing, and the warnings so far."""

    review_line: float
    data_as_of: date
    missing_feeds: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
