"""benchmarks/nightly.py reports a run's peak memory against the aim of 6 GB; the figure means
something only if it counts the run's whole process tree (Prefect's ephemeral API is a process of
its own) and not the largest process this benchmark ever waited for."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from benchmark_modules import load_benchmark


# A parent holding about 200 MB that starts a child holding about 150 MB; both hold it for a
# second, so a quarter-second sampler sees them together.
TREE = textwrap.dedent("""
    import subprocess, sys, time
    held = bytearray(200 * 10**6)
    for i in range(0, len(held), 4096):
        held[i] = 1
    child = subprocess.Popen([sys.executable, "-c",
        "import time\\nb = bytearray(150 * 10**6)\\nfor i in range(0, len(b), 4096): b[i] = 1\\ntime.sleep(1.5)"])
    time.sleep(1.5)
    child.wait()
""")


def test_the_peak_counts_the_run_and_its_children_together():
    module = load_benchmark("nightly.py", "nightly_benchmark")

    with subprocess.Popen([sys.executable, "-c", TREE]) as proc:
        memory = module.TreeMemory(proc.pid, interval=0.05)
        proc.wait()
        memory.stop()
    assert proc.returncode == 0
    assert 200 <= memory.own_peak_mb < 300  # the parent's own high-water mark: its 200 MB, not the child's
    assert memory.tree_peak_mb >= 350  # both together
