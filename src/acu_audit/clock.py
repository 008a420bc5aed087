"""One clock for people: every instant a person reads is local time with the zone named, in
one format, cut (never rounded) to the minute; every date a person reads is a local day.

    29 Nov 2026 15:37 GMT        an instant (report, CLI, notebooks, check reasons, packs)
    29 Nov 2026                  a day (a night, a window's first day)

Files for machines keep the data contract's forms: instants in UTC ISO-8601 with ``Z``
(``2026-11-29T15:37:12Z``), dates ``YYYY-MM-DD`` (:func:`utc_iso`).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

INSTANT_FORMAT = "%d %b %Y %H:%M %Z"  # strftime cuts seconds: 18:39:59 is 18:39 everywhere
DAY_FORMAT = "%d %b %Y"


def local_time(value: datetime | date | None, tz: str) -> str:
    """A UTC instant in the force's zone, zone named (``29 Nov 2026 15:37 GMT``); a date as a day."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return local_date(value)
    return value.astimezone(ZoneInfo(tz)).strftime(INSTANT_FORMAT)


def local_date(value: date | str | None) -> str:
    """A day as a person reads it (``29 Nov 2026``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.date()
    return value.strftime(DAY_FORMAT)


def utc_iso(value: datetime | None) -> str | None:
    """An instant as the contract's files carry it: UTC, ISO-8601, ``Z`` (``2026-11-29T15:37:12Z``)."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
