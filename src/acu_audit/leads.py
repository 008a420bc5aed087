"""Leads: the analysts' queue, one lead per member of staff per episode, persisted across nights.

An episode is a run of evidence with no gap longer than ``leads.episode_gap_days``;
evidence after a longer gap starts a new lead, unless the member of staff still has an
open one (one open lead per member of staff). ``lead_id`` is a hash of the staff
member's pseudonym and the episode's first evidence day, so it is stable across nights
and survives a rebuild. A lead stays on the list until an analyst closes it, whatever
the age of its evidence. Its score is tonight's score of its evidence over the span the
queue covers (``span_days``, docs/scoring.md "Evidence over the span"): every kept item
since it opened, not the peak of its nightly scores. Once it reaches the review line it
stays in the review tier until closed. Tonight each lead is:

- ``new``: first night on the list;
- ``escalated``: score rose by ``leads.escalation_points`` or it gained a category;
- ``returning``: it was closed with no further action and new evidence arrived
  (same lead_id, reopened, ``what_is_new`` says what);
- ``unchanged``: otherwise.

A lead closed with no further action stays off the list until evidence newer
than what was seen at closure arrives. Each night's list is kept in the state store.
A night already published is never built here again: it is replayed in a scratch copy
of the state as it first found it (``acu_audit.pipeline``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from acu_audit.state import StateStore


@dataclass(frozen=True)
class QueueRules:
    """How the queue keeps and tiers leads (``leads`` in configs/; docs/scoring.md)."""

    gap_days: int  # an episode ends after this many days with no evidence
    escalation_points: float
    review_line: float  # tonight's score at or above which a lead enters the review tier

    @classmethod
    def from_settings(cls, settings: Any, *, review_line: float) -> QueueRules:
        return cls(gap_days=int(settings.leads["episode_gap_days"]),
                   escalation_points=float(settings.leads["escalation_points"]), review_line=review_line)


def lead_tier(status: str, in_review: bool, tonight_score: float | None, review_line: float) -> str:
    """A lead's tier tonight, the one rule (docs/scoring.md): a referred lead is watched; an open lead
    already in the review tier (``in_review``) stays there until an analyst closes it; one whose
    score tonight reaches the review line enters it; the rest are watched."""
    if status == "referred":
        return "watch"
    if in_review or (tonight_score is not None and tonight_score >= review_line):
        return "review"
    return "watch"


def queue_order(tier: str, score: float, staff_ref: str) -> tuple:
    """The queue's one sequence: the review tier first, then best score first, then staff_ref."""
    return (tier != "review", -score, staff_ref)


def span_review_line(tonight: dict[str, float], earlier_best: dict[str, float], force_size: int, share: float,
                     min_score: float) -> float:
    """Tonight's review line, over the span: the lowest score that at most ``share`` of the force
    reaches on *some* night of the span (each member of staff counted once, at their best), and
    never below ``min_score``. Calibrated over the span, not one night, so a first run over two
    months does not admit a different 1% every night."""
    best = dict(earlier_best)
    for staff_id, score in tonight.items():
        best[staff_id] = max(best.get(staff_id, 0.0), score)
    return review_line(list(best.values()), force_size, share, min_score)


def review_line(scores: list[float], force_size: int, share: float, min_score: float) -> float:
    """The lowest score that at most ``share`` of the force reaches among ``scores`` (ties at the
    boundary stay below), and never below ``min_score``, so a quiet span does not promote weak
    leads. A property of the evidence, not a cap on the tier: leads that crossed on earlier
    nights stay in review."""
    allowed = int(share * force_size)
    ranked = sorted((float(x) for x in scores), reverse=True)
    if len(ranked) <= allowed:
        return float(min_score)
    return max(float(min_score), round(ranked[allowed] + 0.01, 2))


@dataclass
class LeadListResult:
    rows: list[dict[str, Any]]  # tonight's list, review tier first, best first
    created: int
    reopened: int
    held_back: int  # closed with no further action, no new evidence
    carried: int = 0  # open leads with no kept evidence over tonight's span, kept on the list
    review: int = 0  # leads in the review tier
    entered_review: int = 0  # leads that crossed the review line tonight


OPEN_STATUSES = ("new", "reviewing", "referred")
VERSION_COLUMNS = ("lead_id", "rank", "score", "categories", "top_checks", "anomaly_score", "first_seen", "last_seen",
                   "summary", "change", "what_is_new", "status", "hit_ids", "explanation", "tier", "age_days", "flag",
                   "tonight_score", "hit_nights")
VERSION_SCHEMA = {
    "lead_id": pl.String, "rank": pl.Int32, "score": pl.Float64, "categories": pl.List(pl.String),
    "top_checks": pl.List(pl.String), "anomaly_score": pl.Float64, "first_seen": pl.Datetime("us", "UTC"),
    "last_seen": pl.Datetime("us", "UTC"), "summary": pl.String, "change": pl.String, "what_is_new": pl.String,
    "status": pl.String, "hit_ids": pl.List(pl.String), "explanation": pl.String, "tier": pl.String,
    "age_days": pl.Int32, "flag": pl.String, "tonight_score": pl.Float64, "hit_nights": pl.List(pl.Date),
    "as_of": pl.Date, "run_id": pl.String, "published_at": pl.Datetime("us", "UTC"),
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


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summarise(row: dict[str, Any], titles: dict[str, str], peer_group: str | None) -> str:
    """One plain-English line for the lead list: the checks in words, the number of findings,
    and how unusual the person is among their peers (a group named as people say it)."""
    checks = row["top_checks"]
    cats = "|".join(row["categories"])
    if checks:
        text = titles.get(checks[0], checks[0])
        if len(checks) > 1:
            text += f"; also {titles.get(checks[1], checks[1]).lower()}"
            if len(checks) > 2:
                text += f" and {_plural(len(checks) - 2, 'more check', 'more checks')}"
        text += f" ({cats}; {_plural(int(row['n_hits']), 'finding', 'findings')})"
    else:
        text = "No check fired, but their behaviour is unusual among peers"
    if row["outlier_component"] > 0:
        group = (peer_group or "peers").replace("_", " ")
        top = 100 * (1 - row["anomaly_percentile"])
        # The most unusual person of a force is "top 0.0%" to one decimal: say what it means.
        where = "the most unusual in the force" if top < 0.05 else f"top {top:.1f}% of the force"
        text += f"; unusual among {group} ({where})"
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
    night_end: datetime,
    rules: QueueRules,
) -> LeadListResult:
    """Tonight's queue: match tonight's scored staff to leads, carry every open lead, tier and rank them.

    ``scored``: one row per member of staff with kept evidence over the span (or an outlier score
    above the lead percentile), their score of it tonight, and the hits behind it (``hit_ids`` with
    ``hit_nights``, the night each was found). The list is every lead an analyst has not closed
    (``new``, ``reviewing``, ``referred``) whatever the age of its evidence, plus tonight's staff
    with evidence; one open lead per member of staff. A lead's score is tonight's score of its
    evidence (0 when none of it is kept over the span any more). The review tier holds every open
    (``new``/``reviewing``) lead whose score ever reached the review line; ``referred`` leads sit
    in the watch tier and are flagged when new evidence arrives. Rank is one sequence, review tier
    first. Tonight's list is kept in the state store.
    """
    created = reopened = held_back = 0
    staff_ids = scored["staff_id"].to_list()
    # Each staff member's latest lead, and each lead's last list before tonight: two queries, not two per lead.
    latest = state.latest_leads(staff_ids)
    previous = state.lists_before(as_of)
    candidates: list[dict[str, Any]] = []
    new_leads, extended, reopen = [], [], []
    for row in scored.sort(["score", "staff_id"], descending=[True, False]).iter_rows(named=True):
        staff_id = row["staff_id"]
        staff_ref = staff_refs[staff_id]
        first_seen = row["first_seen"] or window_start
        last_seen = row["last_seen"] or night_end
        cluster_start, _ = latest_cluster(_evidence_days(row, first_seen, last_seen), rules.gap_days)
        lead = latest.get(staff_id)
        what_is_new = None
        returning = False
        if lead is not None and lead["status"] in OPEN_STATUSES:
            # One open lead per member of staff: new evidence extends it, however long the gap.
            extended.append((first_seen, last_seen, lead["lead_id"]))
            status = lead["status"]
        elif lead is not None and cluster_start <= _as_date(lead["last_seen"]) + timedelta(days=rules.gap_days):
            closed_at = lead["closed_last_seen"]  # closed with no further action, same episode
            if closed_at is not None and last_seen <= closed_at:
                held_back += 1  # nothing newer than what was closed
                continue
            extended.append((first_seen, last_seen, lead["lead_id"]))
            returning = True
            new_checks = _checks_after(row, closed_at)
            what_is_new = "new evidence since closure: " + (", ".join(new_checks) if new_checks else "later activity")
            reopen.append((lead["lead_id"], what_is_new))
            status = "new"
            lead = {**lead, "status": "new", "review_since": None}
        else:
            lead = {
                "lead_id": lead_id_for(staff_ref, cluster_start), "staff_id": staff_id, "staff_ref": staff_ref,
                "episode_start": cluster_start, "first_seen": first_seen, "last_seen": last_seen,
                "created_as_of": as_of, "status": "new", "closed_last_seen": None,
                "review_since": None, "referred_last_seen": None,
            }
            new_leads.append(lead)
            created += 1
            status = "new"
        candidates.append({
            "lead": lead, "staff_id": staff_id, "staff_ref": staff_ref, "tonight_score": row["score"],
            "categories": row["categories"], "top_checks": row["top_checks"], "anomaly_score": row["anomaly_score"],
            "first_seen": min(first_seen, lead["first_seen"] or first_seen),
            "last_seen": max(last_seen, lead["last_seen"] or last_seen),
            "summary": summarise(row, check_titles, peer_groups.get(staff_id)),
            "status": status, "returning": returning, "what_is_new": what_is_new,
            "hit_ids": list(row["hit_ids"]),
            "hit_nights": list(row["hit_nights"]) if row.get("hit_nights") is not None else [as_of] * len(row["hit_ids"]),
            "explanation": json.dumps(explanations.get(staff_id, []), default=str),
        })
    # Every open lead with no kept evidence tonight stays on the list with the evidence it had.
    matched = [c["lead"]["lead_id"] for c in candidates]
    carried_leads = state.open_leads_except(matched)
    carried = 0
    for lead in carried_leads:
        last = previous.get(lead["lead_id"])
        if last is None:  # created on a later night than this one: not this night's to carry
            continue
        carried += 1
        candidates.append({
            "lead": lead, "staff_id": lead["staff_id"], "staff_ref": lead["staff_ref"], "tonight_score": None,
            "categories": list(last["categories"]), "top_checks": list(last["top_checks"]),
            "anomaly_score": last["anomaly_score"], "first_seen": lead["first_seen"], "last_seen": lead["last_seen"],
            "summary": last["summary"], "status": lead["status"], "returning": False, "what_is_new": None,
            "hit_ids": list(last["hit_ids"]),
            "hit_nights": list(last["hit_nights"]) if last.get("hit_nights") else [last["as_of"]] * len(last["hit_ids"]),
            "explanation": last["explanation"],
        })
    entered_review = 0
    for c in candidates:
        lead = c["lead"]
        c["age_days"] = max(0, (as_of - _as_date(c["last_seen"])).days)
        c["score"] = c["tonight_score"] or 0.0
        review_since = lead.get("review_since")
        in_review = review_since is not None and review_since <= as_of
        c["tier"] = lead_tier(c["status"], in_review, c["tonight_score"], rules.review_line)
        if c["tier"] == "review" and not in_review:
            review_since = as_of
            entered_review += 1
        c["review_since"] = review_since if c["tier"] == "review" else lead.get("review_since")
        c["flag"] = None
        referred_seen = lead.get("referred_last_seen")
        if c["status"] == "referred" and referred_seen is not None and c["last_seen"] > referred_seen:
            c["flag"] = "new evidence since referral"
        prev = previous.get(lead["lead_id"])
        if c["returning"]:
            c["change"] = "returning"
        elif prev is None:
            c["change"] = "new"
        else:
            gained = sorted(set(c["categories"]) - set(prev["categories"]))
            if gained or c["score"] >= prev["score"] + rules.escalation_points:
                c["change"] = "escalated"
                c["what_is_new"] = f"new categories: {', '.join(gained)}" if gained else f"score up from {prev['score']:.1f}"
            else:
                c["change"] = "unchanged"
        if c["flag"] and not c["what_is_new"]:
            c["what_is_new"] = c["flag"]
    candidates.sort(key=lambda c: queue_order(c["tier"], c["score"], c["staff_ref"]))
    for rank, c in enumerate(candidates, start=1):
        c["rank"] = rank
        c["lead_id"] = c["lead"]["lead_id"]
    state.keep_night(
        as_of, run_id,
        new_leads=[(l["lead_id"], l["staff_id"], l["staff_ref"], l["episode_start"], l["first_seen"], l["last_seen"], as_of)
                   for l in new_leads],
        extended=extended,
        reopen=reopen,
        review_since=[(c["lead_id"], c["review_since"]) for c in candidates],
        versions=[{k: c[k] for k in VERSION_COLUMNS} for c in candidates],
        version_schema=VERSION_SCHEMA,
    )
    reopened = len(reopen)
    rows = [{k: v for k, v in c.items() if k != "lead"} for c in candidates]
    return LeadListResult(rows, created, reopened, held_back, carried=carried,
                          review=sum(1 for c in candidates if c["tier"] == "review"), entered_review=entered_review)


def _as_date(value: datetime | None) -> date:
    return value.date() if value is not None else date.min


def _evidence_days(row: dict[str, Any], first_seen: datetime, last_seen: datetime) -> list[date]:
    days = [t.date() for t in row.get("evidence_times") or [] if t is not None]
    return days or [first_seen.date(), last_seen.date()]


def _checks_after(row: dict[str, Any], closed_at: datetime | None) -> list[str]:
    after = row.get("check_last_seen") or {}
    return sorted(c for c, t in after.items() if closed_at is None or (t is not None and t > closed_at))
