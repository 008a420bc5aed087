"""Policing purpose, once: label every look-up in the review window.

The labels live in ``access_purpose`` and every check that asks "was there a
purpose?" reads them. Labelling is incremental by local day: a day is
(re)labelled only when what it was built from changed -- its events, the roster
around it, the snapshot versions of its date, or the purpose configuration --
so a normal night labels one new day, and a late drop relabels the days it
touches. A day whose snapshots and configuration are unchanged is only topped up: its
look-ups not labelled yet, and those of staff whose roster around the day changed (a
shift starting at midnight, sent with tomorrow's drop, changes yesterday's roster; at
40,000 staff relabelling the whole day for it cost about 6 s a night). Labels are per
look-up, so a top-up gives what labelling the day again would.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from acu_audit.config import Settings
from acu_audit.contract import ON_DUTY_TYPES
from acu_audit.db import Warehouse, quote_identifier
from acu_audit.night import purpose_parameters
from acu_audit.resources import read_sql
from acu_audit.window import ReviewWindow

# The snapshot tables a day's labels depend on (purpose_todo has a v_<table> per table).
PURPOSE_SNAPSHOTS = (
    "staff",
    "persons",
    "person_markers",
    "cases",
    "case_people",
    "assignments",
    "operations",
    "operation_targets",
    "operation_staff",
)


@dataclass
class PurposeReport:
    days_in_window: int
    days_labelled: list[date]
    events_labelled: int
    seconds: float
    # Days labelled before whose data (a late drop, a changed snapshot) or labelling (its SQL, settings,
    # zone) changed since: labelled again.
    days_relabelled: list[date] = field(default_factory=list)
    # Of those, the days only topped up (new look-ups, staff whose roster changed), not relabelled in full.
    days_topped_up: list[date] = field(default_factory=list)

    @property
    def detail(self) -> str:
        """The night summary's line for the step."""
        again = ""
        if self.days_relabelled:
            topped = (f"; {len(self.days_topped_up)} only topped up: new look-ups, and those of staff whose roster changed"
                      if self.days_topped_up else "")
            again = f" ({len(self.days_relabelled)} again: their data, or how look-ups are labelled, changed since{topped})"
        return f"{len(self.days_labelled)} day(s) labelled, {self.events_labelled:,} look-ups{again}"


def register_function_rules(wh: Warehouse, settings: Settings) -> None:
    """Load ``purpose.function_rules`` from configs/ into the temp table ``function_rules``."""
    rows = []
    for function, rules in sorted((settings.purpose["function_rules"] or {}).items()):
        for rule in rules or []:
            rows.append(
                {
                    "unit_function": function,
                    "systems": rule.get("systems"),
                    "record_types": rule.get("record_types"),
                    "actions": rule.get("actions"),
                    "subject_markers": rule.get("subject_markers"),
                    "subject_is_staff": bool(rule.get("subject_is_staff", False)),
                }
            )
    schema = {
        "unit_function": pl.String,
        "systems": pl.List(pl.String),
        "record_types": pl.List(pl.String),
        "actions": pl.List(pl.String),
        "subject_markers": pl.List(pl.String),
        "subject_is_staff": pl.Boolean,
    }
    wh.register_frame("function_rules_frame", pl.DataFrame(rows, schema=schema))
    wh.execute("CREATE OR REPLACE TEMP TABLE function_rules AS SELECT * FROM function_rules_frame", step="function rules")
    wh.unregister("function_rules_frame")


# Every version of a snapshot valid on one of the days to label, with its validity (_drop_date to
# _valid_to, exclusive): built once for all the batches. Built from the whole table per batch
# instead, a first run's 28 days at 40,000 staff spent 27 s on it.
_VERSIONS_OF_THE_DAYS = """
    CREATE OR REPLACE TEMP TABLE pvi_{table} AS
    SELECT * FROM {during}((SELECT min(v_{table}) FROM purpose_to_label), (SELECT max(v_{table}) FROM purpose_to_label))"""

# A batch's snapshots, cut from those: each as of a version its days use, under that date.
_SNAPSHOTS_OF_THE_BATCH = """
    CREATE OR REPLACE TEMP TABLE pv_{table} AS
    SELECT s.* EXCLUDE (_valid_to) REPLACE (v.d AS _drop_date)
    FROM pvi_{table} s JOIN (SELECT DISTINCT v_{table} AS d FROM purpose_todo) v
      ON v.d >= s._drop_date AND v.d < s._valid_to"""


def _config_fingerprint(settings: Settings) -> str:
    # The zone too: it decides each look-up's local day and hour (and the checks count a window's
    # days and hours from those days).
    payload = (json.dumps(settings.purpose, sort_keys=True, default=str) + settings.timezone + _VERSIONS_OF_THE_DAYS
               + _SNAPSHOTS_OF_THE_BATCH + read_sql("transforms/policing_purpose.sql"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# Roster rows overlapping a day widened by the on-duty margin (lo, hi) that can change its labels:
# on-duty shifts within the margin; leave, sickness and rest on the day itself.
_ROSTER_ROW_COUNTS = """(list_contains($on_duty_types, r.duty_type)
                         OR (r.shift_start < {hi} - $margin AND r.shift_end > {lo} + $margin))"""


def _plan(wh: Warehouse, window: ReviewWindow, fingerprint: str, settings: Settings) -> list[dict]:
    """Per window day: the snapshot versions and event counts it depends on, and its key."""
    # A snapshot's versions are the drops that changed it (a drop re-sending it unchanged stores nothing).
    loaded = wh.execute(
        " UNION ALL ".join(f"SELECT DISTINCT ${i}::VARCHAR, _drop_date FROM {quote_identifier(t)}"
                           for i, t in enumerate(PURPOSE_SNAPSHOTS, start=1)),
        list(PURPOSE_SNAPSHOTS),
        step="purpose: snapshot versions",
    )
    events = dict(
        wh.execute(
            # Counted per quarter hour, each then read as a local day: every zone's offset is a whole
            # number of quarter hours, and reading 2,700 instants in the zone costs nothing where
            # reading every look-up cost 1.4 s a night at 40,000 staff.
            """WITH quarters AS (
                   SELECT epoch_us(occurred_at) // 900000000 AS q, count(*) AS n FROM access_events
                   WHERE occurred_at >= $window_start_utc AND occurred_at < $window_end_utc GROUP BY q)
               SELECT CAST(timezone($tz, make_timestamptz(q * 900000000)) AS DATE) AS d, CAST(sum(n) AS BIGINT)
               FROM quarters GROUP BY d""",
            {k: window.params()[k] for k in ("tz", "window_start_utc", "window_end_utc")},
            step="purpose: events per day",
        )
    )
    # Roster rows that can change a day's on-duty labels: shifts overlapping the day, widened by the margin.
    margin = timedelta(minutes=int(settings.purpose["shift_margin_minutes"]))
    days = window.days_list()
    bounds = pl.DataFrame(
        {
            "d": days,
            "lo": [window.local_midnight_utc(d) - margin for d in days],
            "hi": [window.local_midnight_utc(d + timedelta(days=1)) + margin for d in days],
        }
    )
    wh.register_frame("purpose_day_bounds", bounds)
    roster = dict(
        wh.execute(
            f"""SELECT b.d, count(r.staff_id) FILTER (WHERE {_ROSTER_ROW_COUNTS.format(lo="b.lo", hi="b.hi")})
               FROM purpose_day_bounds b
               LEFT JOIN duty_roster r ON r.shift_start < b.hi AND r.shift_end > b.lo
               GROUP BY b.d""",
            {"margin": margin, "on_duty_types": list(ON_DUTY_TYPES)},
            step="purpose: roster per day",
        )
    )
    wh.unregister("purpose_day_bounds")
    plan = []
    for day, lo, hi in bounds.iter_rows():
        versions = {
            f"v_{t}": max((d for table, d in loaded if table == t and d <= day), default=None) for t in PURPOSE_SNAPSHOTS
        }
        n_events = events.get(day, 0)
        base_source = json.dumps([fingerprint, {k: str(v) for k, v in versions.items()}])
        key_source = json.dumps([fingerprint, {k: str(v) for k, v in versions.items()}, n_events, roster.get(day, 0)])
        plan.append({
            "local_day": day, **versions, "events": n_events, "roster_lo": lo, "roster_hi": hi,
            "base_key": hashlib.sha256(base_source.encode()).hexdigest()[:24],
            "version_key": hashlib.sha256(key_source.encode()).hexdigest()[:24],
        })
    return plan


def label_policing_purpose(wh: Warehouse, settings: Settings, window: ReviewWindow) -> PurposeReport:
    """Bring ``access_purpose`` up to date for every day of the window."""
    started = time.perf_counter()
    register_function_rules(wh, settings)
    plan = _plan(wh, window, _config_fingerprint(settings), settings)
    stored = {
        r[0]: r[1:]
        for r in wh.execute(
            "SELECT local_day, version_key, base_key, events, labelled_at FROM purpose_days WHERE local_day BETWEEN $a AND $b",
            {"a": window.start, "b": window.as_of},
        )
    }
    todo = []
    for p in plan:
        version_key, base_key, events, labelled_at = stored.get(p["local_day"], (None, None, None, None))
        if version_key == p["version_key"]:
            continue
        # Same snapshots and configuration, and no look-up gone: only the new data needs labels.
        top_up = base_key == p["base_key"] and p["events"] >= events
        todo.append({**p, "partial": top_up, "labelled_at": labelled_at if top_up else None,
                     "new_events": p["events"] - events if top_up else p["events"]})
    labelled = 0
    if todo:  # the days to label and their snapshot versions, staged once for all the batches
        _stage_days_to_label(wh, todo)
    rt = settings.runtime
    for batch in _batches(todo, int(rt["purpose_batch_lookups"]), max(1, int(rt["purpose_batch_days"]))):
        labelled += _label_days(wh, settings, window, batch)
    _count_hours_of_days_labelled_before(wh, window)
    return PurposeReport(
        days_in_window=len(plan),
        days_labelled=[p["local_day"] for p in todo],
        events_labelled=labelled,
        seconds=time.perf_counter() - started,
        days_relabelled=[p["local_day"] for p in todo if p["local_day"] in stored],
        days_topped_up=[p["local_day"] for p in todo if p["partial"]],
    )


# Look-ups per member of staff, record type and UTC clock hour of a day, from its labels.
_LOOKUP_HOURS = """
    INSERT INTO lookup_hours
    SELECT local_day, staff_id, record_type, epoch_us(occurred_at) // 3600000000 AS epoch_hour,
           count(*), count(*) FILTER (WHERE NOT has_purpose)
    FROM {labels} WHERE local_day IN ({days})
    GROUP BY ALL"""


def _count_hours_of_days_labelled_before(wh: Warehouse, window: ReviewWindow) -> None:
    """``lookup_hours`` for window days labelled by a version that did not count them (a warehouse
    from before the table): counted once from their labels, without labelling them again."""
    wh.execute(
        _LOOKUP_HOURS.format(labels="access_purpose", days="""
            SELECT local_day FROM purpose_days WHERE local_day BETWEEN $a AND $b AND events > 0
            EXCEPT SELECT DISTINCT local_day FROM lookup_hours WHERE local_day BETWEEN $a AND $b"""),
        {"a": window.start, "b": window.as_of},
        step="purpose: hours of days labelled before",
    )


# Staff whose roster around a topped-up day changed since it was labelled: rows that count for
# the day's key from files loaded since.
_CHANGED_ROSTER_STAFF = f"""
    CREATE OR REPLACE TEMP TABLE purpose_changed_staff AS
    SELECT DISTINCT t.local_day, r.staff_id
    FROM purpose_todo t
    JOIN duty_roster r ON r.shift_start < t.roster_hi AND r.shift_end > t.roster_lo
    JOIN ingest_files f ON f.file_id = r._file_id
    WHERE t.partial AND f.loaded_at >= t.labelled_at
      AND {_ROSTER_ROW_COUNTS.format(lo="t.roster_lo", hi="t.roster_hi")}"""


def _batches(todo: list[dict], lookups_per_batch: int, days_per_batch: int) -> list[list[dict]]:
    """The days to label in batches of at most ``lookups_per_batch`` look-ups and ``days_per_batch``
    days, a day at least each (a day is never split).

    A batch per day cost a statement round per day: 59 days at 2,000 staff took 30.9 s one day a
    batch, 14-19 s in batches of 250,000 look-ups and 7 days. The bound on look-ups keeps memory
    the same at any force size (at 40,000 staff a day is a batch); the bound on days keeps the
    snapshots a batch cuts small (each day's version is a whole snapshot: 30 of them made the
    batch slower than 30 batches). Days only topped up go first, counted by their new look-ups.
    """
    batches: list[list[dict]] = []
    size = 0
    for day in sorted(todo, key=lambda p: not p["partial"]):  # stable: in date order within each kind
        if not batches or size + day["new_events"] > lookups_per_batch or len(batches[-1]) >= days_per_batch:
            batches.append([])
            size = 0
        batches[-1].append(day)
        size += day["new_events"]
    return batches


def _stage_days_to_label(wh: Warehouse, todo: list[dict]) -> None:
    """``purpose_to_label``, every day to label with its versions, roster bounds and top-up state
    (each batch selects its own days from it), and the pvi_* tables each batch cuts its days'
    snapshots from: every version valid on a day to label, with its validity."""
    schema = {"local_day": pl.Date, **{f"v_{t}": pl.Date for t in PURPOSE_SNAPSHOTS}, "partial": pl.Boolean,
              "labelled_at": pl.Datetime("us", "UTC"), "roster_lo": pl.Datetime("us", "UTC"), "roster_hi": pl.Datetime("us", "UTC")}
    with wh.rows_as("purpose_to_label_rows", [[p[k] for k in schema] for p in todo], schema):
        wh.execute("CREATE OR REPLACE TEMP TABLE purpose_to_label AS SELECT * FROM purpose_to_label_rows", step="purpose: days to label")
    for table in PURPOSE_SNAPSHOTS:
        wh.execute(_VERSIONS_OF_THE_DAYS.format(table=table, during=quote_identifier(f"{table}_during")),
                   step=f"purpose: versions of {table}")


def _label_days(wh: Warehouse, settings: Settings, window: ReviewWindow, todo: list[dict]) -> int:
    """Label the look-ups of these days (all of them, or for a day only topped up, the new ones
    and those of staff whose roster changed) and record the versions they were built from."""
    wh.execute("CREATE OR REPLACE TEMP TABLE purpose_todo AS SELECT * FROM purpose_to_label WHERE list_contains($days, local_day)",
               {"days": [p["local_day"] for p in todo]}, step="purpose: todo")
    wh.execute(_CHANGED_ROSTER_STAFF,
               {"on_duty_types": list(ON_DUTY_TYPES), "margin": timedelta(minutes=int(settings.purpose["shift_margin_minutes"]))},
               step="purpose: staff whose roster changed")
    first, last = min(p["local_day"] for p in todo), max(p["local_day"] for p in todo)
    params = {
        "tz": window.timezone,
        # A local day spans at most 25 hours of UTC; widen and let the day join decide.
        "todo_start_utc": window.local_midnight_utc(first) - timedelta(hours=1),
        "todo_end_utc": window.local_midnight_utc(last + timedelta(days=1)) + timedelta(hours=1),
        **purpose_parameters(settings),
    }
    with wh.transaction():
        for table in PURPOSE_SNAPSHOTS:
            wh.execute(_SNAPSHOTS_OF_THE_BATCH.format(table=table), step=f"purpose: {table} as of the days")
        wh.run_file("transforms/policing_purpose.sql", params, step="policing purpose")
        labelled = wh.scalar("SELECT count(*) FROM purpose_labels")
        # Counted here, not in the labelling SQL: its text is part of each day's key (a change relabels).
        # A day labelled in full is counted again from its labels; a topped-up day, for the staff
        # whose look-ups were labelled, from all of their labels of the day.
        wh.execute("DELETE FROM lookup_hours WHERE local_day IN (SELECT local_day FROM purpose_todo WHERE NOT partial)",
                   step="purpose: hours")
        wh.execute(_LOOKUP_HOURS.format(labels="purpose_labels", days="SELECT local_day FROM purpose_todo WHERE NOT partial"),
                   step="purpose: hours")
        wh.execute("""CREATE OR REPLACE TEMP TABLE purpose_topped_up AS
                      SELECT DISTINCT l.local_day, l.staff_id FROM purpose_labels l JOIN purpose_todo t USING (local_day)
                      WHERE t.partial""", step="purpose: hours")
        wh.execute("DELETE FROM lookup_hours h USING purpose_topped_up u WHERE h.local_day = u.local_day AND h.staff_id = u.staff_id",
                   step="purpose: hours")
        wh.execute(_LOOKUP_HOURS.format(labels="(SELECT a.* FROM access_purpose a JOIN purpose_topped_up USING (local_day, staff_id))",
                                        days="SELECT local_day FROM purpose_todo WHERE partial"), step="purpose: hours")
        wh.execute("DELETE FROM purpose_days WHERE local_day IN (SELECT local_day FROM purpose_todo)")
        wh.executemany(
            "INSERT INTO purpose_days (local_day, version_key, events, labelled_at, base_key) VALUES (?, ?, ?, now(), ?)",
            [(p["local_day"], p["version_key"], p["events"], p["base_key"]) for p in todo],
            step="purpose: record days",
        )
    return labelled
