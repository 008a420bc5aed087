"""Stage one landing file: read it as text, then type it and find what is wrong.

Two temp tables per file:

``stg_raw``
    every record the CSV parser accepted, as text, in file order: ``_ord``
    (1-based record number), ``_line`` (line in the file, header = 1) and one
    column per field, ``f0 .. fN`` in the file's own order.
``stg_typed``
    ``_ord``, ``_line``, for each contract column the raw text (``r__<name>``)
    and the typed value (``<name>``), and ``_problems``: a list of
    ``{col, kind, msg}`` structs, empty when the row is good.

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
        wh.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE stg_raw AS
            SELECT row_number() OVER () AS _ord, *
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
    # Line of an accepted record = its ordinal + 1 (header) + rejected records before it.
    wh.execute(
        """
        CREATE OR REPLACE TEMP TABLE stg_raw AS
        WITH rejected AS (
            SELECT line - row_number() OVER (ORDER BY line) - 1 AS accepted_before FROM stg_rejects
        )
        SELECT _ord + 1 + (SELECT count(*) FROM rejected WHERE accepted_before < _ord) AS _line, *
        FROM stg_raw
        """,
        step="stage: line numbers",
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
            SELECT file_row_number + 1 AS _ord, file_row_number + 2 AS _line {"," if fields else ""} {fields}
            FROM read_parquet($path, file_row_number = true)
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


def _typed_expression(column: Column, raw: str) -> str:
    if column.type in _PATTERNS and raw != "CAST(NULL AS VARCHAR)":
        return (
            f"CASE WHEN regexp_full_match(trim({raw}), $pattern_{column.type}) "
            f"THEN TRY_CAST(trim({raw}) AS {_SQL_TYPES[column.type]}) END"
        )
    return raw


def typing_sql(spec: TableSpec, staged: StagedFile) -> tuple[str, dict]:
    """SQL that builds ``stg_typed`` from ``stg_raw``, and its parameters."""
    params: dict[str, object] = {}
    selects = ["_ord", "_line"]
    problems: list[str] = []
    for column in spec.columns:
        name = column.name
        qname = quote_identifier(name)
        raw_name = quote_identifier(f"r__{name}")
        position = staged.columns_present.get(name)
        raw_expr = "CAST(NULL AS VARCHAR)" if position is None else f"NULLIF(f{position}, '')"
        selects.append(f"{raw_expr} AS {raw_name}")
        selects.append(f"{_typed_expression(column, raw_expr)} AS {qname}")
        if column.type in _PATTERNS and position is not None:
            params[f"pattern_{column.type}"] = _PATTERNS[column.type]

        col_param = f"col_{name}"

        def problem(condition: str, kind: str, message_sql: str) -> None:
            params[col_param] = name  # DuckDB refuses parameters a statement does not use
            problems.append(
                f"CASE WHEN {condition} THEN {{'col': ${col_param}, 'kind': '{kind}', 'msg': {message_sql}}} END"
            )

        if position is None:
            if not column.nullable:
                params[f"msg_absent_{name}"] = f"the file has no column '{name}', which is required"
                problem("true", "missing", f"$msg_absent_{name}")
            continue
        shown = f"left({raw_name}, 80)"
        if not column.nullable:
            params[f"msg_missing_{name}"] = f"column '{name}' is empty but required"
            problem(f"{raw_name} IS NULL", "missing", f"$msg_missing_{name}")
        if column.type in _PATTERNS:
            params[f"msg_type_{name}"] = f"' is not {TYPE_DESCRIPTIONS[column.type]}"
            problem(
                f"{raw_name} IS NOT NULL AND {qname} IS NULL",
                "type",
                f"'column ''{name}'': ''' || {shown} || $msg_type_{name}",
            )
        if column.type == "enum":
            params[f"values_{name}"] = list(column.values)
            params[f"msg_enum_{name}"] = "' is not one of: " + ", ".join(column.values)
            problem(
                f"{raw_name} IS NOT NULL AND NOT list_contains($values_{name}, {raw_name})",
                "value",
                f"'column ''{name}'': ''' || {shown} || $msg_enum_{name}",
            )
        if column.min_value is not None:
            params[f"min_{name}"] = column.min_value
            problem(
                f"{qname} < $min_{name}",
                "value",
                f"'column ''{name}'': ' || {qname} || ' is below the minimum ' || $min_{name}",
            )
    for rule in spec.pair_rules:
        later, earlier = quote_identifier(rule.later), quote_identifier(rule.earlier)
        params[f"col_{rule.later}"] = rule.later
        problems.append(
            f"CASE WHEN {later} IS NOT NULL AND {earlier} IS NOT NULL AND {later} <= {earlier} "
            f"THEN {{'col': $col_{rule.later}, 'kind': 'rule', 'msg': "
            f"'column ''{rule.later}'' (' || r__{rule.later} || ') is not after ''{rule.earlier}'' (' || r__{rule.earlier} || ')'}} END"
        )
    problem_list = "list_filter([" + ", ".join(problems) + "], lambda p: p IS NOT NULL)" if problems else "[]"
    sql = f"""
        CREATE OR REPLACE TEMP TABLE stg_typed AS
        SELECT *, {problem_list} AS _problems
        FROM (SELECT {", ".join(selects)} FROM stg_raw)
    """
    return sql, params


def raw_text_sql(staged: StagedFile) -> str:
    """Expression rendering ``stg_raw``'s fields back into one CSV line (alias ``r``)."""
    fields = [f"r.f{i}" for i in staged.raw_fields]
    if not fields:
        return "CAST(NULL AS VARCHAR)"
    rendered = [
        f"CASE WHEN {f} IS NULL THEN '' WHEN regexp_matches({f}, '[,\"\\n\\r]') "
        f"THEN '\"' || replace({f}, '\"', '\"\"') || '\"' ELSE {f} END"
        for f in fields
    ]
    return "concat_ws(',', " + ", ".join(rendered) + ")"
