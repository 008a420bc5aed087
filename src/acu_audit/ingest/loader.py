"""Load one landing file: stage, type, validate, sort every row into loaded /
duplicate / rejected, and write the ledger, all in one transaction.

Nothing is lost: a row is inserted, recognised as a duplicate of a stored key
with the same content, or written to ``quarantine`` with its line, column, raw
text and reason. A conflict (same key, different content) is quarantined with
both versions. A file that cannot be read at all is recorded as unreadable and
the night goes on.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Protocol

from acu_audit.contract import TABLES, TableSpec
from acu_audit.db import Warehouse, quote_identifier
from acu_audit.ingest.landing import LandingFile, file_id_for, sha256_of
from acu_audit.ingest.staging import StagedFile, UnreadableFile, raw_text_sql, stage_csv, stage_parquet, typing_sql


class StagedValidator(Protocol):
    def validate_staged(self, wh: Warehouse, spec: TableSpec, drop_date: date, file_id: str, run_id: str) -> None: ...


@dataclass
class FileResult:
    drop_date: date
    table: str | None
    file_name: str
    path: str
    file_id: str
    format: str
    read: int = 0
    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0
    conflicts: int = 0
    unresolved_refs: int = 0
    status: str = "loaded"
    error: str | None = None
    seconds: float = 0.0
    extra_columns: list[str] = field(default_factory=list)

    def ledger_json(self) -> dict:
        """The fields ``acu-audit ingest --json`` promises (conflicts count as rejected)."""
        return {
            "drop": self.drop_date.isoformat(),
            "table": self.table,
            "file": self.file_name,
            "read": self.read,
            "loaded": self.loaded,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "conflicts": self.conflicts,
            "unresolved_refs": self.unresolved_refs,
            "status": self.status,
            "error": self.error,
        }

    def as_dict(self) -> dict:
        d = asdict(self)
        d["drop_date"] = self.drop_date.isoformat()
        return d


def _key_expression(spec: TableSpec) -> str:
    if spec.id_column:
        return quote_identifier(spec.id_column)
    parts = ", ".join(f"coalesce(CAST({quote_identifier(k)} AS VARCHAR), chr(0))" for k in spec.key)
    return f"left(md5(concat_ws(chr(31), {parts})), 24)"


def _hash_expression(spec: TableSpec) -> str:
    # Typed values, so 22:15+01:00 and 21:15Z are the same content.
    parts = ", ".join(f"coalesce(CAST({quote_identifier(c)} AS VARCHAR), chr(0))" for c in spec.column_names)
    return f"md5_number(concat_ws(chr(31), {parts}))"


def _json_expression(spec: TableSpec, alias: str) -> str:
    fields = ", ".join(f"{quote_identifier(c)} := {alias}.{quote_identifier(c)}" for c in spec.column_names)
    return f"to_json(struct_pack({fields}))::VARCHAR"


def _record_file(wh: Warehouse, result: FileResult, run_id: str, sha: str, size: int) -> None:
    wh.execute(
        """
        INSERT INTO ingest_files VALUES (
            $file_id, $run_id, $drop_date, $table_name, $file_name, $path, $format, $sha, $bytes,
            $read, $loaded, $duplicate, $rejected, $conflicts, $unresolved, $extra, $status, $error, $seconds, now())
        """,
        {
            "file_id": result.file_id,
            "run_id": run_id,
            "drop_date": result.drop_date,
            "table_name": result.table,
            "file_name": result.file_name,
            "path": result.path,
            "format": result.format,
            "sha": sha,
            "bytes": size,
            "read": result.read,
            "loaded": result.loaded,
            "duplicate": result.duplicate,
            "rejected": result.rejected,
            "conflicts": result.conflicts,
            "unresolved": result.unresolved_refs,
            "extra": result.extra_columns,
            "status": result.status,
            "error": result.error,
            "seconds": result.seconds,
        },
        step="ledger: record file",
    )


def _quarantine_file(wh: Warehouse, result: FileResult, raw_text: str | None, reason: str) -> None:
    wh.execute(
        """
        INSERT INTO quarantine VALUES ($file_id, $drop_date, $table_name, $file_name, NULL, NULL, $raw, $reason, 'file', NULL, now())
        """,
        {
            "file_id": result.file_id,
            "drop_date": result.drop_date,
            "table_name": result.table,
            "file_name": result.file_name,
            "raw": raw_text,
            "reason": reason,
        },
        step="quarantine: whole file",
    )


def _file_preview(path, limit: int = 200) -> str:
    with open(path, "rb") as handle:
        return handle.read(limit).decode("utf-8", errors="replace")


def already_loaded(wh: Warehouse, file_id: str) -> bool:
    return bool(wh.scalar("SELECT count(*) FROM ingest_files WHERE file_id = $f", {"f": file_id}))


def load_file(
    wh: Warehouse,
    landing_file: LandingFile,
    run_id: str,
    validator: StagedValidator | None = None,
) -> FileResult:
    """Load one file into the warehouse and return its ledger entry."""
    started = time.perf_counter()
    sha, size = sha256_of(landing_file.path)
    result = FileResult(
        drop_date=landing_file.drop_date,
        table=landing_file.table,
        file_name=landing_file.name,
        path=str(landing_file.path),
        file_id=file_id_for(landing_file.drop_date, landing_file.name, sha),
        format=landing_file.format,
    )
    if already_loaded(wh, result.file_id):
        result.status = "already_loaded"
        return result

    if landing_file.table is None:
        result.status = "unrecognised"
        result.error = f"{landing_file.name}: not a table of the data contract; left in landing, not loaded"
        with wh.transaction():
            _record_file(wh, result, run_id, sha, size)
        return result

    spec = TABLES[landing_file.table]
    try:
        staged = (stage_parquet if landing_file.format == "parquet" else stage_csv)(wh, landing_file.path, spec)
    except UnreadableFile as exc:
        result.status = "unreadable"
        result.error = f"{landing_file.path}: {exc}"
        result.seconds = time.perf_counter() - started
        with wh.transaction():
            _quarantine_file(wh, result, _file_preview(landing_file.path), str(exc))
            _record_file(wh, result, run_id, sha, size)
        return result
    result.extra_columns = staged.extra_columns

    sql, params = typing_sql(spec, staged)
    wh.execute(sql, params, step=f"type {landing_file.name}")
    if validator is not None and staged.records:
        validator.validate_staged(wh, spec, landing_file.drop_date, result.file_id, run_id)

    _sort_rows(wh, spec, landing_file.drop_date)
    with wh.transaction():
        counts = _write_rows(wh, spec, staged, result)
        result.read = staged.records + staged.parse_rejects
        result.loaded = counts["load"]
        result.duplicate = counts["duplicate"]
        result.conflicts = counts["conflict"]
        result.rejected = counts["problem"] + counts["conflict"] + staged.parse_rejects
        if result.read == 0:
            result.status = "empty"
        elif result.rejected == 0:
            result.status = "loaded"
        elif result.rejected == result.read:
            result.status = "rejected"
        else:
            result.status = "partial"
        if result.rejected:
            result.error = _first_problem(wh, result)
        result.seconds = time.perf_counter() - started
        _record_file(wh, result, run_id, sha, size)
    assert result.read == result.loaded + result.duplicate + result.rejected, "ledger identity broken"
    return result


def _sort_rows(wh: Warehouse, spec: TableSpec, drop_date: date) -> None:
    """Decide each good row's fate: load, duplicate, or conflict (in file or with storage)."""
    table = quote_identifier(spec.name)
    key = _key_expression(spec)
    stored_key = quote_identifier(spec.row_id_column)
    version_filter = "WHERE _drop_date = $drop_date" if spec.kind == "snapshot" else ""
    params = {"drop_date": drop_date} if spec.kind == "snapshot" else None
    wh.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE stg_sorted AS
        WITH good AS (
            SELECT *, {_hash_expression(spec)} AS _row_hash, {key} AS _key
            FROM stg_typed WHERE len(_problems) = 0
        ), ranked AS (
            SELECT *, row_number() OVER w AS _key_rank, first_value(_row_hash) OVER w AS _first_hash,
                   first_value(_ord) OVER w AS _first_ord
            FROM good WINDOW w AS (PARTITION BY _key ORDER BY _ord)
        ), stored AS (
            SELECT {stored_key} AS _key, _row_hash AS _stored_hash FROM {table} {version_filter}
        )
        SELECT r.*, s._stored_hash,
               CASE WHEN r._key_rank > 1 AND r._row_hash = r._first_hash THEN 'duplicate'
                    WHEN r._key_rank > 1 THEN 'conflict_in_file'
                    WHEN s._stored_hash IS NULL THEN 'load'
                    WHEN s._stored_hash = r._row_hash THEN 'duplicate'
                    ELSE 'conflict' END AS _disposition
        FROM ranked r LEFT JOIN stored s ON s._key = r._key AND r._key_rank = 1
        """,
        params,
        step=f"sort rows of {spec.name}",
    )


def _write_rows(wh: Warehouse, spec: TableSpec, staged: StagedFile, result: FileResult) -> dict[str, int]:
    table = quote_identifier(spec.name)
    content = [quote_identifier(c) for c in spec.column_names]
    id_cols = [] if spec.id_column else ["row_id"]
    target_cols = ", ".join(id_cols + content + ["_drop_date", "_file_id", "_line", "_row_hash"])
    source_cols = ", ".join((["_key"] if not spec.id_column else []) + content + ["$drop_date", "$file_id", "_line", "_row_hash"])
    file_params = {"drop_date": result.drop_date, "file_id": result.file_id}
    loaded = wh.execute(
        f"INSERT INTO {table} ({target_cols}) SELECT {source_cols} FROM stg_sorted WHERE _disposition = 'load' ORDER BY _ord",
        file_params,
        step=f"insert {spec.name}",
    )[0][0]

    q_params = {**file_params, "table_name": spec.name, "file_name": result.file_name}
    raw_text = raw_text_sql(staged)
    # Rows with problems: first problem names the column; the reason lists them all.
    problems = wh.execute(
        f"""
        INSERT INTO quarantine
        SELECT $file_id, $drop_date, $table_name, $file_name, t._line, t._problems[1].col, {raw_text},
               'line ' || t._line || ': ' || array_to_string(list_transform(t._problems, lambda p: p.msg), '; '),
               t._problems[1].kind, NULL, now()
        FROM stg_typed t JOIN stg_raw r USING (_ord)
        WHERE len(t._problems) > 0
        """,
        q_params,
        step="quarantine rows with problems",
    )[0][0]

    key_desc = ", ".join(spec.key)
    stored_json = _json_expression(spec, "s")
    version_filter = "AND s._drop_date = $drop_date" if spec.kind == "snapshot" else ""
    stored_key = quote_identifier(spec.row_id_column)
    conflicts = wh.execute(
        f"""
        INSERT INTO quarantine
        SELECT $file_id, $drop_date, $table_name, $file_name, c._line, NULL, {raw_text},
               'line ' || c._line || ': conflict: the key (' || $key_desc || ') is already stored with different content; both versions kept here',
               'conflict', {stored_json}, now()
        FROM stg_sorted c JOIN stg_raw r USING (_ord)
        JOIN {table} s ON s.{stored_key} = c._key {version_filter}
        WHERE c._disposition = 'conflict'
        """,
        {**q_params, "key_desc": key_desc},
        step="quarantine conflicts with stored rows",
    )[0][0]
    first_json = _json_expression(spec, "f")
    conflicts += wh.execute(
        f"""
        INSERT INTO quarantine
        SELECT $file_id, $drop_date, $table_name, $file_name, c._line, NULL, {raw_text},
               'line ' || c._line || ': conflict: the key (' || $key_desc || ') appears earlier in this file (line '
               || f._line || ') with different content; the earlier row was kept',
               'conflict', {first_json}, now()
        FROM stg_sorted c JOIN stg_raw r USING (_ord)
        JOIN stg_sorted f ON f._ord = c._first_ord
        WHERE c._disposition = 'conflict_in_file'
        """,
        {**q_params, "key_desc": key_desc},
        step="quarantine conflicts within the file",
    )[0][0]

    # Parse rejects name the positional field (f<i>); report the header's name instead.
    wh.execute(
        """
        INSERT INTO quarantine
        SELECT $file_id, $drop_date, $table_name, $file_name, line,
               coalesce(list_extract($header, TRY_CAST(substr(column_name, 2) AS INTEGER) + 1), column_name), csv_line,
               'line ' || line || ': the CSV parser refused this record: ' || lower(error_type) || ' (' || error_message || ')',
               'parse', NULL, now()
        FROM stg_rejects
        """,
        {**q_params, "header": staged.header},
        step="quarantine parse rejects",
    )
    duplicates = wh.scalar("SELECT count(*) FROM stg_sorted WHERE _disposition = 'duplicate'")
    return {"load": loaded, "problem": problems, "conflict": conflicts, "duplicate": duplicates}


def _first_problem(wh: Warehouse, result: FileResult) -> str:
    row = wh.execute(
        "SELECT line, column_name, reason FROM quarantine WHERE file_id = $f ORDER BY line NULLS FIRST LIMIT 1",
        {"f": result.file_id},
    )
    extra = f" (and {result.rejected - 1} more rejected)" if result.rejected > 1 else ""
    return f"{result.path}: {row[0][2]}{extra}" if row else None
