"""Whether a message hour was on duty (run_messages.on_duty, sql/transforms/run_tables.sql),
against the rule written out in Python: the message hour belongs to the latest duty shift of
its sender starting before the hour ends (with the margin; of shifts starting together the
longest), and is on duty when it also starts before that shift ends (with the margin).

Shifts fall on a quarter-hour grid and a message is sent every hour, so that messages often sit
exactly on a bound: a shift starting as the hour ends, the hour starting as the shift ends, two
shifts starting together, shifts inside one another, and a leave day that is not duty.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st

from acu_audit.db import Warehouse
from acu_audit.resources import read_sql
from acu_audit.schema import ensure_schema

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
WINDOW_START, WINDOW_END = T0 + timedelta(days=1), T0 + timedelta(days=3)
ON_DUTY_TYPES = ["duty", "overtime"]


def quarter(k: int) -> datetime:
    return T0 + timedelta(minutes=15 * k)


# Shifts start on the hour or a quarter past, to the quarter, and last -1 to 14 hours.
shifts = st.lists(
    st.tuples(st.sampled_from(["S1", "S2"]), st.integers(12, 3 * 24 + 12), st.sampled_from([0, 0, 0, 1, 2, 3]),
              st.integers(-4, 14 * 4), st.sampled_from(["duty", "duty", "overtime", "leave"])),
    max_size=16,
)
# A message every hour of four days for both (the window is the middle two).
SENT = [(s, T0 + timedelta(hours=k)) for s in ("S1", "S2") for k in range(4 * 24)]


def expected_on_duty(roster: list[tuple], staff: str, hour_start: datetime, margin: timedelta) -> bool:
    starts: dict[datetime, datetime] = {}
    for s, start, end, kind in roster:
        if s == staff and kind in ON_DUTY_TYPES and end > WINDOW_START - timedelta(days=1) and start < WINDOW_END + timedelta(days=1):
            starts[start] = max(end, starts.get(start, end))
    before = [start for start in starts if start < hour_start + timedelta(hours=1) + margin]
    return bool(before) and hour_start < starts[max(before)] + margin


@settings(max_examples=60, deadline=None)
@given(shifts, st.sampled_from([0, 15, 45]))
# Two shifts starting together: the longer one counts, whichever is listed first.
@example(shift_rows=[("S1", 36, 0, 8, "duty"), ("S1", 36, 0, 32, "overtime"), ("S2", 40, 0, 32, "duty"), ("S2", 40, 0, 8, "duty")],
         margin_minutes=0)
def test_a_message_hour_is_on_duty_as_the_rule_says(shift_rows, margin_minutes):
    roster = [(s, quarter(4 * hour + q), quarter(4 * hour + q + length), kind) for s, hour, q, length, kind in shift_rows]
    with Warehouse(None) as wh:  # in memory, a fresh one each example
        ensure_schema(wh)
        wh.executemany("INSERT INTO duty_roster VALUES (?, ?, ?, ?, ?, DATE '2026-03-02', 'f', NULL)",
                       [(f"R{i}", s, start, end, kind) for i, (s, start, end, kind) in enumerate(roster)])
        wh.executemany("INSERT INTO device_messages VALUES (?, ?, 'D', 'sms', 'out', '07700900001', ?, 1, NULL, DATE '2026-03-02', 'f', NULL)",
                       [(f"M{i}", s, hour) for i, (s, hour) in enumerate(SENT)])
        wh.execute("CREATE TEMP TABLE ref_contact_directory (counterparty VARCHAR, person_id VARCHAR, staff_id VARCHAR, "
                   "organisation_id VARCHAR, source VARCHAR)")
        wh.execute("CREATE TEMP TABLE ref_staff AS SELECT * FROM (VALUES ('S1', 'U1', 'response'), ('S2', 'U1', 'response')) "
                   "t(staff_id, unit, peer_group)")
        params = {"tz": "Europe/London", "window_start_utc": WINDOW_START, "window_end_utc": WINDOW_END,
                  "shift_margin_minutes": margin_minutes, "on_duty_types": ON_DUTY_TYPES, "banned_channels": ["whatsapp"],
                  "night_start_hour": 22, "night_end_hour": 6}
        statements = wh.con.extract_statements(read_sql("transforms/run_tables.sql"))
        for statement in statements:
            if "TEMP TABLE duty_shifts AS" in statement.query or "TEMP TABLE run_messages AS" in statement.query:
                wh.run_text(statement.query, params)
        found = {(s, h): on for s, h, on in wh.execute("SELECT staff_id, hour_start, on_duty FROM run_messages")}
    margin = timedelta(minutes=margin_minutes)
    in_window = [(s, h) for s, h in SENT if WINDOW_START <= h < WINDOW_END]
    assert sorted(found) == in_window
    assert found == {(s, h): expected_on_duty(roster, s, h, margin) for s, h in in_window}
