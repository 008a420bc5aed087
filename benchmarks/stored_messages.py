"""What resolving messages once would buy the check stage, measured before anyone builds the upkeep.

    python benchmarks/stored_messages.py --db COPY_OF_A_NIGHTS_WAREHOUSE.duckdb [--rounds 2]

Part 2 of docs/check-stage.md: keep the window's resolved messages (directory entry, duty state,
local day) in the warehouse and update them for what changed, instead of building ``run_messages``
from the raw messages every night. This probe stores one night's resolved messages (less the unit
and peer group, which come from tonight's staff record) in a table ``stored_run_messages`` on the
copy. It then times the check stage as ``benchmarks/checks.py`` does, alternating:

- **rebuilt**: the night's own ``run_tables.sql``;
- **stored**: the same file with ``run_messages`` built as a copy of the stored rows in the window,
  joined to ``ref_staff``.

Each round prints the floor, the run tables, the checks and the stage. It exits non-zero if a check
fails, if no check hits, or if any hit differs the two ways (check, staff member, subject, times,
evidence, weight, reason). The upkeep (the new day, late messages, changed directory entries and
shifts) is not built, so it is not timed: a probe, not the product. It replaces the night's hits and
adds a table: run it on a copy.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import duckdb

from acu_audit.checks.runner import register_local_stamp, run_checks
from acu_audit.config import load_settings
from acu_audit.db import Warehouse
from acu_audit.files import owner_only
from acu_audit.night import shared_parameters
from acu_audit.resources import read_sql
from acu_audit.window import ReviewWindow
from checks import FLOOR_SQL  # benchmarks/checks.py, beside this file: the same floor

STORED = "stored_run_messages"
RUN_MESSAGES_FROM_STORE = f"""CREATE OR REPLACE TEMP TABLE run_messages AS
SELECT m.*, s.unit, s.peer_group
FROM {STORED} m LEFT JOIN ref_staff s ON s.staff_id = m.staff_id
WHERE m.hour_start >= $window_start_utc AND m.hour_start < $window_end_utc"""
# What the store replaces: the resolution itself, and the shifts only it reads.
REPLACED = {"CREATE OR REPLACE TEMP TABLE run_messages AS": RUN_MESSAGES_FROM_STORE,
            "CREATE OR REPLACE TEMP TABLE duty_shifts AS": None}


def statements(text: str) -> list[str]:
    """``text`` split as the warehouse splits it (``Warehouse.run_text``), so a ';' in a comment
    cannot cut a statement short. Each statement ends at its ';'; DuckDB 2.0.1 gives it the comments
    before it (2.0.0 gave it those after)."""
    with duckdb.connect() as parser:  # in memory, only to split the text
        return [statement.query for statement in parser.extract_statements(text)]


def run_tables_sql(stored: bool) -> str:
    """``run_tables.sql``, with ``run_messages`` read from the store when ``stored``."""
    text = read_sql("transforms/run_tables.sql")
    if not stored:
        return text
    kept = []
    for query in statements(text):
        head = next((h for h in REPLACED if h in query), None)
        if head is None:
            kept.append(query)
        elif REPLACED[head] is not None:
            # Only its ';': the blank lines and comments around it belong to its neighbours, so they
            # split as in the night's text, whichever side of a statement DuckDB gives comments to.
            kept.append(REPLACED[head] + ";")
    return "".join(kept)


def prepare(wh: Warehouse, params: dict, stored: bool) -> float:
    """As ``prepare_run_tables``, with the run tables' text chosen here. Returns seconds."""
    started = time.perf_counter()
    register_local_stamp(wh)
    wh.run_file("transforms/reference_as_of.sql", params, step="reference data as of the run date")
    wh.run_text(run_tables_sql(stored), params, step="run tables")
    return time.perf_counter() - started


def store_resolved_messages(wh: Warehouse, params: dict) -> int:
    """Build tonight's run tables as a night does and keep ``run_messages`` (less the unit and peer
    group) in the warehouse. Returns its rows."""
    prepare(wh, params, stored=False)
    # In the order the night built them: a sort here would time the stored way on rows ordered for it.
    wh.execute(f"CREATE OR REPLACE TABLE {STORED} AS SELECT * EXCLUDE (unit, peer_group) FROM run_messages",
               step="store the resolved messages")
    wh.execute("CHECKPOINT", step="checkpoint")
    return wh.scalar(f"SELECT count(*) FROM {STORED}")


def stage(wh: Warehouse, settings, params: dict, stored: bool) -> tuple[float, float, list[tuple]]:
    """The run tables and the checks, one way. Returns their seconds and every hit the night stored:
    check, staff member, subject, times, evidence (sorted), weight and reason."""
    run_tables = prepare(wh, params, stored)
    report = run_checks(wh, settings, params, run_id="benchmark", prepare=False)
    if report.failed:  # a failed check takes no time and finds nothing: the comparison would flatter
        raise SystemExit("; ".join(f"{o.check_id}: {o.error}" for o in report.failed))
    hits = wh.execute("""SELECT check_id, staff_id, subject, occurred_at, window_start, window_end,
                                list_sort(evidence), weight, reason
                         FROM check_hits WHERE as_of = $as_of AND run_id = 'benchmark' ORDER BY ALL""",
                      {"as_of": params["as_of"]})
    return run_tables, sum(o.seconds for o in report.outcomes), hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    owner_only()  # the copy holds a force's data: owner-only, as acu-audit's own files
    settings = load_settings()
    with Warehouse.configured(args.db, settings.runtime) as wh:
        as_of = args.as_of or wh.scalar("SELECT max(local_day) FROM purpose_days")
        window = ReviewWindow(as_of, settings.review_window_days, settings.timezone)
        params = shared_parameters(settings, window)
        print(f"window {window.start} to {as_of}: {store_resolved_messages(wh, params):,} resolved messages stored")
        found: dict[bool, list[tuple]] = {}
        for round_no in range(1, args.rounds + 1):
            for stored in (False, True):
                started = time.perf_counter()
                wh.scalar(FLOOR_SQL, {"tz": window.timezone, "start": window.start_utc, "end": window.end_utc})
                floor = time.perf_counter() - started
                run_tables, checks, hits = stage(wh, settings, params, stored)
                if not hits:  # two empty lists agree: the comparison would mean nothing
                    raise SystemExit(f"round {round_no}: no check hit, so there is nothing to compare")
                if found.setdefault(stored, hits) != hits:
                    raise SystemExit(f"round {round_no}: {'stored' if stored else 'rebuilt'} found other hits than before")
                total = run_tables + checks
                print(f"round {round_no} {'stored ' if stored else 'rebuilt'}: floor {floor:5.2f} s, run tables "
                      f"{run_tables:5.2f} s, checks {checks:5.2f} s, stage {total:5.2f} s = {total / floor:4.1f}x the floor, "
                      f"{len(hits):,} hits")
    if found[False] != found[True]:
        differ = sorted({h[0] for h in set(found[False]) ^ set(found[True])})
        raise SystemExit(f"the stored messages change the hits of {', '.join(differ)}")
    print("the same hits (check, staff member, subject, times, evidence, weight, reason) both ways")


if __name__ == "__main__":
    main()
