"""Errors a user or operator can act on. Each says what failed and where."""

from __future__ import annotations

import re


class AcuAuditError(Exception):
    """Base class for errors shown to users without a traceback."""


class DatabaseBusyError(AcuAuditError):
    """Another process (usually the nightly run) holds the DuckDB file for writing."""


class QueryError(AcuAuditError):
    """A SQL statement failed; carries the step name and the statement."""

    def __init__(self, step: str, sql: str, cause: Exception):
        self.step = step
        self.sql = sql
        self.cause = cause
        # DuckDB may quote a value from a row in its message: kept out of what is shown and logged.
        first_line = value_free(str(cause)) if str(cause).strip() else type(cause).__name__
        super().__init__(f"{step}: {first_line}")


class ConfigError(AcuAuditError):
    """A configuration file or value is invalid."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM, Ctrl-C) while DuckDB ran a query.

    DuckDB answers a pending signal by cancelling the query and raising a plain
    ``RuntimeError("Query interrupted")``, losing the signal's own exception; this puts it back
    as an interruption (a ``KeyboardInterrupt``), so it is never taken for acu-audit's own error.
    """


def value_free(message: str) -> str:
    """A message from a reader (DuckDB, a Parquet library) without any value it quotes from the
    file: its first line, cut where a quoted value or an "Original Line" begins.

    Reasons and warnings travel to the report, the Prefect artifacts and logs; a value from a row
    (a staff id, a name) must not. A value may hold a quote itself (``D'S42674``), so the message is
    cut at the first quote rather than trusting the quotes to pair.
    """
    first = (message.strip().splitlines() or [""])[0]
    cut = re.split(r"(?i)original line|line content|['\"`]", first)[0].rstrip(" :,")
    return (cut + (" (…)" if len(cut) < len(first) else ""))[:200]
