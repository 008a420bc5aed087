"""Check-stage speed against a floor, on a loaded warehouse.

    python benchmarks/checks.py --db /tmp/force40k.duckdb [--as-of YYYY-MM-DD]

The floor is one plain DuckDB scan-and-group-by over the same window of access
events and device messages (count per staff member and day). Beside it, the stage's
main inputs read once, after the stage: every column the stage reads of the window's
labelled look-ups, messages and look-up hours (so the floor can be seen to be no smaller). The check stage is
what a run does after the policing-purpose labels: building the reference and
run tables, then every check. The checks run as a night runs them (``run_checks``:
each into one staged table, then one transaction stores the hits and calibrates
them), so no check's time holds a commit or checkpoint of the one before; storing
and calibrating are printed apart. Prints each part's time, the total and the
ratio, and exits non-zero if a check failed (a failed check takes no time, so the figure would
flatter the stage). It replaces the night's hits for that date: run it on a copy.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from acu_audit.checks.runner import prepare_run_tables, run_checks
from acu_audit.config import load_settings
from acu_audit.db import Warehouse
from acu_audit.files import owner_only
from acu_audit.night import shared_parameters
from acu_audit.window import ReviewWindow

FLOOR_SQL = """
SELECT count(*) FROM (
    SELECT staff_id, CAST(timezone($tz, occurred_at) AS DATE) AS d, count(*) AS n
    FROM access_events WHERE occurred_at >= $start AND occurred_at < $end GROUP BY ALL
    UNION ALL
    SELECT staff_id, CAST(timezone($tz, hour_start) AS DATE) AS d, sum(message_count) AS n
    FROM device_messages WHERE hour_start >= $start AND hour_start < $end GROUP BY ALL
)
"""

# The access events and messages in the window: the rows the floor groups, printed first.
WINDOW_ROWS_SQL = (
    "SELECT (SELECT count(*) FROM access_events WHERE occurred_at >= $s AND occurred_at < $e)"
    " + (SELECT count(*) FROM device_messages WHERE hour_start >= $s AND hour_start < $e)"
)

# One read of the stage's main inputs: the window's rows of the three tables the stage reads in full
# (its look-ups through run_lookups, its messages, its look-up hours) and every column it reads of
# them. (It also reads a little of access_events, and messages before the window.) Each column's max
# makes DuckDB read every value. It shows the floor is no smaller than one pass over what the stage
# must read (docs/check-stage.md, "The measure"). table -> (its rows in the window, the columns).
STAGE_INPUTS = {
    "access_purpose": ("local_day BETWEEN $first_day AND $last_day",
                       ("event_id", "staff_id", "occurred_at", "local_day", "action", "record_type", "record_id",
                        "person_id", "case_id", "via_assignment", "via_unit_case", "via_function", "via_operation",
                        "via_reason_code", "has_purpose", "on_duty", "subject_staff_id")),
    "device_messages": ("hour_start >= $start AND hour_start < $end",
                        ("row_id", "staff_id", "channel", "direction", "counterparty", "hour_start", "message_count")),
    "lookup_hours": ("local_day BETWEEN $first_day AND $last_day",
                     ("staff_id", "record_type", "epoch_hour", "lookups", "unexplained")),
}
INPUTS_SQL = "SELECT " + ", ".join(
    "(SELECT [count(*), " + ", ".join(f"hash(max({c}))" for c in columns) + f"] FROM {table} WHERE {in_window})"
    for table, (in_window, columns) in STAGE_INPUTS.items()
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat)
    args = parser.parse_args()
    owner_only()  # what it writes (copies, logs, results) holds a force's data: owner-only, as acu-audit's own files
    settings = load_settings()
    with Warehouse.configured(args.db, settings.runtime) as wh:
        as_of = args.as_of or wh.scalar("SELECT max(local_day) FROM purpose_days")
        window = ReviewWindow(as_of, settings.review_window_days, settings.timezone)
        rows = wh.scalar(WINDOW_ROWS_SQL, {"s": window.start_utc, "e": window.end_utc})
        started = time.perf_counter()
        wh.scalar(FLOOR_SQL, {"tz": window.timezone, "start": window.start_utc, "end": window.end_utc})
        floor = time.perf_counter() - started
        params = shared_parameters(settings, window)
        prepare = prepare_run_tables(wh, params)
        started = time.perf_counter()
        report = run_checks(wh, settings, params, run_id="benchmark", prepare=False)
        checks_wall = time.perf_counter() - started
        # After the stage, not before: read first, it put the look-ups' blocks in DuckDB's buffers
        # for the stage (0.3-0.7 s less of it at 40,000 staff), so the stage's figure would no longer
        # compare with the sessions before. Read here, its own blocks are already there (a warm read).
        started = time.perf_counter()
        read = wh.con.execute(INPUTS_SQL, {"first_day": window.start, "last_day": as_of,
                                           "start": window.start_utc, "end": window.end_utc}).fetchall()[0]
        inputs = time.perf_counter() - started
        inputs_rows = sum(r[0] for r in read)
        timings = [(o.seconds, o.check_id, o.hits, o.status) for o in report.outcomes]
    total = prepare + sum(t for t, *_ in timings)
    print(f"window {window.start} to {as_of}: {rows:,} access events and device messages")
    print(f"floor (scan and group-by of both tables): {floor:6.2f} s")
    print(f"the stage's main inputs read once, after it ({inputs_rows:,} rows; every column it reads of the window's "
          f"labelled look-ups, messages and look-up hours): {inputs:6.2f} s")
    print(f"run tables (reference as of, resolved messages): {prepare:6.2f} s")
    for seconds, check_id, hits, status in sorted(timings, reverse=True):
        print(f"  {seconds:6.2f} s  {check_id:34s} {hits:6d} hits {'' if status == 'ok' else status}")
    stored = checks_wall - sum(t for t, *_ in timings)
    print(f"check stage: {total:6.2f} s = {total / floor:.1f}x the floor "
          f"(then storing and calibrating the hits: {stored:.2f} s, of it calibration {report.calibration_seconds:.2f} s)")
    if report.failed:  # a failed check takes no time: the stage's figure would flatter
        raise SystemExit(f"{len(report.failed)} check(s) failed, so the figure above means nothing: "
                         + "; ".join(f"{o.check_id}: {o.error}" for o in report.failed))


if __name__ == "__main__":
    main()
