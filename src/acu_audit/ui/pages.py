"""What the triage page shows: the queue and one lead, read per request.

Everything shown comes from the night's analyst copy (``out/analyst.duckdb``, pseudonymised,
replaced atomically by each nightly publish) and the analyst-state file opened read-only for
the current statuses, assignees, notes and who did what. While the nightly run holds the state
file, the queue shows the statuses the night was published with and says so ("state busy"):
reading never waits for the night, and the night never waits for a reader.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from acu_audit.analyst_copy import FILE_NAME
from acu_audit.clock import local_date, local_time
from acu_audit.contract import ON_DUTY_TYPES
from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError, QueryError
from acu_audit.state import STATUSES, StateStore

PAGE_SIZE = 50
SORTS = {  # name -> (key, reverse); the queue's own order is the review tier first, then rank
    "queue": None,
    "score": ("score", True),
    "age": ("age_days", False),
    "last_seen": ("last_seen", True),
}
STATE_BUSY_S = 0.3  # how long a read waits for the state file before showing the copy's statuses


@dataclass(frozen=True)
class Filters:
    """The queue's filters, as the query string carries them (every one optional)."""

    tier: str = ""
    category: str = ""
    unit_function: str = ""
    status: str = ""
    assignee: str = ""
    max_age: int | None = None  # evidence at most this many days old
    q: str = ""  # a staff_ref or lead id, or the start of one
    sort: str = "queue"
    page: int = 1

    @classmethod
    def from_query(cls, query: dict[str, str]) -> Filters:
        def text(name: str) -> str:
            return (query.get(name) or "").strip()[:100]

        def number(name: str) -> int | None:
            value = text(name)
            return int(value) if value.isascii() and value.isdigit() else None  # "²" is a digit to Python

        sort = text("sort")
        return cls(tier=text("tier"), category=text("category").upper(), unit_function=text("unit_function"),
                   status=text("status"), assignee=text("assignee"), max_age=number("max_age"), q=text("q"),
                   sort=sort if sort in SORTS else "queue", page=max(1, number("page") or 1))

    def query(self, **changes: Any) -> dict[str, str]:
        """These filters as query parameters (empty ones left out), with ``changes``."""
        values = {"tier": self.tier, "category": self.category, "unit_function": self.unit_function,
                  "status": self.status, "assignee": self.assignee,
                  "max_age": "" if self.max_age is None else str(self.max_age), "q": self.q,
                  "sort": "" if self.sort == "queue" else self.sort, "page": "" if self.page == 1 else str(self.page)}
        values.update({k: "" if v is None else str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}


@dataclass
class Night:
    """The published night the page reads: its analyst copy's meta row."""

    as_of: date
    run_id: str
    published_at: Any
    timezone: str
    window_start: date
    review_line: float


@dataclass
class QueueView:
    night: Night
    rows: list[dict[str, Any]]  # this page's rows
    total: int  # rows matching the filters
    counts: dict[str, int]  # per tier, over the whole list
    new_since_yesterday: int
    state_busy: bool
    choices: dict[str, list[str]]  # the values each filter can take tonight
    page: int
    pages: int


@dataclass
class LeadView:
    night: Night
    lead: dict[str, Any]  # tonight's row from the copy, with the current status and assignee
    on_list: bool
    hits: list[dict[str, Any]]
    evidence: dict[str, list[dict[str, Any]]]
    explanation: list[dict[str, Any]]
    timeline: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)  # nights the lead was listed
    notes: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)  # the audit log's rows about it
    state_busy: bool = False


def copy_path(out: Path) -> Path:
    return Path(out) / FILE_NAME


def open_copy(out: Path) -> Warehouse:
    """Tonight's analyst copy, read-only (a reader holds the file it opened; the night replaces it)."""
    path = copy_path(out)
    if not path.exists():
        raise AcuAuditError(f"no published night at {path}: run `acu-audit run` (or the demo) first")
    return Warehouse(path.resolve(), read_only=True)


def read_night(copy: Warehouse) -> Night:
    row = copy.records("SELECT as_of, run_id, published_at, timezone, window_start, review_line FROM meta")[0]
    return Night(**row)


def current_night(out: Path) -> Night | None:
    """The night published now (None before the first): what the page compares with what it showed."""
    try:
        with open_copy(out) as copy:
            return read_night(copy)
    except AcuAuditError:
        return None


# DuckDB refuses to open a file read-write in a process that has it open read-only (and the
# reverse), so the page's reads and its actions take turns on the state file; each is short.
STATE_LOCK = threading.Lock()


@contextmanager
def state_for_reading(path: Path) -> Iterator[StateStore | None]:
    """The state file for reading, or None while the nightly run holds it, while an action of this
    page is waiting for it, or before the first night: a read never waits more than a moment."""
    if not STATE_LOCK.acquire(timeout=STATE_BUSY_S):
        yield None
        return
    try:
        if not Path(path).is_file():
            yield None
            return
        try:
            state = StateStore(path, read_only=True, busy_timeout_s=STATE_BUSY_S)
        except AcuAuditError:
            yield None
            return
        try:
            yield state
        finally:
            state.close()
    finally:
        STATE_LOCK.release()


def _current(state: StateStore | None, lead_ids: list[str]) -> dict[str, dict[str, Any]]:
    if state is None or not lead_ids:
        return {}
    sql = "SELECT lead_id, status, {assignee} FROM leads WHERE lead_id IN (SELECT unnest($ids))"
    try:
        rows = state.db.records(sql.format(assignee="assignee"), {"ids": lead_ids}, step="current statuses")
    except QueryError:  # a state file from before migration 005 (the night held it when `ui` started)
        rows = state.db.records(sql.format(assignee="CAST(NULL AS VARCHAR) AS assignee"), {"ids": lead_ids},
                                step="current statuses")
    return {r["lead_id"]: r for r in rows}


def queue(out: Path, state_path: Path, filters: Filters) -> QueueView:
    """The queue as the analyst filters it: the review tier first, then watch, each in rank order."""
    with open_copy(out) as copy:
        night = read_night(copy)
        rows = copy.records(
            """SELECT l.rank, l.lead_id, l.staff_ref, l.score, l.categories, l.tier, l.age_days, l.last_seen, l.change,
                      l.status AS published_status, l.flag, l.summary, s.unit_function
               FROM leads l LEFT JOIN staff s USING (staff_ref) ORDER BY l.rank""", step="the queue")
    with state_for_reading(state_path) as state:
        busy = state_path.is_file() and state is None
        current = _current(state, [r["lead_id"] for r in rows])
    for r in rows:
        now = current.get(r["lead_id"], {})
        r["status"] = now.get("status") or r["published_status"]
        r["assignee"] = now.get("assignee")
        # A decision taken this morning counts at once, as in `acu-audit leads list`.
        r["tier_now"] = "closed" if r["status"] == "no_further_action" else "watch" if r["status"] == "referred" else r["tier"]
    counts = {t: sum(1 for r in rows if r["tier_now"] == t) for t in ("review", "watch", "closed")}
    choices = {
        "tier": ["review", "watch", "closed"],
        "category": sorted({c for r in rows for c in r["categories"]}),
        "unit_function": sorted({r["unit_function"] for r in rows if r["unit_function"]}),
        "status": list(STATUSES),
        "assignee": sorted({r["assignee"] for r in rows if r["assignee"]}),
    }
    wanted = [r for r in rows if _matches(r, filters)]
    if filters.sort != "queue":
        key, reverse = SORTS[filters.sort]
        # Missing values last either way; ties keep the queue's order (the sort is stable, reversed too).
        wanted.sort(key=lambda r: (r[key] is not None, r[key]) if reverse else (r[key] is None, r[key]), reverse=reverse)
    else:
        order = {"review": 0, "watch": 1, "closed": 2}
        wanted.sort(key=lambda r: (order.get(r["tier_now"], 1), r["rank"]))
    pages = max(1, -(-len(wanted) // PAGE_SIZE))
    page = min(filters.page, pages)
    return QueueView(night, wanted[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], len(wanted), counts,
                     sum(1 for r in rows if r["change"] == "new"), busy, choices, page, pages)


def _matches(r: dict[str, Any], f: Filters) -> bool:
    if f.tier and r["tier_now"] != f.tier:
        return False
    if not f.tier and not f.status and r["tier_now"] == "closed":
        return False  # closed this morning: off the list unless asked for, as on the CLI
    if f.category and f.category not in r["categories"]:
        return False
    if f.unit_function and r["unit_function"] != f.unit_function:
        return False
    if f.status and r["status"] != f.status:
        return False
    if f.assignee and (r["assignee"] or "") != f.assignee:
        return False
    if f.max_age is not None and (r["age_days"] or 0) > f.max_age:
        return False
    if f.q and not (r["staff_ref"].startswith(f.q) or r["lead_id"].startswith(f.q)):
        return False
    return True


def lead(out: Path, state_path: Path, lead_id: str) -> LeadView:
    """One lead as tonight's copy shows it, with its history and actions from the state file."""
    with open_copy(out) as copy:
        night = read_night(copy)
        rows = copy.records("SELECT l.*, s.unit_function, s.peer_group, s.unit, s.role FROM leads l "
                            "LEFT JOIN staff s USING (staff_ref) WHERE l.lead_id = $l", {"l": lead_id}, step="the lead")
        history = copy.records("SELECT as_of, staff_ref, rank, score, categories, change, status FROM lead_history "
                               "WHERE lead_id = $l ORDER BY as_of", {"l": lead_id}, step="the lead's nights")
        if not rows and not history:
            raise LookupError(lead_id)
        on_list = bool(rows)
        # A lead off tonight's list (closed, or its evidence aged out) still has its page: its nights and actions.
        row = rows[0] if rows else {"lead_id": lead_id, "staff_ref": history[-1]["staff_ref"], "hit_ids": [],
                                    "explanation": None, "categories": [], "summary": "not on tonight's list",
                                    "tier": None, "status": history[-1]["status"]}
        # Copies published before the colleagues table existed show no colleague link.
        colleague = ("LEFT JOIN colleagues c USING (subject)", "c.colleague_ref") if copy.table_exists("colleagues") \
            else ("", "CAST(NULL AS VARCHAR) AS colleague_ref")
        # Each hit behind the lead from the night it was found on (hit_ids and hit_nights run in parallel).
        ids = list(row.get("hit_ids") or [])
        hits = copy.records(
            f"""SELECT h.*, {colleague[1]}, k.title
                FROM (SELECT unnest($ids) AS hit_id, unnest($nights) AS found_on) w
                JOIN hits h USING (hit_id, found_on) {colleague[0]} LEFT JOIN checks k USING (check_id)
                ORDER BY coalesce(h.occurred_at, h.window_end), h.check_id""",
            {"ids": ids, "nights": list(row.get("hit_nights") or [night.as_of] * len(ids))}, step="the lead's hits")
        evidence_ids = sorted({e.split(":", 1)[1] for h in hits for e in h["evidence"] if ":" in e})
        evidence = {
            "lookups": copy.records(
                "SELECT * FROM evidence_lookups WHERE event_id IN (SELECT unnest($ids)) ORDER BY occurred_at",
                {"ids": evidence_ids}, step="evidence: look-ups"),
            "messages": copy.records(
                "SELECT * FROM evidence_messages WHERE row_id IN (SELECT unnest($ids)) ORDER BY hour_start",
                {"ids": evidence_ids}, step="evidence: messages"),
        }
        timeline = _timeline(copy, night, row["staff_ref"], hits)
        colleague_leads = dict(copy.execute(
            "SELECT staff_ref, lead_id FROM leads WHERE staff_ref IN (SELECT unnest($r))",
            {"r": [h["colleague_ref"] for h in hits if h.get("colleague_ref")]}))
    for h in hits:
        h["when"] = local_time(h["occurred_at"], night.timezone) if h["occurred_at"] else (
            f"{local_date(h['window_start'])} to {local_date(h['window_end'])}" if h["window_start"] else "")
        h["colleague_lead"] = colleague_leads.get(h.get("colleague_ref"))
    for kind in evidence.values():
        for e in kind:
            stamp = e.get("occurred_at") or e.get("hour_start")
            e["when"] = local_time(stamp, night.timezone)
    row["assignee"] = None
    notes: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    with state_for_reading(state_path) as state:
        busy = state_path.is_file() and state is None
        if state is not None:
            now = _current(state, [lead_id]).get(lead_id)
            if now:
                row.update(status=now["status"], assignee=now["assignee"])
            notes = state.db.records("SELECT recorded_at, actor, status, note FROM lead_notes WHERE lead_id = $l "
                                     "ORDER BY recorded_at DESC", {"l": lead_id})
            # The lead's own entries, and the suppressions made for its member of staff (their target
            # is the suppression; the staff_ref is in the detail).
            actions = state.db.records(
                """SELECT recorded_at, actor, action, detail FROM audit_log
                   WHERE target = $l OR (action = 'suppress' AND json_extract_string(detail, '$.staff_ref') = $ref)
                   ORDER BY recorded_at DESC LIMIT 200""", {"l": lead_id, "ref": row["staff_ref"]})
            versions = state.db.records("SELECT as_of, rank, tier, score, change, status, what_is_new FROM lead_versions "
                                        "WHERE lead_id = $l ORDER BY as_of DESC", {"l": lead_id})
    for n in notes:
        n["when"] = local_time(n["recorded_at"], night.timezone)
    for a in actions:
        a["when"] = local_time(a["recorded_at"], night.timezone)
        a["detail"] = _detail_text(a["detail"])
    nights = versions or [{**h, "tier": None, "what_is_new": None} for h in reversed(history)]
    explanation = json.loads(row.get("explanation") or "[]")
    return LeadView(night, row, on_list, hits, evidence, explanation, timeline, nights, notes, actions, busy)


def _detail_text(detail: str | None) -> str:
    """An audit entry's detail as words (``to: reviewing; note: ...``), no JSON braces."""
    try:
        values = json.loads(detail or "{}")
    except ValueError:
        return detail or ""
    return "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in values.items() if v not in (None, "", []))


# The contact kinds of the timeline, in the order they stack (the risky ones nearest the axis).
CONTACT_KINDS = ("victim", "marked person", "colleague", "other person", "organisation", "unknown")


def _timeline(copy: Warehouse, night: Night, staff_ref: str, hits: list[dict[str, Any]]) -> dict[str, Any]:
    """The window day by day: look-ups (with a purpose, without, off duty), messages by kind of
    contact, days off, and the days a check fired. Drawn as SVG by the template (no script)."""
    days = [night.window_start + timedelta(days=i) for i in range((night.as_of - night.window_start).days + 1)]
    lookups = {r["local_day"]: r for r in copy.records(
        "SELECT local_day, with_purpose, no_purpose, off_duty FROM lookups_daily WHERE staff_ref = $s", {"s": staff_ref})}
    messages: dict[date, dict[str, int]] = {}
    for r in copy.records("SELECT local_day, counterparty_kind, messages FROM messages_daily WHERE staff_ref = $s",
                          {"s": staff_ref}):
        messages.setdefault(r["local_day"], {})[r["counterparty_kind"]] = int(r["messages"] or 0)
    # A day off: rest, leave or sickness and no shift that day (a night shift's day counts as on duty).
    off = {r["local_day"] for r in copy.records(
        """SELECT local_day FROM duty_days WHERE staff_ref = $s GROUP BY local_day
           HAVING NOT bool_or(list_contains($on_duty, duty_type))""", {"s": staff_ref, "on_duty": list(ON_DUTY_TYPES)})}
    fired: dict[date, list[str]] = {}
    for h in hits:
        stamp = h["occurred_at"] or h["window_end"]
        if stamp is None:
            continue
        day = date.fromisoformat(_local_day(stamp, night.timezone))
        fired.setdefault(day, []).append(h["check_id"])
    top_lookups = max([int(lookups[d]["with_purpose"] + lookups[d]["no_purpose"]) for d in days if d in lookups] or [0]) or 1
    top_messages = max([sum(messages.get(d, {}).values()) for d in days] or [0]) or 1
    width, bar = 24, 18
    columns = []
    for i, d in enumerate(days):
        look = lookups.get(d, {})
        with_purpose, no_purpose = int(look.get("with_purpose") or 0), int(look.get("no_purpose") or 0)
        stacked, y = [], 0.0
        for kind in CONTACT_KINDS:
            n = messages.get(d, {}).get(kind, 0)
            if n:
                h = 80 * n / top_messages
                stacked.append({"kind": kind.replace(" ", "-"), "n": n, "y": y, "h": h, "label": kind})
                y += h
        columns.append({
            "x": i * width, "day": d, "label": local_date(d), "weekday": d.strftime("%a")[0],
            "with_purpose": with_purpose, "no_purpose": no_purpose,
            "purpose_h": 80 * with_purpose / top_lookups, "no_purpose_h": 80 * no_purpose / top_lookups,
            "off_duty": int(look.get("off_duty") or 0), "day_off": d in off, "messages": stacked,
            "message_total": sum(messages.get(d, {}).values()), "fired": sorted(set(fired.get(d, []))),
        })
    return {"columns": columns, "width": width * len(days), "bar": bar, "top_lookups": top_lookups,
            "top_messages": top_messages, "kinds": [(k.replace(" ", "-"), k) for k in CONTACT_KINDS]}


def _local_day(stamp: Any, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return stamp.astimezone(ZoneInfo(tz)).date().isoformat() if hasattr(stamp, "astimezone") else str(stamp)[:10]
