"""Running Prefect inside ``acu-audit run``: what a stopped or killed night leaves behind.

``acu-audit run`` runs the nightly flow in its own process on Prefect's ephemeral API, a child
process (a uvicorn server) started here as Prefect would start it (:class:`EphemeralServer`).
Three things keep a stop clean:

- **SIGTERM stops the night.** Prefect turns SIGTERM into an exception inside the flow (the run
  is marked Crashed, nothing is published) and then delivers it again to the handler it found:
  ours ends the process with exit code 143 through normal shutdown, so the server is stopped.
  A signal that lands while DuckDB runs a query arrives as :class:`acu_audit.errors.Interrupted`;
  one that lands while a compiled library (polars) is calling back into Python becomes that
  library's own error (a panic), so Prefect never delivers the signal again. The signal is noted
  either way (:func:`stop_exit_code`), so ``acu-audit run`` still ends as stopped, with 143.
- **The server dies with us.** Even a SIGKILL, which no handler sees, cannot leave the server
  running: on Linux it is started with ``PR_SET_PDEATHSIG``, from the main thread (the signal
  follows the thread that started it).
- **No run stays "Running" for ever.** Each run is tagged with its host and process id; the next
  run marks a Running flow run whose process is gone as Crashed.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from acu_audit.errors import AcuAuditError

FLOW_NAMES = ("nightly-audit", "backfill-audit")
SIGTERM_EXIT = 128 + signal.SIGTERM
_PR_SET_PDEATHSIG = 1


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(SIGTERM_EXIT)


def stop_on_sigterm() -> None:
    """SIGTERM ends the process through normal shutdown (atexit handlers run), exit code 143."""
    try:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    except ValueError:  # not the main thread: leave the default
        pass


_stopped: list[int] = []  # the signals received while a night ran (see noting_stop_signals)


def stop_requested() -> bool:
    """Whether a stop signal reached this process while a night ran."""
    return bool(_stopped)


def stop_exit_code() -> int | None:
    """The exit code of a night a signal stopped (128 + the signal: 143 for SIGTERM, 130 for
    Ctrl-C), or None when no signal reached it."""
    return 128 + _stopped[-1] if _stopped else None


def forget_stop_signals() -> None:
    """A night starts un-stopped: a signal noted in an earlier night of this process (a backfill's
    nights, the tests) is not this one's."""
    _stopped.clear()


@contextmanager
def noting_stop_signals() -> Iterator[None]:
    """Note a SIGTERM or SIGINT, then let the handler already in place (Prefect's) act on it.

    Prefect's own handling of a signal can surface as an ordinary exception (a task stopped while
    it was starting); with the signal noted, the flow tells a stop from its own error.
    """
    previous = {}

    def note(signum: int, frame: Any) -> None:
        _stopped.append(signum)
        handler = previous.get(signum)
        if callable(handler):
            handler(signum, frame)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            raise SystemExit(128 + signum)

    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, note)
    except ValueError:  # not the main thread (a served deployment's worker thread): nothing to note
        previous.clear()
    else:
        forget_stop_signals()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _die_with_parent_hook() -> Callable[[], None]:
    """What the child runs between fork and exec: ask for SIGTERM when its parent dies. The C
    library is loaded here, in the parent, so the child imports nothing (a thread of ours may
    hold an import lock at the fork)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return lambda: libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _quietly(work: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        except Exception:  # noqa: BLE001 - only a head start: the night imports again and reports there
            pass
    return run


def start_ephemeral_api(timeout: int | None = None, meanwhile: Callable[[], None] | None = None) -> None:
    """Start Prefect's ephemeral API server now, from the main thread, so that it dies with this process.

    The server is the one Prefect would start on first use (:class:`EphemeralServer`: the same
    uvicorn command and settings), started here first so that its child process can be told to
    die with us, and without importing Prefect's server code into this process: that import
    (about 2 s) came before the spawn, on the night's critical path, and the night never needs
    it (its client talks to the server over HTTP). The server's address is then this process's
    API address. Does nothing when a Prefect API is configured (a real server, the tests'
    harness, or a server started here before).

    ``meanwhile`` runs in a thread while the server starts (the server is a child process, so it
    has a core of its own): the night's slow imports, such as Great Expectations (about 4 s), are
    done by the time the flow needs them. Its errors are ignored: the night imports again and
    reports them where they matter.
    """
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:  # a server of its own, or none allowed
        return
    # The thread starts once the server's process is spawned: forking with threads running can
    # deadlock the child.
    helper = threading.Thread(target=_quietly(meanwhile), name="acu-audit-imports", daemon=True) if meanwhile else None
    try:
        server = EphemeralServer.spawn(settings)
        if helper:
            helper.start()
        server.wait_until_ready(timeout or settings.server.ephemeral.startup_timeout_seconds)
    finally:
        if helper and helper.ident is not None:
            helper.join()
    os.environ["PREFECT_API_URL"] = server.api_url
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()  # Prefect's settings read the environment once: read it again


class EphemeralServer:
    """Prefect's ephemeral API server, started as ``prefect.server.api.server.SubprocessASGIServer``
    starts it (the uvicorn command, the ephemeral flags, the settings passed on), by this process.

    On Linux the child is told to die with us (``PR_SET_PDEATHSIG``), so even a SIGKILL, which no
    handler sees, cannot leave it running; at a normal exit it is stopped after Prefect's own exit
    handlers have sent their last logs and events to it (atexit runs handlers in reverse order).
    """

    STARTUP_FAILED = 3  # uvicorn's exit code when it cannot start: its port taken, or the app failing to start
    PORTS_TRIED = 4  # Prefect's own server tries another port on every such exit, until its timeout

    def __init__(self, settings: Any) -> None:
        import importlib.util
        from pathlib import Path

        site = Path(importlib.util.find_spec("prefect").origin).parent.parent  # found, not imported
        self._command = [sys.executable, "-m", "uvicorn", "--app-dir", str(site), "--factory",
                         "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--log-level", "error",
                         "--lifespan", "on"]
        self._env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                     "PREFECT__SERVER_FINAL": "1", **settings.to_environment_variables(exclude_unset=True)}
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @classmethod
    def spawn(cls, settings: Any) -> EphemeralServer:
        """The server's process started (not yet answering: :meth:`wait_until_ready`), stopped at exit."""
        server = cls(settings)
        server._start_process()
        atexit.register(server.stop)
        return server

    def _start_process(self) -> None:
        self.port = _free_port()
        linux = sys.platform.startswith("linux")
        self.process = subprocess.Popen([*self._command, "--port", str(self.port)], env=self._env,
                                        preexec_fn=_die_with_parent_hook() if linux else None)

    def wait_until_ready(self, timeout: float) -> None:
        """Wait for the server's health check. An exit at start-up is tried again on another port
        (the port may have been taken since it was found free), a few times, not until the timeout:
        a server that cannot start (its database, its settings) fails the same way on every port."""
        import time
        import urllib.error
        import urllib.request

        local = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1: never through a proxy
        deadline = time.monotonic() + timeout
        ports = 1
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code == self.STARTUP_FAILED and ports < self.PORTS_TRIED:
                ports += 1
                self._start_process()
                continue
            if code is not None:
                raise ApiServerFailed(
                    f"Prefect's ephemeral API server stopped as it started (exit code {code}, {ports} port(s) tried); "
                    "its own messages are above. Check PREFECT_HOME and the Prefect settings, or point "
                    "PREFECT_API_URL at a running Prefect server")
            try:
                with local.open(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise ApiServerFailed(f"Prefect's ephemeral API server did not answer within {timeout:.0f} s "
                              "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ApiServerFailed(AcuAuditError):
    """Prefect's ephemeral API server could not be started: no night can run."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tags() -> tuple[str, str]:
    """Tags that tie a flow run to this process (for :func:`mark_orphaned_runs`)."""
    return f"host:{socket.gethostname()}", f"pid:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_orphaned_runs() -> list[str]:
    """Mark as Crashed every Running acu-audit flow run of this host whose process is gone.

    Returns the names of the runs marked. A process killed outright (SIGKILL, power) cannot say
    it stopped; the next run says it for it.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    host = f"host:{socket.gethostname()}"
    marked = []
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=list(FLOW_NAMES))),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))),
        )
        for run in runs:
            pids = [t.split(":", 1)[1] for t in run.tags if t.startswith("pid:")]
            if host not in run.tags or not pids or not pids[0].isdigit() or _alive(int(pids[0])):
                continue
            client.set_flow_run_state(
                run.id, Crashed(message="the process running this night was killed; acu-audit marked it at the next run"),
                force=True,
            )
            marked.append(run.name)
    return marked
