"""Load one landing file: stage, type, validate, sort every row into loaded /
duplicate / rejected, and write the ledger, all in one transaction.

Nothing is lost: a row is inserted, recognised as a duplicate of a stored key
with the same content, or written to ``quarantine`` with its line, column, raw
text and reason. A conflict (same key, different content) is quarantined with
both versions. A file that cannot be read at all is recorded as unreadable and
the night goes on.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from acu_audit.contract import TABLES, TableSpec
from acu_audit.db import Warehouse, quote_identifier
from acu_audit.ingest.landing import (
    ChangedWhileRead,
    Drop,
    LandingFile,
    OpenedFile,
    Refusal,
    file_id_for,
    open_landing_file,
    sha256_of,
)
from acu_audit.ingest.records import RecordScanner
from acu_audit.ingest.resent import forget_sent_rows, match_resent_rows, no_resent_rows, remember_sent_rows, resent_key_typed
from acu_audit.ingest.staging import (
    StagedFile,
    UnreadableFile,
    raw_text_sql,
    same_content,
    stage_csv,
    stage_parquet,
    typing_sql,
)


class StagedValidator(Protocol):
    def validate_staged(self, wh: Warehouse, spec: TableSpec, drop_date: date, file_id: str, run_id: str) -> None: ...

    def flush(self, wh: Warehouse) -> None: ...


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
    note: str | None = None  # how the file was read when not plainly (slow path, carried versions)
    resent: int = 0  # of the duplicates, a snapshot's rows sent as remembered (``resent``), not typed

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
            "note": self.note,
        }


def _json_expression(spec: TableSpec, alias: str) -> str:
    fields = ", ".join(f"{quote_identifier(c)} := {alias}.{quote_identifier(c)}" for c in spec.column_names)
    return f"to_json(struct_pack({fields}))::VARCHAR"


def _record_file(wh: Warehouse, result: FileResult, run_id: str, sha: str, size: int, mtime_ns: int | None = None) -> None:
    wh.execute(
        """
        INSERT INTO ingest_files (file_id, ingest_run_id, drop_date, table_name, file_name, path, format,
            content_sha256, bytes, "read", loaded, duplicate, rejected, conflicts, unresolved_refs, extra_columns,
            status, error, seconds, loaded_at, note, mtime_ns)
        VALUES ($file_id, $run_id, $drop_date, $table_name, $file_name, $path, $format, $sha, $bytes,
            $read, $loaded, $duplicate, $rejected, $conflicts, $unresolved, $extra, $status, $error, $seconds, now(), $note,
            $mtime_ns)
        """,
        {
            "mtime_ns": mtime_ns,
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
            "note": result.note,
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


def _file_preview(opened: OpenedFile, limit: int = 200) -> str:
    """The start of a file, invalid UTF-8 kept as escaped bytes."""
    return os.pread(opened.fd, limit, 0).decode("utf-8", errors="backslashreplace")


def record_refusal(wh: Warehouse, refusal: Refusal, run_id: str) -> FileResult:
    """Record a refused path (a link, a special file, outside the landing) without reading it."""
    result = FileResult(
        drop_date=refusal.drop_date,
        table=None,
        file_name=refusal.name,
        path=str(refusal.path),
        file_id=file_id_for(refusal.drop_date, refusal.name, "refused:" + refusal.reason),
        format="refused",
        status="refused",
        error=f"{refusal.path}: refused: {refusal.reason}; not read",
    )
    if not already_loaded(wh, result.file_id):
        with wh.transaction():
            _record_file(wh, result, run_id, "", 0)
    return result


def loaded_unchanged(wh: Warehouse, landing_file: LandingFile, opened: OpenedFile) -> str | None:
    """The ledger's id of this file when it was recorded with the same drop, name, size and
    modification time: then it is not read again. (Rewriting a file keeps neither, unless its
    time is set back on purpose: touch it to have it read.)"""
    return wh.scalar(
        """SELECT file_id FROM ingest_files WHERE drop_date = $d AND file_name = $n AND bytes = $b AND mtime_ns = $m
           ORDER BY loaded_at DESC LIMIT 1""",
        {"d": landing_file.drop_date, "n": landing_file.name, "b": opened.opened.st_size, "m": opened.opened.st_mtime_ns},
        step="ledger: file seen before")


def ledger_of_unchanged_files(wh: Warehouse) -> dict[tuple[date, str, int, int], str]:
    """Every file the ledger recorded, by drop, name, size and modification time: its latest id.
    One query a night, so that drops the ledger has seen as they are cost no task and no query
    of their own (a landing keeps every drop: a year of them is some 4,700 files)."""
    return {(r[0], r[1], r[2], r[3]): r[4] for r in wh.execute(
        """SELECT drop_date, file_name, bytes, mtime_ns, arg_max(file_id, loaded_at) FROM ingest_files
           WHERE mtime_ns IS NOT NULL GROUP BY ALL""", step="ledger: files seen before")}


def unchanged_drop(drop: Drop, seen: dict[tuple[date, str, int, int], str]) -> list[FileResult] | None:
    """A drop every file of which the ledger recorded with its name, size and time as they are
    now (what :func:`loaded_unchanged` asks when it opens a file): each file's result, not read.
    None when any file is new, changed, not a plain file, gone, or the drop holds a refused path:
    then the drop is read as usual, which opens each file safely and records what it finds."""
    if drop.refused:
        return None
    results = []
    for landing_file in drop.files:
        try:
            st = os.lstat(landing_file.path)
        except OSError:
            return None
        file_id = seen.get((landing_file.drop_date, landing_file.name, st.st_size, st.st_mtime_ns))
        if not stat.S_ISREG(st.st_mode) or file_id is None:
            return None
        results.append(FileResult(drop_date=landing_file.drop_date, table=landing_file.table, file_name=landing_file.name,
                                  path=str(landing_file.path), file_id=file_id, format=landing_file.format,
                                  status="already_loaded"))
    return results


def already_loaded(wh: Warehouse, file_id: str) -> bool:
    return bool(wh.scalar("SELECT count(*) FROM ingest_files WHERE file_id = $f", {"f": file_id}))


def load_file(
    wh: Warehouse,
    landing_file: LandingFile,
    run_id: str,
    validator: StagedValidator | None = None,
) -> FileResult:
    """Load one file into the warehouse and return its ledger entry.

    The file is opened once, without following a link, and every read (the hash, our record
    scan, DuckDB's reader) goes through that descriptor, so what is hashed is what is loaded. A
    file swapped for a link or rewritten meanwhile is refused and recorded; it loads on a later run.
    """
    try:
        with open_landing_file(landing_file.path) as opened:
            return _load_opened(wh, landing_file, opened, run_id, validator)
    except ChangedWhileRead as exc:
        return record_refusal(wh, Refusal(landing_file.drop_date, landing_file.path, str(exc)), run_id)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.EACCES, errno.ENOENT, errno.EPERM):
            raise  # an input/output error: the flow retries the drop
        why = "a symbolic link (it was swapped in after the landing was listed)" if exc.errno == errno.ELOOP \
            else f"cannot be opened ({exc.strerror})"
        return record_refusal(wh, Refusal(landing_file.drop_date, landing_file.path, why), run_id)


def _load_opened(
    wh: Warehouse,
    landing_file: LandingFile,
    opened: OpenedFile,
    run_id: str,
    validator: StagedValidator | None,
) -> FileResult:
    started = time.perf_counter()
    seen = loaded_unchanged(wh, landing_file, opened)
    if seen is not None:
        return FileResult(drop_date=landing_file.drop_date, table=landing_file.table, file_name=landing_file.name,
                          path=str(landing_file.path), file_id=seen, format=landing_file.format, status="already_loaded")
    scanner = RecordScanner() if landing_file.format == "csv" else None
    sha, size = sha256_of(opened, scanner=scanner)
    mtime_ns = opened.opened.st_mtime_ns
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
            _record_file(wh, result, run_id, sha, size, mtime_ns)
        return result

    spec = TABLES[landing_file.table]
    try:
        if landing_file.format == "parquet":
            staged = stage_parquet(wh, opened, spec)
        else:
            staged = stage_csv(wh, opened, spec, scanner)
    except UnreadableFile as exc:
        opened.check_unchanged()
        # Every record of the file is accounted for, as rejected, by one file-level entry.
        result.status = "unreadable"
        result.read = result.rejected = exc.records or (scanner.records if scanner else 0)
        result.error = f"{landing_file.path}: {exc}"
        result.seconds = time.perf_counter() - started
        with wh.transaction():
            _quarantine_file(wh, result, _file_preview(opened), f"{exc} ({result.read:,} records, none loaded)")
            _record_file(wh, result, run_id, sha, size, mtime_ns)
        return result
    opened.check_unchanged()  # every read is done: what was hashed is what was staged
    result.extra_columns = staged.extra_columns
    if staged.slow_path:
        result.note = f"read record by record (the slow path): {staged.slow_path}"

    # A snapshot's versions from the ledger, read once: this file is recorded only after its rows.
    snapshot = spec.kind == "snapshot"
    versions = snapshot_versions(wh, spec, landing_file.drop_date) if snapshot else []
    first_of_drop = snapshot and landing_file.drop_date not in versions
    next_version = min((d for d in versions if d > landing_file.drop_date), default=None)
    # The newest version, listing the whole snapshot: rows sent as remembered need no typing.
    newest_listing = first_of_drop and next_version is None
    resent = 0
    if snapshot:
        if newest_listing:
            resent = match_resent_rows(wh, spec, staged, landing_file.drop_date)
        else:
            no_resent_rows(wh)
    sql, params = typing_sql(spec, staged, skip="stg_resent" if resent else None)
    wh.execute(sql, params, step=f"type {landing_file.name}")
    if resent and resent_key_typed(wh):  # those rows are compared with each other: type them all
        no_resent_rows(wh)
        resent = 0
        sql, params = typing_sql(spec, staged)
        wh.execute(sql, params, step=f"type {landing_file.name}")
    result.resent = resent
    _sort_rows(wh, spec, landing_file.drop_date, first_of_drop, known_duplicates="stg_resent" if resent else None)
    if validator is not None and staged.records:  # the file's new rows: its duplicates were validated before
        validator.validate_staged(wh, spec, landing_file.drop_date, result.file_id, run_id)
    with wh.transaction():
        counts = _write_rows(wh, spec, staged, result, first_of_drop, next_version)
        if newest_listing:
            remember_sent_rows(wh, spec, landing_file.drop_date, result.file_id)
        elif snapshot:  # the table changed by another way than its newest listing: rows are typed again
            forget_sent_rows(wh, spec)
        result.read = staged.records + staged.parse_rejects
        result.loaded = counts["load"]
        result.duplicate = counts["duplicate"]
        result.conflicts = counts["conflict"]
        notes = [result.note] if result.note else []
        if counts.get("carried"):
            notes.append(f"{counts['carried']:,} entities kept their previous version (conflicting rows in this file)")
        if counts.get("removed"):
            notes.append(f"{counts['removed']:,} entities no longer listed (removed from the snapshot from this drop on)")
        result.note = "; ".join(notes) or None
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
        _record_file(wh, result, run_id, sha, size, mtime_ns)
    assert result.read == result.loaded + result.duplicate + result.rejected, "ledger identity broken"
    return result


def _content_hash(spec: TableSpec, alias: str) -> str:
    """A hash of a row's typed content (so 22:15+01:00 and 21:15Z hash alike)."""
    fields = ", ".join(f"{quote_identifier(c)} := {alias}.{quote_identifier(c)}" for c in spec.column_names)
    return f"hash(struct_pack({fields}))"


def _first_difference(spec: TableSpec, left: str, right: str) -> tuple[str, dict]:
    """SQL naming the first contract column where two rows differ, and its parameters."""
    params = {f"diffcol_{i}": c for i, c in enumerate(spec.column_names)}
    cases = ", ".join(
        f"CASE WHEN {left}.{quote_identifier(c)} IS DISTINCT FROM {right}.{quote_identifier(c)} THEN $diffcol_{i} END"
        for i, c in enumerate(spec.column_names)
    )
    return f"list_filter([{cases}], lambda c: c IS NOT NULL)[1]", params


def _sort_rows(wh: Warehouse, spec: TableSpec, drop_date: date, first_of_drop: bool,
               known_duplicates: str | None = None) -> None:
    """Find the good rows that are not plain loads, into ``stg_exceptions``. ``first_of_drop``: the
    file is a snapshot's first file of its drop (the one that lists the whole snapshot);
    ``known_duplicates``: a table of rows (``_ord``) known to repeat their entity's state
    (a snapshot's rows sent as remembered: ``resent``), not typed.

    A key repeated in the file with the same content every time: the first row
    loads, the rest are duplicates. A key repeated with different content: no
    version can be trusted, so every row of that key is a conflict
    (``conflict_in_file``); for a snapshot the entity's previous state stands. A key
    already stored (events: anywhere; snapshots: in this drop, when an earlier file
    of the drop made its version) keeps its stored row, and each row of the file is
    a duplicate of it or a conflict with it. A snapshot's first file of a drop is
    compared with the snapshot as it stood (``stg_basis``): a row that repeats the
    entity's state is a duplicate, so a snapshot re-sent unchanged stores nothing.
    Everything else loads. Content is compared only for these rows, so an event
    file's common path reads no stored content at all and the load is one anti-join.
    """
    table = quote_identifier(spec.name)
    stored_key = quote_identifier(spec.row_id_column)
    # _lines: the lines of a key repeated within the file (NULL for a row compared with stored data).
    wh.execute("CREATE OR REPLACE TEMP TABLE stg_exceptions (_ord BIGINT, _disposition VARCHAR, _lines VARCHAR)")
    if known_duplicates:
        wh.execute(f"INSERT INTO stg_exceptions SELECT _ord, 'duplicate', NULL FROM {known_duplicates}",
                   step=f"rows of {spec.name} sent alike before")
    stored = table
    if spec.kind == "snapshot":
        wh.execute(
            f"CREATE OR REPLACE TEMP TABLE stg_basis AS SELECT * FROM {quote_identifier(spec.name + '_as_of')}($d)",
            {"d": drop_date},
            step=f"{spec.name} as it stood",
        )
        stored = "stg_basis"
    # Rows whose key is already stored: reads only the key column of the stored table.
    if not first_of_drop:
        wh.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE stg_stored_keys AS
            SELECT t._ord, t._key FROM stg_typed t
            WHERE t._ok AND t._key IN (SELECT {stored_key} FROM {stored})
            """,
            step=f"stored keys of {spec.name}",
        )
    else:
        wh.execute("CREATE OR REPLACE TEMP TABLE stg_stored_keys (_ord BIGINT, _key VARCHAR)")
    # A stored key: the stored row stays; each row is a duplicate of it or a conflict with it.
    if wh.scalar("SELECT count(*) FROM stg_stored_keys"):
        wh.execute(
            f"""
            INSERT INTO stg_exceptions
            SELECT k._ord, CASE WHEN {same_content(spec, "t", "s")} THEN 'duplicate' ELSE 'conflict' END, NULL
            FROM stg_stored_keys k
            JOIN stg_typed t ON t._ord = k._ord
            JOIN {stored} s ON s.{stored_key} = k._key
            WHERE s.{stored_key} IN (SELECT _key FROM stg_stored_keys)
            """,
            step=f"compare with stored {spec.name}",
        )
    # A new key repeated in the file: duplicates when every copy is the same, else no copy loads.
    wh.execute(
        f"""
        INSERT INTO stg_exceptions
        WITH repeated AS (
            SELECT t._ord, t._key, t._line, {_content_hash(spec, "t")} AS _content
            FROM stg_typed t
            WHERE t._ok AND t._key IN (SELECT _key FROM stg_typed WHERE _ok GROUP BY _key HAVING count(*) > 1)
              AND t._key NOT IN (SELECT _key FROM stg_stored_keys)
        ), keys AS (
            SELECT _key, count(DISTINCT _content) AS _versions, min(_ord) AS _first_ord,
                   string_agg(_line::VARCHAR, ', ' ORDER BY _ord) AS _lines
            FROM repeated GROUP BY _key
        )
        SELECT r._ord, CASE WHEN k._versions > 1 THEN 'conflict_in_file' ELSE 'duplicate' END, k._lines
        FROM repeated r JOIN keys k USING (_key)
        WHERE k._versions > 1 OR r._ord > k._first_ord
        """,
        step=f"repeated keys in {spec.name}",
    )
    if first_of_drop:
        # A row that repeats its entity's state is a duplicate: only changes are stored.
        wh.execute(
            f"""
            INSERT INTO stg_exceptions
            SELECT t._ord, 'duplicate', NULL
            FROM stg_typed t JOIN stg_basis s ON s.{stored_key} = t._key
            WHERE t._ok AND t._ord NOT IN (SELECT _ord FROM stg_exceptions) AND {same_content(spec, "t", "s")}
            """,
            step=f"unchanged rows of {spec.name}",
        )


def snapshot_versions(wh: Warehouse, spec: TableSpec, since: date) -> list[date]:
    """The drops from ``since`` on whose files gave the snapshot table a version (a file that
    loaded at least one row), oldest first."""
    return [r[0] for r in wh.execute(
        "SELECT DISTINCT drop_date FROM ingest_files WHERE table_name = $t AND drop_date >= $d "
        "AND status IN ('loaded', 'partial') ORDER BY drop_date",
        {"t": spec.name, "d": since}, step=f"versions of {spec.name}")]


def _write_snapshot_changes(wh: Warehouse, spec: TableSpec, drop_date: date, file_id: str, first_of_drop: bool,
                            next_version: date | None) -> dict[str, int]:
    """What a snapshot file changes besides its loaded rows, after they are inserted.

    - The first file of a drop lists the whole snapshot: an entity it no longer lists gets a
      ``_removed`` row. An entity whose row was quarantined (a conflict, or a bad value in
      another column) is still listed: its previous state stands. A file with no good row
      lists nothing: the previous state stands for every entity.
    - A late drop (older than a drop already loaded) must not reach past the next drop: each
      entity it changed that the next version did not restate gets, in that version, the
      state it had before the late drop (or a ``_removed`` row if it did not exist then).
    """
    table = quote_identifier(spec.name)
    key = quote_identifier(spec.row_id_column)
    params = {"d": drop_date, "f": file_id}
    removed = 0
    # Rows re-sent as remembered (stg_resent) are good rows listing their entity, not typed.
    if first_of_drop and wh.scalar("SELECT (SELECT count(*) FROM stg_typed WHERE _ok) + (SELECT count(*) FROM stg_resent)"):
        removed = wh.execute(
            f"""INSERT INTO {table}
                SELECT * REPLACE ($d AS _drop_date, $f AS _file_id, CAST(NULL AS BIGINT) AS _line), true FROM stg_basis b
                WHERE b.{key} NOT IN (SELECT _listed_key FROM stg_typed WHERE _listed_key IS NOT NULL
                                      UNION ALL SELECT _key FROM stg_resent)""",
            params, step=f"entities no longer in {spec.name}")[0][0]
    if next_version is not None:
        wh.execute(
            f"""INSERT INTO {table}
                WITH changed AS (
                    SELECT {key} AS k FROM {table} WHERE _drop_date = $d AND _file_id = $f
                      AND {key} NOT IN (SELECT {key} FROM {table} WHERE _drop_date = $later)
                ), before AS (
                    SELECT * FROM {quote_identifier(spec.name + '_as_of')}($d - 1) WHERE {key} IN (SELECT k FROM changed)
                )
                SELECT * REPLACE ($later AS _drop_date, CAST(NULL AS BIGINT) AS _line), false FROM before
                UNION ALL
                SELECT * REPLACE ($later AS _drop_date, CAST(NULL AS BIGINT) AS _line, true AS _removed) FROM {table}
                WHERE _drop_date = $d AND _file_id = $f AND {key} IN (SELECT k FROM changed)
                  AND {key} NOT IN (SELECT {key} FROM before)""",
            {**params, "later": next_version}, step=f"{spec.name} of the next drop restated")
    return {"removed": removed}


def _write_rows(wh: Warehouse, spec: TableSpec, staged: StagedFile, result: FileResult, first_of_drop: bool,
               next_version: date | None) -> dict[str, int]:
    table = quote_identifier(spec.name)
    content = [quote_identifier(c) for c in spec.column_names]
    id_cols = [] if spec.id_column else ["row_id"]
    target_cols = ", ".join(id_cols + content + ["_drop_date", "_file_id", "_line"])
    source_cols = ", ".join((["_key"] if not spec.id_column else []) + content + ["$drop_date", "$file_id", "_line"])
    file_params = {"drop_date": result.drop_date, "file_id": result.file_id}
    snapshot = spec.kind == "snapshot"
    if snapshot:  # an entity listed again by a later file of the drop is no longer removed in it
        wh.execute(
            f"""DELETE FROM {table} WHERE _drop_date = $drop_date AND _removed
                AND {quote_identifier(spec.row_id_column)} IN (SELECT _key FROM stg_typed WHERE _ok)""",
            {"drop_date": result.drop_date}, step=f"{spec.name} listed again")
    loaded = wh.execute(
        f"""INSERT INTO {table} ({target_cols})
            SELECT {source_cols} FROM stg_typed t
            WHERE _ok AND NOT EXISTS (SELECT 1 FROM stg_exceptions e WHERE e._ord = t._ord)
            ORDER BY _ord""",
        file_params,
        step=f"insert {spec.name}",
    )[0][0]
    changes = (_write_snapshot_changes(wh, spec, result.drop_date, result.file_id, first_of_drop, next_version) if snapshot
               else {"removed": 0})
    counts = dict(
        wh.execute("SELECT _disposition, count(*) FROM stg_exceptions GROUP BY ALL", step="count exceptions")
    )
    problems = wh.scalar("SELECT count(*) FROM stg_typed WHERE NOT _ok")

    q_params = {**file_params, "table_name": spec.name, "file_name": result.file_name}
    raw_text = raw_text_sql(staged)
    raw_rows = "(SELECT rowid + 1 AS _ord, * FROM stg_raw)"
    where = "CASE WHEN t._end_line > t._line THEN 'lines ' || t._line || '-' || t._end_line ELSE 'line ' || t._line END"
    if problems:
        # The first problem names the column; the reason lists them all.
        wh.execute(
            f"""
            INSERT INTO quarantine
            SELECT $file_id, $drop_date, $table_name, $file_name, t._line, t._problems[1].col, {raw_text},
                   {where} || ': ' || array_to_string(list_transform(t._problems, lambda p: p.msg), '; '),
                   t._problems[1].kind, NULL, now()
            FROM stg_typed t JOIN {raw_rows} r USING (_ord)
            WHERE NOT t._ok
            """,
            q_params,
            step="quarantine rows with problems",
        )
    key_desc = ", ".join(spec.key)
    if counts.get("conflict"):
        stored = "stg_basis" if snapshot else table
        differs, diff_params = _first_difference(spec, "t", "s")
        wh.execute(
            f"""
            INSERT INTO quarantine
            SELECT $file_id, $drop_date, $table_name, $file_name, t._line, {differs}, {raw_text},
                   {where} || ': conflict: the key (' || $key_desc || ') is already stored with different content (first in '
                   || {differs} || '); the stored row stays, and both versions are kept here',
                   'conflict', {_json_expression(spec, "s")}, now()
            FROM stg_exceptions e JOIN stg_typed t USING (_ord) JOIN {raw_rows} r USING (_ord)
            JOIN {stored} s ON s.{quote_identifier(spec.row_id_column)} = t._key
            WHERE e._disposition = 'conflict'
            """,
            {**q_params, **diff_params, "key_desc": key_desc},
            step="quarantine conflicts with stored rows",
        )
    carried = 0
    if counts.get("conflict_in_file"):
        if snapshot:  # nothing is written for the entity: its previous state stands
            carried = wh.scalar(
                f"""SELECT count(DISTINCT t._key) FROM stg_exceptions e JOIN stg_typed t USING (_ord)
                    WHERE e._disposition = 'conflict_in_file'
                      AND t._key IN (SELECT {quote_identifier(spec.row_id_column)} FROM stg_basis)""")
        outcome = (
            "the previous version stands where there is one" if spec.kind == "snapshot" else "none of them is loaded"
        )
        differs, diff_params = _first_difference(spec, "t", "o")
        # The version shown beside each row is another version of the key from this file.
        wh.execute(
            f"""
            INSERT INTO quarantine
            SELECT $file_id, $drop_date, $table_name, $file_name, t._line, {differs}, {raw_text},
                   {where} || ': conflict: the key (' || $key_desc || ') appears in this file with different content (lines '
                   || e._lines || '; first difference in ' || coalesce({differs}, '?') || '); ' || $outcome,
                   'conflict', {_json_expression(spec, "o")}, now()
            FROM stg_exceptions e JOIN stg_typed t USING (_ord) JOIN {raw_rows} r USING (_ord)
            JOIN stg_typed o ON o._ord = (
                SELECT min(o2._ord) FROM stg_typed o2
                WHERE o2._ok AND o2._key = t._key AND NOT ({same_content(spec, "o2", "t")}))
            WHERE e._disposition = 'conflict_in_file'
            """,
            {**q_params, **diff_params, "key_desc": key_desc, "outcome": outcome},
            step="quarantine conflicts within the file",
        )
    if staged.parse_rejects:
        wh.execute(
            """
            INSERT INTO quarantine
            SELECT $file_id, $drop_date, $table_name, $file_name, line, column_name, raw_text, reason, 'parse', NULL, now()
            FROM stg_rejects
            """,
            q_params,
            step="quarantine records that could not be read",
        )
    conflicts = counts.get("conflict", 0) + counts.get("conflict_in_file", 0)
    return {"load": loaded, "problem": problems, "conflict": conflicts, "duplicate": counts.get("duplicate", 0),
            "carried": carried, "removed": changes["removed"]}


def _first_problem(wh: Warehouse, result: FileResult) -> str:
    row = wh.execute(
        "SELECT line, column_name, reason FROM quarantine WHERE file_id = $f ORDER BY line NULLS FIRST LIMIT 1",
        {"f": result.file_id},
    )
    extra = f" (and {result.rejected - 1} more rejected)" if result.rejected > 1 else ""
    return f"{result.path}: {row[0][2]}{extra}" if row else None
