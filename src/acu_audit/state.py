"""Analyst state: statuses, notes, suppressions, reveals, the audit log and the lead registry.

Kept in its own DuckDB file beside the warehouse (``<db>.state.duckdb`` unless
``--state`` names another), because none of it can be rebuilt from landing.
The schema is versioned: ``sql/state/NNN_*.sql`` are migrations applied in
order and recorded in ``schema_version``. Connections wait briefly for a busy
file and then fail with a clear "database busy" message.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from acu_audit.contract import RECORD_TYPES
from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError
from acu_audit.resources import sql_dir

STATUSES = ("new", "reviewing", "referred", "no_further_action")
NOTE_REQUIRED = ("referred", "no_further_action")  # decisions: the note says why
# What a check's hit can be about (its ``subject``): ``<kind>:<id>``. A pair suppression's
# subject must take this form, or it could never match a hit.
SUBJECT_KINDS = (*RECORD_TYPES, "operation", "organisation", "counterparty", "channel")
_SUBJECT = re.compile(r"(?P<kind>[a-z_]+):(?P<id>\S.*)")


def required_text(text: str | None, message: str) -> str:
    """``text`` without surrounding blanks, or ``AcuAuditError(message)`` when there is none."""
    if not (text and text.strip()):
        raise AcuAuditError(message)
    return text.strip()


def require_reveal_reason(reason: str | None, scope: str) -> str:
    """Every deliberate reveal of identities says why; call before showing or writing anything."""
    return required_text(reason, f"revealing identities ({scope}) needs a reason (--reason); it is recorded")


def validate_subject(subject: str) -> str:
    """A suppression subject as hits name it (``person:P123``, or ``vehicle look-ups`` for a
    burst of one record type), or a clear error."""
    match = _SUBJECT.fullmatch(subject.strip())
    burst = subject.strip().removesuffix(" look-ups") in SUBJECT_KINDS and subject.strip().endswith(" look-ups")
    if not burst and (not match or match["kind"] not in SUBJECT_KINDS):
        raise AcuAuditError(
            f"subject {subject!r} can never match a hit: write it as <kind>:<id>, e.g. person:{subject.strip() or 'P123'}; "
            f"kinds: {', '.join(SUBJECT_KINDS)}"
        )
    return subject.strip()
_MIGRATION = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def default_state_path(db: str | Path) -> Path:
    db = Path(db)
    return db.with_name(db.stem + ".state.duckdb")


def current_actor(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers)
        return os.environ.get("USER") or "unknown"


def migrations() -> list[tuple[int, Path]]:
    found = []
    for path in sorted((sql_dir() / "state").glob("*.sql")):
        match = _MIGRATION.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


class StateStore:
    """The analyst-state database; open it with :func:`open_state`."""

    def __init__(self, path: Path | None, *, busy_timeout_s: float = 10.0, read_only: bool = False) -> None:
        self.path = None if path is None else Path(path)  # None: in memory (a replay's scratch copy)
        self.read_only = read_only
        self.db = Warehouse(self.path, busy_timeout_s=busy_timeout_s, read_only=read_only)

    # -- schema ----------------------------------------------------------------
    @property
    def version(self) -> int:
        if not self.db.table_exists("schema_version"):
            return 0
        return self.db.scalar("SELECT coalesce(max(version), 0) FROM schema_version") or 0

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; return those applied."""
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
        )
        applied = []
        current = self.version
        for number, path in migrations():
            if number <= current:
                continue
            with self.db.transaction():
                self.db.run_text(path.read_text(encoding="utf-8"), step=f"migration {path.name}")
                self.db.execute(
                    "INSERT INTO schema_version VALUES ($v, $n, now())", {"v": number, "n": path.name}, step="record migration"
                )
            applied.append(number)
        return applied

    # -- audit -----------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> None:
        self.db.execute(
            "INSERT INTO audit_log VALUES (now(), $actor, $action, $target, $detail)",
            {"actor": actor, "action": action, "target": target, "detail": json.dumps(detail or {}, default=str, sort_keys=True)},
            step="audit log",
        )

    def record_reveal(
        self, actor: str, reason: str | None, scope: str, as_of: date | None, detail: dict | None = None,
        *, reason_required: bool = True,
    ) -> None:
        """A reveal of identities is itself recorded, with its reason.

        A reason is required, except for ``run --reveal-identities``, which keeps the data
        contract's form: it records "not given" and the run warns (``reason_required=False``).
        """
        if reason_required:
            require_reveal_reason(reason, scope)
        reason = reason.strip() if reason and reason.strip() else "not given"
        self.db.execute(
            "INSERT INTO reveals VALUES (now(), $actor, $reason, $scope, $as_of, $detail)",
            {"actor": actor, "reason": reason, "scope": scope, "as_of": as_of, "detail": json.dumps(detail or {}, default=str)},
            step="record reveal",
        )
        self.audit(actor, "reveal_identities", scope, {"reason": reason, "as_of": as_of, **(detail or {})})

    def record_view(self, actor: str, lead_id: str, *, reveal: bool, reason: str | None) -> None:
        """A lead was shown (with identities when ``reveal``): one entry, and the reveal, together.

        Called once what is shown has been read: a view refused (no reason for a reveal, no such
        lead) leaves no entry.
        """
        if reveal:
            require_reveal_reason(reason, "lead")
        with self.db.transaction():
            self.audit(actor, "show_lead", lead_id, {"revealed": reveal})
            if reveal:
                self.record_reveal(actor, reason, "lead", None, {"lead_id": lead_id})

    # -- statuses ---------------------------------------------------------------
    def lead(self, lead_id: str) -> dict[str, Any]:
        rows = self.db.records("SELECT * FROM leads WHERE lead_id = $l", {"l": lead_id})
        if not rows:
            raise AcuAuditError(f"no lead {lead_id!r} in {self.path}")
        return rows[0]

    def set_status(self, lead_id: str, status: str, actor: str, note: str | None = None) -> None:
        """Change a lead's status. Closing it or referring it is a decision: it needs a note."""
        if status not in STATUSES:
            raise AcuAuditError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
        if status in NOTE_REQUIRED:
            required_text(note, f"setting a lead to {status} needs a note saying why (--note)")
        lead = self.lead(lead_id)
        with self.db.transaction():
            self.db.execute(
                """UPDATE leads SET status = $s, status_changed_at = now(), status_actor = $a,
                          closed_last_seen = CASE WHEN $s = 'no_further_action' THEN last_seen ELSE NULL END,
                          -- referred: new evidence after this is flagged; closed: the review tier is left
                          referred_last_seen = CASE WHEN $s = 'referred' THEN last_seen ELSE referred_last_seen END,
                          review_since = CASE WHEN $s = 'no_further_action' THEN NULL ELSE review_since END
                   WHERE lead_id = $l""",
                {"s": status, "a": actor, "l": lead_id},
                step="set lead status",
            )
            if note:
                self.db.execute(
                    "INSERT INTO lead_notes VALUES ($l, now(), $a, $s, $n)", {"l": lead_id, "a": actor, "s": status, "n": note}
                )
            self.audit(actor, "set_status", lead_id, {"from": lead["status"], "to": status, "note": note})

    def assign(self, lead_id: str, to: str, actor: str) -> None:
        """Give a lead to an analyst (``to``: a name; an empty name takes it back to nobody)."""
        to = (to or "").strip()
        if len(to) > 100 or any(not ch.isprintable() for ch in to):
            raise AcuAuditError("an assignee is a name of at most 100 printable characters")
        lead = self.lead(lead_id)
        with self.db.transaction():
            self.db.execute(
                "UPDATE leads SET assignee = $to, assigned_at = CASE WHEN $to IS NULL THEN NULL ELSE now() END WHERE lead_id = $l",
                {"to": to or None, "l": lead_id},
                step="assign lead",
            )
            self.audit(actor, "assign_lead", lead_id, {"from": lead.get("assignee"), "to": to or None})

    # -- the queue: leads and each night's list ---------------------------------------
    def latest_leads(self, staff_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each member of staff's latest lead (by episode start), whatever its status."""
        return {r["staff_id"]: r for r in self.db.records(
            """SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY staff_id ORDER BY episode_start DESC) AS rn
                              FROM leads WHERE staff_id IN (SELECT unnest($ids))) WHERE rn = 1""",
            {"ids": staff_ids},
            step="latest leads",
        )}

    def lists_before(self, as_of: date) -> dict[str, dict[str, Any]]:
        """Each lead's row in the last list kept before night ``as_of``."""
        return {r["lead_id"]: r for r in self.db.records(
            """SELECT * FROM (
                   SELECT *, row_number() OVER (PARTITION BY lead_id ORDER BY as_of DESC) AS rn
                   FROM lead_versions WHERE as_of < $d) WHERE rn = 1""",
            {"d": as_of},
            step="previous lists",
        )}

    def open_leads_except(self, lead_ids: list[str]) -> list[dict[str, Any]]:
        """Every open lead (``new``, ``reviewing``, ``referred``) but these, by lead_id."""
        return self.db.records(
            """SELECT * FROM leads WHERE status IN ('new', 'reviewing', 'referred')
                 AND lead_id NOT IN (SELECT unnest($m)) ORDER BY lead_id""",
            {"m": lead_ids},
            step="open leads to carry",
        )

    def keep_night(self, as_of: date, run_id: str, *, new_leads: list[tuple], extended: list[tuple],
                   reopen: list[tuple[str, str]], review_since: list[tuple[str, date | None]], versions: list[dict[str, Any]],
                   version_schema: dict[str, Any]) -> None:
        """Keep a night's queue in one transaction: leads created, extended and reopened (each reopening
        in the audit log), the review tier's entry dates, and the night's list (replacing any kept before)."""
        stamp = pl.Datetime("us", "UTC")
        # One statement per kind of change, not one per lead (a 40,000-staff night extends ~1,500).
        latest_entry = dict(review_since)  # the last entry of a lead stands
        with self.db.transaction(), \
                self.db.rows_as("night_new_leads", new_leads, {"lead_id": pl.String, "staff_id": pl.String, "staff_ref": pl.String,
                                                                "episode_start": pl.Date, "first_seen": stamp, "last_seen": stamp,
                                                                "created_as_of": pl.Date}), \
                self.db.rows_as("night_extended", extended, {"first_seen": stamp, "last_seen": stamp, "lead_id": pl.String}), \
                self.db.rows_as("night_review_since", list(latest_entry.items()), {"lead_id": pl.String, "review_since": pl.Date}):
            self.db.execute(
                """INSERT INTO leads (lead_id, staff_id, staff_ref, episode_start, first_seen, last_seen, created_as_of, status)
                   SELECT *, 'new' FROM night_new_leads ON CONFLICT DO NOTHING""",
                step="create leads",
            )
            self.db.execute(
                """UPDATE leads SET first_seen = least(leads.first_seen, e.first_seen), last_seen = greatest(leads.last_seen, e.last_seen)
                   FROM (SELECT lead_id, min(first_seen) AS first_seen, max(last_seen) AS last_seen FROM night_extended GROUP BY lead_id) e
                   WHERE leads.lead_id = e.lead_id""",
                step="extend leads",
            )
            for lead_id, what in reopen:
                self.db.execute(
                    """UPDATE leads SET status = 'new', status_changed_at = now(), status_actor = 'acu-audit', review_since = NULL
                       WHERE lead_id = $l""",
                    {"l": lead_id},
                )
                self.audit("acu-audit", "reopen_lead", lead_id, {"as_of": as_of, "what_is_new": what})
            self.db.execute(
                """UPDATE leads SET review_since = r.review_since FROM night_review_since r
                   WHERE leads.lead_id = r.lead_id AND leads.review_since IS DISTINCT FROM r.review_since""",
                step="keep tiers",
            )
            self.db.execute("DELETE FROM lead_versions WHERE as_of = $d", {"d": as_of}, step="replace tonight's list")
            published_at = datetime.now(timezone.utc)
            self.db.insert_rows(
                "lead_versions",
                [{**v, "as_of": as_of, "run_id": run_id, "published_at": published_at} for v in versions],
                version_schema,
                step="keep tonight's list",
            )

    # -- nights: first publication and replay ------------------------------------------
    def latest_night(self) -> date | None:
        """The latest night whose list the queue holds (published or reviewed)."""
        return self.db.scalar("SELECT max(as_of) FROM lead_versions")

    def first_published_at(self, as_of: date) -> datetime | None:
        """When ``as_of``'s list was first kept (None: never)."""
        return self.db.scalar("SELECT min(published_at) FROM lead_versions WHERE as_of = $d", {"d": as_of})

    def snapshot_before(self, as_of: date) -> None:
        """Keep the lead state as night ``as_of`` first finds it (before its list changes it)."""
        with self.db.transaction():
            self.db.execute("DELETE FROM lead_snapshots WHERE as_of = $d", {"d": as_of})
            self.db.execute("DELETE FROM snapshot_nights WHERE as_of = $d", {"d": as_of})
            self.db.execute("INSERT INTO lead_snapshots SELECT $d, * FROM leads", {"d": as_of}, step="snapshot the lead state")
            self.db.execute("INSERT INTO snapshot_nights VALUES ($d, now())", {"d": as_of})

    def replay_copy(self, as_of: date) -> StateStore:
        """A scratch, in-memory state holding what night ``as_of`` first found: its lead snapshot and
        every earlier night's list. Running the night's queue there reproduces its first list and
        changes nothing here."""
        if not self.db.scalar("SELECT count(*) > 0 FROM snapshot_nights WHERE as_of = $d", {"d": as_of}):
            raise AcuAuditError(f"the night of {as_of} has no kept lead state to replay from; it was first "
                                "published before acu-audit kept one (run it again after a rebuild)")
        scratch = StateStore(None)
        scratch.migrate()
        for table, sql in (
            ("leads", "SELECT * EXCLUDE (as_of) FROM lead_snapshots WHERE as_of = $d"),
            ("lead_versions", "SELECT * FROM lead_versions WHERE as_of < $d"),
        ):
            frame = self.db.frame(sql, {"d": as_of}, step=f"replay: {table}")
            scratch.db.register_frame("replay_frame", frame)
            scratch.db.execute(f"INSERT INTO {table} BY NAME SELECT * FROM replay_frame", step=f"replay: {table}")
            scratch.db.unregister("replay_frame")
        return scratch

    def suppressions_as_first_published(self, as_of: date) -> list[dict[str, Any]]:
        """The suppressions in force on ``as_of`` as they stood when its list was first kept."""
        return self.db.records(
            """SELECT suppression_id, kind, staff_id, check_id, subject FROM suppressions
               WHERE expires_on >= $d AND created_at <= $t AND (revoked_at IS NULL OR revoked_at > $t)
               ORDER BY suppression_id""",
            {"d": as_of, "t": self.first_published_at(as_of)},
        )

    # -- suppressions -------------------------------------------------------------
    def add_suppression(
        self,
        *,
        kind: str,
        reason: str,
        owner: str,
        expires_on: date,
        actor: str,
        staff_id: str | None = None,
        staff_ref: str | None = None,
        check_id: str | None = None,
        subject: str | None = None,
    ) -> int:
        if not reason.strip():
            raise AcuAuditError("a suppression needs a reason")
        if subject is not None:
            validate_subject(subject)
        if expires_on <= datetime.now(timezone.utc).date():
            raise AcuAuditError(f"expiry {expires_on} is not in the future")
        with self.db.transaction():
            suppression_id = self.db.scalar(
                """INSERT INTO suppressions (kind, staff_id, staff_ref, check_id, subject, reason, owner, created_by, created_at, expires_on)
                   VALUES ($kind, $staff_id, $staff_ref, $check_id, $subject, $reason, $owner, $actor, now(), $expires)
                   RETURNING suppression_id""",
                {
                    "kind": kind,
                    "staff_id": staff_id,
                    "staff_ref": staff_ref,
                    "check_id": check_id,
                    "subject": subject,
                    "reason": reason,
                    "owner": owner,
                    "actor": actor,
                    "expires": expires_on,
                },
                step="add suppression",
            )
            self.audit(actor, "suppress", f"suppression:{suppression_id}",
                       {"kind": kind, "staff_ref": staff_ref, "check_id": check_id, "subject": subject, "expires_on": expires_on})
        return suppression_id

    def active_suppressions(self, on: date) -> list[dict[str, Any]]:
        """Suppressions in force on ``on``; expired and revoked ones stop applying by themselves."""
        return self.db.records(
            """SELECT suppression_id, kind, staff_id, check_id, subject FROM suppressions
               WHERE expires_on >= $d AND revoked_at IS NULL ORDER BY suppression_id""",
            {"d": on},
        )

    def list_suppressions(self, *, include_ended: bool = False, on: date | None = None) -> list[dict[str, Any]]:
        """Suppressions (pseudonymised: staff_ref, never staff_id) with their state on ``on`` (default today)."""
        on = on or datetime.now(timezone.utc).date()
        rows = self.db.records(
            """SELECT suppression_id, kind, staff_ref, check_id, subject, reason, owner, created_by, created_at,
                      expires_on, revoked_at, revoked_by, revoke_reason,
                      CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_on < $d THEN 'expired'
                           ELSE 'active' END AS state
               FROM suppressions ORDER BY suppression_id""",
            {"d": on},
        )
        return rows if include_ended else [r for r in rows if r["state"] == "active"]

    def revoke_suppression(self, suppression_id: int, actor: str, reason: str) -> None:
        """End a suppression now; it is kept, with who revoked it and why."""
        reason = required_text(reason, "revoking a suppression needs a reason (--reason)")
        rows = self.db.records("SELECT revoked_at FROM suppressions WHERE suppression_id = $i", {"i": suppression_id})
        if not rows:
            raise AcuAuditError(f"no suppression {suppression_id} in {self.path}")
        if rows[0]["revoked_at"] is not None:
            raise AcuAuditError(f"suppression {suppression_id} was already revoked on {rows[0]['revoked_at']:%Y-%m-%d}")
        with self.db.transaction():
            self.db.execute(
                "UPDATE suppressions SET revoked_at = now(), revoked_by = $a, revoke_reason = $r WHERE suppression_id = $i",
                {"a": actor, "r": reason, "i": suppression_id},
                step="revoke suppression",
            )
            self.audit(actor, "revoke_suppression", f"suppression:{suppression_id}", {"reason": reason})

    def audit_entries(self, *, since: date | None = None, actor: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The audit log, newest first; ``since`` a date (inclusive, UTC), ``actor`` exact."""
        return self.db.records(
            """SELECT * FROM audit_log
               WHERE ($since IS NULL OR recorded_at >= CAST($since AS TIMESTAMPTZ)) AND ($actor IS NULL OR actor = $actor)
               ORDER BY recorded_at DESC LIMIT coalesce($limit, 1000000)""",
            {"since": since, "actor": actor, "limit": limit},
            step="read the audit log",
        )

    def close(self) -> None:
        self.db.close()


@contextmanager
def open_state(path: Path, *, create: bool = False, read_only: bool = False,
               busy_timeout_s: float = 10.0) -> Iterator[StateStore]:
    """Open the analyst-state database, migrating it as needed.

    Only the nightly run creates it (``create``): an analyst command that finds no file says
    which file it looked for and creates nothing, not even its folder. ``read_only`` opens it
    for reading alone (no migration), as the read commands do.
    """
    path = Path(path)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.is_file():
        raise AcuAuditError(
            f"no analyst-state file at {path}: the first `acu-audit run` creates it "
            "(or give --state, or --db for the warehouse it sits beside)"
        )
    store = StateStore(path, busy_timeout_s=busy_timeout_s, read_only=read_only)
    try:
        if not read_only:
            store.migrate()
        yield store
    finally:
        store.close()
