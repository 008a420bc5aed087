"""Running Prefect inside ``acu-audit run``: what a stopped or killed night leaves behind.

``acu-audit run`` runs the nightly flow in its own process on Prefect's ephemeral API, which
Prefect starts as a child process (a uvicorn server). Three things keep a stop clean:

- **SIGTERM stops the night.** Prefect turns SIGTERM into an exception inside the flow (the run
  is marked Crashed, nothing is published) and then delivers it again to the handler it found:
  ours ends the process with exit code 143 through normal shutdown, so the server is stopped.
  A signal that lands while DuckDB runs a query arrives as :class:`acu_audit.errors.Interrupted`.
- **The server dies with us.** Even a SIGKILL, which no handler sees, cannot leave the server
  running: on Linux it is started with ``PR_SET_PDEATHSIG``, from the main thread (the signal
  follows the thread that started it).
- **No run stays "Running" for ever.** Each run is tagged with its host and process id; the next
  run marks a Running flow run whose process is gone as Crashed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _api_configured() -> bool:
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def _quietly(work: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        except Exception:  # noqa: BLE001 - only a head start: the night imports again and reports there
            pass
    return run


def start_ephemeral_api(timeout: int | None = None, meanwhile: Callable[[], None] | None = None) -> None:
    """Start Prefect's ephemeral API now, from the main thread, so that it dies with this process.

    Prefect would start the same server on first use; starting it here first (the server is one
    instance per process) lets its child process be told to die with us. Does nothing when a
    Prefect API is configured (a real server, or the tests' harness).

    ``meanwhile`` runs in a thread while the server starts (the server is a child process, so it
    has a core of its own): the night's slow imports, such as Great Expectations (about 4 s), are
    done by the time the flow needs them. Its errors are ignored: the night imports again and
    reports them where they matter.
    """
    if _api_configured():
        return
    import prefect.server.api.server as server_module

    server = server_module.SubprocessASGIServer()
    if server.running:
        return
    # The thread starts once the server's process is spawned: forking with threads running can
    # deadlock the child.
    helper = threading.Thread(target=_quietly(meanwhile), name="acu-audit-imports", daemon=True) if meanwhile else None

    def start_helper() -> None:  # once, should Prefect spawn the server again (a port taken)
        if helper and helper.ident is None:
            helper.start()

    try:
        _start(server_module, server, timeout, after_spawn=start_helper)
    finally:
        if helper and helper.ident is not None:
            helper.join()


def _start(server_module: Any, server: Any, timeout: int | None, after_spawn: Callable[[], None]) -> None:
    if not sys.platform.startswith("linux"):
        after_spawn()
        server.start(timeout=timeout)
        return

    # Prefect builds the server's command itself; only the process start is wrapped, for this call.
    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen:
        child = subprocess.Popen(*args, preexec_fn=_die_with_parent, **kwargs)
        after_spawn()
        return child

    shim = types.ModuleType("subprocess")
    shim.__dict__.update(subprocess.__dict__)
    shim.Popen = popen
    real = server_module.subprocess
    server_module.subprocess = shim
    try:
        server.start(timeout=timeout)
    finally:
        server_module.subprocess = real


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
