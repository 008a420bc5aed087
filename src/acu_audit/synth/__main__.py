"""``python -m acu_audit.synth --out DIR [--staff N] [--days D] [--seed S] [--plant-intensity F] [--profile P] [--start YYYY-MM-DD]``."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from acu_audit.synth import generate_force


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m acu_audit.synth", description="Generate a demo force (landing drops + truth.json).")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--staff", type=int, default=2000)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--plant-intensity", type=float, default=1.0)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 1))
    p.add_argument("--profile", default=None, help="noisy, busy, mix, early, or several comma-separated")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    report = generate_force(args.out, staff=args.staff, days=args.days, seed=args.seed, start=args.start,
                            plant_intensity=args.plant_intensity, profile=args.profile, progress=None if args.quiet else (lambda m: print(m, file=sys.stderr)))
    for table, n in report.row_counts.items():
        print(f"{table:20s} {n:>12,d}")
    print(f"{len(report.drops)} drops in {report.landing_dir}; truth: {report.truth_path}; {report.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
