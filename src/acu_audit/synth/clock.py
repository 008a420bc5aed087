"""Time for the demo force: local days in Europe/London, instants as UTC epoch seconds.

Everything inside the generator is an ``int64`` count of seconds since the Unix epoch (UTC).
Local wall-clock times (shift patterns, "evening", drop folders) go through :class:`Clock`,
which knows the zone's offset hour by hour, so the October clock change is handled without
per-row Python calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

ZONE_NAME = "Europe/London"
HOUR = 3600
DAY = 86400
NEVER = np.iinfo(np.int64).max // 4  # "not yet / never" sentinel that survives small additions


@dataclass
class Clock:
    """Local calendar of the generated period plus a pre-history of ``history_days``.

    Day indices are relative to ``start``: day 0 is the first drop, negative days are
    pre-history (cases opened before the period exist in day 0's snapshot).
    """

    start: date
    days: int
    history_days: int = 120
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(ZONE_NAME))

    def __post_init__(self) -> None:
        first = -self.history_days - 1
        last = self.days + 2
        self._first_day = first
        self._midnights = np.array(
            [self._local_to_epoch(self.start + timedelta(days=d), time(0, 0)) for d in range(first, last + 1)],
            dtype=np.int64,
        )
        # UTC offset (seconds) for every UTC hour in range: a lookup table instead of tz calls.
        self._hour0 = int(self._midnights[0]) - DAY
        n_hours = (int(self._midnights[-1]) + DAY - self._hour0) // HOUR + 1
        hours = self._hour0 + np.arange(n_hours, dtype=np.int64) * HOUR
        self._offsets = np.array(
            [int(datetime.fromtimestamp(int(h), tz=timezone.utc).astimezone(self.zone).utcoffset().total_seconds()) for h in hours],
            dtype=np.int64,
        )

    def _local_to_epoch(self, d: date, t: time) -> int:
        return int(datetime.combine(d, t, tzinfo=self.zone).timestamp())

    # --- days -------------------------------------------------------------------------
    @property
    def end(self) -> date:
        """Last local day of the generated period."""
        return self.start + timedelta(days=self.days - 1)

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def midnight(self, day: int | np.ndarray) -> int | np.ndarray:
        """UTC epoch seconds of local midnight starting ``day`` (scalar or array)."""
        return self._midnights[np.asarray(day) - self._first_day] if isinstance(day, np.ndarray) else int(self._midnights[day - self._first_day])

    def day_bounds(self, day: int) -> tuple[int, int]:
        """[start, end) of a local day in UTC epoch seconds (23 or 25 hours on change days)."""
        return self.midnight(day), self.midnight(day + 1)

    def day_of(self, t: np.ndarray | int) -> np.ndarray | int:
        """Local day index of UTC instants."""
        idx = np.searchsorted(self._midnights, t, side="right") - 1 + self._first_day
        return idx if isinstance(t, np.ndarray) else int(idx)

    # --- offsets ----------------------------------------------------------------------
    def offset(self, t: np.ndarray | int) -> np.ndarray | int:
        """UTC offset in seconds (0 in GMT, 3600 in BST) at UTC instants."""
        idx = np.clip((np.asarray(t) - self._hour0) // HOUR, 0, len(self._offsets) - 1)
        out = self._offsets[idx]
        return out if isinstance(t, np.ndarray) else int(out)

    def local_hour(self, t: np.ndarray) -> np.ndarray:
        """Local hour of day (0-23) of UTC instants."""
        return ((t + self.offset(t)) // HOUR) % 24

    def at_local(self, day: np.ndarray | int, minutes: np.ndarray | int) -> np.ndarray:
        """UTC instants of local wall-clock ``minutes`` after midnight on local ``day``.

        Wall-clock arithmetic, so 07:00 is 07:00 on both sides of the clock change; minutes may
        exceed 1440 (a night shift ending next morning).
        """
        day = np.asarray(day, dtype=np.int64)
        naive = self.midnight(day) + self.offset(self.midnight(day)) + np.asarray(minutes, dtype=np.int64) * 60
        guess = naive - self.offset(naive)
        return naive - self.offset(guess)

    # --- formatting (polars expressions) -------------------------------------------------
    @staticmethod
    def utc_iso(col: str | pl.Expr) -> pl.Expr:
        """ISO-8601 UTC text with a ``Z`` (most force systems)."""
        e = pl.col(col) if isinstance(col, str) else col
        return pl.from_epoch(e, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def local_iso(col: str | pl.Expr) -> pl.Expr:
        """ISO-8601 local text with offset, e.g. ``+01:00`` (the duty-management system)."""
        e = pl.col(col) if isinstance(col, str) else col
        return (
            pl.from_epoch(e, time_unit="s")
            .dt.replace_time_zone("UTC")
            .dt.convert_time_zone(ZONE_NAME)
            .dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
        )

    def date_text(self, day: np.ndarray) -> np.ndarray:
        """``YYYY-MM-DD`` text for day indices (vectorised via numpy datetime64)."""
        base = np.datetime64(self.start, "D")
        return np.datetime_as_string(base + np.asarray(day, dtype=np.int64).astype("timedelta64[D]"), unit="D")
