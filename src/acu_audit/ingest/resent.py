"""A snapshot re-sent: rows sent again as the last drop sent them are known before typing.

Most nights a force re-sends each snapshot in full and almost every row is the one it sent
the night before. Typing such a row (patterns, casts, the key's hash) and comparing it with
the snapshot as it stood only finds, row by row, that it is a duplicate: on a first run of
2,000 staff over 60 drops that was most of the loading's time. So the rows of the table's
latest drop that agree with the entity's stored state are remembered in
``snapshot_sent_rows``, as a hash of their text and the entity's key, and a row of the next
drop whose text hashes alike is a duplicate without being typed.

Why that is the same answer: typing reads a row's text only (the contract columns, found by
name, empty text as NULL), so the same text types to the same content under the same rules
(``rules``, a fingerprint of the typing SQL); and the set is used only when nothing else
changed the table since it was written. It is written by a drop's first file that lists the
snapshot as the newest version, and every other load of the table (a late drop, a second
file of a drop) forgets it, in the same transaction. A file where a key of a row known this
way is repeated is typed in full, as before: those rows are compared with each other.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from functools import cache

from acu_audit.contract import TableSpec
from acu_audit.db import Warehouse
from acu_audit.ingest.staging import StagedFile, typing_sql

# One value per contract column, in the contract's order, read as typing reads it; each value
# prefixed with its length so no two rows' texts run together alike, '-' for an empty or absent one.
_ENCODED = "coalesce(CAST(strlen({raw}) AS VARCHAR) || ':' || {raw}, '-')"


def _row_text_hash(spec: TableSpec, staged: StagedFile) -> str:
    parts = []
    for column in spec.columns:
        position = staged.columns_present.get(column.name)
        raw = "CAST(NULL AS VARCHAR)" if position is None else f"NULLIF(f{position}, '')"
        parts.append(_ENCODED.format(raw=raw))
    return f"md5_number(concat({', '.join(parts)}))"


@cache
def typing_rules(spec: TableSpec) -> str:
    """A fingerprint of how a row's text becomes content: sent rows typed by other rules are not used."""
    every_column = StagedFile(header=list(spec.column_names),
                              columns_present={c: i for i, c in enumerate(spec.column_names)})
    sql, params = typing_sql(spec, every_column)
    payload = json.dumps([sql, params, _row_text_hash(spec, every_column)], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def match_resent_rows(wh: Warehouse, spec: TableSpec, staged: StagedFile, drop_date: date) -> int:
    """Hash each staged record (``stg_row_hashes``) and find those sent alike by the table's
    latest drop (``stg_resent``: ``_ord``, ``_key``). Returns how many there are."""
    wh.execute(f"CREATE OR REPLACE TEMP TABLE stg_row_hashes AS SELECT rowid + 1 AS _ord, {_row_text_hash(spec, staged)} AS _hash FROM stg_raw",
               step=f"hash the rows of {spec.name}")
    return wh.execute(
        """CREATE OR REPLACE TEMP TABLE stg_resent AS
           SELECT h._ord, s.row_key AS _key
           FROM stg_row_hashes h JOIN snapshot_sent_rows s ON s.row_hash = h._hash
           WHERE s.table_name = $t AND s.rules = $rules AND s.drop_date < $d""",
        {"t": spec.name, "rules": typing_rules(spec), "d": drop_date},
        step=f"rows of {spec.name} sent alike before",
    )[0][0]


def resent_keys_repeated(wh: Warehouse) -> bool:
    """A key of a row known as re-sent is held by another good row of the file (typed or not)."""
    return bool(wh.scalar(
        """SELECT count(*) FROM stg_resent r
           WHERE r._key IN (SELECT _key FROM stg_typed WHERE _ok)
              OR r._key IN (SELECT _key FROM stg_resent GROUP BY _key HAVING count(*) > 1)""",
        step="keys of re-sent rows repeated"))


def add_resent_rows(wh: Warehouse, staged: StagedFile) -> None:
    """The re-sent rows into ``stg_typed``: good, with their key and lines, content not typed
    (they are duplicates: nothing reads their content)."""
    if staged.line_columns:  # the slow path: the physical lines each record came from
        source = "stg_resent k JOIN (SELECT rowid + 1 AS _ord, _line, _end_line FROM stg_raw) r USING (_ord)"
    else:
        source = "(SELECT *, _ord + 1 AS _line, _ord + 1 AS _end_line FROM stg_resent) k"
    wh.execute(f"""INSERT INTO stg_typed BY NAME
                   SELECT _ord, _line, _end_line, true AS _ok, _key, _key AS _listed_key FROM {source}""",
               step="re-sent rows")


def remember_sent_rows(wh: Warehouse, spec: TableSpec, drop_date: date) -> None:
    """The file's good rows that now agree with their entity's stored state (loaded, or
    duplicates of it) become the table's sent rows. In the file's transaction."""
    forget_sent_rows(wh, spec)
    wh.execute(
        """INSERT INTO snapshot_sent_rows
           SELECT DISTINCT $t, $d, $rules, h._hash, t._key  -- a row sent twice alike is one
           FROM stg_typed t JOIN stg_row_hashes h USING (_ord)
           WHERE t._ok AND t._ord NOT IN (SELECT _ord FROM stg_exceptions WHERE _disposition <> 'duplicate')""",
        {"t": spec.name, "d": drop_date, "rules": typing_rules(spec)},
        step=f"remember the rows of {spec.name}")


def forget_sent_rows(wh: Warehouse, spec: TableSpec) -> None:
    wh.execute("DELETE FROM snapshot_sent_rows WHERE table_name = $t", {"t": spec.name}, step=f"forget the rows of {spec.name}")
