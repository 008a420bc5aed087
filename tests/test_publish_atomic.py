"""Publishing is atomic as a set: a reader of --out sees last night's files or tonight's, never a mix."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acu_audit.publish import NIGHT_FILES

CHILD = """
import sys
from datetime import date
from pathlib import Path
from acu_audit.config import load_settings
from acu_audit.pipeline import RunContext, run_nightly
root = Path(sys.argv[1])
ctx = RunContext(landing=root / "landing", out=root / "out", db=root / "acu.duckdb", settings=load_settings(None),
                 as_of=date.fromisoformat(sys.argv[2]), validate=False, progress=lambda m: print(m, flush=True))
run_nightly(ctx)
"""


def published_set(out: Path) -> dict:
    """The set a reader of ``out`` sees now; asserts it is whole and of one night."""
    night = (out / "current").resolve()
    manifest = json.loads((night / "manifest.json").read_text())
    for name in NIGHT_FILES:
        assert (out / name).resolve() == night / name, name  # every public name leads into the same night
        if name != "manifest.json":
            assert hashlib.sha256((night / name).read_bytes()).hexdigest() == manifest["sha256"][name], name
    assert night.name.startswith(manifest["as_of"]) and manifest["run_id"] in night.name
    return manifest


def run_child(root: Path, night: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(root), night], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


@pytest.mark.slow
def test_a_kill_during_publish_never_leaves_a_mixed_set(tmp_path):
    from acu_audit.synth import generate_force

    env = {**os.environ, "ACU_AUDIT_SECRET_FILE": str(tmp_path / "secret")}
    generate_force(tmp_path, staff=150, days=12, seed=4)
    nights = sorted(p.name for p in (tmp_path / "landing").iterdir())
    last_night, tonight = nights[-2], nights[-1]

    first = run_child(tmp_path, last_night, env)
    publish_seconds = None
    for line in first.stdout:
        if line.startswith("publish"):
            publish_seconds = float(line.rsplit("(", 1)[1].split(" s)")[0])
    assert first.wait() == 0 and publish_seconds
    assert published_set(tmp_path / "out")["as_of"] == last_night

    rng = random.Random(16)
    kills = 0
    for _ in range(6):
        child = run_child(tmp_path, tonight, env)
        for line in child.stdout:
            if line.startswith("leads"):  # the step before publish: kill somewhere inside it
                time.sleep(rng.uniform(0, publish_seconds * 1.2))
                if child.poll() is None:
                    child.send_signal(signal.SIGKILL)
                    kills += 1
                break
        child.wait()
        seen = published_set(tmp_path / "out")  # whole, and of one night, whatever the moment
        assert seen["as_of"] in (last_night, tonight)
    assert kills >= 3

    final = run_child(tmp_path, tonight, env)
    for _ in final.stdout:
        pass
    assert final.wait() == 0
    assert published_set(tmp_path / "out")["as_of"] == tonight
    kept = [p for p in (tmp_path / "out" / "nights").iterdir()]
    assert all((p / "manifest.json").exists() for p in kept)  # half-written folders are cleared
    assert len(kept) <= 7
