"""The data contract (``shared/data-contract.md``) as code.

Everything that reads, validates or generates landing files derives from the
table specifications here: the typed reader, the SQL quarantine rules, the
Great Expectations suites and the demo-force generator. Change the contract in
one place and every consumer follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["text", "int", "date", "timestamp", "enum"]
TableKind = Literal["event", "snapshot"]
# How each column type is stored in the warehouse (and typed when a file is staged).
SQL_TYPES: dict[str, str] = {"text": "VARCHAR", "enum": "VARCHAR", "int": "BIGINT", "date": "DATE", "timestamp": "TIMESTAMPTZ"}

UNIT_FUNCTIONS = (
    "response",
    "neighbourhood",
    "investigation",
    "public_protection",
    "roads_policing",
    "custody",
    "control_room",
    "intelligence",
    "exploitation",
    "professional_standards",
    "support",
    "other",
)
STAFF_ROLES = ("officer", "staff", "special", "volunteer", "contractor")
MARKERS = (
    "vulnerable",
    "domestic_abuse_victim",
    "sexual_offence_victim",
    "child",
    "ocg_member",
    "ocg_associate",
    "drugs_supply",
    "drugs_use",
    "violence",
    "weapons",
    "high_profile",
    "deceased",
)
CASE_TYPES = ("crime", "incident", "custody", "intelligence", "traffic_offence", "missing_person", "other")
CASE_ROLES = ("victim", "suspect", "offender", "witness", "reporter", "associate", "other")
ASSIGNMENT_ROLES = ("oic", "investigator", "attending", "supervisor", "support")
ACTIONS = ("search", "view", "create", "update", "delete", "print", "export", "screenshot")
RECORD_TYPES = ("person", "case", "vehicle", "log", "custody", "intelligence", "traffic_offence", "address")
CHANNELS = ("call", "sms", "email", "whatsapp", "other_im")
DIRECTIONS = ("out", "in")
DUTY_TYPES = ("duty", "overtime", "training", "leave", "sick", "rest")
ON_DUTY_TYPES = ("duty", "overtime", "training")
DECLARATION_KINDS = ("association", "business_interest")
DECLARATION_STATUSES = ("approved", "declined", "pending", "withdrawn")
CLAIM_TYPES = ("overtime", "on_call", "standard")


@dataclass(frozen=True)
class Column:
    """One contract column. ``nullable=False`` means an empty cell rejects the row."""

    name: str
    type: ColumnType = "text"
    nullable: bool = False
    values: tuple[str, ...] = ()  # allowed values for an enum
    min_value: int | None = None  # inclusive lower bound for an int


@dataclass(frozen=True)
class PairRule:
    """``later`` must be strictly after ``earlier`` when both are present."""

    later: str
    earlier: str


@dataclass(frozen=True)
class Reference:
    """A foreign reference that is kept and counted (not rejected) when unresolved."""

    column: str
    table: str
    target_column: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    kind: TableKind
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # A table with no id column gets a deterministic ``row_id`` (hash of the key).
    id_column: str | None = None
    optional: bool = False
    pair_rules: tuple[PairRule, ...] = ()
    references: tuple[Reference, ...] = ()
    time_column: str | None = None  # the event time, for events

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def row_id_column(self) -> str:
        return self.id_column or "row_id"

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _c(name: str, type: ColumnType = "text", nullable: bool = False, values: tuple[str, ...] = (), min_value: int | None = None) -> Column:
    return Column(name=name, type=type, nullable=nullable, values=values, min_value=min_value)


STAFF_REF = Reference("staff_id", "staff", "staff_id")
PERSON_REF = Reference("person_id", "persons", "person_id")

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        # --- snapshots (reference data) ---------------------------------------
        TableSpec(
            "staff",
            "snapshot",
            (
                _c("staff_id"),
                _c("surname"),
                _c("forenames"),
                _c("role", "enum", values=STAFF_ROLES),
                _c("unit"),
                _c("unit_function", "enum", values=UNIT_FUNCTIONS),
                _c("start_date", "date"),
                _c("end_date", "date", nullable=True),
                _c("home_postcode"),
                _c("home_address_id", nullable=True),
            ),
            key=("staff_id",),
            id_column="staff_id",
        ),
        TableSpec(
            "persons",
            "snapshot",
            (
                _c("person_id"),
                _c("surname"),
                _c("forenames"),
                _c("birth_year", "int", nullable=True, min_value=1880),
                _c("postcode", nullable=True),
                _c("address_id", nullable=True),
                _c("staff_id", nullable=True),
            ),
            key=("person_id",),
            id_column="person_id",
        ),
        TableSpec(
            "person_markers",
            "snapshot",
            (_c("person_id"), _c("marker", "enum", values=MARKERS), _c("added_at", "date")),
            key=("person_id", "marker"),
        ),
        TableSpec(
            "cases",
            "snapshot",
            (
                _c("case_id"),
                _c("case_type", "enum", values=CASE_TYPES),
                _c("opened_at", "timestamp"),
                _c("closed_at", "timestamp", nullable=True),
                _c("owning_unit", nullable=True),
            ),
            key=("case_id",),
            id_column="case_id",
            pair_rules=(PairRule("closed_at", "opened_at"),),
        ),
        TableSpec(
            "case_people",
            "snapshot",
            (_c("case_id"), _c("person_id"), _c("role", "enum", values=CASE_ROLES)),
            key=("case_id", "person_id", "role"),
        ),
        TableSpec(
            "assignments",
            "snapshot",
            (
                _c("case_id"),
                _c("staff_id"),
                _c("assigned_at", "timestamp"),
                _c("unassigned_at", "timestamp", nullable=True),
                _c("assignment_role", "enum", values=ASSIGNMENT_ROLES),
            ),
            key=("case_id", "staff_id", "assigned_at"),
            pair_rules=(PairRule("unassigned_at", "assigned_at"),),
        ),
        TableSpec(
            "operations",
            "snapshot",
            (_c("operation_id"), _c("executed_at", "timestamp"), _c("owning_unit")),
            key=("operation_id",),
            id_column="operation_id",
        ),
        TableSpec("operation_targets", "snapshot", (_c("operation_id"), _c("person_id")), key=("operation_id", "person_id")),
        TableSpec("operation_staff", "snapshot", (_c("operation_id"), _c("staff_id")), key=("operation_id", "staff_id")),
        TableSpec(
            "contact_directory",
            "snapshot",
            (
                _c("counterparty"),
                _c("person_id", nullable=True),
                _c("staff_id", nullable=True),
                _c("organisation_id", nullable=True),
                _c("source"),
            ),
            key=("counterparty",),
        ),
        TableSpec(
            "declarations",
            "snapshot",
            (
                _c("declaration_id"),
                _c("staff_id"),
                _c("kind", "enum", values=DECLARATION_KINDS),
                _c("person_id", nullable=True),
                _c("counterparty", nullable=True),
                _c("organisation_id", nullable=True),
                _c("relationship", nullable=True),
                _c("status", "enum", values=DECLARATION_STATUSES),
                _c("declared_at", "date"),
                _c("decided_at", "date", nullable=True),
                _c("conditions", nullable=True),
            ),
            key=("declaration_id",),
            id_column="declaration_id",
        ),
        # --- events (appended) --------------------------------------------------
        TableSpec(
            "access_events",
            "event",
            (
                _c("event_id"),
                _c("occurred_at", "timestamp"),
                _c("staff_id"),
                _c("system"),
                _c("action", "enum", values=ACTIONS),
                _c("record_type", "enum", values=RECORD_TYPES),
                _c("record_id"),
                _c("person_id", nullable=True),
                _c("case_id", nullable=True),
                _c("terminal_id", nullable=True),
                _c("reason_code", nullable=True),
            ),
            key=("event_id",),
            id_column="event_id",
            references=(STAFF_REF, PERSON_REF),
            time_column="occurred_at",
        ),
        TableSpec(
            "device_messages",
            "event",
            (
                _c("staff_id"),
                _c("device_id"),
                _c("channel", "enum", values=CHANNELS),
                _c("direction", "enum", values=DIRECTIONS),
                _c("counterparty"),
                _c("hour_start", "timestamp"),
                _c("message_count", "int", min_value=1),
                _c("duration_s", "int", nullable=True, min_value=0),
            ),
            key=("device_id", "channel", "direction", "counterparty", "hour_start"),
            references=(STAFF_REF,),
            time_column="hour_start",
        ),
        TableSpec(
            "duty_roster",
            "event",
            (
                _c("staff_id"),
                _c("shift_start", "timestamp"),
                _c("shift_end", "timestamp"),
                _c("duty_type", "enum", values=DUTY_TYPES),
            ),
            key=("staff_id", "shift_start", "duty_type"),
            pair_rules=(PairRule("shift_end", "shift_start"),),
            references=(STAFF_REF,),
            time_column="shift_start",
        ),
        TableSpec(
            "timesheets",
            "event",
            (
                _c("claim_id"),
                _c("staff_id"),
                _c("claimed_start", "timestamp"),
                _c("claimed_end", "timestamp"),
                _c("claim_type", "enum", values=CLAIM_TYPES),
            ),
            key=("claim_id",),
            id_column="claim_id",
            optional=True,
            pair_rules=(PairRule("claimed_end", "claimed_start"),),
            references=(STAFF_REF,),
            time_column="claimed_start",
        ),
    )
}

SNAPSHOT_TABLES = tuple(n for n, t in TABLES.items() if t.kind == "snapshot")
EVENT_TABLES = tuple(n for n, t in TABLES.items() if t.kind == "event")

# Patterns shared by the SQL quarantine and the GX suites, so both read the same rules.
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
INT_PATTERN = r"^[+-]?\d{1,18}$"

TYPE_DESCRIPTIONS = {
    "timestamp": "an ISO-8601 timestamp with a zone (e.g. 2026-03-04T21:15:00Z)",
    "date": "a date as YYYY-MM-DD",
    "int": "a whole number",
}


def table_for_filename(filename: str) -> tuple[str | None, str]:
    """Map a landing file name to (table, format); unknown files map to (None, 'unknown')."""
    for fmt, suffix in (("csv", ".csv"), ("parquet", ".parquet")):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            if stem in TABLES:
                return stem, fmt
    return None, "unknown"
