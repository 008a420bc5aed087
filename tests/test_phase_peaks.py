"""A night records what each phase's memory peak was made of (``run_phases.step_peak_mb`` and
``step_peak_duckdb_mb``, printed by benchmarks/nightly.py): the memory after a phase misses a peak
inside it, and the peak so far does not say whether DuckDB or Python held it."""

from __future__ import annotations

import threading
import time

from acu_audit.db import Warehouse
from acu_audit.flow.nightly import PhasePeaks
from acu_audit.flow.nightly import _resident_mb as resident_mb  # what the sampler reads

MB = 10**6


def hold_python(megabytes: float) -> bytearray:
    held = bytearray(int(megabytes * MB))
    for i in range(0, len(held), 4096):  # touch every page: an untouched one is not resident
        held[i] = 1
    return held


def test_a_peak_inside_a_phase_is_found_with_duckdbs_part_of_it():
    with Warehouse(None) as wh, PhasePeaks(wh, interval=0.02) as peaks:
        peaks.take()  # start afresh
        # A phase whose DuckDB work is gone when it ends: the peak is inside it, and DuckDB's.
        wh.execute("CREATE TEMP TABLE big AS SELECT range AS n, repeat('x', 60) || range AS s FROM range(3000000)")
        time.sleep(0.3)
        wh.execute("DROP TABLE big")
        # The phase goes on: later samples, lower or a page higher (DuckDB's freed memory stays
        # resident, so a little of Python's raises the high), must not replace what the high held.
        crumbs = hold_python(2)
        time.sleep(0.2)
        duckdb_after = wh.memory_mb()
        peak, duckdb_at_peak = peaks.take()
        del crumbs
        assert peak is not None and duckdb_at_peak is not None
        assert duckdb_at_peak >= 150 and duckdb_after < duckdb_at_peak / 2, (duckdb_at_peak, duckdb_after)
        assert peak > duckdb_at_peak

        # A quiet phase starts afresh: the last phase's high is not carried into it.
        time.sleep(0.1)
        _, duckdb_quiet = peaks.take()
        assert duckdb_quiet is None or duckdb_quiet < 100, duckdb_quiet

        # A phase whose peak is Python's: DuckDB's part of it stays small.
        before = resident_mb()
        held = hold_python(300)
        time.sleep(0.3)
        peak, duckdb_at_peak = peaks.take()
        del held
        assert peak is not None and duckdb_at_peak is not None
        assert duckdb_at_peak < 100 and peak - before >= 290, (peak, before, duckdb_at_peak)


def test_a_sample_read_in_one_phase_is_not_given_to_the_next(monkeypatch):
    asked, answer = threading.Event(), threading.Event()
    calls = []

    def slow_first_answer(self: Warehouse) -> float:
        calls.append(1)
        if len(calls) == 1:  # the first sample waits for DuckDB's figure while its phase ends
            asked.set()
            answer.wait(5)
            return 999.0
        return 1.0

    monkeypatch.setattr(Warehouse, "memory_mb", slow_first_answer)
    with Warehouse(None) as wh, PhasePeaks(wh, interval=0.01) as peaks:
        assert asked.wait(5)
        peaks.take()  # the phase the sample was read in ends before its figure comes
        answer.set()
        time.sleep(0.2)
        _, duckdb_next = peaks.take()
    assert duckdb_next == 1.0, duckdb_next
