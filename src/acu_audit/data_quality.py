"""Data quality in view: what tonight's feeds delivered and what was quarantined, and why.

Shared by the report's data-quality section, ``acu-audit quarantine list`` and the run's
warning. The raw text of a quarantined row holds staff ids and names, so every view masks
it unless identities are revealed (with a reason, recorded by the caller).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from acu_audit.db import Warehouse

# "line 12: ..." / "lines 4-5: ..." -> the reason without where it happened, for grouping.
_WHERE = re.compile(r"^lines? \d+(-\d+)?: ")
_QUOTED = re.compile(r"'[^']*'")  # a value quoted inside a reason
_LINE_LISTS = re.compile(r"\blines? [\d, \-]+")  # "lines 5, 9" inside a conflict's reason
_SIZES = re.compile(r"\d[\d,]*(?= bytes)")


def masked(raw: str | None) -> str:
    """Raw quarantined text as a view shows it without a reveal."""
    if raw is None:
        return ""
    return f"masked ({len(raw):,} characters; reveal with a reason to see it)"


def reason_group(reason: str) -> str:
    """A reason with its line and the values it quotes removed, so alike reasons group together.

    Column names stay (``column 'occurred_at'``); the value after them is replaced by ``…``.
    """
    text = _SIZES.sub("N", _LINE_LISTS.sub("lines …", _WHERE.sub("", reason)))
    parts = _QUOTED.split(text)
    quoted = _QUOTED.findall(text)
    out = [parts[0]]
    for i, q in enumerate(quoted):
        # keep a quoted column name (it follows "column "); hide a quoted value
        keep = out[-1].rstrip().endswith("column") or out[-1].rstrip().endswith("key")
        out.append(q if keep else "'…'")
        out.append(parts[i + 1])
    return "".join(out)


def feed_quality(wh: Warehouse, as_of: date) -> list[dict[str, Any]]:
    """Per contract table, tonight's drop: records read, loaded, duplicate, rejected, against the
    usual volume (the feed-health baseline: median records of recent drops)."""
    return wh.records(
        """SELECT f.table_name AS feed, sum(f."read") AS "read", sum(f.loaded) AS loaded, sum(f.duplicate) AS duplicate,
                  sum(f.rejected) AS rejected, any_value(h.baseline_median) AS usual, any_value(h.status) AS health,
                  string_agg(DISTINCT f.status, ', ') AS file_status, string_agg(DISTINCT f.note, '; ') AS note
           FROM ingest_files f
           LEFT JOIN feed_health h ON h.as_of = $d AND h.feed = f.table_name
           WHERE f.drop_date = $d AND f.table_name IS NOT NULL
           GROUP BY f.table_name ORDER BY f.table_name""",
        {"d": as_of},
        step="data quality: tonight's feeds",
    ) if wh.table_exists("feed_health") else []


def quarantine_reasons(wh: Warehouse, as_of: date) -> list[dict[str, Any]]:
    """Tonight's quarantined rows grouped by feed, kind, column and reason, with counts."""
    rows = wh.records(
        """SELECT table_name AS feed, kind, column_name, reason, line FROM quarantine
           WHERE drop_date = $d ORDER BY table_name, line NULLS FIRST""",
        {"d": as_of},
        step="data quality: tonight's quarantine",
    )
    groups: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = (r["feed"], r["kind"], r["column_name"], reason_group(r["reason"]))
        g = groups.setdefault(key, {"feed": r["feed"], "kind": r["kind"], "column": r["column_name"] or "",
                                    "reason": key[3], "rows": 0, "first_line": r["line"]})
        g["rows"] += 1
    return sorted(groups.values(), key=lambda g: (-g["rows"], g["feed"] or "", g["reason"]))


def quarantine_rows(
    wh: Warehouse, *, drop: date | None = None, table: str | None = None, reveal: bool = False, limit: int = 200
) -> list[dict[str, Any]]:
    """Quarantined rows, newest drop first; raw text masked unless ``reveal``."""
    rows = wh.records(
        """SELECT drop_date, table_name, file_name, line, column_name, kind, reason, raw_text FROM quarantine
           WHERE ($drop IS NULL OR drop_date = $drop) AND ($table IS NULL OR table_name = $table)
           ORDER BY drop_date DESC, table_name, file_name, line NULLS FIRST LIMIT $limit""",
        {"drop": drop, "table": table, "limit": limit},
        step="quarantine list",
    )
    for r in rows:
        if not reveal:
            r["raw_text"] = masked(r["raw_text"])
    return rows


def failures_since_published(wh: Warehouse, as_of: date) -> list[dict[str, Any]]:
    """Failed runs since the last night published before ``as_of`` (what tonight's report names)."""
    if not wh.table_exists("run_failures"):
        return []
    return wh.records(
        """SELECT as_of, run_id, failed_at, step, error FROM run_failures
           WHERE failed_at > coalesce((SELECT max(finished_at) FROM run_log
                                       WHERE as_of < $d AND status LIKE 'completed%'), TIMESTAMPTZ '1970-01-01')
             AND (as_of IS NULL OR as_of <= $d)
           ORDER BY failed_at""",
        {"d": as_of},
        step="failed runs since the last published night",
    )
