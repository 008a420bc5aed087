"""The benchmarks write what a force's data makes (warehouse copies, the run's log, results) as
acu-audit writes its own files: owner-only, whatever the caller's umask. benchmarks/nightly.py left
its working folder, run.out and run.log readable by all before it set the umask itself."""

from __future__ import annotations

import ast
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted((ROOT / "benchmarks").glob("*.py"))


def calls_in_main(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    main = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"), None)
    if main is None:
        return []
    return [n.func.id for n in ast.walk(main) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]


@pytest.mark.parametrize("script", [p for p in BENCHMARKS if calls_in_main(p)], ids=lambda p: p.name)
def test_every_benchmark_sets_owner_only_files_first(script):
    assert "owner_only" in calls_in_main(script), f"{script.name}: main() does not call acu_audit.files.owner_only()"


def test_nightly_makes_its_working_folder_owner_only_under_an_open_umask(tmp_path):
    """The folder is made first, before any warehouse is opened (opening one sets the umask too):
    an empty landing stops the benchmark right after, at its floor's read_csv."""
    (tmp_path / "landing").mkdir()
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "nightly.py"), "--landing", "landing", "--work", "work", "--first-run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "ACU_AUDIT_GROUP_READABLE"},
        preexec_fn=lambda: os.umask(0o022),  # as a shell with the usual umask starts it
    )
    assert stat.S_IMODE((tmp_path / "work").stat().st_mode) == 0o700
