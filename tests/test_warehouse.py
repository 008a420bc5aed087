"""The warehouse connection: closed means let go, and a closed warehouse says so when used."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError


def test_a_closed_warehouse_held_at_exit_leaves_no_leak_report():
    """Prefect's loop thread still holds a finished run's arguments when the process exits. A
    closed warehouse must not keep its connection (with a Python function registered on it, as
    every night registers local_stamp): DuckDB's bindings would print "nanobind: leaked ..."
    about forty lines long at exit."""
    script = textwrap.dedent("""
        import threading, time
        from acu_audit.db import Warehouse
        wh = Warehouse(None)
        wh.create_function("twice", lambda s: s + s, ["VARCHAR"], "VARCHAR")
        assert wh.scalar("SELECT twice('a')") == "aa"
        wh.close()
        threading.Thread(target=lambda held: time.sleep(3600), args=(wh,), daemon=True).start()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr, done.stderr[:500]


def test_a_closed_warehouse_says_it_is_closed():
    wh = Warehouse(None)
    wh.close()
    wh.close()  # closing twice is harmless (a with block after an explicit close)
    with pytest.raises(AcuAuditError, match="closed"):
        wh.scalar("SELECT 1")
