"""The evidence behind a hit, for people to read: every table a check cites.

A hit cites rows by evidence id, ``<table>:<id>`` (``access_events:E1``,
``timesheets:C7``), and may be about a case or an operation (its ``subject``,
``case:K1``). This module turns those into rows: whole rows for a referral pack
(:func:`pack_tables`, a table for every kind, with a header even when empty) and
short, readable rows for a report card (:func:`card_rows`), with times in local
time and the zone named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acu_audit.clock import local_time
from acu_audit.db import Warehouse, quote_identifier


@dataclass(frozen=True)
class EvidenceTable:
    table: str
    id_column: str
    time_column: str
    kind: str  # what a person calls one row
    snapshot: bool = False  # versioned per drop: the latest version is shown


EVIDENCE_TABLES = {
    "access_events": EvidenceTable("access_events", "event_id", "occurred_at", "look-up"),
    "device_messages": EvidenceTable("device_messages", "row_id", "hour_start", "message"),
    "timesheets": EvidenceTable("timesheets", "claim_id", "claimed_start", "overtime claim"),
    "duty_roster": EvidenceTable("duty_roster", "row_id", "shift_start", "shift"),
    "declarations": EvidenceTable("declarations", "declaration_id", "declared_at", "declaration", snapshot=True),
    "cases": EvidenceTable("cases", "case_id", "opened_at", "case", snapshot=True),
    "operations": EvidenceTable("operations", "operation_id", "executed_at", "operation", snapshot=True),
}
# A hit about a case or an operation cites that record too.
SUBJECT_TABLES = {"case": "cases", "operation": "operations"}


def cited_ids(evidence: list[str], subjects: list[str | None] = ()) -> dict[str, list[str]]:
    """Ids per evidence table, each once, in the order first cited."""
    out: dict[str, list[str]] = {name: [] for name in EVIDENCE_TABLES}
    seen: set[str] = set()
    refs = list(evidence) + [
        f"{SUBJECT_TABLES[s.split(':', 1)[0]]}:{s.split(':', 1)[1]}"
        for s in subjects if s and s.split(":", 1)[0] in SUBJECT_TABLES and ":" in s
    ]
    for ref in refs:
        table, _, ident = ref.partition(":")
        if table in out and ident and ref not in seen:
            seen.add(ref)
            out[table].append(ident)
    return out


def _rows(wh: Warehouse, spec: EvidenceTable, ids: list[str], columns: str) -> list[dict[str, Any]]:
    if not ids:
        return []
    latest = (f"QUALIFY row_number() OVER (PARTITION BY {quote_identifier(spec.id_column)} ORDER BY _drop_date DESC) = 1"
              if spec.snapshot else "")
    return wh.records(
        f"""SELECT {columns} FROM {quote_identifier(spec.table)} t
            WHERE {quote_identifier(spec.id_column)} IN (SELECT unnest($ids)) {latest}
            ORDER BY {quote_identifier(spec.time_column)}, {quote_identifier(spec.id_column)}""",
        {"ids": ids},
        step=f"evidence rows from {spec.table}",
    )


def pack_tables(wh: Warehouse, cited: dict[str, list[str]], *, reveal: bool, staff_id: str | None) -> dict[str, tuple[list[str], list[dict]]]:
    """Every evidence table's cited rows, whole, with its column names (a header even when empty).

    For overtime claims, the claimant's rostered shifts that overlap a cited claim are added
    to ``duty_roster``: what was on the roster is part of the evidence of a claim.
    """
    out = {}
    for name, spec in EVIDENCE_TABLES.items():
        columns = [r["column_name"] for r in wh.records(f"DESCRIBE {quote_identifier(spec.table)}")]
        if not reveal:
            columns = [c for c in columns if c != "staff_id"]
        selected = ", ".join(f"t.{quote_identifier(c)}" for c in columns)
        ids = list(cited.get(name, []))
        if name == "duty_roster" and cited.get("timesheets") and staff_id:
            ids += [r[0] for r in wh.execute(
                """SELECT DISTINCT d.row_id FROM duty_roster d JOIN timesheets t
                     ON t.staff_id = d.staff_id AND d.shift_start < t.claimed_end AND d.shift_end > t.claimed_start
                   WHERE t.claim_id IN (SELECT unnest($ids)) AND d.staff_id = $s""",
                {"ids": cited["timesheets"], "s": staff_id},
            ) if r[0] not in ids]
        out[name] = (columns, _rows(wh, spec, ids, selected))
    return out


def card_rows(wh: Warehouse, cited_by_lead: dict[str, dict[str, list[str]]], tz: str, limit: int) -> dict[str, list[dict[str, Any]]]:
    """Short rows for each lead's report card, without names: kind, id, local time, what, about.

    Each row once; at most ``limit`` per table, in time order within a table. One query per
    evidence table for all the leads shown (the tables are large; a query per lead would scan
    them once per lead).
    """
    described = {
        "access_events": """system || ' ' || action || ' ' || record_type || ' ' || record_id AS what,
                            concat_ws(' ', 'person ' || person_id, 'case ' || case_id) AS about""",
        "device_messages": """message_count || ' ' || channel || ' ' || direction AS what,
                              coalesce((SELECT coalesce('person ' || d.person_id, 'organisation ' || d.organisation_id,
                                                        'colleague ' || r.staff_ref, CASE WHEN d.staff_id IS NOT NULL THEN 'a colleague' END)
                                        FROM ref_contact_directory d LEFT JOIN staff_refs r ON r.staff_id = d.staff_id
                                        WHERE d.counterparty = t.counterparty LIMIT 1),
                                       'unknown to force systems') AS about""",
        "timesheets": """claim_type || ' claimed, ' || round(epoch(claimed_end - claimed_start) / 3600, 1) || ' h' AS what,
                         '' AS about""",
        "duty_roster": """duty_type || ', ' || round(epoch(shift_end - shift_start) / 3600, 1) || ' h rostered' AS what,
                          '' AS about""",
        "declarations": """kind || ' declaration, ' || status AS what,
                           concat_ws(' ', 'person ' || person_id, 'organisation ' || organisation_id) AS about""",
        "cases": """case_type || ' case' || coalesce(', ' || owning_unit, '') AS what,
                    CASE WHEN closed_at IS NULL THEN 'open' ELSE 'closed' END AS about""",
        "operations": """'operation of ' || owning_unit AS what, '' AS about""",
    }
    cards: dict[str, list[dict[str, Any]]] = {lead: [] for lead in cited_by_lead}
    for name, spec in EVIDENCE_TABLES.items():
        wanted = {lead: cited.get(name, [])[:limit] for lead, cited in cited_by_lead.items()}
        ids = sorted({i for lead_ids in wanted.values() for i in lead_ids})
        columns = f"{quote_identifier(spec.id_column)} AS id, {quote_identifier(spec.time_column)} AS t, {described[name]}"
        found = {r["id"]: r for r in _rows(wh, spec, ids, columns)}  # in time order
        for lead, lead_ids in wanted.items():
            mine = set(lead_ids)
            cards[lead] += [{"kind": spec.kind, "id": r["id"], "t": r["t"], "seen_at": local_time(r["t"], tz),
                             "what": r["what"], "about": r["about"] or ""} for i, r in found.items() if i in mine]
    return cards
