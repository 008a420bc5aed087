"""Backfill: the nightly audit for each date in order, loading only the drops up to that date.

Resumable: dates already completed (``run_log`` in the warehouse) are skipped, so a
second call after a crash carries on where the first stopped; ``force`` re-runs them,
which changes nothing (same hits and leads, a byte-identical leads.csv). Each night's
outputs go to ``OUT/<date>/``.

    python pipelines/backfill.py --landing demo/landing --db demo/acu_audit.duckdb --out demo/backfill \\
        --start 2026-11-20 --end 2026-11-29
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from acu_audit.paths import absolute, absolute_or_none  # noqa: E402
from pipelines.nightly import nightly_audit  # noqa: E402


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def completed_dates(db: str) -> set[date]:
    """Nights already completed with outputs, read without holding the file.

    A night a catch-up reviewed (status ``reviewed``) has no outputs of its own, so a backfill
    still runs it: its list is already kept, and the re-run publishes it unchanged.
    """
    from acu_audit.db import Warehouse

    if not Path(db).exists():
        return set()
    with Warehouse(db, read_only=True) as wh:
        if not wh.table_exists("run_log"):
            return set()
        return {r[0] for r in wh.execute("SELECT DISTINCT as_of FROM run_log WHERE status <> 'reviewed'")}


@flow(name="backfill-audit")
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
    """Run the nightly audit for every date from ``start`` to ``end``, in order."""
    logger = get_run_logger()
    # Parameters are paths as the deployment or caller wrote them: absolute from here on.
    landing, db, out = str(absolute(landing)), str(absolute(db)), absolute(out)
    state, config = _text(absolute_or_none(state)), _text(absolute_or_none(config))
    if end < start:
        return Failed(message=f"end {end} is before start {start}")
    done = completed_dates(db)
    dates = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    ran, skipped = [], []
    for day in dates:
        if day in done and not force:
            logger.info(f"{day}: already completed, nothing to do")
            skipped.append(day)
            continue
        result = nightly_audit(
            landing=landing, db=db, out=str(out / day.isoformat()), as_of=day, state=state, config=config,
            run_validation=run_validation, return_state=True,
        )
        if not result.is_completed():
            return Failed(message=f"stopped at {day}: {result.message}; run again to resume from {day}")
        ran.append(day)
    return Completed(message=f"{len(ran)} night(s) run, {len(skipped)} already completed", data={"ran": [str(d) for d in ran]})


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Backfill the nightly audit over a date range.")
    parser.add_argument("--landing", required=True)
    parser.add_argument("--db", default="acu_audit.duckdb")
    parser.add_argument("--out", required=True)
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    final = backfill(landing=args.landing, db=args.db, out=args.out, start=args.start, end=args.end, force=args.force, return_state=True)
    print(final.message)
    sys.exit(0 if final.is_completed() else 1)
