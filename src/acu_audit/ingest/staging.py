"""Stage one landing file: read it as text, then type it and find what is wrong.

Two temp tables per file:

``stg_raw``
    every good record, as text, in file order (rowid + 1 is the record
    number), one column per field, ``f0 .. fN`` in file order; from the slow
    path also ``_line`` and ``_end_line``, the physical lines it came from.
``stg_typed``
    the same records typed and checked; see :func:`typing_sql`.

Records that cannot be split into fields at all (a stray quote, the wrong
number of fields, bytes that are not UTF-8, a NUL byte, a record over the size
limit, a blank line) are in ``stg_rejects`` with their lines, column and raw
text.

A CSV file is read by DuckDB's reader (the fast path) only when our own scan
(``records.RecordScanner``) finds it safe, and DuckDB's count of records must
equal ours; otherwise, or when DuckDB refuses the file, we split it ourselves
(``records.split_records``, the slow path) and DuckDB reads only the good
records, rewritten as a clean file. Either way the number of records is
counted by us, not by DuckDB.

No value from a file is ever formatted into SQL: the path and every pattern
and allowed value are bound parameters, CSV fields are addressed by position,
and Parquet columns are selected only when their name equals a contract name.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from acu_audit.contract import DATE_PATTERN, INT_PATTERN, TIMESTAMP_PATTERN, SQL_TYPES, TYPE_DESCRIPTIONS, Column, TableSpec
from acu_audit.db import Warehouse, quote_identifier
from acu_audit.errors import value_free
from acu_audit.ingest.landing import OpenedFile
from acu_audit.ingest.records import MAX_RECORD_BYTES, RecordScanner, normalised_csv, split_records


class UnreadableFile(Exception):
    """The whole file cannot be read (binary, bad header, corrupt Parquet).

    ``records``: how many records the file holds, where that can be told
    (lines after the header, or a Parquet file's row count from its metadata).
    """

    def __init__(self, message: str, records: int = 0) -> None:
        super().__init__(message)
        self.records = records


@dataclass
class StagedFile:
    header: list[str]
    columns_present: dict[str, int]  # contract column -> field position
    missing_columns: list[str] = field(default_factory=list)  # contract columns absent from the header
    extra_columns: list[str] = field(default_factory=list)  # header names the contract does not know
    raw_fields: list[int] = field(default_factory=list)  # positions of the f<i> columns kept in stg_raw
    records: int = 0  # good records, in stg_raw
    parse_rejects: int = 0  # records that could not be split into fields, in stg_rejects
    line_columns: bool = False  # stg_raw carries _line/_end_line (slow path)
    slow_path: str | None = None  # why the file was split by us, when it was


def _read_csv_header(source: OpenedFile) -> list[str]:
    first = os.pread(source.fd, 1 << 16, 0).split(b"\n", 1)[0]
    if not first.strip():
        return []
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"the header line is not UTF-8 text (byte {exc.start})") from exc
    if "\x00" in text:
        raise UnreadableFile("the file looks binary (NUL byte in the header line)")
    row = next(csv.reader(io.StringIO(text)), [])
    return [name.strip() for name in row]


def _check_header(header: list[str], spec: TableSpec) -> StagedFile:
    if not header or all(not h for h in header):
        raise UnreadableFile("the file has no header row")
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in seen:  # said by position: a header cell is text from the file, not ours to quote
            what = f"column '{name}'" if name in spec.column_names else "one column"
            raise UnreadableFile(f"the header names {what} twice (fields {seen[name] + 1} and {i + 1})")
        seen[name] = i
    known = set(spec.column_names)
    present = {name: i for i, name in enumerate(header) if name in known}
    return StagedFile(
        header=header,
        columns_present=present,
        missing_columns=[c for c in spec.column_names if c not in present],
        extra_columns=[h for h in header if h not in known],
    )


_REJECTS_DDL = """CREATE OR REPLACE TEMP TABLE stg_rejects (
    line BIGINT, end_line BIGINT, column_name VARCHAR, reason VARCHAR, raw_text VARCHAR)"""


def stage_csv(wh: Warehouse, source: OpenedFile, spec: TableSpec, scan: RecordScanner) -> StagedFile:
    """Read a CSV file into ``stg_raw`` (all text) and ``stg_rejects``.

    ``source``: the opened landing file (read through its descriptor); ``scan``: its
    :class:`RecordScanner`, fed while it was hashed (``landing.sha256_of``).
    """
    staged = _check_header(_read_csv_header(source), spec)
    staged.raw_fields = list(range(len(staged.header)))
    wh.execute(_REJECTS_DDL, step="stage: rejects table")
    reason = scan.slow_path_reason()
    if reason is None:
        columns = ", ".join(f"'f{i}': 'VARCHAR'" for i in range(len(staged.header)))
        try:
            # Strict: any record DuckDB cannot read stops it, and the slow path takes over.
            # Rows keep file order (preserve_insertion_order), so rowid + 1 is the record number.
            wh.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE stg_raw AS
                SELECT *
                FROM read_csv($path, header = false, skip = 1, all_varchar = true, auto_detect = false,
                              delim = ',', quote = '"', escape = '"', null_padding = false,
                              max_line_size = $max_line, columns = {{{columns}}})
                """,
                {"path": str(source.read_path), "max_line": MAX_RECORD_BYTES},
                step=f"stage {source.name}",
            )
            staged.records = wh.scalar("SELECT count(*) FROM stg_raw")
            if staged.records == scan.records:
                return staged
            reason = f"DuckDB's reader returned {staged.records:,} records where the file has {scan.records:,}"
        except Exception as exc:  # noqa: BLE001 - any refusal sends the file down the slow path
            reason = "DuckDB's reader stopped: " + value_free(str(exc))
    _stage_slow(wh, source, staged, reason)
    return staged


def _read_all(source: OpenedFile) -> bytes:
    chunks, offset = [], 0
    while block := os.pread(source.fd, 1 << 22, offset):
        chunks.append(block)
        offset += len(block)
    return b"".join(chunks)


def _stage_slow(wh: Warehouse, source: OpenedFile, staged: StagedFile, reason: str) -> None:
    """Split the file into records ourselves; DuckDB reads the good ones from a clean copy."""
    staged.slow_path = reason
    staged.line_columns = True
    good, broken = [], []
    # A field beyond the contract is named by position in reasons: its header text is the file's.
    known = set(staged.columns_present)
    named = [h if h in known else f"field {i + 1}" for i, h in enumerate(staged.header)]
    for record in split_records(_read_all(source), named):
        (good if record.fields is not None else broken).append(record)
    columns = [("_line", "BIGINT"), ("_end_line", "BIGINT"), *((f"f{i}", "VARCHAR") for i in range(len(staged.header)))]
    wh.execute(f"CREATE OR REPLACE TEMP TABLE stg_raw ({', '.join(f'{n} {t}' for n, t in columns)})",
               step=f"stage {source.name} (slow path)")
    if good:
        handle, clean = tempfile.mkstemp(prefix="acu-stage-", suffix=".csv")  # created 0600
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(normalised_csv(good))
            wh.execute(
                f"""
                INSERT INTO stg_raw
                SELECT * FROM read_csv($path, header = false, auto_detect = false,
                                       delim = ',', quote = '"', escape = '"', null_padding = false,
                                       max_line_size = $max_line, columns = {{{", ".join(f"'{n}': '{t}'" for n, t in columns)}}})
                """,
                {"path": clean, "max_line": 2 * MAX_RECORD_BYTES + 64},
                step=f"stage {source.name} (slow path)",
            )
        finally:
            os.unlink(clean)
    staged.records = wh.scalar("SELECT count(*) FROM stg_raw")
    assert staged.records == len(good), "the clean copy lost a record"
    wh.insert_rows(
        "stg_rejects",
        [{"line": r.line, "end_line": r.end_line, "column_name": r.column,
          "reason": f"{r.where}: the record could not be read: {r.problem}", "raw_text": r.raw_text} for r in broken],
        {"line": pl.Int64, "end_line": pl.Int64, "column_name": pl.Utf8, "reason": pl.Utf8, "raw_text": pl.Utf8},
        step="stage: records that could not be read",
    )
    staged.parse_rejects = len(broken)


def _parquet_rows(wh: Warehouse, path: Path) -> int:
    """Rows a Parquet file says it holds (its footer), or 0 when even that cannot be read."""
    try:
        return int(wh.scalar("SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata($path)", {"path": str(path)}))
    except Exception:  # noqa: BLE001 - a footer we cannot read: no count to give
        return 0


def _parquet_problem(exc: Exception) -> str:
    """DuckDB's message about a broken Parquet file, said in words first."""
    detail = str(exc).splitlines()[0][:200]
    lowered = detail.lower()
    if "magic" in lowered or "footer" in lowered or "too small" in lowered:
        words = "not a Parquet file, or cut short: its footer is missing or damaged"
    elif "protocol" in lowered or "invalid data" in lowered or "thrift" in lowered:
        words = "the Parquet file is damaged: its metadata or data pages cannot be decoded"
    elif "decompress" in lowered or "snappy" in lowered or "zstd" in lowered or "gzip" in lowered:
        words = "the Parquet file is damaged: a compressed data page cannot be decompressed"
    else:
        words = "the Parquet file cannot be read"
    return f"{words} (DuckDB: {value_free(detail)})"


def stage_parquet(wh: Warehouse, source: OpenedFile, spec: TableSpec) -> StagedFile:
    """Read a Parquet file into ``stg_raw``, casting every contract column to text."""
    path = source.read_path
    try:
        described = wh.records("DESCRIBE SELECT * FROM read_parquet($path)", {"path": str(path)})
    except Exception as exc:
        raise UnreadableFile(_parquet_problem(exc), _parquet_rows(wh, path)) from exc
    staged = _check_header([r["column_name"] for r in described], spec)
    staged.raw_fields = sorted(staged.columns_present.values())
    # Only contract names are selected, so the identifiers below are trusted.
    fields = ", ".join(
        f"CAST({quote_identifier(name)} AS VARCHAR) AS f{i}" for name, i in staged.columns_present.items()
    )
    wh.execute(_REJECTS_DDL, step="stage: rejects table")
    try:
        wh.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE stg_raw AS
            SELECT {fields if fields else "NULL AS f_none"}
            FROM read_parquet($path, file_row_number = true)
            ORDER BY file_row_number
            """,
            {"path": str(path)},
            step=f"stage {source.name}",
        )
    except Exception as exc:
        raise UnreadableFile(_parquet_problem(exc), _parquet_rows(wh, path)) from exc
    staged.records = wh.scalar("SELECT count(*) FROM stg_raw")
    return staged


# ---- typing ------------------------------------------------------------------------
_PATTERNS = {"timestamp": TIMESTAMP_PATTERN, "date": DATE_PATTERN, "int": INT_PATTERN}
_NULL = "CAST(NULL AS VARCHAR)"


def raw_column(column: Column) -> str:
    """The raw-text column kept beside a typed column (text and enum columns are their own raw)."""
    return f"r__{column.name}" if column.type in _PATTERNS else column.name


def key_expression(spec: TableSpec) -> str:
    """The natural key of a row: its id column, or a hash of the key columns (``row_id``)."""
    if spec.id_column:
        return quote_identifier(spec.id_column)
    parts = ", ".join(f"coalesce(CAST({quote_identifier(k)} AS VARCHAR), chr(0))" for k in spec.key)
    return f"left(md5(concat_ws(chr(31), {parts})), 24)"


def same_content(spec: TableSpec, left: str, right: str) -> str:
    """True when two rows (table aliases) hold the same typed content.

    Typed values compare, so 22:15+01:00 and 21:15Z are the same content.
    """
    return " AND ".join(
        f"{left}.{quote_identifier(c)} IS NOT DISTINCT FROM {right}.{quote_identifier(c)}" for c in spec.column_names
    )


def typing_sql(spec: TableSpec, staged: StagedFile, skip: str | None = None) -> tuple[str, dict]:
    """SQL that builds ``stg_typed`` from ``stg_raw``, and its parameters; ``skip``: a table of
    record numbers (``_ord``) not to type (known already; see ``resent``).

    ``stg_typed`` holds ``_ord`` (record number), ``_line`` and ``_end_line``
    (the physical lines of the record, header = 1), each contract column typed (plus ``r__<name>``, its raw text,
    for typed columns), ``_ok``, ``_problems`` (``{col, kind, msg}`` structs,
    NULL when ok), ``_key`` (natural key, of a good row) and ``_listed_key`` (the key of any row
    whose key columns could be read, good or not: a snapshot lists that entity, even when the
    row is quarantined).
    """
    params: dict[str, object] = {}
    projections: list[str] = []
    problems: list[tuple[str, str]] = []  # (condition, problem struct)

    def problem(col: str, condition: str, kind: str, message_sql: str) -> None:
        params[f"col_{col}"] = col  # bound only when used: DuckDB refuses unused parameters
        problems.append((condition, f"{{'col': $col_{col}, 'kind': '{kind}', 'msg': {message_sql}}}"))

    for column in spec.columns:
        name = column.name
        qname = quote_identifier(name)
        position = staged.columns_present.get(name)
        raw_expr = _NULL if position is None else f"NULLIF(f{position}, '')"
        raw = quote_identifier(raw_column(column))
        if column.type in _PATTERNS:
            projections.append(f"{raw_expr} AS {raw}")
            if position is None:
                projections.append(f"CAST(NULL AS {SQL_TYPES[column.type]}) AS {qname}")
            else:
                params[f"pattern_{column.type}"] = _PATTERNS[column.type]
                projections.append(
                    f"CASE WHEN regexp_full_match(trim({raw_expr}), $pattern_{column.type}) "
                    f"THEN TRY_CAST(trim({raw_expr}) AS {SQL_TYPES[column.type]}) END AS {qname}"
                )
        else:
            projections.append(f"{raw_expr} AS {qname}")

        if position is None:
            if not column.nullable:
                params[f"msg_absent_{name}"] = f"the file has no column '{name}', which is required"
                problem(name, "true", "missing", f"$msg_absent_{name}")
            continue
        if column.type not in _PATTERNS:
            # A NUL byte (Parquet, or a CSV on the fast path) is never data: quarantine, don't load it.
            params[f"msg_nul_{name}"] = f"column '{name}' holds a NUL byte"
            problem(name, f"contains({raw}, chr(0))", "value", f"$msg_nul_{name}")
        if not column.nullable:
            params[f"msg_missing_{name}"] = f"column '{name}' is empty but required"
            problem(name, f"{raw} IS NULL", "missing", f"$msg_missing_{name}")
        # Reasons name the column and the rule, never the value: the value is in the row's raw
        # text, which every view masks unless revealed with a reason.
        if column.type in _PATTERNS:
            params[f"msg_type_{name}"] = f"column '{name}': the value is not {TYPE_DESCRIPTIONS[column.type]}"
            problem(name, f"{raw} IS NOT NULL AND {qname} IS NULL", "type", f"$msg_type_{name}")
        if column.type == "enum":
            params[f"values_{name}"] = list(column.values)
            params[f"msg_enum_{name}"] = f"column '{name}': the value is not one of: " + ", ".join(column.values)
            problem(name, f"{raw} IS NOT NULL AND NOT list_contains($values_{name}, {raw})", "value",
                    f"$msg_enum_{name}")
        if column.min_value is not None:
            params[f"min_{name}"] = column.min_value
            params[f"msg_min_{name}"] = f"column '{name}': the value is below the minimum {column.min_value}"
            problem(name, f"{qname} < $min_{name}", "value", f"$msg_min_{name}")
    for rule in spec.pair_rules:
        if rule.later in staged.columns_present and rule.earlier in staged.columns_present:
            later, earlier = quote_identifier(rule.later), quote_identifier(rule.earlier)
            params[f"msg_rule_{rule.later}"] = f"column '{rule.later}' is not after '{rule.earlier}'"
            problem(rule.later, f"{later} IS NOT NULL AND {earlier} IS NOT NULL AND {later} <= {earlier}", "rule",
                    f"$msg_rule_{rule.later}")

    # Fast path: one record per line, so line = record number + 1 (the header). Slow path:
    # the physical lines each record came from, carried through the clean copy.
    lines = "" if staged.line_columns else "_ord + 1 AS _line, _ord + 1 AS _end_line, "
    line_source = ", _line, _end_line" if staged.line_columns else ""
    ok = " AND ".join(f"NOT coalesce({cond}, false)" for cond, _ in problems) or "true"
    listed = ", ".join(f"CASE WHEN coalesce({cond}, false) THEN {struct} END" for cond, struct in problems)
    problem_list = f"list_filter([{listed}], lambda p: p IS NOT NULL)" if problems else "NULL"
    skipped = f" WHERE rowid + 1 NOT IN (SELECT _ord FROM {skip})" if skip else ""
    sql = f"""
        CREATE OR REPLACE TEMP TABLE stg_typed AS
        WITH typed AS (
            SELECT CAST(rowid + 1 AS BIGINT) AS _ord, {", ".join(projections)}{line_source} FROM stg_raw{skipped}
        ), checked AS (
            SELECT {lines}*, {ok} AS _ok FROM typed
        )
        SELECT *,
               CASE WHEN NOT _ok THEN {problem_list} END AS _problems,
               CASE WHEN _ok THEN {key_expression(spec)} END AS _key,
               CASE WHEN {" AND ".join(f"{quote_identifier(k)} IS NOT NULL" for k in spec.key)}
                    THEN {key_expression(spec)} END AS _listed_key
        FROM checked
    """
    return sql, params


def raw_text_sql(staged: StagedFile) -> str:
    """Expression rendering ``stg_raw`` (alias ``r``) back into one CSV line."""
    fields = [f"r.f{i}" for i in staged.raw_fields]
    if not fields:
        return _NULL
    rendered = [
        f"""CASE WHEN {f} IS NULL THEN '' WHEN regexp_matches({f}, '[,"\\n\\r]') """
        f"""THEN '"' || replace({f}, '"', '""') || '"' ELSE {f} END"""
        for f in fields
    ]
    return "concat_ws(',', " + ", ".join(rendered) + ")"
