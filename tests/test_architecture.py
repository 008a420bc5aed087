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

import pytest

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


@pytest.mark.slow
def test_the_wheel_ships_the_library_alone(tmp_path):
    """pipelines/ holds deployment entry points that import the library; the wheel is acu_audit only
    (with its SQL and configuration as resources)."""
    import zipfile

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("acu_audit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    version = wheel.name.split("-")[1]
    assert {n.split("/")[0] for n in names} == {"acu_audit", f"acu_audit-{version}.dist-info"}
    assert "acu_audit/flow/prefect_flow.py" in names and "acu_audit/_resources/sql/schema/warehouse.sql" in names


def test_the_work_pool_deployments_and_the_served_ones_do_not_share_a_name(tmp_path):
    """prefect.yaml (a work pool) and pipelines/serve.py (one serving process) register on the same
    server; a shared flow-and-deployment name would let one overwrite the other. Both run the
    same flows from the same entry points."""
    import importlib.util

    import yaml

    spec = importlib.util.spec_from_file_location("serve_module", ROOT / "pipelines" / "serve.py")
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    served = {(d.flow_name, d.name) for d in serve.deployments(str(tmp_path), str(tmp_path / "a.duckdb"), str(tmp_path), schedule=False)}
    pool = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    flow_of = {"pipelines/nightly.py:nightly_audit": "nightly-audit", "pipelines/backfill.py:backfill": "backfill-audit"}
    pooled = {(flow_of[d["entrypoint"]], d["name"]) for d in pool}
    assert {f for f, _ in served} == {f for f, _ in pooled} == {"nightly-audit", "backfill-audit"}
    assert not served & pooled, served & pooled
