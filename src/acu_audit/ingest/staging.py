"""Stage one landing file: read it as text, then type it and find what is wrong.

Two temp tables per file:

``stg_raw``
    every record the CSV parser accepted, as text, in file order (rowid + 1 is
    the record number), one column per field, ``f0 .. fN`` in file order.
``stg_typed``
    the same records typed and checked; see :func:`typing_sql`.

Records the parser itself refused (wrong number of fields, bad quoting, bad
UTF-8) are kept by DuckDB's ``store_rejects`` with their line and raw text.

No value from a file is ever formatted into SQL: the path and every pattern
and allowed value are bound parameters, CSV fields are addressed by position,
and Parquet columns are selected only when their name equals a contract name.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from acu_audit.contract import DATE_PATTERN, INT_PATTERN, TIMESTAMP_PATTERN, TYPE_DESCRIPTIONS, Column, TableSpec
from acu_audit.db import Warehouse, quote_identifier

REJECTS_TABLE = "stg_parse_rejects"
REJECTS_SCAN = "stg_parse_scans"


class UnreadableFile(Exception):
    """The whole file cannot be read (binary, bad header, corrupt Parquet)."""


@dataclass
class StagedFile:
    header: list[str]
    columns_present: dict[str, int]  # contract column -> field position
    missing_columns: list[str] = field(default_factory=list)  # contract columns absent from the header
    extra_columns: list[str] = field(default_factory=list)  # header names the contract does not know
    raw_fields: list[int] = field(default_factory=list)  # positions of the f<i> columns kept in stg_raw
    records: int = 0  # records in stg_raw
    parse_rejects: int = 0  # records the parser refused


def _read_csv_header(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        first = handle.readline(1 << 16)
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
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise UnreadableFile(f"the header names column '{name}' twice")
        seen.add(name)
    known = set(spec.column_names)
    present = {name: i for i, name in enumerate(header) if name in known}
    return StagedFile(
        header=header,
        columns_present=present,
        missing_columns=[c for c in spec.column_names if c not in present],
        extra_columns=[h for h in header if h not in known],
    )


def stage_csv(wh: Warehouse, path: Path, spec: TableSpec) -> StagedFile:
    """Read a CSV file into ``stg_raw`` (all text) and its parse rejects."""
    staged = _check_header(_read_csv_header(path), spec)
    staged.raw_fields = list(range(len(staged.header)))
    columns = ", ".join(f"'f{i}': 'VARCHAR'" for i in range(len(staged.header)))
    wh.execute(f"DROP TABLE IF EXISTS {REJECTS_TABLE}", step="stage: reset rejects")
    wh.execute(f"DROP TABLE IF EXISTS {REJECTS_SCAN}", step="stage: reset rejects")
    try:
        # Rows keep file order (preserve_insertion_order), so rowid + 1 is the record number.
        wh.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE stg_raw AS
            SELECT *
            FROM read_csv($path, header = false, skip = 1, all_varchar = true, auto_detect = false,
                          delim = ',', quote = '"', escape = '"', null_padding = false,
                          columns = {{{columns}}},
                          store_rejects = true, rejects_table = '{REJECTS_TABLE}', rejects_scan = '{REJECTS_SCAN}')
            """,
            {"path": str(path)},
            step=f"stage {path.name}",
        )
    except Exception as exc:  # the reader refused the whole file
        raise UnreadableFile(str(exc).splitlines()[0]) from exc
    # One rejected record may carry several errors; keep the first per line.
    wh.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE stg_rejects AS
        SELECT line, arg_min(column_name, column_idx) AS column_name, arg_min(error_type, column_idx) AS error_type,
               arg_min(error_message, column_idx) AS error_message, arg_min(csv_line, column_idx) AS csv_line
        FROM {REJECTS_TABLE} GROUP BY line
        """,
        step="stage: collect parse rejects",
    )
    staged.records = wh.scalar("SELECT count(*) FROM stg_raw")
    staged.parse_rejects = wh.scalar("SELECT count(*) FROM stg_rejects")
    return staged


def stage_parquet(wh: Warehouse, path: Path, spec: TableSpec) -> StagedFile:
    """Read a Parquet file into ``stg_raw``, casting every contract column to text."""
    try:
        described = wh.records("DESCRIBE SELECT * FROM read_parquet($path)", {"path": str(path)})
    except Exception as exc:
        raise UnreadableFile(str(exc).splitlines()[0]) from exc
    staged = _check_header([r["column_name"] for r in described], spec)
    staged.raw_fields = sorted(staged.columns_present.values())
    # Only contract names are selected, so the identifiers below are trusted.
    fields = ", ".join(
        f"CAST({quote_identifier(name)} AS VARCHAR) AS f{i}" for name, i in staged.columns_present.items()
    )
    wh.execute("CREATE OR REPLACE TEMP TABLE stg_rejects (line BIGINT, column_name VARCHAR, error_type VARCHAR, error_message VARCHAR, csv_line VARCHAR)")
    try:
        wh.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE stg_raw AS
            SELECT {fields if fields else "NULL AS f_none"}
            FROM read_parquet($path, file_row_number = true)
            ORDER BY file_row_number
            """,
            {"path": str(path)},
            step=f"stage {path.name}",
        )
    except Exception as exc:
        raise UnreadableFile(str(exc).splitlines()[0]) from exc
    staged.records = wh.scalar("SELECT count(*) FROM stg_raw")
    return staged


# ---- typing ------------------------------------------------------------------------
_PATTERNS = {"timestamp": TIMESTAMP_PATTERN, "date": DATE_PATTERN, "int": INT_PATTERN}
_SQL_TYPES = {"timestamp": "TIMESTAMPTZ", "date": "DATE", "int": "BIGINT"}
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


def typing_sql(spec: TableSpec, staged: StagedFile) -> tuple[str, dict]:
    """SQL that builds ``stg_typed`` from ``stg_raw``, and its parameters.

    ``stg_typed`` holds ``_ord`` (record number), ``_line`` (line in the file,
    header = 1), each contract column typed (plus ``r__<name>``, its raw text,
    for typed columns), ``_ok``, ``_problems`` (``{col, kind, msg}`` structs,
    NULL when ok) and ``_key`` (natural key).
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
                projections.append(f"CAST(NULL AS {_SQL_TYPES[column.type]}) AS {qname}")
            else:
                params[f"pattern_{column.type}"] = _PATTERNS[column.type]
                projections.append(
                    f"CASE WHEN regexp_full_match(trim({raw_expr}), $pattern_{column.type}) "
                    f"THEN TRY_CAST(trim({raw_expr}) AS {_SQL_TYPES[column.type]}) END AS {qname}"
                )
        else:
            projections.append(f"{raw_expr} AS {qname}")

        if position is None:
            if not column.nullable:
                params[f"msg_absent_{name}"] = f"the file has no column '{name}', which is required"
                problem(name, "true", "missing", f"$msg_absent_{name}")
            continue
        shown = f"left({raw}, 80)"
        if not column.nullable:
            params[f"msg_missing_{name}"] = f"column '{name}' is empty but required"
            problem(name, f"{raw} IS NULL", "missing", f"$msg_missing_{name}")
        if column.type in _PATTERNS:
            params[f"msg_type_{name}"] = f"' is not {TYPE_DESCRIPTIONS[column.type]}"
            problem(name, f"{raw} IS NOT NULL AND {qname} IS NULL", "type",
                    f"'column ''{name}'': ''' || {shown} || $msg_type_{name}")
        if column.type == "enum":
            params[f"values_{name}"] = list(column.values)
            params[f"msg_enum_{name}"] = "' is not one of: " + ", ".join(column.values)
            problem(name, f"{raw} IS NOT NULL AND NOT list_contains($values_{name}, {raw})", "value",
                    f"'column ''{name}'': ''' || {shown} || $msg_enum_{name}")
        if column.min_value is not None:
            params[f"min_{name}"] = column.min_value
            problem(name, f"{qname} < $min_{name}", "value",
                    f"'column ''{name}'': ' || {qname} || ' is below the minimum ' || $min_{name}")
    for rule in spec.pair_rules:
        if rule.later in staged.columns_present and rule.earlier in staged.columns_present:
            later, earlier = quote_identifier(rule.later), quote_identifier(rule.earlier)
            problem(
                rule.later,
                f"{later} IS NOT NULL AND {earlier} IS NOT NULL AND {later} <= {earlier}",
                "rule",
                f"'column ''{rule.later}'' (' || r__{rule.later} || ') is not after ''{rule.earlier}'' (' || r__{rule.earlier} || ')'",
            )

    # Line = record number + 1 (header) + records the parser rejected before it.
    line = "_ord + 1"
    if staged.parse_rejects:
        line = "_ord + 1 + (SELECT count(*) FROM stg_reject_gaps g WHERE g.accepted_before < _ord)"
    ok = " AND ".join(f"NOT coalesce({cond}, false)" for cond, _ in problems) or "true"
    listed = ", ".join(f"CASE WHEN coalesce({cond}, false) THEN {struct} END" for cond, struct in problems)
    problem_list = f"list_filter([{listed}], lambda p: p IS NOT NULL)" if problems else "NULL"
    sql = f"""
        CREATE OR REPLACE TEMP TABLE stg_typed AS
        WITH typed AS (
            SELECT CAST(rowid + 1 AS BIGINT) AS _ord, {", ".join(projections)} FROM stg_raw
        ), checked AS (
            SELECT {line} AS _line, *, {ok} AS _ok FROM typed
        )
        SELECT *,
               CASE WHEN NOT _ok THEN {problem_list} END AS _problems,
               CASE WHEN _ok THEN {key_expression(spec)} END AS _key
        FROM checked
    """
    return sql, params


def prepare_line_numbers(wh: Warehouse, staged: StagedFile) -> None:
    """For files with parser rejects: how many accepted records precede each rejected one."""
    if staged.parse_rejects:
        wh.execute(
            """CREATE OR REPLACE TEMP TABLE stg_reject_gaps AS
               SELECT line - row_number() OVER (ORDER BY line) - 1 AS accepted_before FROM stg_rejects""",
            step="stage: line numbers",
        )


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
