"""The analysts' copy: its daily figures match the warehouse's own rows, pseudonymised."""

from __future__ import annotations

import duckdb

from acu_audit.privacy import load_secret, staff_ref


def _copy_and_reference(root):
    """The copy's messages per member of staff, local day and counterparty kind, beside the
    same figures counted here from the warehouse's message rows, one row at a time."""
    with duckdb.connect(str(root / "out" / "analyst.duckdb"), read_only=True) as copy:
        as_of, start, tz = copy.execute("SELECT as_of, window_start, timezone FROM meta").fetchall()[0]
        published = copy.execute(
            "SELECT staff_ref, local_day, counterparty_kind, messages FROM messages_daily").fetchall()
    with duckdb.connect(str(root / "acu_audit.duckdb"), read_only=True) as wh:
        rows = wh.execute(
            """WITH colleagues AS (SELECT DISTINCT counterparty FROM contact_directory_as_of($d) WHERE staff_id IS NOT NULL)
               SELECT m.staff_id, CAST(timezone($tz, m.hour_start) AS DATE) AS local_day,
                      m.counterparty IN (SELECT counterparty FROM colleagues) AS colleague, m.message_count
               FROM device_messages m
               WHERE CAST(timezone($tz, m.hour_start) AS DATE) BETWEEN $start AND $d
                 AND m.staff_id IN (SELECT staff_id FROM staff UNION SELECT staff_id FROM check_hits)""",
            {"d": as_of, "tz": tz, "start": start}).fetchall()
    key = load_secret(create=False)
    expected: dict[tuple, list[int]] = {}
    for staff_id, day, colleague, count in rows:
        totals = expected.setdefault((staff_ref(key, staff_id), day), [0, 0])
        totals[0] += count
        totals[1] += count if colleague else 0
    return published, expected


def test_messages_daily_counts_every_message_of_the_window_once(published):
    rows, expected = _copy_and_reference(published)
    got: dict[tuple, list[int]] = {}
    for ref, day, kind, messages in rows:
        totals = got.setdefault((ref, day), [0, 0])
        totals[0] += messages
        totals[1] += messages if kind == "colleague" else 0
    assert got == expected
    kinds = {kind for *_, kind, _ in rows}
    assert "colleague" in kinds and kinds - {"colleague"}, kinds
    assert kinds <= {"colleague", "victim", "marked person", "other person", "organisation", "unknown"}, kinds
    assert len({(ref, day, kind) for ref, day, kind, _ in rows}) == len(rows), "one row per staff, day and kind"
    assert all(ref.startswith("sr-") for ref, *_ in rows), "staff appear by pseudonym only"
