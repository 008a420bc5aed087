"""Where a night's time goes: each phase's CPU and page faults, and its slowest statements.

    python benchmarks/night_profile.py --landing FORCE/landing --work WORK [--top 30]

WORK is a folder of ``benchmarks/nightly.py``: its WORK/history.duckdb (every drop but the last,
loaded and reviewed) is made first if it is not there. The profile copies it, adds the last drop
and runs the night in this process, without Prefect (``run_night``, as the flow's tasks call it),
so that what it measures is the night's own work:

- per phase: wall time, the process's user and system CPU time, the cores that makes (CPU over
  wall: 2.0 is both cores of CI's machine busy) and the minor page faults (memory touched anew);
- every statement that DuckDB ran, timed where the warehouse runs it (from whichever thread), and
  summed by the step that ran it and the table it makes or fills: the slowest ``--top``.

Statements of the two ingest lanes overlap in time, so their sum may exceed the ingest's wall
time. The same night through ``acu-audit run`` (Prefect's start and API included) is
``benchmarks/nightly.py``. Nothing is asserted; the machine's moment moves every figure (the
same night has taken 56.6-87.0 s in process within half an hour), so compare back to back.
"""

from __future__ import annotations

import argparse
import re
import resource
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from nightly import history, history_copy, last_drop_linked

# What a statement makes or fills: its first CREATE ... TABLE/VIEW or INSERT INTO target.
TARGET = re.compile(r"\b(?:TABLE|VIEW|INTO)\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w.\"]+)", re.IGNORECASE)


@dataclass
class Phase:
    name: str
    wall: float
    user: float
    system: float
    faults: int


class PhaseClock:
    """The progress callback of a night: the process's CPU time and faults at each phase's end
    (the whole process's: Great Expectations' thread, at work beside the night once the loading
    ends, adds its CPU to the phases it runs beside, the policing purpose's mostly)."""

    def __init__(self) -> None:
        self.phases: list[Phase] = []
        self._last = resource.getrusage(resource.RUSAGE_SELF)
        self._at = time.perf_counter()

    def __call__(self, line: str) -> None:
        if not line.rstrip().endswith(" s)") or line.startswith(" "):
            return  # a file's line, not a phase's
        now, at = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        self.phases.append(Phase(line.split(":")[0].split(" (")[0], at - self._at, now.ru_utime - self._last.ru_utime,
                                 now.ru_stime - self._last.ru_stime, now.ru_minflt - self._last.ru_minflt))
        self._last, self._at = now, at


class StatementLog:
    """Every statement's seconds, by step and target (thread-safe: the ingest runs two lanes)."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str], float] = {}
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, step: str, sql: str, seconds: float) -> None:
        match = TARGET.search(sql)
        target = match.group(1) if match else " ".join(sql.split())[:48]
        with self._lock:
            self.seconds[(step, target)] = self.seconds.get((step, target), 0.0) + seconds
            self.count += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="benchmarks/nightly.py's working folder")
    parser.add_argument("--top", type=int, default=30, help="how many of the slowest statements to print")
    args = parser.parse_args()
    work, landing = args.work.resolve(), args.landing.resolve()
    work.mkdir(parents=True, exist_ok=True)
    drops = sorted(p for p in landing.iterdir() if p.is_dir())
    history(landing, drops, work, reuse=True)
    db = history_copy(work, "profile")

    from acu_audit.config import load_settings
    from acu_audit.db import timing_statements
    from acu_audit.flow import run_night, settle_night

    clock, statements = PhaseClock(), StatementLog()
    with last_drop_linked(drops, work, db):
        started = time.perf_counter()
        with timing_statements(statements):
            result = run_night(settle_night(landing=work / "landing", db=db, out=work / "profile-out", settings=load_settings()),
                               progress=clock)
        wall = time.perf_counter() - started

    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"night of {drops[-1].name} in process (no Prefect): {wall:.1f} s, peak {usage.ru_maxrss / 1024:,.0f} MB; "
          f"checks: {result.reviewed.checked.detail}; leads: {result.reviewed.listed.detail}")
    print(f"  {'phase':18s} {'wall':>7s} {'user':>7s} {'system':>7s} {'cores':>6s} {'faults':>8s}")
    for p in clock.phases:
        print(f"  {p.name:18s} {p.wall:6.1f}s {p.user:6.1f}s {p.system:6.1f}s {(p.user + p.system) / max(p.wall, 1e-9):6.2f} "
              f"{p.faults / 1e6:7.2f}M")
    rest = wall - sum(p.wall for p in clock.phases)
    print(f"  {'outside the phases':18s} {rest:6.1f}s")
    total = sum(statements.seconds.values())
    print(f"statements: {statements.count:,}, {total:.1f} s in all; the {args.top} slowest by step and target:")
    for (step, target), seconds in sorted(statements.seconds.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {seconds:6.2f} s  {step[:44]:44s} {target[:60]}")


if __name__ == "__main__":
    main()
