"""A night records what each phase's memory peak was made of (``run_phases.step_peak_mb`` and
``step_peak_duckdb_mb``, printed by benchmarks/nightly.py): the memory after a phase misses a peak
inside it, and the peak so far does not say whether DuckDB or Python held it."""

from __future__ import annotations

import time

from acu_audit.db import Warehouse
from acu_audit.flow.nightly import PhasePeaks

MB = 10**6


def hold_python(megabytes: int) -> bytearray:
    held = bytearray(megabytes * MB)
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
        time.sleep(0.2)  # the phase goes on after it: later, lower samples must not replace the high
        duckdb_after = wh.memory_mb()
        peak, duckdb_at_peak = peaks.take()
        assert peak is not None and duckdb_at_peak is not None
        assert duckdb_at_peak >= 150 and duckdb_after < duckdb_at_peak / 2, (duckdb_at_peak, duckdb_after)
        assert peak > duckdb_at_peak

        # A phase whose peak is Python's: DuckDB's part of it stays small.
        held = hold_python(300)
        time.sleep(0.3)
        peak, duckdb_at_peak = peaks.take()
        del held
        assert peak is not None and duckdb_at_peak is not None
        assert duckdb_at_peak < 100 and peak - duckdb_at_peak >= 300, (peak, duckdb_at_peak)
