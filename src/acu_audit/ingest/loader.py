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
from acu_audit.ingest.staging import (
    StagedFile,
    UnreadableFile,
    prepare_line_numbers,
    raw_text_sql,
    same_content,
    stage_csv,
    stage_parquet,
    typing_sql,
)


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

    prepare_line_numbers(wh, staged)
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
    """Find the good rows that are not plain loads, into ``stg_exceptions``.

    A key repeated in the file: later rows with the same content are duplicates,
    with other content conflicts (the first row stands). A key already stored
    (events: anywhere; snapshots: in this drop's version): same content is a
    duplicate, other content a conflict. Everything else loads. Content is
    compared only for these few rows, so the common path reads no stored
    content at all and the load is one anti-joined insert.
    """
    table = quote_identifier(spec.name)
    stored_key = quote_identifier(spec.row_id_column)
    wh.execute("CREATE OR REPLACE TEMP TABLE stg_exceptions (_ord BIGINT, _disposition VARCHAR, _first_ord BIGINT)")
    wh.execute(
        f"""
        INSERT INTO stg_exceptions
        SELECT r._ord, CASE WHEN {same_content(spec, "t", "f")} THEN 'duplicate' ELSE 'conflict_in_file' END, r._first_ord
        FROM (
            SELECT _ord, row_number() OVER w AS _rank, first_value(_ord) OVER w AS _first_ord
            FROM stg_typed
            WHERE _ok AND _key IN (SELECT _key FROM stg_typed WHERE _ok GROUP BY _key HAVING count(*) > 1)
            WINDOW w AS (PARTITION BY _key ORDER BY _ord)
        ) r
        JOIN stg_typed t ON t._ord = r._ord
        JOIN stg_typed f ON f._ord = r._first_ord
        WHERE r._rank > 1
        """,
        step=f"repeated keys in {spec.name}",
    )
    version = "WHERE _drop_date = $drop_date" if spec.kind == "snapshot" else ""
    params = {"drop_date": drop_date} if spec.kind == "snapshot" else None
    if spec.kind == "snapshot" and not wh.scalar(f"SELECT count(*) > 0 FROM {table} {version}", params):
        return  # a new snapshot version: nothing stored to compare with (zone maps make this cheap)
    # Keys already stored: reads only the key column of the stored table.
    wh.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE stg_stored_keys AS
        SELECT t._ord, t._key FROM stg_typed t
        WHERE t._ok AND t._key IN (SELECT {stored_key} FROM {table} {version})
          AND t._ord NOT IN (SELECT _ord FROM stg_exceptions)
        """,
        params,
        step=f"stored keys of {spec.name}",
    )
    if wh.scalar("SELECT count(*) FROM stg_stored_keys"):
        wh.execute(
            f"""
            INSERT INTO stg_exceptions
            SELECT k._ord, CASE WHEN {same_content(spec, "t", "s")} THEN 'duplicate' ELSE 'conflict' END, NULL
            FROM stg_stored_keys k
            JOIN stg_typed t ON t._ord = k._ord
            JOIN (SELECT * FROM {table} {version}) s ON s.{stored_key} = k._key
            WHERE s.{stored_key} IN (SELECT _key FROM stg_stored_keys)
            """,
            params,
            step=f"compare with stored {spec.name}",
        )


def _write_rows(wh: Warehouse, spec: TableSpec, staged: StagedFile, result: FileResult) -> dict[str, int]:
    table = quote_identifier(spec.name)
    content = [quote_identifier(c) for c in spec.column_names]
    id_cols = [] if spec.id_column else ["row_id"]
    target_cols = ", ".join(id_cols + content + ["_drop_date", "_file_id", "_line"])
    source_cols = ", ".join((["_key"] if not spec.id_column else []) + content + ["$drop_date", "$file_id", "_line"])
    file_params = {"drop_date": result.drop_date, "file_id": result.file_id}
    loaded = wh.execute(
        f"""INSERT INTO {table} ({target_cols})
            SELECT {source_cols} FROM stg_typed t
            WHERE _ok AND NOT EXISTS (SELECT 1 FROM stg_exceptions e WHERE e._ord = t._ord)
            ORDER BY _ord""",
        file_params,
        step=f"insert {spec.name}",
    )[0][0]
    counts = dict(
        wh.execute("SELECT _disposition, count(*) FROM stg_exceptions GROUP BY ALL", step="count exceptions")
    )
    problems = wh.scalar("SELECT count(*) FROM stg_typed WHERE NOT _ok")

    q_params = {**file_params, "table_name": spec.name, "file_name": result.file_name}
    raw_text = raw_text_sql(staged)
    raw_rows = "(SELECT rowid + 1 AS _ord, * FROM stg_raw)"
    if problems:
        # The first problem names the column; the reason lists them all.
        wh.execute(
            f"""
            INSERT INTO quarantine
            SELECT $file_id, $drop_date, $table_name, $file_name, t._line, t._problems[1].col, {raw_text},
                   'line ' || t._line || ': ' || array_to_string(list_transform(t._problems, lambda p: p.msg), '; '),
                   t._problems[1].kind, NULL, now()
            FROM stg_typed t JOIN {raw_rows} r USING (_ord)
            WHERE NOT t._ok
            """,
            q_params,
            step="quarantine rows with problems",
        )
    key_desc = ", ".join(spec.key)
    if counts.get("conflict"):
        version_filter = "AND s._drop_date = $drop_date" if spec.kind == "snapshot" else ""
        wh.execute(
            f"""
            INSERT INTO quarantine
            SELECT $file_id, $drop_date, $table_name, $file_name, t._line, NULL, {raw_text},
                   'line ' || t._line || ': conflict: the key (' || $key_desc || ') is already stored with different content; both versions kept here',
                   'conflict', {_json_expression(spec, "s")}, now()
            FROM stg_exceptions e JOIN stg_typed t USING (_ord) JOIN {raw_rows} r USING (_ord)
            JOIN {table} s ON s.{quote_identifier(spec.row_id_column)} = t._key {version_filter}
            WHERE e._disposition = 'conflict'
            """,
            {**q_params, "key_desc": key_desc},
            step="quarantine conflicts with stored rows",
        )
    if counts.get("conflict_in_file"):
        wh.execute(
            f"""
            INSERT INTO quarantine
            SELECT $file_id, $drop_date, $table_name, $file_name, t._line, NULL, {raw_text},
                   'line ' || t._line || ': conflict: the key (' || $key_desc || ') appears earlier in this file (line '
                   || f._line || ') with different content; the earlier row was kept',
                   'conflict', {_json_expression(spec, "f")}, now()
            FROM stg_exceptions e JOIN stg_typed t USING (_ord) JOIN {raw_rows} r USING (_ord)
            JOIN stg_typed f ON f._ord = e._first_ord
            WHERE e._disposition = 'conflict_in_file'
            """,
            {**q_params, "key_desc": key_desc},
            step="quarantine conflicts within the file",
        )
    if staged.parse_rejects:
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
    conflicts = counts.get("conflict", 0) + counts.get("conflict_in_file", 0)
    return {"load": loaded, "problem": problems, "conflict": conflicts, "duplicate": counts.get("duplicate", 0)}


def _first_problem(wh: Warehouse, result: FileResult) -> str:
    row = wh.execute(
        "SELECT line, column_name, reason FROM quarantine WHERE file_id = $f ORDER BY line NULLS FIRST LIMIT 1",
        {"f": result.file_id},
    )
    extra = f" (and {result.rejected - 1} more rejected)" if result.rejected > 1 else ""
    return f"{result.path}: {row[0][2]}{extra}" if row else None
