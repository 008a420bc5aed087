"""Deployment entry point: the backfill flow (``acu_audit.flow.prefect_flow.backfill``).

The nightly audit for each date in order, loading only the drops up to that date; resumable
(nights already published are skipped unless ``--force``). Each night's outputs go to ``OUT/<date>/``.

    python pipelines/backfill.py --landing demo/landing --db demo/acu_audit.duckdb --out demo/backfill \\
        --start 2026-11-20 --end 2026-11-29
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from acu_audit.flow.prefect_flow import backfill

__all__ = ["backfill"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Backfill the nightly audit over a date range.")
    parser.add_argument("--landing", required=True)
    parser.add_argument("--db", default="acu_audit.duckdb")
    parser.add_argument("--out", required=True)
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    final = backfill(landing=args.landing, db=args.db, out=args.out, start=args.start, end=args.end, force=args.force,
                     return_state=True)
    print(final.message)
    sys.exit(0 if final.is_completed() else 1)
