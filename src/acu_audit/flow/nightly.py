"""One night of the nightly audit, and the loops over nights: the catch-up and the backfill.

This is the only implementation of a night. ``acu-audit run``, the demo, ``rebuild``, the
backfill, the benchmarks and the tests all come here: directly (:data:`DIRECT`), or through
the Prefect flow (``acu_audit.flow.prefect_flow``), which passes a runner that makes each step
a Prefect task. Any error of acu-audit's own fails the night with :class:`NightFailed` (recorded
in ``run_failures``); nothing is published for it and the previous night's list stays.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from acu_audit.config import Settings
from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError, value_free
from acu_audit.flow import steps
from acu_audit.night import Night, NightPaths, Reveal

T = TypeVar("T")
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ---- how steps are run -----------------------------------------------------------------------

class Runner(Protocol):
    """Runs one step of a night. ``name`` is the step's task name, ``label`` this call's run name,
    ``failing`` what the night was doing if it fails, ``retry_io`` whether a transient
    input/output error may be retried (loading a drop)."""

    def __call__(self, name: str, fn: Callable[..., T], *args: Any, label: str | None = None, failing: str | None = None,
                 retry_io: bool = False) -> T: ...


def DIRECT(name: str, fn: Callable[..., T], *args: Any, label: str | None = None, failing: str | None = None,
           retry_io: bool = False) -> T:
    """Run a step in place (no Prefect): rebuild, benchmarks, tests, and a missed night's steps.

    A step that raises fails the night naming the step, as the Prefect runner does with a failed
    task (``acu_audit.flow.prefect_flow.as_task``), so a failure reads the same whoever runs it."""
    try:
        return fn(*args)
    except Exception as exc:
        raise NightFailed(failing or name, exc) from exc


@dataclass
class StepTiming:
    name: str
    seconds: float
    detail: str = ""
    rss_mb: float | None = None  # the process's resident memory after the step
    peak_rss_mb: float | None = None  # its peak so far
    duckdb_mb: float | None = None  # DuckDB's part of it
    step_peak_mb: float | None = None  # the highest resident memory sampled during the step
    step_peak_duckdb_mb: float | None = None  # the most DuckDB held near it (PhasePeaks)


def _resident_mb() -> float | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def process_memory_mb() -> tuple[float | None, float]:
    """This process's resident memory now (None where /proc is not there) and its peak so far, in MB."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss is in KiB on Linux
    rss = _resident_mb()
    if rss is None:
        return None, peak
    return rss, max(peak, rss)  # the kernel updates the peak lazily: it can trail the current figure


class PhasePeaks:
    """What each phase's memory peak was made of: the process's resident memory sampled every
    ``interval`` seconds in a thread and, near each phase's high, DuckDB's share of it (asked on a
    connection of the sampler's own). The peak so far (:func:`process_memory_mb`) is exact but says
    nothing of its parts, and the memory after a phase misses a peak inside it: a 40,000-staff first
    run's catch-up ended with DuckDB holding 31 MB, where at the phase's high it held 4,000 MB, its
    limit. A sample can miss a spike shorter than the interval, so the sampled peak is at most the
    kernel's. What is not DuckDB's is Python's, or memory DuckDB freed and its allocator has not yet
    handed back to the system: that memory stays resident, so a page more of Python's after DuckDB
    frees its tables raises the high a little with DuckDB's part gone. Samples within ``NEAR`` of the
    high therefore count as the high, and DuckDB's part is the most it held in any of them."""

    NEAR = 0.01  # of the high, and at least NEAR_MB
    NEAR_MB = 16.0

    def __init__(self, wh: Warehouse, interval: float = 0.25) -> None:
        import threading

        self._wh = wh
        self._interval = interval
        self._lock = threading.Lock()
        self._peak: tuple[float, float | None] | None = None  # the phase's high (resident MB) and DuckDB's MB near it
        self._phase = 0  # counts the takes: a sample read in one phase is not stored in the next
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="phase-peaks", daemon=True)
        self._connection: Warehouse | None = None

    def __enter__(self) -> PhasePeaks:
        if _resident_mb() is None:  # nothing to sample where /proc is not there
            return self
        try:
            self._connection = self._wh.another_connection()
        except Exception:  # a diagnosis: a night runs without it rather than fail
            return self
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._connection is not None:
            self._connection.close()

    @classmethod
    def _margin(cls, high: float) -> float:
        return max(cls.NEAR_MB, cls.NEAR * high)

    def _sample(self) -> None:
        assert self._connection is not None
        while not self._stop.wait(self._interval):
            phase, rss, peak = self._phase, _resident_mb(), self._peak  # one read each: take() may change them
            if rss is None or (peak is not None and rss < peak[0] - self._margin(peak[0])):
                continue
            try:
                duckdb_mb: float | None = self._connection.memory_mb()
            except Exception:  # the figure is a diagnosis: never fail a night for it
                duckdb_mb = None
            with self._lock:
                # Only take() changes the high, and it ends the phase: a sample of this phase is
                # near its high or above it (a lower one was passed over before DuckDB was asked).
                if phase == self._phase:  # else the phase ended meanwhile: the sample belongs to neither
                    self._peak = self._with_sample(self._peak, rss, duckdb_mb)

    @classmethod
    def _with_sample(cls, peak: tuple[float, float | None] | None, rss: float,
                     duckdb_mb: float | None) -> tuple[float, float | None]:
        """The phase's high and DuckDB's part after a sample at or near it (never below it by more
        than the margin)."""
        if peak is None or rss > peak[0] + cls._margin(peak[0]):
            return rss, duckdb_mb  # a new high
        high, duckdb_near = peak
        most = max((v for v in (duckdb_near, duckdb_mb) if v is not None), default=None)
        return max(high, rss), most

    def take(self) -> tuple[float | None, float | None]:
        """The phase's highest sample and the most DuckDB held near it, since the last ``take``;
        the next phase starts afresh."""
        with self._lock:
            peak, self._peak = self._peak, None
            self._phase += 1
        return peak if peak is not None else (None, None)


@dataclass
class Journal:
    """What a night says as it goes: progress lines, each step's time, and its warnings."""

    progress: Progress = _quiet
    timings: list[StepTiming] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    warehouse: Warehouse | None = None  # whose memory each step's timing records, when set
    peaks: PhasePeaks | None = None  # what each step's peak was made of, when set

    def timed(self, name: str, seconds: float, detail: str = "") -> None:
        rss, peak = process_memory_mb()
        duckdb_mb = self.warehouse.memory_mb() if self.warehouse is not None else None
        step_peak, step_peak_duckdb = self.peaks.take() if self.peaks is not None else (None, None)
        self.timings.append(StepTiming(name, seconds, detail, rss, peak, duckdb_mb, step_peak, step_peak_duckdb))
        self.progress(f"{name}: {detail} ({seconds:.1f} s)" if detail else f"{name} ({seconds:.1f} s)")


@dataclass(frozen=True)
class Reviewed:
    """A night's review: its purpose labels, checks, outlier scores and lead list."""

    purpose: Any
    checked: steps.Checked
    outliers: Any
    listed: steps.Listed


@dataclass(frozen=True)
class NightResult:
    """Everything a published night found, for the caller, the artifacts and the summary."""

    night: Night
    loaded: steps.Loaded
    feeds: Any  # acu_audit.feeds.FeedHealth
    caught_up: list[date]
    reviewed: Reviewed
    published: steps.Published
    warnings: list[str]
    timings: list[StepTiming]

    @property
    def leads(self) -> Any:
        return self.reviewed.listed.result


class NightFailed(AcuAuditError):
    """The night could not be completed because of acu-audit's own error (not bad data).

    ``step`` says what the run was doing (``loading drop 2026-11-28``, ``checks``...). Nothing is
    published for the night: the previous night's set stays.
    """

    def __init__(self, step: str, cause: BaseException | str):
        self.step = step
        self.cause = cause
        self.journal: Journal | None = None  # what the night said before it failed
        what = cause if isinstance(cause, str) else describe_error(cause)
        super().__init__(f"{step}: {what}")


def describe_error(exc: BaseException) -> str:
    """An error in one line: our own errors by their message, anything else by its type too."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, AcuAuditError):
        return text or type(exc).__name__
    text = value_free(text)  # a third party's message may quote a value from a row
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---- settling the night ----------------------------------------------------------------------

def settle_night(*, landing: str | Path, db: str | Path, out: str | Path, settings: Settings, as_of: date | None = None,
                 state: str | Path | None = None, reveal: Reveal = Reveal(), validate: bool = True,
                 run_id: str | None = None) -> Night:
    """The night a run audits, settled once before any step: ``as_of``, or the newest drop in the landing.

    The newest drop *found*, not the newest that loads: a drop that is there and does not load is
    never passed over in silence for the night before (its feeds show as missing).
    """
    from acu_audit.ingest import discover_drops

    paths = NightPaths.of(landing=landing, db=db, out=out, state=state)
    if as_of is None:
        drops, _ = discover_drops(paths.landing)
        if not drops:
            raise AcuAuditError(f"no drop in {paths.landing}: nothing to audit (drops are folders named YYYY-MM-DD)")
        as_of = drops[-1].drop_date
    extra = {"run_id": run_id} if run_id else {}
    return Night(as_of=as_of, settings=settings, paths=paths, reveal=reveal, validate=validate, **extra)


def open_warehouse(night: Night) -> Warehouse:
    """The warehouse of a night, with its schema in place (the one place schema set-up runs)."""
    from acu_audit.schema import ensure_schema

    wh = Warehouse.configured(night.paths.db, night.settings.runtime)
    try:
        ensure_schema(wh)
    except BaseException:
        wh.close()
        raise
    return wh


# ---- one night -------------------------------------------------------------------------------

def run_night(night: Night, *, run: Runner = DIRECT, progress: Progress = _quiet) -> NightResult:
    """Load, review and publish one night. Raises :class:`NightFailed` naming the step that broke."""
    journal = Journal(progress)
    step = "opening the warehouse"
    try:
        with open_warehouse(night) as wh, night_validator(night) as validator, PhasePeaks(wh) as peaks:
            journal.warehouse, journal.peaks = wh, peaks
            step = "loading the drops"
            loaded = load_drops(wh, night, run, journal, validator)
            step = "feed health"
            started = time.perf_counter()
            feeds = run("feed-health", steps.feed_health, wh, night, failing=step)
            journal.warnings.extend(feeds.warnings())
            bad = [s for s in feeds.statuses if s.status in ("missing", "thin")]
            journal.timed("feed health", time.perf_counter() - started,
                          f"data as of {feeds.data_as_of}; {len(bad)} missing or thin feed(s)")
            step = "reviewing missed nights"
            caught_up = catch_up(wh, night, run, journal)
            step = "reviewing the night"  # each of its steps fails under its own name (the runner's)
            reviewed = review(wh, night, run, journal)
            step = "validating the new rows"
            loaded = collect_validation(wh, loaded, validator, run, journal)
            step = "publishing"
            started = time.perf_counter()
            findings = steps.findings_of(feeds, reviewed.listed, journal.warnings)
            published = run("publish", steps.publish, wh, night, findings, journal.progress, failing=step)
            journal.warnings.extend(published.warnings)
            journal.timed("publish", time.perf_counter() - started, published.detail)
            step = "recording the run"
            record_run(wh, night, reviewed.listed, published, journal.warnings, timings=journal.timings)
            wh.checkpoint()
    except Exception as exc:
        failure = exc if isinstance(exc, NightFailed) else NightFailed(step, exc)
        failure.journal = journal
        record_failure(night.paths.db, night.as_of, night.run_id, failure, journal.progress)
        raise failure from exc
    return NightResult(night, loaded, feeds, caught_up, reviewed, published, journal.warnings, journal.timings)


@contextmanager
def night_validator(night: Night) -> Iterator[Any]:
    """The night's Great Expectations validator (None when the night does not validate): beside the
    night's steps as ``runtime.validation_beside`` allows, its thread stopped when the night ends."""
    if not night.validate:
        yield None
        return
    from acu_audit.validation import GxValidator

    with GxValidator.from_settings(night.settings, docs_dir=night.docs_staging, beside=True) as validator:
        yield validator


def load_drops(wh: Warehouse, night: Night, run: Runner, journal: Journal, validator: Any) -> steps.Loaded:
    """Every drop up to the night that is not loaded yet, one step per drop, validated by
    ``validator`` (:func:`night_validator`; None: not validated). A validator beside the night
    has its work handed over when this returns: :func:`collect_validation` stores it."""
    from acu_audit.ingest import Lanes, discover_drops, finish_ingest_run, ledger_of_unchanged_files, passed_unread, start_ingest_run

    started = time.perf_counter()
    report = start_ingest_run(wh, night.paths.landing, night.as_of, f"ingest-{night.run_id}")
    drops, report.warnings = discover_drops(night.paths.landing, night.as_of)
    report.drops_found = [d.drop_date for d in drops]
    seen = ledger_of_unchanged_files(wh)
    rt = night.settings.runtime
    with wh.checkpoints_at(rt["ingest_checkpoint_threshold"]), Lanes(wh, int(rt["ingest_lanes"])) as lanes:
        for drop in drops:
            if passed_unread(drop, seen, report):  # no task for a drop the ledger has seen as it is
                continue
            run("ingest-drop", steps.load_drop, wh, drop, report, validator, journal.progress, lanes,
                label=f"ingest-{drop.drop_date}", failing=f"loading drop {drop.drop_date}", retry_io=True)
        if validator is not None:  # files still waiting (on the lanes that staged them)
            run("validate-waiting-files", validator.flush, wh, failing="validating the files still waiting")
    if validator is not None:  # the night's Data Docs, rendered once
        run("data-docs", validator.build_docs, failing="building the Data Docs")
    finish_ingest_run(wh, report, validator, started)
    beside = validator is not None and validator.beside
    loaded = steps.Loaded(report, [] if beside else steps.validation_failures(wh, report.run_id), validation_beside=beside)
    journal.warnings.extend(loaded.warnings)
    journal.timed("ingest", report.seconds, loaded.detail)
    return loaded


def collect_validation(wh: Warehouse, loaded: steps.Loaded, validator: Any, run: Runner, journal: Journal) -> steps.Loaded:
    """Wait for Great Expectations working beside the night and store what it found, before the
    night publishes (its Data Docs join the night's set); the night's timing is the wait."""
    if validator is None or not validator.beside:
        return loaded
    started = time.perf_counter()
    run("validation", validator.collect, wh, failing="validating the new rows")
    loaded.report.gx_seconds = validator.seconds
    collected = steps.Loaded(loaded.report, steps.validation_failures(wh, loaded.report.run_id))
    journal.timed("validation", time.perf_counter() - started, collected.validation_detail)
    return collected


def review(wh: Warehouse, night: Night, run: Runner = DIRECT, journal: Journal | None = None) -> Reviewed:
    """Purpose labels, the run-wide tables, checks, outlier scores and the lead list of one night."""
    journal = journal or Journal()
    purpose = label_purpose(wh, night, run, journal)
    checked, outliers = gather_evidence(wh, night, run, journal)
    return Reviewed(purpose, checked, outliers, list_leads(wh, night, outliers, run, journal))


def _timed(run: Runner, journal: Journal, name: str, fn: Callable[..., T], *args: Any, detail: Callable[[T], str],
           seconds: Callable[[T], float] | None = None) -> T:
    started = time.perf_counter()
    result = run(name.replace(" ", "-"), fn, *args, failing=name)
    journal.warnings.extend(getattr(result, "warnings", ()))  # Checked and Listed say what they found
    journal.timed(name, seconds(result) if seconds else time.perf_counter() - started, detail(result))
    return result


# A night's review in three parts: what a catch-up in lanes orders night by night (the labels,
# kept per day; the queue) and what it runs beside another night (the evidence).

def label_purpose(wh: Warehouse, night: Night, run: Runner = DIRECT, journal: Journal | None = None) -> Any:
    """The policing purpose of every look-up of the night's window (days labelled before are kept)."""
    return _timed(run, journal or Journal(), "policing purpose", steps.policing_purpose, wh, night,
                  seconds=lambda r: r.seconds, detail=lambda r: r.detail)


def gather_evidence(wh: Warehouse, night: Night, run: Runner = DIRECT, journal: Journal | None = None,
                    store_hits_in_turn: AbstractContextManager[Any] | None = None) -> tuple[steps.Checked, Any]:
    """The run-wide tables, every check and the outlier scores of the night, on ``wh``'s connection
    (its temporary tables are what the night's lead list reads). ``store_hits_in_turn`` holds the
    storing of the checks' hits until the night before has stored its own (their calibration
    reads the span's); the checks themselves read only look-ups, labels and reference data."""
    journal = journal or Journal()
    _timed(run, journal, "run tables", steps.run_tables, wh, night, detail=lambda _: "reference data and run tables of the window")
    checked = _timed(run, journal, "checks", steps.checks, wh, night, store_hits_in_turn, detail=lambda r: r.detail)
    outliers = _timed(run, journal, "outlier score", steps.outlier_score, wh, night, seconds=lambda r: r.seconds,
                      detail=lambda r: f"{r.scores.height:,} staff (features {r.frame_mb:.1f} MB, model {r.model_mb:.1f} MB)")
    return checked, outliers


def list_leads(wh: Warehouse, night: Night, outliers: Any, run: Runner = DIRECT, journal: Journal | None = None) -> steps.Listed:
    """The night's lead list, built in the queue from the evidence gathered on ``wh``'s connection."""
    journal = journal or Journal()
    return _timed(run, journal, "leads", steps.leads, wh, night, outliers, journal.progress, detail=lambda r: r.detail)


def record_run(wh: Warehouse, night: Night, listed: steps.Listed | None, published: steps.Published | None,
               warnings: list[str], status: str | None = None, timings: Sequence[StepTiming] = ()) -> None:
    """Note the completed night (the catch-up and the backfill resume from here).

    ``status`` ``reviewed``: a missed night reviewed by a catch-up, with no outputs of its own. A
    night run again (a replay) is added as ``replayed`` beside the first run's entry, which it
    never replaces. ``timings``: the night's phases, kept in ``run_phases`` with the memory after
    each (what ``benchmarks/nightly.py`` reads).
    """
    replayed = status is None and listed is not None and listed.replay
    status = status or ("replayed" if replayed else "completed_with_warnings" if warnings else "completed")
    leads_csv = published.night_set / "leads.csv" if published else None
    digest = hashlib.sha256(leads_csv.read_bytes()).hexdigest() if leads_csv and leads_csv.exists() else None
    with wh.transaction():
        if not replayed:
            wh.execute("DELETE FROM run_log WHERE as_of = $d", {"d": night.as_of})
            wh.execute("DELETE FROM run_phases WHERE as_of = $d", {"d": night.as_of})
        wh.execute(
            "INSERT INTO run_log VALUES ($d, $r, now(), $s, $n, $w, $h)",
            {"d": night.as_of, "r": night.run_id, "s": status, "n": len(listed.result.rows) if listed else 0,
             "w": list(warnings), "h": digest},
            step="record run",
        )
        wh.executemany(
            "INSERT INTO run_phases (as_of, run_id, phase, seconds, rss_mb, peak_rss_mb, duckdb_mb, detail,"
            " step_peak_mb, step_peak_duckdb_mb) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(night.as_of, night.run_id, t.name, t.seconds, t.rss_mb, t.peak_rss_mb, t.duckdb_mb, t.detail,
              t.step_peak_mb, t.step_peak_duckdb_mb) for t in timings],
            step="record the night's phases",
        )


def record_failure(db: Path, as_of: date | None, run_id: str, failure: NightFailed, progress: Progress = _quiet) -> None:
    """Keep the failed night in ``run_failures`` (best effort: the warehouse may be what failed).
    ``as_of`` is None when the night could not even be settled."""
    from acu_audit.schema import ensure_schema

    try:
        with Warehouse(db) as wh:
            ensure_schema(wh)
            wh.execute(
                "INSERT INTO run_failures VALUES ($d, $r, now(), $s, $e)",
                {"d": as_of, "r": run_id, "s": failure.step,
                 "e": str(failure.cause if isinstance(failure.cause, str) else describe_error(failure.cause))},
                step="record the failed night",
            )
    except Exception as exc:  # noqa: BLE001 - the original failure is what the caller reports
        progress(f"could not record the failure in the warehouse: {describe_error(exc)}")


# ---- the loops over nights -------------------------------------------------------------------

def nights_to_catch_up(wh: Warehouse, night: Night) -> list[date]:
    """The nights before the as-of date that nightly runs would have reviewed and no run did.

    "What nightly runs would have built" is the queue left by running the nightly review on
    every night from the first night with a full review window (the first drop's date plus
    the window length minus one) -- or from the night after the last night reviewed -- up
    to the as-of night, in order, with the analyst state as it stands. So a first run over a
    60-night landing reviews nights 28 to 59 and then publishes night 60; a gap after an outage
    reviews the nights missed. ``leads.catch_up_step_days`` (1 to 7) reviews only every n-th of
    those nights, windows ending at most n days apart, faster and approximate. A re-run of a
    night at or before the last night reviewed catches up nothing.
    """
    last = wh.scalar("SELECT max(as_of) FROM run_log")
    if last is not None and night.as_of <= last:
        return []
    if last is None:
        first_drop = wh.scalar("SELECT min(drop_date) FROM ingest_files WHERE loaded > 0 OR duplicate > 0")
        if first_drop is None:
            return []
        start = first_drop + timedelta(days=night.settings.review_window_days - 1)
    else:
        start = last + timedelta(days=1)
    end = night.as_of - timedelta(days=1)
    if start > end:
        return []
    step = min(7, max(1, int(night.settings.leads["catch_up_step_days"])))
    nights = [end - timedelta(days=k) for k in range(0, (end - start).days + 1, step)]
    if nights[-1] != start:
        nights.append(start)  # the earliest window must cover the first nights too
    return sorted(nights)


def review_missed_night(wh: Warehouse, night: Night, progress: Progress = _quiet) -> Reviewed:
    """The nightly review of one missed night, kept in the warehouse and the queue; no outputs.

    Recorded in ``run_log`` as ``reviewed`` so an interrupted catch-up resumes where it stopped.
    """
    started = time.perf_counter()
    reviewed = review(wh, night)
    record_run(wh, night, reviewed.listed, None, [], status="reviewed")
    progress(_caught_up_line(night.as_of, reviewed, time.perf_counter() - started))
    return reviewed


def _caught_up_line(day: date, reviewed: Reviewed, seconds: float) -> str:
    leads = reviewed.listed.result
    return f"caught up {day}: {len(leads.rows)} leads, {leads.review} in review ({seconds:.1f} s)"


def catch_up(wh: Warehouse, night: Night, run: Runner, journal: Journal) -> list[date]:
    """Review every missed night before the night (see :func:`nights_to_catch_up`), one step each,
    in ``runtime.catch_up_lanes`` lanes (:class:`MissedNightLanes`)."""
    missed = nights_to_catch_up(wh, night)
    if not missed:
        return []
    journal.progress(f"the database is behind: reviewing {len(missed)} missed night(s), {missed[0]} to {missed[-1]}")
    started = time.perf_counter()
    lanes = max(1, int(night.settings.runtime["catch_up_lanes"]))
    side_by_side = lanes > 1 and len(missed) > 1
    with MissedNightLanes(wh, [night.missed(day) for day in missed], lanes) if side_by_side else nullcontext() as pipeline:
        for i, day in enumerate(missed):
            review_it = (pipeline.reviewed, i) if pipeline else (review_missed_night, wh, night.missed(day))
            run("catch-up-night", *review_it, journal.progress, label=f"catch-up-{day}",
                failing=f"reviewing the missed night {day} (run again to resume from {day})")
    journal.timed("catch-up", time.perf_counter() - started, f"{len(missed)} missed night(s) reviewed, {missed[0]} to {missed[-1]}")
    return missed


class MissedNightLanes:
    """Missed nights reviewed side by side, each lane a thread with its own connection.

    A missed night's review is mostly statements over a few thousand rows, too small for DuckDB
    to keep two cores busy; two nights at once do. Lane k reviews nights k, k + lanes, ... and
    only what one night needs from the one before waits for it: its purpose labels (kept per day:
    a night labels only the days the night before did not), the storing of its checks' hits
    (their calibration reads the hits of every night of the span, the night before's included)
    and its lead list (built in the queue the night before left, then recorded in ``run_log`` in
    order, so a catch-up that stops resumes after the last night recorded). Its run-wide tables,
    checks and outlier scores read only stored look-ups, labels and reference data, so they run
    beside the other lane's night. Each night's evidence stays in its lane's temporary tables for
    its list. A failure stops every lane at its next turn; the caller sees it when it asks for
    that night (:meth:`reviewed`), after every night before it is recorded.
    """

    def __init__(self, wh: Warehouse, nights: list[Night], lanes: int = 2) -> None:
        import threading
        from concurrent.futures import Future

        self.nights = nights
        self._results: list[Future] = [Future() for _ in nights]
        self._done = {"purpose": -1, "hits": -1, "list": -1}  # the last night each ordered part is done for
        self._turns = threading.Condition()
        self._stopped = False
        self._connections = [wh.another_connection() for _ in range(min(lanes, len(nights)))]
        self._threads = [threading.Thread(target=self._lane, args=(k,), name=f"catch-up-lane-{k}", daemon=True)
                         for k in range(len(self._connections))]
        for thread in self._threads:
            thread.start()

    def reviewed(self, index: int, progress: Progress = _quiet) -> Reviewed:
        """The review of the ``index``-th night, once its lane has recorded it (or its failure)."""
        reviewed, seconds = self._results[index].result()
        progress(_caught_up_line(self.nights[index].as_of, reviewed, seconds))
        return reviewed

    def _lane(self, k: int) -> None:
        wh = self._connections[k]
        for i in range(k, len(self.nights), len(self._connections)):
            night = self.nights[i]
            started = time.perf_counter()
            try:
                with self._turn("purpose", i):
                    purpose = label_purpose(wh, night)
                checked, outliers = gather_evidence(wh, night, store_hits_in_turn=self._turn("hits", i))
                with self._turn("list", i):
                    listed = list_leads(wh, night, outliers)
                    record_run(wh, night, listed, None, [], status="reviewed")
            except BaseException as exc:  # noqa: BLE001 - handed to the caller with the night
                # The caller asks for the nights in order and stops at this one: the lane's
                # later nights are never asked for.
                self._stop()
                self._results[i].set_exception(exc)
                return
            self._results[i].set_result((Reviewed(purpose, checked, outliers, listed), time.perf_counter() - started))

    @contextmanager
    def _turn(self, part: str, index: int) -> Iterator[None]:
        """Wait until ``part`` is done for the night before, then mark it done for this one."""
        with self._turns:
            while self._done[part] < index - 1:
                if self._stopped:
                    raise _Stopped("another missed night failed")
                self._turns.wait()
        yield
        with self._turns:
            self._done[part] = index
            self._turns.notify_all()

    def _stop(self) -> None:
        with self._turns:
            self._stopped = True
            self._turns.notify_all()

    def close(self) -> None:
        """Stop the lanes (a statement running is interrupted), wait for them and close their connections."""
        self._stop()
        for thread in self._threads:
            # A lane between statements (fitting the forest, building a list) misses an interrupt:
            # interrupt again until it reaches a statement or its next turn and stops.
            while thread.is_alive():
                for connection in self._connections:
                    connection.con.interrupt()
                thread.join(timeout=0.2)
        for connection in self._connections:
            connection.close()

    def __enter__(self) -> MissedNightLanes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Stopped(AcuAuditError):
    """A lane stopped because another failed (or the catch-up was stopped)."""


def published_nights(db: Path) -> set[date]:
    """Nights already run with outputs, read without holding the file (the backfill skips them).

    A night a catch-up reviewed (status ``reviewed``) has no outputs of its own, so a backfill
    still runs it: its list is already kept, and the re-run publishes it unchanged.
    """
    if not Path(db).exists():
        return set()
    with Warehouse(db, read_only=True) as wh:
        if not wh.table_exists("run_log"):
            return set()
        return {r[0] for r in wh.execute("SELECT DISTINCT as_of FROM run_log WHERE status <> 'reviewed'")}


def backfill_nights(db: Path, start: date, end: date, *, force: bool = False) -> tuple[list[date], list[date]]:
    """The nights a backfill from ``start`` to ``end`` runs, in order, and those it skips as done."""
    if end < start:
        raise AcuAuditError(f"end {end} is before start {start}")
    done = set() if force else published_nights(db)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [d for d in days if d not in done], [d for d in days if d in done]
