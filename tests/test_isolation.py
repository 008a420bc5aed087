"""The demo-force generator is never on the pipeline path, and the pipeline never reads truth.json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import acu_audit

PIPELINE_MODULES = [
    "acu_audit.cli", "acu_audit.flow.nightly", "acu_audit.flow.prefect_flow", "acu_audit.ingest", "acu_audit.validation", "acu_audit.purpose",
    "acu_audit.checks", "acu_audit.publish", "acu_audit.privacy", "acu_audit.config", "acu_audit.db",
]


def test_pipeline_modules_do_not_import_the_generator():
    code = (
        "import sys, importlib\n"
        f"for m in {PIPELINE_MODULES!r}:\n"
        "    importlib.import_module(m)\n"
        "leaked = sorted(m for m in sys.modules if m.startswith('acu_audit.synth'))\n"
        "print(','.join(leaked))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"pipeline imports the generator: {out}"


def test_no_pipeline_source_mentions_truth_json():
    package = Path(acu_audit.__file__).parent
    offenders = [
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if "synth" not in p.parts and "truth.json" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
