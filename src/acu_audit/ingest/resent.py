"""A snapshot re-sent: rows sent as an earlier drop sent them are known before typing.

Most nights a force re-sends each snapshot in full and almost every row is the one it sent
the night before. Typing such a row (patterns, casts, the key's hash) and comparing it with
the snapshot as it stood only finds, row by row, that it is a duplicate. So each entity's
row text that agrees with its stored state is remembered in ``snapshot_sent_rows`` (a hash
of the text, and the entity's key), and a row of a later drop whose text hashes alike is a
duplicate without being typed: ``stg_resent`` (``_ord``, ``_key``, ``_hash``).

Why that is the same answer: typing reads a row's text only (the contract columns, found by
name, empty text as NULL), so the same text types to the same content under the same rules
(``rules``: a fingerprint of the typing SQL and of DuckDB's version, whose hash this is); and
the remembered rows are kept true of the stored state. They are used and updated only by a
drop's first file when it is the newest version of the snapshot (it lists the whole
snapshot); every other load of the table (a late drop, a second file of a drop) forgets them,
in the same transaction. After a file, an entity it typed and loaded or found unchanged is
remembered by that row's text, one it no longer lists is forgotten, and one whose row was
quarantined (its state stands) keeps what was remembered. A file where a re-sent row's key is
also on a typed row is typed in full: those rows are compared with each other.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from functools import cache

from acu_audit.contract import TableSpec
from acu_audit.db import DUCKDB_VERSION, Warehouse, quote_identifier
from acu_audit.ingest.staging import StagedFile, typing_sql


def _row_text_hash(spec: TableSpec, staged: StagedFile) -> str:
    """128 bits from two of DuckDB's hashes of the row's contract columns as typing reads them
    (by name, empty text as NULL, an absent column NULL), salted apart."""
    values = ", ".join("CAST(NULL AS VARCHAR)" if (p := staged.columns_present.get(c.name)) is None else f"NULLIF(f{p}, '')"
                       for c in spec.columns)
    return f"(CAST(hash({values}) AS UHUGEINT) << 64) | CAST(hash('acu-audit', {values}) AS UHUGEINT)"


@cache
def typing_rules(spec: TableSpec) -> str:
    """A fingerprint of how a row's text becomes content and its hash: rows remembered under
    other rules are not used."""
    every_column = StagedFile(header=list(spec.column_names),
                              columns_present={c: i for i, c in enumerate(spec.column_names)})
    sql, params = typing_sql(spec, every_column)
    payload = json.dumps([sql, params, _row_text_hash(spec, every_column), DUCKDB_VERSION], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def match_resent_rows(wh: Warehouse, spec: TableSpec, staged: StagedFile, drop_date: date) -> int:
    """Hash each staged record (``stg_row_hashes``) and find those remembered (``stg_resent``).
    Returns how many there are."""
    wh.execute(f"CREATE OR REPLACE TEMP TABLE stg_row_hashes AS SELECT rowid + 1 AS _ord, {_row_text_hash(spec, staged)} AS _hash FROM stg_raw",
               step=f"hash the rows of {spec.name}")
    return wh.execute(
        """CREATE OR REPLACE TEMP TABLE stg_resent AS
           SELECT h._ord, s.row_key AS _key, h._hash
           FROM stg_row_hashes h JOIN snapshot_sent_rows s ON s.row_hash = h._hash
           WHERE s.table_name = $t AND s.rules = $rules AND s.drop_date < $d""",
        {"t": spec.name, "rules": typing_rules(spec), "d": drop_date},
        step=f"rows of {spec.name} sent alike before",
    )[0][0]


def no_resent_rows(wh: Warehouse) -> None:
    """``stg_resent`` empty: every row of the file is typed."""
    wh.execute("CREATE OR REPLACE TEMP TABLE stg_resent (_ord BIGINT, _key VARCHAR, _hash UHUGEINT)", step="no re-sent rows")


def resent_key_typed(wh: Warehouse) -> bool:
    """A re-sent row's key is also on a good typed row of the file."""
    return bool(wh.scalar("SELECT count(*) FROM stg_typed WHERE _ok AND _key IN (SELECT _key FROM stg_resent)",
                          step="keys of re-sent rows typed too"))


def remember_sent_rows(wh: Warehouse, spec: TableSpec, drop_date: date, file_id: str) -> None:
    """Bring the table's remembered rows up to date with the file just written, in its transaction:
    an entity whose row was typed and loaded or found unchanged is remembered by that row; one
    the file no longer lists, forgotten; the rest stand (re-sent, or their row quarantined)."""
    params = {"t": spec.name}
    wh.execute("DELETE FROM snapshot_sent_rows WHERE table_name = $t AND rules <> $rules",
               {**params, "rules": typing_rules(spec)}, step=f"remember the rows of {spec.name}")
    wh.execute(
        """CREATE OR REPLACE TEMP TABLE stg_sent_now AS
           SELECT DISTINCT h._hash, t._key  -- a row sent twice alike is one
           FROM stg_typed t JOIN stg_row_hashes h USING (_ord)
           WHERE t._ok AND t._ord NOT IN (SELECT _ord FROM stg_exceptions WHERE _disposition <> 'duplicate')""",
        step=f"remember the rows of {spec.name}")
    key = quote_identifier(spec.row_id_column)
    wh.execute(
        f"""DELETE FROM snapshot_sent_rows
            WHERE table_name = $t AND (row_key IN (SELECT _key FROM stg_sent_now)
               OR row_key IN (SELECT {key} FROM {quote_identifier(spec.name)} WHERE _drop_date = $d AND _file_id = $f AND _removed))""",
        {**params, "d": drop_date, "f": file_id}, step=f"remember the rows of {spec.name}")
    wh.execute("INSERT INTO snapshot_sent_rows SELECT $t, $d, $rules, _hash, _key FROM stg_sent_now",
               {**params, "d": drop_date, "rules": typing_rules(spec)}, step=f"remember the rows of {spec.name}")


def forget_sent_rows(wh: Warehouse, spec: TableSpec) -> None:
    wh.execute("DELETE FROM snapshot_sent_rows WHERE table_name = $t", {"t": spec.name}, step=f"forget the rows of {spec.name}")
