"""Ingestion: every drop not yet loaded, in drop-date order, into the warehouse.

Public entry point: :func:`ingest_landing`. See ``loader`` for what happens to
each file and ``staging`` for how a file is read and typed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from acu_audit.contract import TABLES
from acu_audit.db import Warehouse, quote_identifier, side_by_side
from acu_audit.ingest.landing import Drop, LandingFile, Refusal, discover_drops
from acu_audit.schema import ensure_schema
from acu_audit.ingest.loader import (
    FileResult,
    StagedValidator,
    ledger_of_unchanged_files,
    load_file,
    record_refusal,
    unchanged_drop,
)

__all__ = [
    "IngestReport", "FileResult", "ingest_landing", "ingest_drop", "start_ingest_run", "finish_ingest_run",
    "ensure_schema", "discover_drops", "Drop", "LandingFile", "Refusal", "ledger_of_unchanged_files", "passed_unread",
    "Lanes", "loading_warehouse",
]


@dataclass
class IngestReport:
    run_id: str
    files: list[FileResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    gx_seconds: float = 0.0
    drops_found: list[date] = field(default_factory=list)  # every drop in the landing up to the as-of date

    @property
    def latest_drop(self) -> date | None:
        """The newest drop in the landing (loaded or not): the night a run defaults to."""
        return max(self.drops_found, default=None)

    @property
    def processed(self) -> list[FileResult]:
        return [f for f in self.files if f.status != "already_loaded"]

    @property
    def drops_loaded(self) -> list[date]:
        return sorted({f.drop_date for f in self.processed})

    def totals(self) -> dict[str, int]:
        keys = ("read", "loaded", "duplicate", "rejected", "conflicts", "unresolved_refs", "resent")
        return {k: sum(getattr(f, k) for f in self.files) for k in keys}

    def ledger_json(self) -> dict:
        return {"files": [f.ledger_json() for f in self.files], "warnings": self.warnings}


def _count_unresolved(wh: Warehouse, result: FileResult) -> int:
    """Loaded event rows whose staff_id / person_id is not in the reference data as of the drop."""
    spec = TABLES[result.table]
    conditions = []
    for ref in spec.references:
        col = quote_identifier(ref.column)
        target_col = quote_identifier(ref.target_column)
        conditions.append(
            f"""(e.{col} IS NOT NULL
                 AND e.{col} NOT IN (SELECT {target_col} FROM {quote_identifier(ref.table + '_as_of')}($drop_date)))"""
        )
    if not conditions:
        return 0
    return wh.scalar(
        f"SELECT count(*) FROM {quote_identifier(spec.name)} e WHERE e._file_id = $file_id AND ({' OR '.join(conditions)})",
        {"file_id": result.file_id, "drop_date": result.drop_date},
        step=f"count unresolved references in {result.file_name}",
    )


class Lanes:
    """Connections that load a drop's files side by side.

    A file is a string of statements over a few thousand to a few hundred thousand rows, most of
    them too small for DuckDB to spread over cores, with our own scan of the file in Python between
    them; two files loading at once keep both cores busy (a first run's 643 files at 2,000 staff:
    74 s in one lane, 45 s in two). A table keeps the lane it is first given (the one with the
    fewest bytes so far) for the whole run: its files load in order, its snapshot versions are
    written by one connection, and its rows waiting for Great Expectations stay in that lane's
    temporary table. Each file is still its own transaction. A file failing in either lane (or a
    stop) stops the other lane at its statement or before its next file. One lane loads on the
    warehouse's own connection, as before.
    """

    def __init__(self, wh: Warehouse, count: int = 1) -> None:
        self.wh = wh
        self.connections = [wh] if count <= 1 else [wh.another_connection() for _ in range(count)]
        self._lane_of: dict[str | None, int] = {}
        self._bytes = [0] * len(self.connections)

    def _lane(self, landing_file: LandingFile) -> int:
        lane = self._lane_of.get(landing_file.table)
        if lane is None:
            lane = self._lane_of[landing_file.table] = self._bytes.index(min(self._bytes))
        try:
            self._bytes[lane] += landing_file.path.stat().st_size
        except OSError:  # gone or refused: the load says so
            pass
        return lane

    def load(self, files: list[LandingFile], load_one: Callable[[Warehouse, LandingFile], FileResult]) -> list[FileResult]:
        """``load_one`` of every file, each lane loading its tables' files in order; the results in
        the order of ``files``."""
        if len(self.connections) == 1:
            return [load_one(self.wh, f) for f in files]
        queues: list[list[int]] = [[] for _ in self.connections]
        for i, landing_file in enumerate(files):
            queues[self._lane(landing_file)].append(i)
        results: list[FileResult | None] = [None] * len(files)

        def load(connection: Warehouse, i: int) -> None:
            results[i] = load_one(connection, files[i])

        side_by_side(self.connections, queues, load, "ingest-lane")  # the files not begun load on the next run
        return [r for r in results if r is not None]

    def close(self) -> None:
        for connection in self.connections:
            if connection is not self.wh:
                connection.close()

    def __enter__(self) -> Lanes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_ingest_run(wh: Warehouse, landing: Path, up_to: date | None, run_id: str | None = None) -> IngestReport:
    """Record an ingest run; the caller then loads drops with :func:`ingest_drop` (on a warehouse
    whose schema is set up: :func:`acu_audit.schema.ensure_schema`)."""
    report = IngestReport(run_id=run_id or f"ingest-{uuid.uuid4().hex[:12]}")
    # One writer per warehouse file: a run still open now was killed. Say so; its files that
    # committed are in the ledger, the rest load again now.
    wh.execute(
        "UPDATE ingest_runs SET status = 'interrupted' WHERE finished_at IS NULL AND status IS NULL AND ingest_run_id <> $id",
        {"id": report.run_id},
        step="mark interrupted ingest runs",
    )
    wh.execute(
        """INSERT INTO ingest_runs (ingest_run_id, started_at, finished_at, landing, up_to, files_processed, files_skipped)
           VALUES ($id, now(), NULL, $landing, $up_to, NULL, NULL) ON CONFLICT DO NOTHING""",
        {"id": report.run_id, "landing": str(landing), "up_to": up_to},
        step="record ingest run",
    )
    return report


def ingest_drop(
    wh: Warehouse,
    drop: Drop,
    report: IngestReport,
    validator: StagedValidator | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    lanes: Lanes | None = None,
) -> list[FileResult]:
    """Load every file of one drop that is not loaded yet: reference data first, then events (an
    event's references are counted against the drop's reference data), the files of each side by
    side in ``lanes`` (one at a time without)."""
    lanes = lanes or Lanes(wh)
    results = [record_refusal(wh, refusal, report.run_id) for refusal in drop.refused]
    reference = [f for f in drop.files if f.table is not None and TABLES[f.table].kind == "snapshot"]
    rest = [f for f in drop.files if f not in reference]
    for stage in (reference, rest):
        for result in lanes.load(stage, lambda connection, f: load_file(connection, f, report.run_id, validator)):
            if result.status in ("loaded", "partial") and TABLES[result.table].kind == "event":
                result.unresolved_refs = _count_unresolved(wh, result)
                if result.unresolved_refs:
                    wh.execute(
                        "UPDATE ingest_files SET unresolved_refs = $n WHERE file_id = $f",
                        {"n": result.unresolved_refs, "f": result.file_id},
                        step="ledger: unresolved references",
                    )
            results.append(result)
            if on_file is not None:
                on_file(result)
    report.files.extend(results)
    return results


def passed_unread(drop: Drop, seen: dict, report: IngestReport, on_file: Callable[[FileResult], None] | None = None) -> bool:
    """True when the ledger has seen every file of the drop as it is now (``seen``:
    :func:`ledger_of_unchanged_files`): its files go into the report as already loaded, as
    reading the drop would record them, and the drop need not be read."""
    unchanged = unchanged_drop(drop, seen)
    if unchanged is None:
        return False
    report.files.extend(unchanged)
    for result in unchanged if on_file is not None else ():
        on_file(result)
    return True


def finish_ingest_run(wh: Warehouse, report: IngestReport, validator: StagedValidator | None, started: float) -> IngestReport:
    """Close the run in the ledger; the caller has flushed the validator (files still waiting)."""
    report.seconds = time.perf_counter() - started
    report.gx_seconds = getattr(validator, "seconds", 0.0) if validator is not None else 0.0
    wh.execute(
        "UPDATE ingest_runs SET finished_at = now(), files_processed = $p, files_skipped = $s, status = 'finished' "
        "WHERE ingest_run_id = $id",
        {"p": len(report.processed), "s": len(report.files) - len(report.processed), "id": report.run_id},
        step="finish ingest run",
    )
    return report


@contextmanager
def loading_warehouse(db: Path, runtime: Mapping[str, Any]) -> Iterator[Warehouse]:
    """The warehouse opened to load a landing outside a night (``acu-audit ingest``, the demo's
    history, the ingest benchmark) as a night loads it: under the configured ``runtime``
    (:meth:`Warehouse.configured`) and folding its log only at ``ingest_checkpoint_threshold``
    until the block ends (:meth:`Warehouse.checkpoints_at`)."""
    with Warehouse.configured(db, runtime) as wh, wh.checkpoints_at(runtime["ingest_checkpoint_threshold"]):
        yield wh


def ingest_landing(
    wh: Warehouse,
    landing: Path,
    *,
    up_to: date | None = None,
    validator: StagedValidator | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    run_id: str | None = None,
    lanes: int = 1,
) -> IngestReport:
    """Load every file of every drop up to ``up_to`` that is not loaded yet, ``lanes`` files at a
    time (:class:`Lanes`).

    Idempotent: files are tracked by drop, name and content hash, so a second
    call loads nothing, and a file added to or changed in a loaded drop is noticed.
    """
    started = time.perf_counter()
    ensure_schema(wh)
    report = start_ingest_run(wh, Path(landing), up_to, run_id)
    drops, report.warnings = discover_drops(Path(landing), up_to)
    report.drops_found = [d.drop_date for d in drops]
    seen = ledger_of_unchanged_files(wh)
    with Lanes(wh, lanes) as side_by_side:
        for drop in drops:
            if not passed_unread(drop, seen, report, on_file):
                ingest_drop(wh, drop, report, validator, on_file, side_by_side)
        if validator is not None:
            validator.flush(wh)  # files still waiting to be validated with more of their table
    return finish_ingest_run(wh, report, validator, started)
