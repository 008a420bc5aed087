"""The analysts' copy: what the notebooks read, published each night beside the outputs.

DuckDB lets one process write a file or many read it, not both. The nightly run
therefore never lets notebooks near the warehouse: it writes ``analyst.duckdb``
into ``--out`` under a temporary name and renames it into place, so a notebook
holding last night's copy open never blocks tonight's run (it keeps reading the
old file until it reopens). The copy is pseudonymised: staff appear as staff_ref,
members of the public as person_id and markers; no names.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from acu_audit.checks import load_catalogue
from acu_audit.db import Warehouse
from acu_audit.privacy import restrict_file
from acu_audit.night import Findings, Night
from acu_audit.outputs import NIGHTS_HITS

FILE_NAME = "analyst.duckdb"

# table -> SQL over the warehouse (run tables of tonight), every staff_id replaced by staff_ref.
_TABLES = {
    "staff": """
        SELECT r.staff_ref, s.role, s.unit, s.unit_function, s.peer_group
        FROM ref_staff s JOIN staff_refs r USING (staff_id)""",
    "leads": """
        SELECT l.rank, l.lead_id, r.staff_ref, l.score, l.evidence, l.agreement, l.outlier_component, l.anomaly_score,
               l.categories, l.top_checks, l.check_scores, l.hit_ids, l.first_seen, l.last_seen, l.change, l.status,
               l.what_is_new, l.summary, l.explanation, l.tier, l.age_days, l.flag, l.tonight_score, l.hit_nights
        FROM lead_scores l JOIN staff_refs r USING (staff_id) WHERE l.as_of = $as_of""",
    "hits": f"""
        WITH {NIGHTS_HITS}
        SELECT h.hit_id, r.staff_ref, h.check_id, h.category, h.status, h.severity, h.risk, h.weight,
               h.occurred_at, h.window_start, h.window_end, h.subject, h.reason, h.evidence,
               s.suppression_id IS NOT NULL AS suppressed, st.unit_function, h.as_of AS found_on,
               h.peer_share, coalesce(h.team_concentrated, false) AS team_concentrated
        FROM wanted w JOIN check_hits h USING (as_of, hit_id) JOIN staff_refs r USING (staff_id)
        LEFT JOIN suppressed_hits s ON s.as_of = h.as_of AND s.hit_id = h.hit_id
        LEFT JOIN ref_staff st USING (staff_id)""",
    "outliers": """
        SELECT r.staff_ref, o.peer_group, o.anomaly_score, o.anomaly_percentile, o.features
        FROM outlier_scores o JOIN staff_refs r USING (staff_id) WHERE o.as_of = $as_of""",
    # Daily figures are grouped by staff_id and pseudonymised after: a join to the 40,000-row
    # staff_refs before the group-by would group by the longer pseudonym, row by row (2.8 s
    # against 1.7 s for messages_daily at 40,000 staff). Each counterparty's kind is resolved
    # once, on the directory, not joined to the person flags once per message row.
    "lookups_daily": """
        SELECT r.staff_ref, a.local_day, a.with_purpose, a.no_purpose, a.off_duty
        FROM (SELECT l.staff_id, l.local_day, count(*) FILTER (WHERE l.has_purpose) AS with_purpose,
                     count(*) FILTER (WHERE NOT l.has_purpose) AS no_purpose,
                     count(*) FILTER (WHERE NOT l.on_duty) AS off_duty
              FROM run_lookups l GROUP BY ALL) a
        JOIN staff_refs r USING (staff_id)""",
    "messages_daily": """
        WITH kinds AS (
            SELECT d.counterparty,
                   CASE WHEN d.staff_id IS NOT NULL THEN 'colleague'
                        WHEN f.is_victim THEN 'victim'
                        WHEN f.is_drugs OR f.is_ocg OR f.is_offender THEN 'marked person'
                        WHEN d.person_id IS NOT NULL THEN 'other person'
                        WHEN d.organisation_id IS NOT NULL THEN 'organisation'
                        ELSE 'unknown' END AS counterparty_kind
            FROM ref_contact_directory d LEFT JOIN ref_person_flags f ON f.person_id = d.person_id
        )
        SELECT r.staff_ref, a.local_day, a.counterparty_kind, a.messages
        FROM (SELECT m.staff_id, CAST(timezone($tz, m.hour_start) AS DATE) AS local_day,
                     coalesce(k.counterparty_kind, 'unknown') AS counterparty_kind,
                     sum(m.message_count) AS messages
              FROM device_messages m LEFT JOIN kinds k USING (counterparty)
              WHERE m.hour_start >= $window_start_utc AND m.hour_start < $window_end_utc
              GROUP BY ALL) a
        JOIN staff_refs r USING (staff_id)""",
    "duty_days": """
        SELECT DISTINCT r.staff_ref, CAST(timezone($tz, d.shift_start) AS DATE) AS local_day, d.duty_type
        FROM duty_roster d JOIN staff_refs r USING (staff_id)
        WHERE d.shift_end > $window_start_utc AND d.shift_start < $window_end_utc""",
    "declarations": """
        SELECT r.staff_ref, d.declaration_id, d.kind, d.person_id, d.organisation_id, d.relationship, d.status,
               d.declared_at, d.decided_at
        FROM ref_declarations d JOIN staff_refs r USING (staff_id)""",
    "evidence_lookups": f"""
        SELECT e.event_id, r.staff_ref, e.occurred_at, e.system, e.action, e.record_type, e.record_id, e.person_id,
               e.case_id, e.reason_code, p.has_purpose, p.on_duty
        FROM access_events e JOIN staff_refs r USING (staff_id)
        LEFT JOIN access_purpose p USING (event_id)
        WHERE e.event_id IN (WITH {NIGHTS_HITS}
                             SELECT split_part(unnest(h.evidence), ':', 2) FROM wanted JOIN check_hits h USING (as_of, hit_id))""",
    "evidence_messages": f"""
        SELECT m.row_id, r.staff_ref, m.hour_start, m.channel, m.direction, m.message_count,
               coalesce('person ' || d.person_id, 'organisation ' || d.organisation_id,
                        CASE WHEN d.staff_id IS NOT NULL THEN 'a colleague' END, 'unknown to force systems') AS counterparty
        FROM device_messages m JOIN staff_refs r USING (staff_id)
        LEFT JOIN ref_contact_directory d USING (counterparty)
        WHERE m.row_id IN (WITH {NIGHTS_HITS}
                           SELECT split_part(unnest(h.evidence), ':', 2) FROM wanted JOIN check_hits h USING (as_of, hit_id))""",
    # The colleague behind a hit about a colleague's number (subject counterparty:<number>), so the
    # triage page can link their own lead; pseudonymised like everything here.
    "colleagues": f"""
        SELECT DISTINCT h.subject, r.staff_ref AS colleague_ref
        FROM (WITH {NIGHTS_HITS} SELECT h.subject FROM wanted JOIN check_hits h USING (as_of, hit_id)
              WHERE h.subject LIKE 'counterparty:%') h
        JOIN ref_contact_directory d ON d.counterparty = substr(h.subject, length('counterparty:') + 1)
        JOIN staff_refs r ON r.staff_id = d.staff_id""",
    "check_runs": "SELECT check_id, check_version, status, hits, staff_hit, seconds, error FROM check_runs WHERE as_of = $as_of",
    "feed_health": "SELECT feed, rows_tonight, baseline_median, status FROM feed_health WHERE as_of = $as_of",
}


def write_analyst_copy(wh: Warehouse, night: Night, findings: Findings, out: Path, lead_history: list[dict]) -> Path:
    """Publish tonight's analyst copy into ``out`` (the night's set; atomically replacing an earlier copy)."""
    out.mkdir(parents=True, exist_ok=True)
    final = out / FILE_NAME
    temporary = out / f".{FILE_NAME}.{night.run_id}.tmp"
    temporary.unlink(missing_ok=True)
    window = night.window
    params = night.params()
    wh.execute("ATTACH $path AS analyst_copy", {"path": str(temporary)}, step="attach the analyst copy")
    try:
        for table, sql in _TABLES.items():
            wh.run_text(f"CREATE TABLE analyst_copy.{table} AS {sql}", params, step=f"analyst copy: {table}")
        meta = pl.DataFrame(
            [{
                "as_of": night.as_of, "window_start": window.start, "timezone": window.timezone, "run_id": night.run_id,
                "data_as_of": findings.data_as_of,
                "published_at": datetime.now(timezone.utc),
                # What-if re-scores with the night's own configuration and review line.
                "config": json.dumps(night.settings.raw, sort_keys=True, default=str),
                "review_line": float(findings.review_line),
            }]
        )
        checks = pl.DataFrame(
            [{"check_id": c.id, "title": c.meta.title, "category": c.meta.category, "status": c.meta.status,
              "severity": c.meta.severity, "risk": c.meta.risk, "seed_case": c.meta.seed_cases[0],
              "description": c.meta.description} for c in load_catalogue()]
        )
        history = pl.DataFrame(
            lead_history,
            schema={"as_of": pl.Date, "lead_id": pl.String, "staff_ref": pl.String, "rank": pl.Int32, "score": pl.Float64,
                    "categories": pl.List(pl.String), "change": pl.String, "status": pl.String},
        )
        for name, frame in (("meta", meta), ("checks", checks), ("lead_history", history)):
            wh.register_frame(f"{name}_frame", frame)
            wh.execute(f"CREATE TABLE analyst_copy.{name} AS SELECT * FROM {name}_frame", step=f"analyst copy: {name}")
            wh.unregister(f"{name}_frame")
    finally:
        wh.execute("DETACH analyst_copy", step="detach the analyst copy")
    restrict_file(temporary)
    os.replace(temporary, final)  # atomic: a reader keeps last night's file until it reopens
    return final
