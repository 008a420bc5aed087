"""The triage page's response times on a published night, one reader and twenty at once.

    python benchmarks/ui.py --db FORCE/acu_audit.duckdb [--out FORCE/out] [--state S] [--requests 40]

Serves the page as ``acu-audit ui`` does (uvicorn on loopback, in this process) and prints, for
the queue (first page, a filtered and sorted page, a search) and for lead pages, the median and
the slowest of ``--requests`` requests from one reader, then the same mix from twenty readers at
once with the requests per second. Reads only: no action is taken. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("ACU_AUDIT_SECRET", "benchmark-only-key-0123456789")

from acu_audit.files import owner_only  # noqa: E402


def timed_get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
        if response.status != 200:
            raise SystemExit(f"{url}: {response.status}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--state", type=Path)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    owner_only()  # what it writes (copies, logs, results) holds a force's data: owner-only, as acu-audit's own files

    import uvicorn

    from acu_audit.state import default_state_path
    from acu_audit.ui.app import UiConfig, create_app
    from acu_audit.ui.pages import open_copy

    out = args.out or args.db.parent / "out"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = UiConfig.for_server(db=args.db, state=args.state or default_state_path(args.db), out=out, host="127.0.0.1",
                                 port=port, actor="benchmark")
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with open_copy(out) as copy:
        leads, staff = copy.scalar("SELECT count(*) FROM leads"), copy.scalar("SELECT count(*) FROM staff")
        lead_ids = [r[0] for r in copy.execute("SELECT lead_id FROM leads ORDER BY rank LIMIT 20")]
        unit = copy.scalar("SELECT s.unit_function FROM leads l JOIN staff s USING (staff_ref) ORDER BY l.rank LIMIT 1")
    print(f"night with {leads:,} leads over {staff:,} staff ({out})")
    pages = {
        "queue, first page": ["/"],
        "queue, filtered and sorted": [f"/?tier=watch&unit_function={unit}&sort=score&page=2"],
        "queue, search": [f"/?q={lead_ids[0][:6]}"],
        "a lead": [f"/leads/{i}" for i in lead_ids],
    }
    for name, paths in pages.items():
        times = [timed_get(base + paths[k % len(paths)]) for k in range(args.requests)]
        print(f"  {name:28s} one reader: median {1000 * statistics.median(times):6.0f} ms, slowest {1000 * max(times):6.0f} ms")
    mix = [p for paths in pages.values() for p in paths[:3]]
    times: list[float] = []
    lock = threading.Lock()

    def reader(k: int) -> None:
        for i in range(args.requests // 4 or 1):
            t = timed_get(base + mix[(k + i) % len(mix)])
            with lock:
                times.append(t)

    started = time.perf_counter()
    readers = [threading.Thread(target=reader, args=(k,)) for k in range(20)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    wall = time.perf_counter() - started
    print(f"  twenty readers at once, {len(times)} requests: median {1000 * statistics.median(times):.0f} ms, "
          f"slowest {1000 * max(times):.0f} ms, {len(times) / wall:.1f} requests/s")
    server.should_exit = True


if __name__ == "__main__":
    main()
