"""The one place that talks to DuckDB.

Every query goes through :class:`Warehouse`, which binds values as parameters,
names the step that failed together with its SQL, and turns DuckDB's file-lock
error into a plain "database busy" message after a short wait.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import polars as pl

from acu_audit.errors import AcuAuditError, DatabaseBusyError, Interrupted, QueryError
from acu_audit.files import owner_only
from acu_audit.paths import absolute_or_none
from acu_audit.resources import read_sql

Params = Mapping[str, Any] | Sequence[Any] | None
T = TypeVar("T")

_LOCK_MESSAGE = re.compile(r"lock|already open|used by another process|Conflicting lock", re.IGNORECASE)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# What a stored hash of DuckDB's was made by: a new DuckDB may hash otherwise.
DUCKDB_VERSION = duckdb.__version__


def quote_identifier(name: str) -> str:
    """Quote a trusted identifier (a contract column or table name) for SQL.

    Identifiers cannot be bound as parameters; this refuses anything that is not
    a plain name so untrusted text never reaches SQL this way.
    """
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


def connect(path: str | Path | None, *, read_only: bool = False, busy_timeout_s: float = 10.0) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, waiting up to ``busy_timeout_s`` while another process holds it."""
    database = ":memory:" if path is None else str(path)
    owner_only()  # the warehouse and state files hold staff ids and names: created 0600
    deadline = time.monotonic() + busy_timeout_s
    delay = 0.1
    while True:
        try:
            con = duckdb.connect(database, read_only=read_only)
            break
        except duckdb.IOException as exc:
            if not _LOCK_MESSAGE.search(str(exc)):
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusyError(
                    f"database busy: {database} is held by another process (usually the nightly run); "
                    f"waited {busy_timeout_s:.0f} s. Try again when it has finished."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    return _session(con)


def _session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A connection's own settings (each connection to a database has its own)."""
    # Store and compare instants in UTC; local days are derived explicitly with timezone().
    con.execute("SET TimeZone = 'UTC'").fetchall()
    try:
        con.execute("SET enable_progress_bar = false").fetchall()
    except duckdb.InvalidInputException:  # in a Jupyter kernel without ipywidgets: no bar to turn off
        pass
    return con


# Told the step, the text and the seconds of every statement that succeeds, while
# :func:`timing_statements` holds it (benchmarks/night_profile.py); None otherwise.
_statement_timer: Callable[[str, str, float], None] | None = None


@contextmanager
def timing_statements(timer: Callable[[str, str, float], None]) -> Iterator[None]:
    """Call ``timer(step, sql, seconds)`` after every statement of every warehouse in the process
    (from whichever thread ran it) until the block ends."""
    global _statement_timer
    previous, _statement_timer = _statement_timer, timer
    try:
        yield
    finally:
        _statement_timer = previous


@contextmanager
def _statement(step: str, sql: str, *, timed: bool = True) -> Iterator[None]:
    """DuckDB's errors as :class:`QueryError` (naming the step and its SQL), and a query cancelled
    by a signal as :class:`Interrupted`."""
    timer, started = _statement_timer if timed else None, time.perf_counter()
    try:
        yield
        if timer is not None:
            timer(step, sql, time.perf_counter() - started)
    except duckdb.Error as exc:
        raise QueryError(step, sql, exc) from exc
    except RuntimeError as exc:
        if "interrupted" in str(exc).lower():
            raise Interrupted(f"{step}: stopped by a signal") from exc
        raise


class _ClosedConnection:
    """What a closed warehouse holds instead of its connection: any use says the warehouse is closed."""

    def __getattr__(self, name: str) -> Any:
        raise AcuAuditError(f"the warehouse connection is closed (asked for {name})")


_CLOSED: Any = _ClosedConnection()


_SIZE_UNITS = {"": 1, "bytes": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _bytes_of(size: str) -> int:
    """Bytes in a size as DuckDB shows a setting ("16.0 MiB", "953.6 MiB", "0 bytes")."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", size)
    if not match or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"not a size: {size!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


class Warehouse:
    """A DuckDB connection with named, parameterised statements.

    ``path=None`` gives an in-memory database (tests and fixtures).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        read_only: bool = False,
        busy_timeout_s: float = 10.0,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_directory: str | Path | None = None,
        checkpoint_threshold: str | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.read_only = read_only
        self.con = connect(path, read_only=read_only, busy_timeout_s=busy_timeout_s)
        if threads:
            self.execute("SET threads = $n", {"n": threads}, step="configure threads")
        if memory_limit:
            self.execute("SET memory_limit = $m", {"m": memory_limit}, step="configure memory")
        if temp_directory:
            self.execute("SET temp_directory = $t", {"t": str(temp_directory)}, step="configure spilling")
        if checkpoint_threshold:
            self.execute("SET checkpoint_threshold = $c", {"c": checkpoint_threshold}, step="configure checkpoints")

    @classmethod
    def configured(cls, path: str | Path, runtime: Mapping[str, Any]) -> Warehouse:
        """The warehouse read and written under the configuration's ``runtime`` settings (configs/):
        DuckDB's threads, memory limit, where it spills and its checkpoint threshold. Every command
        that loads or reviews opens it so (a night, ``acu-audit ingest``, the demo's history), so
        one memory limit bounds them all: opened plainly, DuckDB takes 80% of the machine's memory."""
        return cls(path, threads=runtime["threads"], memory_limit=runtime["memory_limit"],
                   temp_directory=absolute_or_none(runtime["temp_directory"]),
                   checkpoint_threshold=runtime["checkpoint_threshold"])

    def another_connection(self) -> Warehouse:
        """A second connection to the same database, for work beside this one in another thread:
        its own transactions and temporary tables; the database's memory limit is shared. Close
        it when done (before this one)."""
        other = Warehouse.__new__(Warehouse)
        other.path, other.read_only = self.path, self.read_only
        other.con = _session(self.con.cursor())
        return other

    # -- statements --------------------------------------------------------------
    def execute(self, sql: str, params: Params = None, *, step: str = "query") -> list[tuple]:
        """Run a statement and return every row (results are always drained)."""
        with _statement(step, sql):
            return self.con.execute(sql, params).fetchall() if params else self.con.execute(sql).fetchall()

    def insert_rows(self, table: str, rows: list[dict[str, Any]], schema: dict[str, Any] | None = None, *, step: str = "insert") -> int:
        """Insert many rows at once through a frame (executemany goes row by row)."""
        if not rows:
            return 0
        frame = pl.DataFrame(rows, schema=schema, infer_schema_length=None)
        name = f"_insert_{table}"
        self.register_frame(name, frame)
        try:
            self.execute(f"INSERT INTO {quote_identifier(table)} BY NAME SELECT * FROM {name}", step=step)
        finally:
            self.unregister(name)
        return frame.height

    @contextmanager
    def rows_as(self, name: str, rows: Sequence[Sequence[Any]], schema: dict[str, Any]) -> Iterator[None]:
        """Rows exposed to SQL as the relation ``name`` (columns and polars types from ``schema``)
        for the statements of the block: one set-based statement instead of one per row."""
        self.register_frame(name, pl.DataFrame(list(rows), schema=schema, orient="row"))
        try:
            yield
        finally:
            self.unregister(name)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], *, step: str = "query") -> None:
        if not rows:
            return
        with _statement(step, sql):
            self.con.executemany(sql, rows)

    def scalar(self, sql: str, params: Params = None, *, step: str = "query") -> Any:
        rows = self.execute(sql, params, step=step)
        return rows[0][0] if rows else None

    def frame(self, sql: str, params: Params = None, *, step: str = "query") -> pl.DataFrame:
        """Run a query and return a polars frame."""
        with _statement(step, sql):
            return self.con.sql(sql, params=params).pl() if params else self.con.sql(sql).pl()

    def records(self, sql: str, params: Params = None, *, step: str = "query") -> list[dict[str, Any]]:
        with _statement(step, sql):
            cursor = self.con.execute(sql, params) if params else self.con.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def script(self, relative_path: str, *, step: str | None = None) -> None:
        """Run every statement of ``sql/<relative_path>`` (DDL with no parameters)."""
        self.run_text(read_sql(relative_path), step=step or relative_path)

    def run_file(self, relative_path: str, params: Mapping[str, Any] | None = None, *, step: str | None = None) -> None:
        """Run every statement of ``sql/<relative_path>``, binding the parameters each one names."""
        self.run_text(read_sql(relative_path), params, step=step or relative_path)

    def run_text(self, text: str, params: Mapping[str, Any] | None = None, *, step: str = "query") -> None:
        """Run every statement of ``text``, binding the parameters each one names.

        DuckDB refuses parameters a statement does not use, so each statement
        gets exactly the subset it asks for; a missing one is an error that
        names the step and the parameter.
        """
        params = dict(params or {})
        name = step
        with _statement(name, text, timed=False):  # parsing: the statements are timed as they run
            statements = self.con.extract_statements(text)
        for statement in statements:
            wanted = statement.named_parameters
            missing = wanted - params.keys()
            if missing:
                raise QueryError(name, statement.query, KeyError(f"no value for parameter(s) {sorted(missing)}"))
            with _statement(name, statement.query):
                self.con.execute(statement, {k: params[k] for k in wanted}).fetchall()

    def pandas(self, sql: str, *, step: str = "query") -> Any:
        """Run a query and return a pandas frame (Great Expectations validates pandas frames only).

        Built from Arrow's buffers, with the dtypes DuckDB's own ``.df()`` gives (see
        :func:`pandas_like_duckdb`): ``.df()`` makes a Python object of every text value, which
        cost 7.3 s for a 40,000-staff force's 1.4 million look-ups against 0.95 s through Arrow."""
        with _statement(step, sql):
            table = self.con.sql(sql).to_arrow_table()
        return pandas_like_duckdb(table)

    def create_function(self, name: str, function: Any, parameters: list[str], return_type: str, **options: Any) -> None:
        """Register a Python function for SQL on this connection, its types named as in SQL
        (``"VARCHAR"``); once: a second registration is a no-op."""
        try:
            self.con.create_function(name, function, [duckdb.sqltype(t) for t in parameters], duckdb.sqltype(return_type),
                                     **options)
        except Exception as exc:  # noqa: BLE001 - registered already on this connection
            if "already" not in str(exc).lower():
                raise

    def register_frame(self, name: str, frame: Any) -> None:
        """Expose a polars/pandas/arrow frame to SQL under ``name`` for this connection."""
        self.con.register(name, frame)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def table_exists(self, name: str, schema: str = "main") -> bool:
        return bool(
            self.scalar(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = $t AND schema_name = $s",
                {"t": name, "s": schema},
            )
        )

    def columns(self, table: str, schema: str = "main") -> list[str]:
        return [r[0] for r in self.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = $t AND schema_name = $s ORDER BY column_index",
            {"t": table, "s": schema})]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN TRANSACTION", step="begin")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK", step="rollback")
            raise
        self.execute("COMMIT", step="commit")

    def memory_mb(self) -> float:
        """What DuckDB holds in memory now (its buffer pool: tables, temporary tables, operators), in
        MB. Not timed: a sampler asks it a few times a second (``acu_audit.flow.nightly.PhasePeaks``)."""
        sql = "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()"
        with _statement("memory", sql, timed=False):
            return float(self.con.execute(sql).fetchall()[0][0]) / 1e6

    def checkpoint(self) -> None:
        if not self.read_only and self.path is not None:
            self.execute("CHECKPOINT", step="checkpoint")

    @contextmanager
    def checkpoints_at(self, threshold: str | None) -> Iterator[None]:
        """Within the block, fold the log into the file only once it holds ``threshold``; at its
        end, go back to the threshold before and fold the log in if it holds more than that
        (what a commit would have done), so what runs next reads folded-in data. For bulk
        loading: each checkpoint costs a round of writes however little it folds in. The setting
        is the database's, so it holds on every connection (the ingest lanes). None: no change."""
        if not threshold or self.read_only or self.path is None:
            yield
            return
        before = self.scalar("SELECT current_setting('checkpoint_threshold')", step="configure checkpoints")
        self.execute("SET checkpoint_threshold = $c", {"c": threshold}, step="configure checkpoints")
        try:
            yield
        finally:
            self.execute("SET checkpoint_threshold = $c", {"c": before}, step="configure checkpoints")
        if self.log_bytes() > _bytes_of(before):
            self.checkpoint()

    def log_bytes(self) -> int:
        """The size of the warehouse's log (``<file>.wal``): committed changes not yet folded in."""
        if self.path is None:
            return 0
        try:
            return Path(f"{self.path}.wal").stat().st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        # The connection is let go as well as closed: one still referenced when the interpreter
        # exits (Prefect's run context keeps a task's arguments) makes DuckDB's bindings report
        # every object it holds as leaked ("nanobind: leaked 28 instances!").
        con, self.con = self.con, _CLOSED
        if con is not _CLOSED:
            con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pandas_like_duckdb(table: Any) -> Any:
    """An Arrow table as the pandas frame DuckDB's ``.df()`` would give for the same result: text
    as pandas' string dtype, dates as ``datetime64[us]`` (Arrow would give Python date objects),
    and an integer column holding a NULL as pandas' nullable integer of its width (Arrow would
    give floats)."""
    import pandas as pd
    import pyarrow as pa

    nullable = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(),
                pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(), pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype()}
    # One chunk per column, as .df() gives: GX's pandas operations walk every chunk (a night's
    # look-ups arrive in six, and validated 0.46 s against 0.27 s in one).
    table = table.combine_chunks()
    frame = table.to_pandas(date_as_object=False)
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_date(field.type):
            frame[field.name] = frame[field.name].astype("datetime64[us]")
        elif field.type in nullable and column.null_count:
            frame[field.name] = pa.table({field.name: column}).to_pandas(types_mapper=nullable.get)[field.name]
    return frame


def side_by_side(connections: Sequence[Warehouse], queues: Sequence[Sequence[T]], work: Callable[[Warehouse, T], None],
                 name: str) -> None:
    """``work(connection, item)`` for every item, each connection draining its own queue in order,
    in its own thread (threads named ``name``). A failure in any queue, or a stop (an interrupt of
    the calling thread), stops the others at their statement or before their next item, and is
    raised once every thread has stopped."""
    stopped = threading.Event()

    def drain(connection: Warehouse, queue: Sequence[T]) -> None:
        for item in queue:
            if stopped.is_set():  # the items not begun are left to the next run
                return
            work(connection, item)

    with ThreadPoolExecutor(len(connections), thread_name_prefix=name) as pool:
        running = [pool.submit(drain, c, q) for c, q in zip(connections, queues, strict=True) if q]
        try:
            wait(running, return_when=FIRST_EXCEPTION)  # not in order: a failure in any queue
            for future in sorted(running, key=lambda f: not f.done()):
                future.result()
        except BaseException:
            stopped.set()
            # Its statement is interrupted; a thread between statements (working in Python)
            # misses an interrupt: interrupt again until it stops at a statement or before its next item.
            while not all(future.done() for future in running):
                for connection in connections:
                    connection.con.interrupt()
                wait(running, timeout=0.2)
            raise
