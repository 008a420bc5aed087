"""Leads: one per member of staff per episode, persisted across nights.

An episode is a run of evidence with no gap longer than ``leads.episode_gap_days``;
evidence after a longer gap starts a new lead. ``lead_id`` is a hash of the
staff member's pseudonym and the episode's first evidence day, so it is stable
across nights and survives a rebuild. Tonight each lead is:

- ``new``: first night on the list;
- ``escalated``: score rose by ``leads.escalation_points`` or it gained a category;
- ``returning``: it was closed with no further action and new evidence arrived
  (same lead_id, reopened, ``what_is_new`` says what);
- ``unchanged``: otherwise.

A lead closed with no further action stays off the list until evidence newer
than what was seen at closure arrives. Each night's list is kept in the state
store; re-running a finished night with the same result changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import polars as pl

from acu_audit.state import StateStore


@dataclass
class LeadListResult:
    rows: list[dict[str, Any]]  # tonight's list, best first
    created: int
    reopened: int
    held_back: int  # closed with no further action, no new evidence
    unchanged_rerun: bool  # the night was already published with the same content


VERSION_COLUMNS = ("lead_id", "rank", "score", "categories", "top_checks", "anomaly_score", "first_seen", "last_seen",
                   "summary", "change", "what_is_new", "status", "hit_ids", "explanation")
VERSION_SCHEMA = {
    "lead_id": pl.String, "rank": pl.Int32, "score": pl.Float64, "categories": pl.List(pl.String),
    "top_checks": pl.List(pl.String), "anomaly_score": pl.Float64, "first_seen": pl.Datetime("us", "UTC"),
    "last_seen": pl.Datetime("us", "UTC"), "summary": pl.String, "change": pl.String, "what_is_new": pl.String,
    "status": pl.String, "hit_ids": pl.List(pl.String), "explanation": pl.String, "as_of": pl.Date, "run_id": pl.String,
    "published_at": pl.Datetime("us", "UTC"),
}


def lead_id_for(staff_ref: str, episode_start: date) -> str:
    return "L-" + hashlib.sha256(f"{staff_ref}|{episode_start.isoformat()}".encode()).hexdigest()[:10]


def latest_cluster(days: list[date], gap_days: int) -> tuple[date, date]:
    """The most recent run of evidence days with no gap longer than ``gap_days``."""
    days = sorted(set(days))
    start = end = days[-1]
    for day in reversed(days[:-1]):
        if (start - day).days > gap_days:
            break
        start = day
    return start, end


def summarise(row: dict[str, Any], titles: dict[str, str], peer_group: str | None) -> str:
    """One plain-English line for the lead list."""
    checks = row["top_checks"]
    cats = "|".join(row["categories"])
    if checks:
        text = titles.get(checks[0], checks[0])
        if len(checks) > 1:
            text += f"; also {titles.get(checks[1], checks[1]).lower()}"
            if len(checks) > 2:
                text += f" and {len(checks) - 2} more check(s)"
        text += f" ({cats}; {row['n_hits']} hit(s))"
    else:
        text = "No check fired, but their behaviour is unusual among peers"
    if row["outlier_component"] > 0:
        text += f"; unusual among {peer_group or 'peers'} (top {100 * (1 - row['anomaly_percentile']):.1f}% of the force)"
    return text


def publish_leads(
    state: StateStore,
    scored: pl.DataFrame,
    *,
    as_of: date,
    run_id: str,
    staff_refs: dict[str, str],
    peer_groups: dict[str, str],
    check_titles: dict[str, str],
    explanations: dict[str, list[dict]],
    window_start: datetime,
    gap_days: int,
    escalation_points: float,
) -> LeadListResult:
    """Match tonight's scored staff to leads, label changes, and keep tonight's list."""
    db = state.db
    end_of_day = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=timezone.utc)
    candidates = []
    created = reopened = held_back = 0
    previous_tonight = {
        r["lead_id"]: r for r in db.records("SELECT * FROM lead_versions WHERE as_of = $d", {"d": as_of})
    }
    staff_ids = scored["staff_id"].to_list()
    # Each staff member's latest lead, and each lead's last list before tonight: two queries, not two per lead.
    latest = {
        r["staff_id"]: r
        for r in db.records(
            """SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY staff_id ORDER BY episode_start DESC) AS rn
                              FROM leads WHERE staff_id IN (SELECT unnest($ids))) WHERE rn = 1""",
            {"ids": staff_ids},
            step="latest leads",
        )
    }
    previous = {
        r["lead_id"]: r
        for r in db.records(
            """SELECT lead_id, score, categories FROM (
                   SELECT *, row_number() OVER (PARTITION BY lead_id ORDER BY as_of DESC) AS rn
                   FROM lead_versions WHERE as_of < $d) WHERE rn = 1""",
            {"d": as_of},
            step="previous lists",
        )
    }
    new_leads, extended, reopen = [], [], []
    with db.transaction():
        for row in scored.sort(["score", "staff_id"], descending=[True, False]).iter_rows(named=True):
            staff_id = row["staff_id"]
            staff_ref = staff_refs[staff_id]
            first_seen = row["first_seen"] or window_start
            last_seen = row["last_seen"] or end_of_day
            cluster_start, _ = latest_cluster(_evidence_days(row, first_seen, last_seen), gap_days)
            lead = latest.get(staff_id)
            if lead is None or cluster_start > _as_date(lead["last_seen"]) + timedelta(days=gap_days):
                lead = {
                    "lead_id": lead_id_for(staff_ref, cluster_start), "staff_id": staff_id, "staff_ref": staff_ref,
                    "episode_start": cluster_start, "first_seen": first_seen, "last_seen": last_seen,
                    "created_as_of": as_of, "status": "new", "closed_last_seen": None,
                }
                new_leads.append(lead)
                created += 1
            else:
                extended.append((first_seen, last_seen, lead["lead_id"]))
            lead_id = lead["lead_id"]
            status = lead["status"]
            what_is_new = None
            returning = previous_tonight.get(lead_id, {}).get("change") == "returning"
            if status == "no_further_action":
                closed_at = lead["closed_last_seen"]
                if closed_at is not None and last_seen <= closed_at:
                    held_back += 1  # closed, and nothing newer than what was closed
                    continue
                returning = True
                new_checks = _checks_after(row, closed_at)
                what_is_new = "new evidence since closure: " + (", ".join(new_checks) if new_checks else "later activity")
                reopen.append((lead_id, what_is_new))
                status = "new"
            elif returning:
                what_is_new = previous_tonight[lead_id]["what_is_new"]
            prev = previous.get(lead_id)
            if returning:
                change = "returning"
            elif prev is None:
                change = "new"
            else:
                gained = sorted(set(row["categories"]) - set(prev["categories"]))
                if gained or row["score"] >= prev["score"] + escalation_points:
                    change = "escalated"
                    what_is_new = f"new categories: {', '.join(gained)}" if gained else f"score up from {prev['score']:.1f}"
                else:
                    change = "unchanged"
            candidates.append(
                {
                    "lead_id": lead_id,
                    "staff_id": staff_id,
                    "staff_ref": staff_ref,
                    "score": row["score"],
                    "categories": row["categories"],
                    "top_checks": row["top_checks"],
                    "anomaly_score": row["anomaly_score"],
                    "first_seen": min(first_seen, lead["first_seen"] or first_seen),
                    "last_seen": max(last_seen, lead["last_seen"] or last_seen),
                    "summary": summarise(row, check_titles, peer_groups.get(staff_id)),
                    "change": change,
                    "what_is_new": what_is_new,
                    "status": status,
                    "hit_ids": row["hit_ids"],
                    "explanation": json.dumps(explanations.get(staff_id, []), default=str),
                }
            )
        db.executemany(
            """INSERT INTO leads (lead_id, staff_id, staff_ref, episode_start, first_seen, last_seen, created_as_of, status)
               VALUES (?, ?, ?, ?, ?, ?, ?, 'new') ON CONFLICT DO NOTHING""",
            [(l["lead_id"], l["staff_id"], l["staff_ref"], l["episode_start"], l["first_seen"], l["last_seen"], as_of) for l in new_leads],
            step="create leads",
        )
        db.executemany(
            "UPDATE leads SET first_seen = least(first_seen, ?), last_seen = greatest(last_seen, ?) WHERE lead_id = ?",
            extended,
            step="extend leads",
        )
        for lead_id, what in reopen:
            db.execute(
                "UPDATE leads SET status = 'new', status_changed_at = now(), status_actor = 'acu-audit' WHERE lead_id = $l",
                {"l": lead_id},
            )
            state.audit("acu-audit", "reopen_lead", lead_id, {"as_of": as_of, "what_is_new": what})
            reopened += 1
        for rank, c in enumerate(candidates, start=1):
            c["rank"] = rank
        unchanged_rerun = _same_list(previous_tonight, candidates)
        if unchanged_rerun:
            # Republish the night exactly as it was kept, even if later nights have since
            # extended these leads: a re-run of a finished night changes nothing.
            for c in candidates:
                stored = previous_tonight[c["lead_id"]]
                c.update({k: stored[k] for k in VERSION_COLUMNS})
        else:
            db.execute("DELETE FROM lead_versions WHERE as_of = $d", {"d": as_of}, step="replace tonight's list")
            published_at = datetime.now(timezone.utc)
            db.insert_rows(
                "lead_versions",
                [{**{k: c[k] for k in VERSION_COLUMNS}, "as_of": as_of, "run_id": run_id, "published_at": published_at}
                 for c in candidates],
                VERSION_SCHEMA,
                step="keep tonight's list",
            )
    return LeadListResult(candidates, created, reopened, held_back, unchanged_rerun)


def _as_date(value: datetime | None) -> date:
    return value.date() if value is not None else date.min


def _evidence_days(row: dict[str, Any], first_seen: datetime, last_seen: datetime) -> list[date]:
    days = [t.date() for t in row.get("evidence_times") or [] if t is not None]
    return days or [first_seen.date(), last_seen.date()]


def _checks_after(row: dict[str, Any], closed_at: datetime | None) -> list[str]:
    after = row.get("check_last_seen") or {}
    return sorted(c for c, t in after.items() if closed_at is None or (t is not None and t > closed_at))


def _same_list(stored: dict[str, dict], candidates: list[dict]) -> bool:
    if not stored or len(stored) != len(candidates):
        return False
    for c in candidates:
        s = stored.get(c["lead_id"])
        if s is None or s["rank"] != c["rank"] or round(s["score"], 2) != round(c["score"], 2):
            return False
        if list(s["hit_ids"]) != list(c["hit_ids"]) or s["change"] != c["change"] or s["status"] != c["status"]:
            return False
    return True
