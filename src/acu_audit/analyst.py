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
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from acu_audit.checks import load_catalogue
from acu_audit.clock import local_time, utc_iso
from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError
from acu_audit.evidence import cited_ids, pack_tables
from acu_audit.files import neutralise_cell
from acu_audit.privacy import load_secret, staff_ref
from acu_audit.state import STATUSES, StateStore, require_reveal_reason, required_text


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


@dataclass
class LeadListing:
    """A published night's list as it stands now, with each lead's current status."""

    as_of: date | None
    rows: list[dict[str, Any]]
    closed_since: int = 0  # leads closed (no further action) since the list was published, left out


def latest_list(state: StateStore, as_of: date | None = None, status: str | None = None,
                *, include_closed: bool = False) -> LeadListing:
    """Tonight's (or ``as_of``'s) list with each lead's *current* status.

    A status set after publication counts at once: a lead closed with no further action this
    morning is left out (``include_closed`` keeps it, marked closed; the next night leaves it off
    anyway), and a lead referred this morning sits in the watch tier, as the next night will put
    it. The review tier comes first, each tier in the published rank order.
    """
    if status is not None and status not in STATUSES:
        raise AcuAuditError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    as_of = as_of or state.db.scalar("SELECT max(as_of) FROM lead_versions")
    if as_of is None:
        return LeadListing(None, [])
    rows = state.db.records(
        """SELECT v.as_of, v.rank, v.lead_id, l.staff_ref,
                  CASE WHEN l.status = 'no_further_action' THEN 'closed'
                       WHEN l.status = 'referred' THEN 'watch' ELSE v.tier END AS tier,
                  v.tier AS published_tier, v.score, v.age_days, v.categories, v.top_checks,
                  v.anomaly_score, v.first_seen, v.last_seen, v.change, l.status, v.status AS published_status,
                  v.flag, v.summary, v.what_is_new
           FROM lead_versions v JOIN leads l USING (lead_id)
           WHERE v.as_of = $d AND ($status IS NULL OR l.status = $status)
           ORDER BY CASE WHEN l.status = 'no_further_action' THEN 2
                         WHEN l.status <> 'referred' AND v.tier = 'review' THEN 0 ELSE 1 END, v.rank""",
        {"d": as_of, "status": status},
    )
    closed = [r for r in rows if r["status"] == "no_further_action" and r["published_status"] != "no_further_action"]
    if not include_closed and status != "no_further_action":
        rows = [r for r in rows if r["status"] != "no_further_action"]
    return LeadListing(as_of, rows, closed_since=len(closed))


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


def suppress(state: StateStore, *, reason: str, owner: str, expires_on: date, actor: str, staff_id: str | None = None,
             staff_ref: str | None = None, check: str | None = None, subject: str | None = None) -> tuple[int, str]:
    """Allow-list a check (for everyone), a member of staff, or a member of staff and a subject:
    the one rule the CLI and the triage page both apply. Returns the suppression's id and kind."""
    from acu_audit.checks import check_by_id

    if check and (staff_ref or subject):
        raise AcuAuditError("--check suppresses a check for everyone; give it on its own")
    if not check and not staff_ref:
        raise AcuAuditError("give --check, --staff-ref, or --staff-ref with --subject")
    if check:
        try:
            check_by_id(check)
        except KeyError as exc:
            raise AcuAuditError(str(exc.args[0]) if exc.args else f"no check {check!r}") from None
    kind = "check" if check else ("pair" if subject else "staff")
    suppression_id = state.add_suppression(kind=kind, reason=required_text(reason, "a suppression needs a reason"),
                                           owner=required_text(owner, "a suppression needs an owner"), expires_on=expires_on,
                                           actor=actor, staff_id=staff_id, staff_ref=staff_ref, check_id=check,
                                           subject=subject or None)
    return suppression_id, kind


def export_referral_pack(
    state: StateStore, wh: Warehouse, lead_id: str, out_dir: Path, *, actor: str, reveal: bool, reason: str | None
) -> Path:
    """Freeze a lead into a new folder: evidence rows, check versions, drops and a hash of each file.

    A pack is never overwritten: each export is its own folder, ``referral-<lead>-<UTC time>``,
    created once (a second export in the same second is refused). Its ``manifest.json`` says
    which night's list the lead is frozen from, when, by whom and why. The reason is required
    (checked before anything is written) and, with identities (``reveal``), is the reveal's reason.
    A pack that fails half-way is removed: a folder on disk is a whole pack.
    """
    import shutil
    from datetime import datetime, timezone

    reason = required_text(reason, "a referral pack needs a reason (--reason), e.g. the referral number; it is recorded")
    if reveal:
        require_reveal_reason(reason, "referral pack")
    detail = lead_detail(state, wh, lead_id)
    if not detail["versions"]:
        raise AcuAuditError(f"lead {lead_id} has never been on a published list")
    exported_at = datetime.now(timezone.utc)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    pack = Path(out_dir) / f"referral-{lead_id}-{exported_at:%Y%m%dT%H%M%SZ}"
    try:
        pack.mkdir()
    except FileExistsError:
        raise AcuAuditError(f"{pack} exists already: a referral pack is never overwritten; export again in a moment") from None
    try:
        manifest = _write_pack(wh, detail, pack, reveal=reveal)
        night = detail["versions"][-1]["as_of"]
        (pack / "manifest.json").write_text(json.dumps({
            "lead_id": lead_id, "as_of": night.isoformat(), "exported_at": exported_at.isoformat(timespec="seconds"),
            "actor": actor, "reason": reason, "revealed_identities": reveal, "sha256": manifest,
        }, indent=1), encoding="utf-8")
        with state.db.transaction():
            state.audit(actor, "export_lead", lead_id, {"pack": str(pack), "as_of": night, "reason": reason,
                                                        "revealed": reveal, "files": len(manifest)})
            if reveal:
                state.record_reveal(actor, reason, "referral pack", None, {"lead_id": lead_id, "pack": str(pack)})
    except BaseException:
        shutil.rmtree(pack, ignore_errors=True)
        raise
    return pack


def _write_pack(wh: Warehouse, detail: dict[str, Any], pack: Path, *, reveal: bool) -> dict[str, str]:
    """The pack's files; returns the SHA-256 of each."""
    from acu_audit.config import load_settings

    tz = load_settings().timezone
    lead = dict(detail["lead"])
    if not reveal:
        lead.pop("staff_id", None)
    cited = cited_ids([e for h in detail["hits"] for e in h["evidence"]], [h.get("subject") for h in detail["hits"]])
    tables = pack_tables(wh, cited, reveal=reveal, staff_id=detail["lead"].get("staff_id"))
    headers: dict[str, list[str]] = {f"{name}.csv": columns for name, (columns, _) in tables.items()}
    files: dict[str, list[dict]] = {
        # when_local: the hit's time as the report card and notebooks show it (one clock).
        "hits.csv": [{**h, "when_local": local_time(h["occurred_at"], tz)} for h in detail["hits"]],
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
            default=_json_value,
        ),
        encoding="utf-8",
    )
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(pack.iterdir()) if p.name != "manifest.json"}


def _write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> None:
    """A CSV with a header even when there are no rows (when the columns are known)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        fieldnames = list(rows[0]) if rows else list(columns or [])
        if not fieldnames:
            return
        writer = csv.DictWriter(handle, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: neutralise_cell(_json_value(v)) for k, v in row.items()})


def _json_value(value: Any) -> Any:
    """A value as a pack file carries it: instants in UTC ISO-8601 with Z and dates ISO (as in
    leads.csv), lists and objects as JSON."""
    from datetime import datetime

    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=_json_value)
    return value


def check_function_shares(wh: Warehouse, as_of: date | None = None, warn: float | None = None) -> tuple[date | None, list[dict[str, Any]]]:
    """The night's share of each unit function that tripped each check (``check_rates``), latest night by default.

    ``warn``: the share above which a row is flagged (default: the configuration's warning share).
    """
    from acu_audit.checks.calibration import function_shares

    if not wh.table_exists("check_rates"):
        return None, []
    if warn is None:
        from acu_audit.config import load_settings

        warn = float(load_settings().checks["calibration"]["warn_share"])
    night = as_of or wh.scalar("SELECT max(as_of) FROM check_rates")
    return night, function_shares(wh, night, warn)


def latest_check_runs(wh: Warehouse) -> tuple[date | None, dict[str, dict[str, Any]]]:
    """Each check's run on the latest night checked: status, hits, staff hit."""
    if not wh.table_exists("check_runs"):
        return None, {}
    night = wh.scalar("SELECT max(as_of) FROM check_runs")
    rows = wh.records("SELECT check_id, status, hits, staff_hit FROM check_runs WHERE as_of = $d", {"d": night})
    return night, {r["check_id"]: r for r in rows}


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
