"""The review window of one run: local calendar days and their UTC bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_midnight_utc(day: date, timezone: str) -> datetime:
    """The start of ``day`` in ``timezone``, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(ZoneInfo("UTC"))


def end_of_night(as_of: date, timezone: str) -> datetime:
    """The end of the night of ``as_of``: local midnight after it, in UTC. The one end of day that
    the window, the scores' ages and the leads' dates are measured to."""
    return local_midnight_utc(as_of + timedelta(days=1), timezone)


@dataclass(frozen=True)
class ReviewWindow:
    """[as_of - (days - 1), as_of] in local days of ``timezone``."""

    as_of: date
    days: int
    timezone: str

    @property
    def start(self) -> date:
        return self.as_of - timedelta(days=self.days - 1)

    @property
    def start_utc(self) -> datetime:
        return self.local_midnight_utc(self.start)

    @property
    def end_utc(self) -> datetime:
        """Exclusive: local midnight after the as-of day (:func:`end_of_night`)."""
        return end_of_night(self.as_of, self.timezone)

    def local_midnight_utc(self, day: date) -> datetime:
        return local_midnight_utc(day, self.timezone)

    def days_list(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def params(self) -> dict:
        """The window as bound SQL parameters every transform and check may use."""
        return {
            "tz": self.timezone,
            "as_of": self.as_of,
            "window_start": self.start,
            "window_start_utc": self.start_utc,
            "window_end_utc": self.end_utc,
        }
