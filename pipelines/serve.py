"""Serve the deployments from one process: the nightly audit on a cron schedule
(02:30 Europe/London) and the backfill on demand.

Scheduled runs need a Prefect server (the ephemeral API does not schedule):

    prefect server start                                   # terminal 1 (UI on http://127.0.0.1:4200)
    export PREFECT_API_URL=http://127.0.0.1:4200/api        # terminal 2
    python pipelines/serve.py --landing /data/landing --db /data/acu_audit.duckdb --out /data/out

Then trigger a run from the UI or with
``prefect deployment run 'nightly-audit/nightly'``. For a work pool and workers
instead of one serving process, see prefect.yaml.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from prefect import serve
from prefect.schedules import Cron

from acu_audit.flow.prefect_flow import backfill, nightly_audit

NIGHTLY_CRON = "30 2 * * *"
TIMEZONE = "Europe/London"


def deployments(landing: str, db: str, out: str, *, schedule: bool = True) -> list:
    """The nightly deployment (scheduled) and the backfill deployment (on demand)."""
    common = {"landing": landing, "db": db}
    nightly = nightly_audit.to_deployment(
        name="nightly",
        schedules=[Cron(NIGHTLY_CRON, timezone=TIMEZONE)] if schedule else None,
        parameters={**common, "out": out},
        description="Load the night's drop, run the checks and the outlier score, publish the ranked leads.",
        tags=["acu-audit", "nightly"],
    )
    backfill_deployment = backfill.to_deployment(
        name="backfill",
        parameters={**common, "out": str(Path(out) / "backfill")},
        description="Run the nightly audit for each date of a range, in order; resumable.",
        tags=["acu-audit", "backfill"],
    )
    return [nightly, backfill_deployment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", default=os.environ.get("ACU_AUDIT_LANDING", "landing"))
    parser.add_argument("--db", default=os.environ.get("ACU_AUDIT_DB", "acu_audit.duckdb"))
    parser.add_argument("--out", default=os.environ.get("ACU_AUDIT_OUT", "out"))
    parser.add_argument("--no-schedule", action="store_true", help="register the nightly deployment without its cron schedule")
    args = parser.parse_args()
    serve(*deployments(str(Path(args.landing).resolve()), str(Path(args.db).resolve()), str(Path(args.out).resolve()),
                       schedule=not args.no_schedule))


if __name__ == "__main__":
    main()
