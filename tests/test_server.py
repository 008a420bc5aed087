"""A real local Prefect server: serve the deployments, trigger the nightly run through the
API, see it complete. Every process started here is stopped, with hard time-outs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.server, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_LOCAL_STORAGE_PATH=str(home / "storage"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING", **extra)
    return env


@contextmanager
def process_group(cmd: list[str], env: dict, log: Path, cwd: Path = REPO):
    """Start a process in its own group; on exit SIGTERM the group, then SIGKILL."""
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group
            except ProcessLookupError:
                pass


def wait_healthy(api: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"prefect server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                if json.loads(response.read()) is True:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"prefect server not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


CLIENT = textwrap.dedent("""
    import json, sys, time
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    deadline = time.monotonic() + 300  # the serving process imports and registers in seconds; slower under load

    def registered(client, name):
        # serve() registers its deployments one after another: wait for each by name.
        while True:
            try:
                return client.read_deployment_by_name(name)
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    with get_client(sync_client=True) as client:
        deployment = registered(client, "nightly-audit/nightly")
        schedules = [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules]
        backfill = registered(client, "backfill-audit/backfill")
    run = run_deployment("nightly-audit/nightly", timeout=600, poll_interval=1)
    print(json.dumps({"state": run.state.type.value, "message": run.state.message, "schedules": schedules,
                      "backfill": backfill.name}))
""")


def test_served_deployment_runs_through_a_real_server(tmp_path):
    from acu_audit.synth import generate_force

    generate_force(tmp_path / "force", staff=120, days=8, seed=3)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server_env = clean_env(
        tmp_path / "server-home",
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{tmp_path}/server.db",
        PREFECT_SERVER_UI_ENABLED="false",
    )
    client_env = clean_env(tmp_path / "client-home", PREFECT_API_URL=api, PREFECT_RUNNER_POLL_FREQUENCY="1",
                           ACU_AUDIT_SECRET="test-secret-not-for-production")
    server_log, serve_log = tmp_path / "server.log", tmp_path / "serve.log"
    server_cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]
    with process_group(server_cmd, server_env, server_log) as server:
        wait_healthy(api, server, timeout=180, log=server_log)
        serve_cmd = [sys.executable, "pipelines/serve.py", "--landing", str(tmp_path / "force" / "landing"),
                     "--db", str(tmp_path / "acu.duckdb"), "--out", str(tmp_path / "out")]
        with process_group(serve_cmd, client_env, serve_log) as served:
            result = subprocess.run([sys.executable, "-c", CLIENT], env=client_env, cwd=REPO,
                                    capture_output=True, text=True, timeout=900)
            assert served.poll() is None, serve_log.read_text()[-3000:]
    assert result.returncode == 0, result.stderr[-3000:] + serve_log.read_text()[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["state"] == "COMPLETED", outcome
    assert outcome["schedules"] == [["30 2 * * *", "Europe/London"]]
    assert outcome["backfill"] == "backfill"
    assert (tmp_path / "out" / "leads.csv").exists() and (tmp_path / "out" / "report.html").exists()
    # Nothing left listening on the server's port (TIME_WAIT sockets are allowed).
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
