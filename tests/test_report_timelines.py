"""The report's timelines: every lead's days built at once equal each lead's days built alone."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from acu_audit.report import daily_timelines

DAYS = [date(2026, 3, 25) + timedelta(days=i) for i in range(6)]  # the window: six local days
STAFF = ["S1", "S2", "S3", "S4"]


def _one_by_one(staff_ids, days, lookups, messages, on_duty) -> dict[str, pl.DataFrame]:
    """The rule written out for one member of staff at a time."""
    frames = {}
    grid = pl.DataFrame({"day": days}, schema={"day": pl.Date})
    for staff_id in staff_ids:
        frames[staff_id] = (
            grid.join(lookups.filter(pl.col("staff_id") == staff_id).drop("staff_id"), on="day", how="left")
            .join(messages.filter(pl.col("staff_id") == staff_id).drop("staff_id"), on="day", how="left")
            .join(on_duty.filter(pl.col("staff_id") == staff_id).drop("staff_id"), on="day", how="left")
            .with_columns(pl.col("with_purpose", "no_purpose", "messages").cast(pl.Int64), pl.col("on_duty").cast(pl.Boolean))
            .fill_null(0)
            .sort("day")
        )
    return frames


def _keyed(rows, schema):
    """One row per staff member and day at most, as the report's queries give (they group by both)."""
    unique = {(staff_id, day): values for staff_id, day, *values in rows}
    return pl.DataFrame([(s, d, *v) for (s, d), v in unique.items()], schema=schema, orient="row")


counts = st.integers(min_value=0, max_value=500)
# Rows of staff not among the leads and of a day outside the window too: neither may show.
anyone = st.sampled_from(STAFF + ["S9"])
any_day = st.sampled_from(DAYS + [DAYS[-1] + timedelta(days=1)])


@settings(max_examples=150, deadline=None)
@given(
    staff_ids=st.lists(st.sampled_from(STAFF), max_size=4, unique=True),
    lookup_rows=st.lists(st.tuples(anyone, any_day, counts, counts), max_size=20),
    message_rows=st.lists(st.tuples(anyone, any_day, counts), max_size=20),
    duty_rows=st.lists(st.tuples(anyone, any_day), max_size=12),
)
def test_all_leads_at_once_equal_each_lead_alone(staff_ids, lookup_rows, message_rows, duty_rows):
    lookups = _keyed(lookup_rows, {"staff_id": pl.String, "day": pl.Date, "with_purpose": pl.Int64, "no_purpose": pl.Int64})
    messages = _keyed(message_rows, {"staff_id": pl.String, "day": pl.Date, "messages": pl.Int64})
    on_duty = _keyed([(s, d, True) for s, d in duty_rows], {"staff_id": pl.String, "day": pl.Date, "on_duty": pl.Boolean})
    got = daily_timelines(staff_ids, DAYS, lookups, messages, on_duty)
    want = _one_by_one(staff_ids, DAYS, lookups, messages, on_duty)
    assert got.keys() == want.keys()
    for staff_id, frame in want.items():
        assert got[staff_id].columns == ["day", "with_purpose", "no_purpose", "messages", "on_duty"]
        assert got[staff_id].equals(frame), staff_id
        assert got[staff_id]["day"].to_list() == DAYS


def test_a_lead_with_no_rows_anywhere_gets_every_day_at_zero():
    empty = {"lookups": pl.DataFrame(schema={"staff_id": pl.String, "day": pl.Date, "with_purpose": pl.Int64, "no_purpose": pl.Int64}),
             "messages": pl.DataFrame(schema={"staff_id": pl.String, "day": pl.Date, "messages": pl.Int64}),
             "on_duty": pl.DataFrame(schema={"staff_id": pl.String, "day": pl.Date, "on_duty": pl.Boolean})}
    frames = daily_timelines(["S1"], DAYS, **empty)
    assert frames["S1"].height == len(DAYS)
    assert frames["S1"]["messages"].sum() == 0 and not frames["S1"]["on_duty"].any()
    assert daily_timelines([], DAYS, **empty) == {}
