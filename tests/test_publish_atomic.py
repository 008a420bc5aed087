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
from acu_audit.flow import run_night, settle_night
root = Path(sys.argv[1])
night = settle_night(landing=root / "landing", out=root / "out", db=root / "acu.duckdb", settings=load_settings(None),
                     as_of=date.fromisoformat(sys.argv[2]), validate=False)
run_night(night, progress=lambda m: print(m, flush=True))
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
    first.stdout.close()
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
        child.stdout.close()
        child.wait()
        seen = published_set(tmp_path / "out")  # whole, and of one night, whatever the moment
        assert seen["as_of"] in (last_night, tonight)
    assert kills >= 3

    final = run_child(tmp_path, tonight, env)
    for _ in final.stdout:
        pass
    final.stdout.close()
    assert final.wait() == 0
    assert published_set(tmp_path / "out")["as_of"] == tonight
    kept = [p for p in (tmp_path / "out" / "nights").iterdir()]
    assert all((p / "manifest.json").exists() for p in kept)  # half-written folders are cleared
    assert len(kept) <= 7


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def _running_flow_runs(prefect_home: Path) -> list[str]:
    """Flow runs the ephemeral API's database holds as Running (read directly: no server to start)."""
    import sqlite3

    database = prefect_home / "prefect.db"
    if not database.exists():
        return []
    with sqlite3.connect(database) as con:
        return [r[0] for r in con.execute("SELECT name FROM flow_run WHERE state_type = 'RUNNING'")]


@pytest.mark.slow
def test_acu_audit_run_stopped_or_killed_leaves_a_whole_set_no_process_and_no_running_flow_run(tmp_path):
    """`acu-audit run` (Prefect's ephemeral API in a child process) stopped by SIGTERM or killed by
    SIGKILL in each phase: the published set is whole and of one night, no child process is left,
    and no flow run stays Running (after SIGTERM at once; after SIGKILL the next run marks it)."""
    from acu_audit.synth import generate_force

    generate_force(tmp_path, staff=150, days=12, seed=4)
    nights = sorted(p.name for p in (tmp_path / "landing").iterdir())
    home = tmp_path / "prefect-home"
    env = {**os.environ, "ACU_AUDIT_SECRET_FILE": str(tmp_path / "secret"), "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)

    def start(night: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "acu_audit.cli", "run", "--landing", "landing", "--out", "out",
                                 "--db", "acu.duckdb", "--no-validation", "--as-of", night],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    first = start(nights[-2])
    first.communicate()
    assert first.returncode == 0
    rng = random.Random(21)
    stops = []
    for phase, sig in [("ingest:", signal.SIGTERM), ("feed health", signal.SIGKILL), ("checks:", signal.SIGTERM),
                       (" leads:", signal.SIGKILL), ("outlier", signal.SIGTERM)]:
        child = start(nights[-1])
        seen = ""
        for line in child.stderr:
            seen += line
            if phase in line:
                time.sleep(rng.uniform(0, 0.5))
                break
        spawned = _children(child.pid)
        if child.poll() is None:
            child.send_signal(sig)
            stops.append(sig)
        seen += child.stderr.read()
        child.stderr.close()
        child.wait()
        for _ in range(150):  # the API server is told to stop when its parent goes; it takes a moment
            left = [p for p in spawned if Path(f"/proc/{p}").exists()]
            if not left:
                break
            time.sleep(0.1)
        assert not left, f"a child process outlived acu-audit run after {sig.name}"
        if sig == signal.SIGTERM:
            assert child.returncode in (130, 143, 0), seen[-3000:]
            assert _running_flow_runs(home) == []
        assert published_set(tmp_path / "out")["as_of"] in (nights[-2], nights[-1])
    assert stops.count(signal.SIGTERM) >= 2 and stops.count(signal.SIGKILL) >= 1

    final = start(nights[-1])
    _, errors = final.communicate()
    assert final.returncode == 0, errors[-3000:]
    assert published_set(tmp_path / "out")["as_of"] == nights[-1]
    assert _running_flow_runs(home) == []  # a killed run's Running flow run was marked Crashed


SERVER_START = """
import json, subprocess, sys
from acu_audit import runtime
events = []
real_popen = subprocess.Popen
def popen(*args, **kwargs):
    child = real_popen(*args, **kwargs)
    events.append(["spawned", child.pid])
    return child
subprocess.Popen = popen
runtime.start_ephemeral_api(meanwhile=lambda: events.append(["helper started"]))
from prefect.client.orchestration import get_client
from prefect.settings import get_current_settings
with get_client(sync_client=True) as client:
    healthy = client.api_healthcheck() is None
print(json.dumps({"events": events, "healthy": healthy, "api": get_current_settings().api.url,
                  "server_code_imported": "prefect.server.api.server" in sys.modules}))
"""


@pytest.mark.slow
def test_acu_audit_starts_prefects_server_without_its_server_code_and_stops_it_at_exit(tmp_path):
    """`acu-audit run` starts Prefect's ephemeral server itself, before importing Prefect's server
    code, which the night never needs (the import was about 2 s of the night's critical path). The
    import helper starts only once the server's process is spawned (forking with threads running
    can deadlock the child); Prefect's client then talks to that server; and the server is stopped
    when the process exits. That it dies with a killed process is the test above (SIGKILL)."""
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run([sys.executable, "-c", SERVER_START], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert [e[0] for e in seen["events"]] == ["spawned", "helper started"]
    assert seen["healthy"] and seen["api"].startswith("http://127.0.0.1:")
    assert not seen["server_code_imported"]
    server_pid = seen["events"][0][1]
    assert not Path(f"/proc/{server_pid}").exists(), "the server outlived the process that started it"


@pytest.mark.slow
def test_a_prefect_server_that_cannot_start_ends_acu_audit_run_with_a_clear_error(tmp_path):
    """Prefect's server fails at start-up (here its home is a file, so it cannot make its
    database): `acu-audit run` tries a few ports, as a port taken since it was found free would
    need, then stops with exit code 1 and says what to check, instead of trying again until
    its timeout; nothing is loaded or published and no server process is left."""
    from acu_audit.synth import generate_force

    generate_force(tmp_path, staff=100, days=7, seed=2)
    (tmp_path / "home-is-a-file").write_text("")
    env = {**os.environ, "ACU_AUDIT_SECRET_FILE": str(tmp_path / "secret"), "PREFECT_HOME": str(tmp_path / "home-is-a-file"),
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600"}
    env.pop("PREFECT_API_URL", None)
    log = tmp_path / "run.log"  # a file, not a pipe: the servers' tracebacks would fill a pipe nobody reads yet
    with open(log, "w") as output:
        child = subprocess.Popen([sys.executable, "-m", "acu_audit.cli", "run", "--landing", "landing", "--out", "out",
                                  "--db", "acu.duckdb", "--no-validation"],
                                 cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
        spawned: set[int] = set()
        while child.poll() is None:  # the server processes it starts, one port after another
            spawned |= _children(child.pid)
            time.sleep(0.2)
    said = " ".join(log.read_text().split())
    assert child.returncode == 1, said[-3000:]
    assert "error: Prefect's ephemeral API server stopped as it started (exit code 3, 4 port(s) tried)" in said
    assert "PREFECT_API_URL" in said
    assert not (tmp_path / "acu.duckdb").exists() and not (tmp_path / "out").exists()
    assert spawned and not [p for p in spawned if Path(f"/proc/{p}").exists()]
