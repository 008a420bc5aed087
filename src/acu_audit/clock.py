"""Times as people read them: local time with the zone named. The contract's files stay UTC."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def local_time(value: datetime | date | None, tz: str, fmt: str = "%d %b %Y %H:%M") -> str:
    """A UTC instant in the force's zone, zone named (``29 Nov 2026 15:37 GMT``); a date as a date."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value.strftime("%d %b %Y")
    return value.astimezone(ZoneInfo(tz)).strftime(f"{fmt} %Z")
