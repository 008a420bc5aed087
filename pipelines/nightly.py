"""Deployment entry point: the nightly audit flow (``acu_audit.flow.prefect_flow.nightly_audit``).

``prefect.yaml`` and ``serve.py`` point here. Run once on Prefect's ephemeral API (no server):

    python pipelines/nightly.py --landing demo/landing --db demo/acu_audit.duckdb --out demo/out
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from acu_audit.flow.prefect_flow import nightly_audit

__all__ = ["nightly_audit"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the nightly audit flow once (ephemeral Prefect API).")
    parser.add_argument("--landing", required=True)
    parser.add_argument("--db", default="acu_audit.duckdb")
    parser.add_argument("--out", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat)
    args = parser.parse_args()
    final = nightly_audit(landing=args.landing, db=args.db, out=args.out, as_of=args.as_of, return_state=True)
    print(final.message)
    sys.exit(0 if final.is_completed() else 1)
