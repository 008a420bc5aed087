"""Analyst actions on leads: read the list, change a status, suppress, reveal, export a referral pack.

Every action is written to the audit log with its actor. Identities stay
pseudonymised (staff_ref) unless revealed, and a reveal records its reason.
The warehouse is opened read-only and the state store briefly, so these
commands wait a little and then report "database busy" while the nightly run
holds a file.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from acu_audit.checks import load_catalogue
from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError
from acu_audit.evidence import cited_ids, pack_tables
from acu_audit.files import neutralise_cell
from acu_audit.privacy import load_secret, staff_ref
from acu_audit.state import StateStore, require_reveal_reason


def open_warehouse_read_only(db: Path, busy_timeout_s: float = 10.0) -> Warehouse:
    if not Path(db).exists():
        raise AcuAuditError(f"no database at {db}: run `acu-audit run` first")
    return Warehouse(db, read_only=True, busy_timeout_s=busy_timeout_s)


def resolve_staff_ref(wh: Warehouse, ref: str) -> str:
    """The staff_id behind a staff_ref (only the holder of the key can do this)."""
    key = load_secret(create=False)
    for (staff_id,) in wh.execute("SELECT DISTINCT staff_id FROM staff"):
        if staff_ref(key, staff_id) == ref:
            return staff_id
    raise AcuAuditError(f"no member of staff has staff_ref {ref!r} (is ACU_AUDIT_SECRET the run's key?)")


def latest_list(state: StateStore, as_of: date | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """Tonight's (or ``as_of``'s) list with each lead's current status."""
    as_of = as_of or state.db.scalar("SELECT max(as_of) FROM lead_versions")
    if as_of is None:
        return []
    rows = state.db.records(
        """SELECT v.as_of, v.rank, v.lead_id, l.staff_ref, v.tier, v.score, v.age_days, v.categories, v.top_checks,
                  v.anomaly_score, v.first_seen, v.last_seen, v.change, l.status, v.flag, v.summary, v.what_is_new
           FROM lead_versions v JOIN leads l USING (lead_id)
           WHERE v.as_of = $d AND ($status IS NULL OR l.status = $status)
           ORDER BY v.rank""",
        {"d": as_of, "status": status},
    )
    return rows


def lead_detail(state: StateStore, wh: Warehouse | None, lead_id: str) -> dict[str, Any]:
    lead = state.lead(lead_id)
    versions = state.db.records(
        "SELECT as_of, rank, tier, score, tonight_score, age_days, categories, top_checks, change, status, flag, what_is_new, "
        "summary, hit_ids, hit_nights, explanation FROM lead_versions WHERE lead_id = $l ORDER BY as_of",
        {"l": lead_id},
    )
    notes = state.db.records("SELECT recorded_at, actor, status, note FROM lead_notes WHERE lead_id = $l ORDER BY recorded_at", {"l": lead_id})
    hits: list[dict] = []
    if wh is not None and versions:
        # The hits behind the lead on its latest list, each from the night it was found on
        # (a queued lead's evidence may come from an earlier night than the list).
        latest = versions[-1]
        nights = latest["hit_nights"] or [latest["as_of"]] * len(latest["hit_ids"])
        hits = wh.records(
            """SELECT h.hit_id, h.check_id, h.check_version, h.category, h.severity, h.reason, h.evidence, h.subject,
                      h.occurred_at, h.window_start, h.window_end, h.as_of AS found_on
               FROM (SELECT unnest($ids) AS hit_id, unnest($nights) AS as_of) w JOIN check_hits h USING (as_of, hit_id)
               ORDER BY h.check_id, h.occurred_at, h.as_of""",
            {"ids": list(latest["hit_ids"]), "nights": list(nights)},
        )
        for hit in hits:
            hit.update(_colleague(state, wh, hit["subject"]))
    return {"lead": lead, "versions": versions, "notes": notes, "hits": hits}


def _colleague(state: StateStore, wh: Warehouse, subject: str | None) -> dict[str, Any]:
    """A hit about a colleague's number: the colleague's staff_ref and their open lead, if any."""
    if not (subject or "").startswith("counterparty:"):
        return {}
    rows = wh.execute(
        """SELECT staff_id FROM contact_directory WHERE counterparty = $c AND staff_id IS NOT NULL
           ORDER BY _drop_date DESC LIMIT 1""",
        {"c": subject.split(":", 1)[1]},
    )
    if not rows:
        return {}
    colleague = state.db.records(
        """SELECT lead_id, staff_ref FROM leads WHERE staff_id = $s AND status <> 'no_further_action'
           ORDER BY created_as_of DESC LIMIT 1""",
        {"s": rows[0][0]},
    )
    if colleague:
        return {"colleague": colleague[0]["staff_ref"], "colleague_lead": colleague[0]["lead_id"]}
    return {"colleague": staff_ref(load_secret(create=False), rows[0][0]), "colleague_lead": None}


def export_referral_pack(
    state: StateStore, wh: Warehouse, lead_id: str, out_dir: Path, *, actor: str, reveal: bool, reason: str | None
) -> Path:
    """Freeze a lead into a folder: evidence rows, check versions, drops and a hash of each file.

    With identities (``reveal``) a reason is required, checked before anything is written.
    """
    if reveal:
        require_reveal_reason(reason, "referral pack")
    detail = lead_detail(state, wh, lead_id)
    if not detail["versions"]:
        raise AcuAuditError(f"lead {lead_id} has never been on a published list")
    pack = Path(out_dir) / f"referral-{lead_id}"
    pack.mkdir(parents=True, exist_ok=True)
    lead = dict(detail["lead"])
    if not reveal:
        lead.pop("staff_id", None)
    cited = cited_ids([e for h in detail["hits"] for e in h["evidence"]], [h.get("subject") for h in detail["hits"]])
    tables = pack_tables(wh, cited, reveal=reveal, staff_id=detail["lead"].get("staff_id"))
    headers: dict[str, list[str]] = {f"{name}.csv": columns for name, (columns, _) in tables.items()}
    files: dict[str, list[dict]] = {
        "hits.csv": [{k: v for k, v in h.items()} for h in detail["hits"]],
        **{f"{name}.csv": rows for name, (_, rows) in tables.items()},
    }
    checks = {c.id: c for c in load_catalogue()}
    check_ids = sorted({h["check_id"] for h in detail["hits"]})
    found = sorted({(h["check_id"], h["found_on"]) for h in detail["hits"]})
    files["check_versions.csv"] = wh.records(
        """SELECT DISTINCT r.check_id, r.check_version, r.as_of, r.parameters
           FROM check_runs r JOIN (SELECT unnest($c) AS check_id, unnest($d) AS as_of) w USING (check_id, as_of)
           ORDER BY r.as_of, r.check_id""",
        {"c": [c for c, _ in found], "d": [d for _, d in found]},
    ) if found else []
    file_ids = sorted({r["_file_id"] for _, rows in tables.values() for r in rows if r.get("_file_id")})
    files["source_files.csv"] = wh.records(
        """SELECT file_id, drop_date, table_name, file_name, content_sha256, bytes, "read", loaded, status
           FROM ingest_files WHERE file_id IN (SELECT unnest($f)) ORDER BY drop_date, file_name""",
        {"f": file_ids},
    ) if file_ids else []
    headers["source_files.csv"] = ["file_id", "drop_date", "table_name", "file_name", "content_sha256", "bytes", "read", "loaded", "status"]
    headers["check_versions.csv"] = ["check_id", "check_version", "as_of", "parameters"]
    for name, rows in files.items():
        _write_csv(pack / name, rows, headers.get(name))
    (pack / "lead.json").write_text(
        json.dumps(
            {"lead": lead, "versions": detail["versions"], "notes": detail["notes"],
             "check_sql": {c: checks[c].sql for c in check_ids if c in checks}},
            indent=1,
            default=str,
        ),
        encoding="utf-8",
    )
    manifest = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(pack.iterdir()) if p.name != "manifest.json"
    }
    (pack / "manifest.json").write_text(json.dumps({"lead_id": lead_id, "sha256": manifest}, indent=1), encoding="utf-8")
    state.audit(actor, "export_lead", lead_id, {"pack": str(pack), "revealed": reveal, "files": len(manifest)})
    if reveal:
        state.record_reveal(actor, reason, "referral pack", None, {"lead_id": lead_id, "pack": str(pack)})
    return pack


def _write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> None:
    """A CSV with a header even when there are no rows (when the columns are known)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        fieldnames = list(rows[0]) if rows else list(columns or [])
        if not fieldnames:
            return
        writer = csv.DictWriter(handle, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: neutralise_cell(json.dumps(v, default=str) if isinstance(v, (list, dict)) else v)
                             for k, v in row.items()})


def check_function_shares(wh: Warehouse, as_of: date | None = None, warn: float | None = None) -> tuple[date | None, list[dict[str, Any]]]:
    """The night's share of each unit function that tripped each check (``check_rates``), latest night by default.

    ``warn``: the share above which a row is flagged (default: the configuration's warning share).
    """
    if not wh.table_exists("check_rates"):
        return None, []
    if warn is None:
        from acu_audit.config import load_settings

        warn = float(load_settings().checks["calibration"]["warn_share"])
    night = as_of or wh.scalar("SELECT max(as_of) FROM check_rates")
    rows = wh.records(
        """SELECT check_id, unit_function, staff, tripped, share, kept, line, share > $w AS warn
           FROM check_rates WHERE as_of = $d ORDER BY check_id, unit_function""",
        {"d": night, "w": warn},
    )
    return night, rows


def check_outcomes(state: StateStore) -> list[dict[str, Any]]:
    """Per check: leads it contributed to, and how many were referred or closed with no further action."""
    return state.db.records(
        """WITH contributions AS (
               SELECT DISTINCT v.lead_id, unnest(v.top_checks) AS check_id FROM lead_versions v
           )
           SELECT c.check_id, count(*) AS leads,
                  count(*) FILTER (WHERE l.status = 'referred') AS referred,
                  count(*) FILTER (WHERE l.status = 'no_further_action') AS no_further_action,
                  count(*) FILTER (WHERE l.status IN ('new', 'reviewing')) AS open
           FROM contributions c JOIN leads l USING (lead_id)
           GROUP BY c.check_id ORDER BY c.check_id"""
    )
