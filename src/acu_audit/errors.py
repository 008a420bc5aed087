"""Errors a user or operator can act on. Each says what failed and where."""

from __future__ import annotations


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
        first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        super().__init__(f"{step}: {first_line}")


class ConfigError(AcuAuditError):
    """A configuration file or value is invalid."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM, Ctrl-C) while DuckDB ran a query.

    DuckDB answers a pending signal by cancelling the query and raising a plain
    ``RuntimeError("Query interrupted")``, losing the signal's own exception; this puts it back
    as an interruption (a ``KeyboardInterrupt``), so it is never taken for acu-audit's own error.
    """
