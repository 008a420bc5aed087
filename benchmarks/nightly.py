"""`acu-audit run` timed as an operator runs it: Prefect's start included, per phase, peak memory.

    python benchmarks/nightly.py --landing FORCE/landing --work WORK              # one night, history loaded
    python benchmarks/nightly.py --landing FORCE/landing --work WORK --first-run  # the whole landing at once

One night (the default):
1. Loads every drop but the last into WORK/history.duckdb (a run as of the second-to-last
   drop, in place without Prefect: this is the history, and takes a while at force scale;
   --reuse keeps an existing one).
2. Copies it, adds the last drop, and runs ``acu-audit run`` on it in a fresh process, as an
   operator or the scheduler would: Prefect's ephemeral API, Great Expectations (unless
   --no-validation), the catch-up if any, checks, outliers, leads and publish. Prefect's home
   is one its API has started in before, as the nights before tonight leave it (its database
   made and migrated, beforehand and untimed); --fresh-prefect times the first start in a new
   home instead (about 10 s more: Prefect makes and migrates its database).

First run (--first-run): ``acu-audit run`` on a fresh warehouse over the whole landing (a
force's first night: every drop loaded and validated, every missed night reviewed; Prefect's
first start in a new home, its database made, is timed too), beside
the floor of a plain scan-and-group-by of the same landing (every access_events and
device_messages file read with read_csv and grouped by staff member and day, in DuckDB).

Prints wall time, each phase's time as the run reports it (every line the run printed is kept
in WORK/run.log), the memory by phase as the run records it (``run_phases``: after the phase, the
process, its peak so far and DuckDB's part; within it, the highest sample of the process and
DuckDB's part of that sample; the outlier phase names its frames and model), and the run's peak resident memory:
its process tree's together (Prefect's ephemeral API is a process of its own beside the run),
sampled every quarter second, and the run's own process's high-water mark, with the DuckDB
memory limit the run was given. A megabyte is 10^6 bytes, as the run's own record counts it.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from acu_audit.files import owner_only

PHASE = re.compile(r"^\s+\d\d:\d\d:\d\d (?P<name>[a-z -]+?)(?:: (?P<detail>.*))? \((?P<seconds>[0-9.]+) s\)$")
ACU_AUDIT = [sys.executable, "-m", "acu_audit.cli"]


def run_environment(work: Path) -> dict:
    env = dict(os.environ)
    env.setdefault("ACU_AUDIT_SECRET", "benchmark-only-key-0123456789")
    env["PREFECT_HOME"] = str(work / "prefect")  # the benchmark decides whether it is new (see --fresh-prefect)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    return env


def start_prefect_once(work: Path) -> None:
    """Prefect's home as earlier nights leave it: its ephemeral API started and stopped once, so
    its database exists and is migrated (the first start in a new home does that, about 10 s)."""
    code = "from prefect.server.api.server import SubprocessASGIServer as S\ns = S()\ns.start()\ns.stop()"
    subprocess.run([sys.executable, "-c", code], check=True, env=run_environment(work), capture_output=True)


class TreeMemory:
    """Peak resident memory of a process and its descendants together, sampled from /proc every
    ``interval`` seconds, and the process's own high-water mark (VmHWM: exact, not sampled). The
    children's rusage is not this: it is the largest single process ever waited for (a history
    loaded earlier by this benchmark counts), never the sum of the run and Prefect's API."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid, self.interval = pid, interval
        self.tree_peak_mb = self.own_peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @staticmethod
    def _status_kb(pid: int) -> dict[str, int]:
        """The process's memory figures in /proc/PID/status (kB), empty once it has ended."""
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            return {}  # the process ended between listing and reading
        return {k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in lines) if k in ("VmRSS", "VmHWM")}

    def _tree(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    # the parent id is the 2nd field after the command, which may hold spaces
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                parents.setdefault(ppid, []).append(int(entry.name))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(parents.get(pid, []))
        return tree

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            own = self._status_kb(self.pid)
            total_kb = own.get("VmRSS", 0) + sum(self._status_kb(pid).get("VmRSS", 0) for pid in self._tree()[1:])
            self.tree_peak_mb = max(self.tree_peak_mb, total_kb * 1024 / 1e6)
            # the kernel updates the high-water mark lazily: it can trail the current figure
            # (as acu_audit.flow.nightly.process_memory_mb takes it)
            own_kb = max(own.get("VmHWM", 0), own.get("VmRSS", 0))
            self.own_peak_mb = max(self.own_peak_mb, own_kb * 1024 / 1e6)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def acu_audit_run(landing: Path, db: Path, out: Path, work: Path, validate: bool) -> dict:
    """``acu-audit run`` in a fresh process (Prefect's ephemeral API started by it): wall time,
    the phases it printed, and peak resident memory (``TreeMemory``)."""
    env = run_environment(work)
    cmd = [*ACU_AUDIT, "run", "--landing", str(landing), "--db", str(db), "--out", str(out)]
    if not validate:
        cmd.append("--no-validation")
    started = time.perf_counter()
    # Progress lines are read as they come, so the time before the first phase began (Python and
    # Prefect starting, the flow run made, the night settled) and after the last one ended
    # (the run recorded, the warehouse checkpointed, Prefect's artifacts, the API stopped) show.
    lines: list[tuple[float, str]] = []
    with open(work / "run.out", "w") as stdout, subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env) as proc:
        memory = TreeMemory(proc.pid)
        for line in proc.stderr:
            lines.append((time.perf_counter() - started, line.rstrip("\n")))
        memory.stop()  # stderr closed: the run is ending (its last quarter second may go unsampled)
    wall = time.perf_counter() - started
    stderr = "\n".join(line for _, line in lines)
    (work / "run.log").write_text(stderr)  # every progress line, for a closer look
    if proc.returncode != 0:
        sys.exit(f"acu-audit run failed ({proc.returncode}):\n{stderr[-4000:]}")
    timed = [(at, m) for at, line in lines if (m := PHASE.match(line))]
    phases = [(m["name"], float(m["seconds"]), m["detail"] or "") for _, m in timed if not m["name"].startswith("caught up")]
    before = timed[0][0] - float(timed[0][1]["seconds"]) if timed else wall
    after = wall - timed[-1][0] if timed else 0.0
    return {"wall": wall, "phases": phases, "before": before, "after": after,
            "peak_mb": memory.tree_peak_mb, "own_peak_mb": memory.own_peak_mb}


def scan_and_group_by(landing: Path) -> dict:
    """The floor: every event file read and grouped by staff member and day, nothing else."""
    import duckdb

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, duckdb.connect(str(Path(tmp) / "floor.duckdb")) as con:
        events = sorted(str(p) for p in landing.glob("*/access_events.csv"))
        messages = sorted(str(p) for p in landing.glob("*/device_messages.csv"))
        rows = con.sql(
            """SELECT count(*) FROM (
                   SELECT staff_id, CAST(occurred_at AS DATE), count(*), count(DISTINCT person_id)
                   FROM read_csv($f, union_by_name = true) GROUP BY ALL)""", params={"f": events}).fetchall()[0][0]
        rows += con.sql(
            """SELECT count(*) FROM (
                   SELECT device_id, CAST(hour_start AS DATE), sum(message_count), count(DISTINCT counterparty)
                   FROM read_csv($f, union_by_name = true) GROUP BY ALL)""", params={"f": messages}).fetchall()[0][0]
    return {"seconds": time.perf_counter() - started, "groups": rows}


def link_drop(drop: Path, landing: Path) -> Path:
    """The drop in another landing, its files hard-linked (the landing refuses symbolic links)."""
    target = landing / drop.name
    target.mkdir(exist_ok=True)
    for file in drop.iterdir():
        if not (target / file.name).exists():
            os.link(file, target / file.name)
    return target


def loaded_rows(db: Path) -> int:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql("SELECT coalesce(sum(loaded + duplicate), 0) FROM ingest_files").fetchall()[0][0]


def history(landing: Path, drops: list[Path], work: Path, reuse: bool) -> Path:
    """WORK/history.duckdb: every drop but the last, loaded and reviewed in place (no Prefect)."""
    history_landing = work / "landing"
    history_landing.mkdir(exist_ok=True)
    for drop in drops[:-1]:
        link_drop(drop, history_landing)
    db = work / "history.duckdb"
    if reuse and db.exists():
        return db
    for stale in (db, work / "history.state.duckdb"):
        stale.unlink(missing_ok=True)
    print(f"loading the history: {len(drops) - 1} drops, in place ...", flush=True)
    started = time.perf_counter()
    code = ("from acu_audit.config import load_settings\nfrom acu_audit.flow import run_night, settle_night\n"
            f"run_night(settle_night(landing={str(history_landing)!r}, db={str(db)!r}, out={str(work / 'history-out')!r}, "
            "settings=load_settings(), validate=False))")
    env = {**os.environ, "ACU_AUDIT_SECRET": os.environ.get("ACU_AUDIT_SECRET", "benchmark-only-key-0123456789")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    if not loaded_rows(db):
        sys.exit(f"the history loaded no row from {history_landing}: see {work / 'history-out'}")
    print(f"history loaded in {time.perf_counter() - started:.0f} s")
    return db


def history_copy(work: Path, name: str) -> Path:
    """WORK/<name>.duckdb: a copy of the history (with its analyst state) for one night to change."""
    db = work / f"{name}.duckdb"
    shutil.copy(work / "history.duckdb", db)
    if (work / "history.state.duckdb").exists():
        shutil.copy(work / "history.state.duckdb", work / f"{name}.state.duckdb")
    return db


@contextmanager
def last_drop_linked(drops: list[Path], work: Path, db: Path) -> Iterator[None]:
    """The last drop in WORK/landing for the block (taken out after, so the history stays as it
    was); a night that loaded no row of it ends the benchmark."""
    before = loaded_rows(db)
    tonight = link_drop(drops[-1], work / "landing")
    try:
        yield
    finally:
        shutil.rmtree(tonight)
    if loaded_rows(db) == before:
        sys.exit(f"the night loaded no row of {drops[-1]}")


def report(title: str, run: dict) -> None:
    from acu_audit.config import load_settings

    limit = load_settings().runtime["memory_limit"]
    print(f"{title}: {run['wall']:.1f} s wall (acu-audit run, Prefect's start included), "
          f"peak {run['peak_mb']:,.0f} MB with Prefect's API and any other child, {run['own_peak_mb']:,.0f} MB "
          f"the run's process alone (DuckDB memory_limit {limit})")
    accounted = sum(s for _, s, _ in run["phases"])
    for name, seconds, detail in run["phases"]:
        print(f"  {seconds:7.1f} s  {name:18s} {detail[:110]}")
    print(f"  {run['wall'] - accounted:7.1f} s  {'outside the phases':18s} Python and Prefect start-up, the flow's own work: "
          f"{run['before']:.1f} s before the first phase began, {run['after']:.1f} s after the last one ended")


def memory_by_phase(db: Path) -> None:
    """Where the memory went: the run's own record of each phase (``run_phases``) for its night."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql(
            """SELECT phase, rss_mb, peak_rss_mb, duckdb_mb, step_peak_mb, step_peak_duckdb_mb FROM run_phases
               WHERE run_id = (SELECT run_id FROM run_log WHERE status <> 'reviewed' ORDER BY finished_at DESC LIMIT 1)
               ORDER BY rowid""").fetchall()
    if not rows:
        return
    print("  memory by phase (MB). After it: the run's process / its peak so far / DuckDB's buffers (tables,"
          " temporary tables, operators). Within it: the highest sample (every 0.25 s) / the most DuckDB held near it /"
          " the rest: Python (frames, Great Expectations, the model, libraries) or memory DuckDB freed and has not handed back")

    def mb(value: float | None) -> str:  # a phase shorter than the sampling interval may have no sample
        return f"{value:8,.0f}" if value is not None else f"{'-':>8s}"

    for phase, rss, peak, duck, step_peak, step_duck in rows:
        rest = step_peak - step_duck if step_peak is not None and step_duck is not None else None
        print(f"    {phase:18s} {mb(rss)} / {mb(peak)} / {mb(duck)}   within: {mb(step_peak)} / {mb(step_duck)} / {mb(rest)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="working folder (warehouse copies, outputs)")
    parser.add_argument("--first-run", action="store_true", help="time a first run over the whole landing")
    parser.add_argument("--reuse", action="store_true", help="keep WORK/history.duckdb if it exists")
    parser.add_argument("--no-validation", action="store_true", help="skip Great Expectations (a run validates by default)")
    parser.add_argument("--fresh-prefect", action="store_true",
                        help="a night: time Prefect's first start in a new home (its database made) as well")
    args = parser.parse_args()
    owner_only()  # what it writes (copies, logs, results) holds a force's data: owner-only, as acu-audit's own files
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    landing = args.landing.resolve()
    drops = sorted(p for p in landing.iterdir() if p.is_dir())
    validate = not args.no_validation

    if args.first_run:
        floor = scan_and_group_by(landing)
        print(f"floor: scan-and-group-by of {len(drops)} drops' events: {floor['seconds']:.1f} s ({floor['groups']:,} groups)")
        db = work / "first.duckdb"
        for stale in (db, work / "first.state.duckdb"):
            stale.unlink(missing_ok=True)
        shutil.rmtree(work / "first-out", ignore_errors=True)
        shutil.rmtree(work / "prefect", ignore_errors=True)  # a first night: Prefect's first start too
        run = acu_audit_run(landing, db, work / "first-out", work, validate)
        if not loaded_rows(db):
            sys.exit(f"the first run loaded no row from {landing}")
        report(f"first run over {len(drops)} drops", run)
        print(f"  ratio to the floor: {run['wall'] / floor['seconds']:.1f}x")
        memory_by_phase(db)
        return

    history(landing, drops, work, args.reuse)
    night_db = history_copy(work, "night")
    shutil.rmtree(work / "prefect", ignore_errors=True)
    if not args.fresh_prefect:
        start_prefect_once(work)
    with last_drop_linked(drops, work, night_db):
        run = acu_audit_run(work / "landing", night_db, work / "out", work, validate)
    report(f"night of {drops[-1].name}", run)
    print("  Prefect's home: " + ("new (its first start, making its database, timed)" if args.fresh_prefect
                                  else "as the nights before leave it (started once beforehand, untimed)"))
    memory_by_phase(night_db)


if __name__ == "__main__":
    main()
