"""Feed health: a silent feed is a blind spot.

Per event table, and per source system for access events, tonight's rows are
compared with the median of the same weekday over the previous ``feeds.baseline_weeks``
weeks (office systems are quiet at weekends), or, with too little history for that,
of the previous ``feeds.baseline_nights`` drops. A feed
that has data in most baseline nights but none tonight is *missing*; one below
``feeds.thin_ratio`` of its median is *thin*. The run carries these as warnings,
and the published list says which feeds were missing and what date its data is as of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from acu_audit.config import Settings
from acu_audit.contract import EVENT_TABLES
from acu_audit.db import Warehouse


@dataclass
class FeedStatus:
    feed: str  # table, or table/system
    rows: int
    baseline_median: float | None
    status: str  # ok | thin | missing | new

    def warning(self) -> str | None:
        if self.status == "missing":
            return f"missing feed: {self.feed} has no rows tonight (median {self.baseline_median:,.0f} over recent nights)"
        if self.status == "thin":
            return f"thin feed: {self.feed} has {self.rows:,} rows tonight against a median of {self.baseline_median:,.0f}"
        return None


@dataclass
class FeedHealth:
    as_of: date
    data_as_of: date | None  # the latest drop actually loaded on or before as_of
    statuses: list[FeedStatus]

    @property
    def missing_feeds(self) -> list[str]:
        out = [s.feed for s in self.statuses if s.status == "missing"]
        if self.data_as_of != self.as_of:
            out.insert(0, f"drop {self.as_of}")
        return out

    def warnings(self) -> list[str]:
        out = [w for s in self.statuses if (w := s.warning())]
        if self.data_as_of != self.as_of:
            out.insert(0, f"no drop for {self.as_of}: the data is as of {self.data_as_of}")
        return out


def check_feeds(wh: Warehouse, settings: Settings, as_of: date) -> FeedHealth:
    """Compare tonight's drop with the trailing baseline; store and return the result."""
    nights = int(settings.feeds["baseline_nights"])
    weeks = int(settings.feeds["baseline_weeks"])
    thin = float(settings.feeds["thin_ratio"])
    min_rows = float(settings.feeds["min_rows_for_thin"])
    data_as_of = wh.scalar("SELECT max(drop_date) FROM ingest_files WHERE drop_date <= $d AND table_name IS NOT NULL", {"d": as_of})
    # Rows each drop brought, per event table and per source system (re-deliveries included).
    counts = wh.records(
        """
        WITH drops AS (
            SELECT DISTINCT drop_date FROM ingest_files WHERE drop_date <= $d ORDER BY drop_date DESC LIMIT $n
        ), per_table AS (
            SELECT f.drop_date, f.table_name AS feed, sum(f.loaded + f.duplicate) AS n
            FROM ingest_files f JOIN drops USING (drop_date)
            WHERE f.table_name IN (SELECT unnest($tables))
            GROUP BY ALL
        ), per_system AS (
            SELECT e._drop_date AS drop_date, 'access_events/' || e.system AS feed, count(*) AS n
            FROM access_events e JOIN drops d ON e._drop_date = d.drop_date
            GROUP BY ALL
        )
        SELECT * FROM per_table UNION ALL SELECT * FROM per_system
        """,
        {"d": as_of, "n": max(nights, 7 * weeks) + 1, "tables": list(EVENT_TABLES)},
        step="feed health",
    )
    earlier = sorted({r["drop_date"] for r in counts if r["drop_date"] < as_of}, reverse=True)
    same_weekday = [d for d in earlier if (as_of - d).days % 7 == 0][:weeks]
    # Like with like: the same weekday when there are at least two of them, else recent nights.
    baseline_days = same_weekday if len(same_weekday) >= 2 else earlier[:nights]
    feeds = sorted({r["feed"] for r in counts})
    statuses = []
    for feed in feeds:
        tonight = sum(r["n"] for r in counts if r["feed"] == feed and r["drop_date"] == as_of)
        history = sorted(next((r["n"] for r in counts if r["feed"] == feed and r["drop_date"] == d), 0) for d in baseline_days)
        median = _median(history) if history else None
        present = sum(1 for h in history if h > 0)
        if not history or present < max(1, len(history) // 2):
            status = "new" if tonight else "ok"
        elif tonight == 0:
            status = "missing"
        elif median and median >= min_rows and tonight < thin * median:
            status = "thin"
        else:
            status = "ok"
        statuses.append(FeedStatus(feed, int(tonight), median, status))
    wh.execute("DELETE FROM feed_health WHERE as_of = $d", {"d": as_of})
    wh.executemany(
        "INSERT INTO feed_health VALUES (?, ?, ?, ?, ?, ?)",
        [(as_of, data_as_of, s.feed, s.rows, s.baseline_median, s.status) for s in statuses],
        step="store feed health",
    )
    return FeedHealth(as_of, data_as_of, statuses)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
