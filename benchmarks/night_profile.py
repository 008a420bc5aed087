"""Where a night's time goes: each phase's CPU and page faults, and its slowest statements.

    python benchmarks/night_profile.py --landing FORCE/landing --work WORK [--top 30]
    python benchmarks/night_profile.py --landing FORCE/landing --work WORK --first-run

WORK is a folder of ``benchmarks/nightly.py``: its WORK/history.duckdb (every drop but the last,
loaded and reviewed) is made first if it is not there. The profile copies it, adds the last drop
and runs the night in this process, without Prefect (``run_night``, as the flow's tasks call it),
so that what it measures is the night's own work:

- per phase: wall time, the process's user and system CPU time, the cores that makes (CPU over
  wall: 2.0 is both cores of CI's machine busy) and the minor page faults (memory touched anew);
- every statement that DuckDB ran, timed where the warehouse runs it (from whichever thread), and
  summed by the step that ran it and the table it makes or fills: the slowest ``--top``.

With ``--first-run`` it profiles a force's first night instead: a new warehouse in WORK/first.duckdb
over the whole landing (every drop loaded, every missed night reviewed: each caught-up night is a
phase line of its own), as ``nightly.py --first-run`` runs it but in process, without Prefect
(Great Expectations validates beside the steps, as in a night). A first run is thousands of small
statements (one file's ledger, counts and commit each): in either mode the profile prints, per phase,
how many statements ran and how much of the time went to those under 10 ms. The catch-up reviews missed
nights in two lanes side by side: a night's line ends when the run reaches it in order, so its
statements include the other lane's that ran meanwhile; read the nights together (the total
printed after them), not one by one.

Statements of the two ingest lanes overlap in time, so their sum may exceed the ingest's wall
time. The same night through ``acu-audit run`` (Prefect's start and API included) is
``benchmarks/nightly.py``. Nothing is asserted; the machine's moment moves every figure (the
same night has taken 56.6-87.0 s in process within half an hour), so compare back to back.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from acu_audit.files import owner_only

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
        self.start()

    def start(self) -> None:
        """The first phase starts now (not when the clock was made: the history's copy is not a phase)."""
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
    """Every statement's seconds, by step and target (thread-safe: the ingest runs two lanes), and per
    phase the count and time of all statements and of the small ones (under ``SMALL`` seconds: a
    statement's fixed cost, not its data, dominates them)."""

    SMALL = 0.010

    def __init__(self, clock: PhaseClock) -> None:
        self.seconds: dict[tuple[str, str], float] = {}
        self.count = 0
        self.per_phase: dict[int, list[float]] = {}  # phase index -> [statements, seconds, small ones, their seconds]
        self._clock = clock
        self._lock = threading.Lock()

    def tally(self, phase: int) -> list[float]:
        """[statements, seconds, small ones, their seconds] of the phase at this index (the index
        after the last phase: the statements after it ended)."""
        return self.per_phase.get(phase, [0, 0.0, 0, 0.0])

    def __call__(self, step: str, sql: str, seconds: float) -> None:
        match = TARGET.search(sql)
        target = match.group(1) if match else " ".join(sql.split())[:48]
        with self._lock:
            self.seconds[(step, target)] = self.seconds.get((step, target), 0.0) + seconds
            self.count += 1
            tally = self.per_phase.setdefault(len(self._clock.phases), [0, 0.0, 0, 0.0])
            tally[0] += 1
            tally[1] += seconds
            if seconds < self.SMALL:
                tally[2] += 1
                tally[3] += seconds


def profiled_run(landing: Path, db: Path, out: Path, clock: PhaseClock, statements: StatementLog) -> tuple[object, float]:
    """A run over ``landing`` into ``db`` in process, its phases on ``clock`` (started now) and its
    statements in ``statements``: the run's result and its wall seconds."""
    from acu_audit.config import load_settings
    from acu_audit.db import timing_statements
    from acu_audit.flow import run_night, settle_night

    clock.start()
    started = time.perf_counter()
    with timing_statements(statements):
        result = run_night(settle_night(landing=landing, db=db, out=out, settings=load_settings()), progress=clock)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="benchmarks/nightly.py's working folder")
    parser.add_argument("--top", type=int, default=30, help="how many of the slowest statements to print")
    parser.add_argument("--first-run", action="store_true",
                        help="profile a first run over the whole landing on a new warehouse, not one night")
    args = parser.parse_args()
    owner_only()  # what it writes (copies, logs, results) holds a force's data: owner-only, as acu-audit's own files
    work, landing = args.work.resolve(), args.landing.resolve()
    work.mkdir(parents=True, exist_ok=True)
    drops = sorted(p for p in landing.iterdir() if p.is_dir())

    clock = PhaseClock()
    statements = StatementLog(clock)
    if args.first_run:
        db = work / "first.duckdb"
        for stale in (db, work / "first.duckdb.wal", work / "first.state.duckdb", work / "first.state.duckdb.wal"):
            stale.unlink(missing_ok=True)
        shutil.rmtree(work / "first-out", ignore_errors=True)
        title = f"first run over {len(drops)} drops"
        result, wall = profiled_run(landing, db, work / "first-out", clock, statements)
    else:
        history(landing, drops, work, reuse=True)
        db = history_copy(work, "profile")
        title = f"night of {drops[-1].name}"
        with last_drop_linked(drops, work, db):
            result, wall = profiled_run(work / "landing", db, work / "profile-out", clock, statements)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{title} in process (no Prefect): {wall:.1f} s, peak {usage.ru_maxrss * 1024 / 1e6:,.0f} MB; "
          f"checks: {result.reviewed.checked.detail}; leads: {result.reviewed.listed.detail}")
    print(f"  {'phase':22s} {'wall':>7s} {'user':>7s} {'system':>7s} {'cores':>6s} {'faults':>8s} "
          f"{'statements':>10s} {'of them < 10 ms':>15s}")
    for i, p in enumerate(clock.phases):
        n, _, small, small_seconds = statements.tally(i)
        print(f"  {p.name:22s} {p.wall:6.1f}s {p.user:6.1f}s {p.system:6.1f}s {(p.user + p.system) / max(p.wall, 1e-9):6.2f} "
              f"{p.faults / 1e6:7.2f}M {n:10,d} {small:7,d} {small_seconds:6.1f}s")
    caught_up = [i for i, p in enumerate(clock.phases) if p.name.startswith("caught up ")]
    if caught_up:
        tallies = [statements.tally(i) for i in caught_up]
        print(f"  {f'{len(caught_up)} caught-up nights':22s} {sum(clock.phases[i].wall for i in caught_up):6.1f}s "
              f"{sum(clock.phases[i].user for i in caught_up):6.1f}s {sum(clock.phases[i].system for i in caught_up):6.1f}s "
              f"{'':6s} {'':8s} {sum(t[0] for t in tallies):10,d} {sum(t[2] for t in tallies):7,d} "
              f"{sum(t[3] for t in tallies):6.1f}s")
    rest = wall - sum(p.wall for p in clock.phases)
    n, _, small, small_seconds = statements.tally(len(clock.phases))  # after the last phase
    print(f"  {'outside the phases':22s} {rest:6.1f}s {'':7s} {'':7s} {'':6s} {'':8s} {n:10,d} {small:7,d} {small_seconds:6.1f}s")
    total = sum(statements.seconds.values())
    small = sum(t[3] for t in statements.per_phase.values())
    print(f"statements: {statements.count:,}, {total:.1f} s in all ({small:.1f} s in those under 10 ms); "
          f"the {args.top} slowest by step and target:")
    for (step, target), seconds in sorted(statements.seconds.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {seconds:6.2f} s  {step[:44]:44s} {target[:60]}")


if __name__ == "__main__":
    main()
