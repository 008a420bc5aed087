"""The architecture's arrows (``[tool.importlinter]`` in pyproject.toml), checked by import-linter.

import-linter reads every import statement, those inside functions too, so a late import that
runs the wrong way is caught as surely as one at the top of a module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(src: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT, env=env,
                          capture_output=True, text=True)


def test_every_import_contract_is_kept():
    result = lint_imports(ROOT / "src")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_an_import_inside_a_function_that_runs_the_wrong_way_is_caught(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "acu_audit", src / "acu_audit", ignore=shutil.ignore_patterns("__pycache__"))
    with open(src / "acu_audit" / "ingest" / "loader.py", "a", encoding="utf-8") as handle:
        handle.write("\n\ndef _late():\n    from acu_audit.leads import QueueRules  # ingest must not know the queue\n\n"
                     "    return QueueRules\n")
    result = lint_imports(src)
    assert result.returncode != 0
    assert "Ingest imports no checks, leads or outputs BROKEN" in " ".join(result.stdout.split())
