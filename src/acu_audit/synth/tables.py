"""From integer frames to contract files: identifiers, enums, timestamps, nightly snapshots.

Snapshot tables are built once in full with the instant each row (or each changing cell)
becomes true; a night's snapshot is a filter "as of the end of that local day", and a table is
written on a night only when something in it changed that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from acu_audit.contract import (
    ACTIONS, ASSIGNMENT_ROLES, CASE_ROLES, CASE_TYPES, CHANNELS, CLAIM_TYPES, DECLARATION_KINDS,
    DECLARATION_STATUSES, DIRECTIONS, DUTY_TYPES, MARKERS, RECORD_TYPES, STAFF_ROLES, TABLES, UNIT_FUNCTIONS,
)
from acu_audit.synth.activity import RT, SYSTEMS
from acu_audit.synth.casework import CASE_PREFIX, Casework
from acu_audit.synth.clock import NEVER, Clock
from acu_audit.synth.contacts import SOURCES, SRC, Contacts
from acu_audit.synth.force import Force

EARLIEST = -(1 << 62)  # "always been there"


def _with_null(values) -> pl.Series:
    """Identifier series with a trailing null, so index -1 (mapped to the end) reads as null."""
    return pl.Series(list(values) + [None], dtype=pl.String)


def text(values) -> pl.Series:
    """A text series from a numpy/object array that may hold ``None``."""
    return pl.Series(np.asarray(values, dtype=object).tolist(), dtype=pl.String)


def int_or_null(values: np.ndarray, valid: np.ndarray) -> pl.Series:
    """An integer series, null where not ``valid``."""
    return pl.select(pl.when(pl.Series(np.asarray(valid, dtype=bool))).then(pl.Series(np.asarray(values, dtype=np.int64)))).to_series()


def take(ids: pl.Series, idx: np.ndarray) -> pl.Series:
    """``ids[idx]`` with ``-1`` → null (``ids`` built by :func:`_with_null`)."""
    idx = np.asarray(idx, dtype=np.int64)
    return ids.gather(np.where(idx >= 0, idx, len(ids) - 1))


def enum(values: tuple[str, ...], idx: np.ndarray) -> pl.Series:
    return take(_with_null(values), idx)


@dataclass
class Identifiers:
    """Text identifiers for every integer index used in the frames."""

    staff: pl.Series
    person: pl.Series
    case: pl.Series
    log: pl.Series
    address: pl.Series
    vrm: pl.Series
    unit: pl.Series
    postcode: pl.Series
    terminal: pl.Series
    counterparty: pl.Series
    org: pl.Series
    phone_device: np.ndarray
    mail_device: np.ndarray
    record_universe: pl.Series
    record_offset: dict[int, int]


def case_numbers(cw: Casework) -> tuple[np.ndarray, np.ndarray]:
    """Case ids by type in opening order ("CR0104512"), and incident log ids ("CAD-104512")."""
    a = cw.arrays()
    order = np.lexsort((np.arange(cw.n_cases), a["case_opened"], a["case_type"]))
    seq = np.empty(cw.n_cases, dtype=np.int64)
    t_sorted = a["case_type"][order]
    first_of_type = np.searchsorted(t_sorted, t_sorted, side="left")
    seq[order] = np.arange(cw.n_cases) - first_of_type + 100001
    prefixes = np.array([CASE_PREFIX[t] for t in CASE_TYPES], dtype=object)
    case_ids = np.array([f"{p}{n:07d}" for p, n in zip(prefixes[a["case_type"]], seq)], dtype=object)
    log_ids = np.array([f"CAD-{n}" for n in seq], dtype=object)
    return case_ids, log_ids


def build_identifiers(force: Force, cw: Casework, contacts: Contacts, terminal_names: np.ndarray, cp_hashes: np.ndarray) -> Identifiers:
    case_ids, log_ids = case_numbers(cw)
    parts = [force.person_id, case_ids, log_ids, force.vrm, force.address_id]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])[:-1]])
    universe = _with_null(np.concatenate(parts))
    kind_offset = {RT["person"]: 0, RT["vehicle"]: 3, RT["address"]: 4, RT["log"]: 2}
    rec_off = {rt: int(offsets[kind_offset.get(rt, 1)]) for rt in range(len(RECORD_TYPES))}
    return Identifiers(
        staff=_with_null(force.staff_id), person=_with_null(force.person_id), case=_with_null(case_ids), log=_with_null(log_ids),
        address=_with_null(force.address_id), vrm=_with_null(force.vrm), unit=_with_null(force.unit_name),
        postcode=_with_null(force.postcode), terminal=_with_null(terminal_names), counterparty=_with_null(cp_hashes),
        org=_with_null(contacts.orgs.org_id), phone_device=contacts.phone_device, mail_device=contacts.mail_device,
        record_universe=universe, record_offset=rec_off,
    )


# --- event tables ----------------------------------------------------------------------------
def access_events_text(ev: pl.DataFrame, ids: Identifiers, first_number: int) -> pl.DataFrame:
    """Contract columns for access events (``ev`` sorted; ids numbered from ``first_number``)."""
    n = ev.height
    rt = ev["rt"].to_numpy()
    rec = ev["rec"].to_numpy()
    off = np.array([ids.record_offset[i] for i in range(len(RECORD_TYPES))], dtype=np.int64)
    rec_idx = np.where(rec >= 0, off[rt] + rec, -1)
    sys_names = enum(SYSTEMS, ev["sys"].to_numpy())
    rcase = ev["rcase"].to_numpy()
    rnum = ev["rnum"].to_numpy()
    reason = take(ids.log, rcase)
    rnum_s = pl.Series(rnum)
    inc = pl.select(pl.when(rnum_s >= 0).then(pl.concat_str([pl.lit("INC-"), rnum_s.cast(pl.String)]))).to_series()
    reason = pl.select(pl.coalesce(reason, inc)).to_series()
    numbers = pl.Series(np.arange(first_number, first_number + n, dtype=np.int64))
    df = pl.DataFrame({
        "system": sys_names,
        "n": numbers,
        "t": ev["t"],
        "staff_id": take(ids.staff, ev["staff"].to_numpy()),
        "action": enum(ACTIONS, ev["act"].to_numpy()),
        "record_type": enum(RECORD_TYPES, rt),
        "record_id": take(ids.record_universe, rec_idx),
        "person_id": take(ids.person, ev["person"].to_numpy()),
        "case_id": take(ids.case, ev["case"].to_numpy()),
        "terminal_id": take(ids.terminal, ev["term"].to_numpy()),
        "reason_code": reason,
    })
    return df.with_columns(
        pl.concat_str([pl.col("system"), pl.lit("-"), pl.col("n").cast(pl.String).str.zfill(10)]).alias("event_id"),
        Clock.utc_iso("t").alias("occurred_at"),
    ).select(TABLES["access_events"].column_names)


def device_messages_text(dm: pl.DataFrame, ids: Identifiers) -> pl.DataFrame:
    staff = dm["staff"].to_numpy()
    dev = dm["dev"].to_numpy()
    device = np.where(dev == 0, ids.phone_device[staff], ids.mail_device[staff])
    dur = dm["dur"].to_numpy()
    df = pl.DataFrame({
        "staff_id": take(ids.staff, staff),
        "device_id": text(device),
        "channel": enum(CHANNELS, dm["ch"].to_numpy()),
        "direction": enum(DIRECTIONS, dm["dir"].to_numpy()),
        "counterparty": take(ids.counterparty, dm["cp"].to_numpy()),
        "hour": dm["hour"],
        "message_count": dm["cnt"].cast(pl.Int64),
        "duration_s": int_or_null(dur, dur >= 0),
    })
    return df.with_columns(Clock.utc_iso("hour").alias("hour_start")).select(TABLES["device_messages"].column_names)


def roster_text(staff: np.ndarray, start: np.ndarray, end: np.ndarray, duty: np.ndarray, ids: Identifiers) -> pl.DataFrame:
    """Duty roster rows; the duty-management system writes local time with an offset."""
    df = pl.DataFrame({"staff_id": take(ids.staff, staff), "s": pl.Series(start, dtype=pl.Int64), "e": pl.Series(end, dtype=pl.Int64), "duty_type": enum(DUTY_TYPES, duty)})
    return df.with_columns(Clock.local_iso("s").alias("shift_start"), Clock.local_iso("e").alias("shift_end")).select(TABLES["duty_roster"].column_names)


def timesheets_text(claim_no: np.ndarray, staff: np.ndarray, start: np.ndarray, end: np.ndarray, ctype: np.ndarray, ids: Identifiers) -> pl.DataFrame:
    df = pl.DataFrame({
        "claim_id": text([f"TS{n:08d}" for n in claim_no]), "staff_id": take(ids.staff, staff),
        "s": pl.Series(start, dtype=pl.Int64), "e": pl.Series(end, dtype=pl.Int64), "claim_type": enum(CLAIM_TYPES, ctype),
    })
    return df.with_columns(Clock.local_iso("s").alias("claimed_start"), Clock.local_iso("e").alias("claimed_end")).select(TABLES["timesheets"].column_names)


# --- snapshots -------------------------------------------------------------------------------
@dataclass
class Snapshot:
    """A full table with visibility instants, and the instants at which its content changes."""

    name: str
    frame: pl.DataFrame  # contract columns + "vis" (+ conditional helper columns)
    changes: np.ndarray
    conditional: tuple[tuple[str, str, object], ...] = ()  # (column, instant column, value before)

    def as_of(self, night_end: int) -> pl.DataFrame:
        df = self.frame.filter(pl.col("vis") < night_end)
        exprs = []
        for col, when_col, before in self.conditional:
            before_expr = pl.lit(before, dtype=pl.String) if before is not None else pl.lit(None, dtype=pl.String)
            exprs.append(pl.when(pl.col(when_col) < night_end).then(pl.col(col)).otherwise(before_expr).alias(col))
        if exprs:
            df = df.with_columns(exprs)
        return df.select(TABLES[self.name].column_names)

    def changed(self, t0: int, t1: int) -> bool:
        i = np.searchsorted(self.changes, t0, side="left")
        return i < len(self.changes) and self.changes[i] < t1


def _changes(*arrays: np.ndarray) -> np.ndarray:
    c = np.concatenate([np.asarray(a, dtype=np.int64) for a in arrays]) if arrays else np.zeros(0, dtype=np.int64)
    return np.unique(c[(c > EARLIEST) & (c < NEVER)])


def build_snapshots(force: Force, clock: Clock, cw: Casework, contacts: Contacts, ids: Identifiers, person_created: np.ndarray) -> list[Snapshot]:
    """All snapshot tables in full, with visibility instants."""
    a = cw.arrays()
    snaps: list[Snapshot] = []
    mid = lambda d: clock.midnight(np.asarray(d, dtype=np.int64))  # noqa: E731

    # staff: joiners appear on their start day; a leaver's end date once it is recorded.
    start_day = force.staff_start_day.astype(np.int64)
    end_day = force.staff_end_day.astype(np.int64)
    leaving = end_day < clock.days + 1
    vis = np.where(start_day >= 0, mid(np.clip(start_day, 0, clock.days)), EARLIEST)
    end_vis = np.where(leaving, mid(np.clip(end_day, 0, clock.days)), NEVER)
    staff = pl.DataFrame({
        "staff_id": ids.staff[:-1], "surname": text(force.staff_surname), "forenames": text(force.staff_forenames),
        "role": enum(STAFF_ROLES, force.staff_role), "unit": take(ids.unit, force.staff_unit), "unit_function": enum(UNIT_FUNCTIONS, force.staff_function()),
        "start_date": text(clock.date_text(start_day)),
        "end_date": text(np.where(leaving, clock.date_text(np.minimum(end_day, clock.days + 1)).astype(object), None)),
        "home_postcode": take(ids.postcode, force.address_postcode[force.staff_address]), "home_address_id": take(ids.address, force.staff_address),
        "vis": vis, "end_vis": end_vis,
    }).sort("staff_id")
    snaps.append(Snapshot("staff", staff, _changes(vis, end_vis), (("end_date", "end_vis", None),)))

    birth = force.person_birth_year
    persons = pl.DataFrame({
        "person_id": ids.person[:-1], "surname": text(force.person_surname), "forenames": text(force.person_forenames),
        "birth_year": int_or_null(birth, birth > 0), "postcode": take(ids.postcode, force.person_postcode),
        "address_id": take(ids.address, force.person_address), "staff_id": take(ids.staff, force.person_staff), "vis": person_created,
    }).sort("person_id")
    snaps.append(Snapshot("persons", persons, _changes(person_created)))

    mvis = np.maximum(mid(np.clip(force.marker_added_day, -clock.history_days, clock.days)), person_created[force.marker_person])
    mvis = np.where(force.marker_added_day < -clock.history_days, np.maximum(EARLIEST, person_created[force.marker_person]), mvis)
    markers = pl.DataFrame({
        "person_id": take(ids.person, force.marker_person), "marker": enum(MARKERS, force.marker_code),
        "added_at": text(clock.date_text(force.marker_added_day)), "vis": mvis,
    }).unique(["person_id", "marker"], keep="first", maintain_order=True).sort(["person_id", "marker"])
    snaps.append(Snapshot("person_markers", markers, _changes(mvis)))

    closed = a["case_closed"]
    cases = pl.DataFrame({
        "case_id": ids.case[:-1], "case_type": enum(CASE_TYPES, a["case_type"]), "o": a["case_opened"], "c": closed,
        "owning_unit": take(ids.unit, a["case_unit"]), "vis": a["case_opened"], "closed_vis": closed,
    }).with_columns(Clock.utc_iso("o").alias("opened_at"), pl.when(pl.col("c") < NEVER).then(Clock.utc_iso("c")).alias("closed_at")).sort(["o", "case_id"])
    snaps.append(Snapshot("cases", cases, _changes(a["case_opened"], closed), (("closed_at", "closed_vis", None),)))

    cp_ok = a["cp_person"] >= 0
    case_people = pl.DataFrame({
        "case_id": take(ids.case, a["cp_case"][cp_ok]), "person_id": take(ids.person, a["cp_person"][cp_ok]),
        "role": enum(CASE_ROLES, a["cp_role"][cp_ok]), "vis": a["case_opened"][a["cp_case"][cp_ok]],
    }).unique(["case_id", "person_id", "role"], keep="first", maintain_order=True).sort(["vis", "case_id", "role", "person_id"])
    snaps.append(Snapshot("case_people", case_people, _changes(case_people["vis"].to_numpy())))

    un = a["as_unassigned"]
    assignments = pl.DataFrame({
        "case_id": take(ids.case, a["as_case"]), "staff_id": take(ids.staff, a["as_staff"]), "a": a["as_assigned"], "u": un,
        "assignment_role": enum(ASSIGNMENT_ROLES, a["as_role"]), "vis": a["as_assigned"], "un_vis": un,
    }).with_columns(Clock.utc_iso("a").alias("assigned_at"), pl.when(pl.col("u") < NEVER).then(Clock.utc_iso("u")).alias("unassigned_at"))
    assignments = assignments.unique(["case_id", "staff_id", "assigned_at"], keep="first", maintain_order=True).sort(["a", "case_id", "staff_id"])
    snaps.append(Snapshot("assignments", assignments, _changes(a["as_assigned"], un), (("unassigned_at", "un_vis", None),)))

    op_ids = _with_null([f"OP{i:05d}" for i in range(cw.n_ops)])
    ops = pl.DataFrame({"operation_id": op_ids[:-1], "x": a["op_executed"], "owning_unit": take(ids.unit, a["op_unit"]), "vis": a["op_planned"]}).with_columns(
        Clock.utc_iso("x").alias("executed_at"))
    snaps.append(Snapshot("operations", ops, _changes(a["op_planned"])))
    targets = pl.DataFrame({"operation_id": take(op_ids, a["ot_op"]), "person_id": take(ids.person, a["ot_person"]), "vis": a["op_planned"][a["ot_op"]]}).unique(
        ["operation_id", "person_id"], keep="first", maintain_order=True)
    snaps.append(Snapshot("operation_targets", targets, _changes(a["op_planned"])))
    briefed = pl.DataFrame({"operation_id": take(op_ids, a["os_op"]), "staff_id": take(ids.staff, a["os_staff"]), "vis": a["op_planned"][a["os_op"]]}).unique(
        ["operation_id", "staff_id"], keep="first", maintain_order=True)
    snaps.append(Snapshot("operation_staff", briefed, _changes(a["op_planned"])))

    # contact directory: staff, case parties (from their first case), businesses and agencies.
    S = force.n_staff
    staff_vis = vis
    c = contacts
    listed = c.person_listed_from
    persons_phone = np.flatnonzero((c.person_phone >= 0) & (listed < NEVER))
    persons_mail = np.flatnonzero((c.person_email >= 0) & (listed < NEVER))
    cp = np.concatenate([c.staff_phone, c.staff_email, c.person_phone[persons_phone], c.person_email[persons_mail], c.orgs.cp])
    person = np.concatenate([np.full(2 * S, -1), persons_phone, persons_mail, np.full(len(c.orgs.cp), -1)])
    staff_col = np.concatenate([np.arange(S), np.arange(S), np.full(len(persons_phone) + len(persons_mail) + len(c.orgs.cp), -1)])
    org = np.concatenate([np.full(2 * S + len(persons_phone) + len(persons_mail), -1), np.arange(len(c.orgs.cp))])
    src = np.concatenate([np.full(2 * S, SRC["staff directory"]), np.full(len(persons_phone) + len(persons_mail), SRC["case record"]),
                          np.where(c.orgs.is_business, SRC["business register"], SRC["partner agency"])])
    dvis = np.concatenate([staff_vis, staff_vis, np.maximum(listed[persons_phone], person_created[persons_phone]),
                           np.maximum(listed[persons_mail], person_created[persons_mail]), np.full(len(c.orgs.cp), EARLIEST)])
    directory = pl.DataFrame({
        "counterparty": take(ids.counterparty, cp), "person_id": take(ids.person, person), "staff_id": take(ids.staff, staff_col),
        "organisation_id": take(ids.org, org), "source": enum(SOURCES, src), "vis": dvis,
    }).unique(["counterparty"], keep="first", maintain_order=True).sort(["counterparty"])
    snaps.append(Snapshot("contact_directory", directory, _changes(dvis)))

    d = c.declarations
    n = len(d.staff)
    dec_day = np.asarray(d.declared_day, dtype=np.int64)
    decided = np.asarray(d.decided_day, dtype=np.int64)
    dvis = np.where(dec_day < -clock.history_days, EARLIEST, mid(np.clip(dec_day, -clock.history_days, clock.days)))
    decided_vis = np.where(decided >= NEVER, NEVER, np.where(decided < -clock.history_days, EARLIEST, mid(np.clip(decided, -clock.history_days, clock.days + 1))))
    decl = pl.DataFrame({
        "declaration_id": text([f"DEC{10000 + i}" for i in range(n)]), "staff_id": take(ids.staff, np.asarray(d.staff)),
        "kind": enum(DECLARATION_KINDS, np.asarray(d.kind)), "person_id": take(ids.person, np.asarray(d.person)),
        "counterparty": take(ids.counterparty, np.asarray(d.cp)), "organisation_id": take(ids.org, np.asarray(d.org)),
        "relationship": text(d.relationship), "status": enum(DECLARATION_STATUSES, np.asarray(d.status)),
        "declared_at": text(clock.date_text(dec_day)),
        "decided_at": text(np.where(decided < NEVER, clock.date_text(np.minimum(decided, 10**6)).astype(object), None)),
        "conditions": text(d.conditions), "vis": dvis, "decided_vis": decided_vis,
    })
    snaps.append(Snapshot("declarations", decl, _changes(dvis, decided_vis),
                          (("status", "decided_vis", "pending"), ("decided_at", "decided_vis", None), ("conditions", "decided_vis", None))))
    return snaps


def write_csv(df: pl.DataFrame, path: Path) -> int:
    df.write_csv(path)
    return df.height
