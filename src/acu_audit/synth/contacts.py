"""Who can be reached how: hashed counterparties, the contact directory, declarations.

Counterparties are opaque salted hashes (16 hex characters of sha256). The contact directory
knows staff numbers, case parties' numbers taken from case records, and businesses and partner
agencies; most family and friends of staff are, realistically, unknown to force systems (those on
the index whom staff contact undeclared are in :mod:`acu_audit.synth.acquaintances`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from acu_audit.contract import DECLARATION_KINDS, DECLARATION_STATUSES
from acu_audit.synth import names
from acu_audit.synth.clock import NEVER, Clock
from acu_audit.synth.force import Force
from acu_audit.synth.groups import Groups

DK = {name: i for i, name in enumerate(DECLARATION_KINDS)}
DS = {name: i for i, name in enumerate(DECLARATION_STATUSES)}
SOURCES = ("staff directory", "case record", "business register", "partner agency")
SRC = {name: i for i, name in enumerate(SOURCES)}
COLLEAGUE_CIRCLE = 24
PERSONAL_SLOTS = 4


class Counterparties:
    """Registry of counterparty labels; each label's hash is what the data carries."""

    def __init__(self, seed: int) -> None:
        self._salt = f"{seed}-acu-demo-force:"
        self.labels: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, label: str) -> int:
        i = self._index.get(label)
        if i is None:
            i = len(self.labels)
            self._index[label] = i
            self.labels.append(label)
        return i

    def add_many(self, labels: list[str]) -> np.ndarray:
        return np.array([self.add(x) for x in labels], dtype=np.int64)

    def hashes(self) -> np.ndarray:
        salt = self._salt
        return np.array([hashlib.sha256((salt + x).encode()).hexdigest()[:16] for x in self.labels], dtype=object)


@dataclass
class Organisations:
    org_id: np.ndarray
    name: np.ndarray
    is_business: np.ndarray
    cp: np.ndarray  # counterparty (e-mail or office phone)


@dataclass
class Declarations:
    staff: list = field(default_factory=list)
    kind: list = field(default_factory=list)
    person: list = field(default_factory=list)  # -1 none
    cp: list = field(default_factory=list)  # -1 none
    org: list = field(default_factory=list)  # -1 none
    relationship: list = field(default_factory=list)
    status: list = field(default_factory=list)  # final status
    declared_day: list = field(default_factory=list)
    decided_day: list = field(default_factory=list)  # NEVER: still pending
    conditions: list = field(default_factory=list)

    def add(self, staff: int, kind: str, person: int, cp: int, org: int, relationship: str, status: str, declared_day: int, decided_day: int, conditions: str | None) -> int:
        self.staff.append(staff); self.kind.append(DK[kind]); self.person.append(person); self.cp.append(cp)
        self.org.append(org); self.relationship.append(relationship); self.status.append(DS[status])
        self.declared_day.append(declared_day); self.decided_day.append(decided_day); self.conditions.append(conditions)
        return len(self.staff) - 1

    def of_staff(self, staff: int) -> list[int]:
        return [i for i, s in enumerate(self.staff) if s == staff]


@dataclass
class Contacts:
    """Counterparties per staff member, person and organisation, and what the directory knows."""

    registry: Counterparties
    staff_phone: np.ndarray
    staff_email: np.ndarray
    person_phone: np.ndarray  # -1: no number known
    person_email: np.ndarray
    person_listed_from: np.ndarray  # when the number entered the directory (NEVER: not listed)
    personal: np.ndarray  # [staff, PERSONAL_SLOTS] unknown private counterparties
    n_personal: np.ndarray
    heavy_personal: np.ndarray  # bool: heavy traffic with 1-2 private counterparties
    circle: np.ndarray  # [staff, COLLEAGUE_CIRCLE] colleague staff indices
    agencies: np.ndarray  # [staff, 3] organisation indices (partner agencies)
    orgs: Organisations
    declarations: Declarations
    phone_device: np.ndarray  # device ids (text)
    mail_device: np.ndarray
    extra_listed: list = field(default_factory=list)  # (cp, person, listed_from) added by scenarios

    def person_number(self, person: int, listed_from: int | None = None) -> int:
        """The person's phone counterparty, creating it (and listing it from ``listed_from``)."""
        if self.person_phone[person] < 0:
            self.person_phone[person] = self.registry.add(f"person-phone:{person}")
        if listed_from is not None:
            self.person_listed_from[person] = min(int(self.person_listed_from[person]), int(listed_from))
        return int(self.person_phone[person])

    def person_mail(self, person: int) -> int:
        if self.person_email[person] < 0:
            self.person_email[person] = self.registry.add(f"person-email:{person}")
        return int(self.person_email[person])


def build_contacts(rng: np.random.Generator, force: Force, clock: Clock, seed: int, case_persons: np.ndarray, case_first_open: np.ndarray,
                   noise: float = 1.0) -> Contacts:
    """Counterparties, colleague circles, organisations and declarations.

    ``noise`` (the ``noisy`` profile) scales the share of staff with heavy private traffic.
    ``case_persons``/``case_first_open``: every person on a case and when their first case opened
    (their number is in the directory from then, via the case record).
    """
    S, P = force.n_staff, force.n_persons
    reg = Counterparties(seed)
    staff_phone = reg.add_many([f"staff-phone:{s}" for s in force.staff_id])
    staff_email = reg.add_many([f"staff-email:{s}" for s in force.staff_id])

    # Case parties: most give a phone number, some an e-mail address.
    person_phone = np.full(P, -1, dtype=np.int64)
    person_email = np.full(P, -1, dtype=np.int64)
    listed = np.full(P, NEVER, dtype=np.int64)
    has_phone = case_persons[rng.random(len(case_persons)) < 0.7]
    person_phone[has_phone] = reg.add_many([f"person-phone:{p}" for p in has_phone])
    has_mail = case_persons[rng.random(len(case_persons)) < 0.3]
    person_email[has_mail] = reg.add_many([f"person-email:{p}" for p in has_mail])
    listed[case_persons] = case_first_open

    # Family and friends: unknown to force systems.
    n_personal = rng.choice([1, 2, 3, 4], size=S, p=[0.2, 0.35, 0.3, 0.15])
    personal = reg.add_many([f"private:{s}:{k}" for s in force.staff_id for k in range(PERSONAL_SLOTS)]).reshape(S, PERSONAL_SLOTS)
    heavy = rng.random(S) < 0.05 * noise

    # Colleague circles: mostly the same unit, some elsewhere in the force.
    by_unit = Groups(force.staff_unit, len(force.unit_name))
    same = by_unit.pick(rng, np.repeat(force.staff_unit, COLLEAGUE_CIRCLE)).reshape(S, COLLEAGUE_CIRCLE)
    anywhere = rng.integers(S, size=(S, COLLEAGUE_CIRCLE))
    circle = np.where(rng.random((S, COLLEAGUE_CIRCLE)) < 0.7, same, anywhere)
    me = np.arange(S)[:, None]
    circle = np.where(circle == me, anywhere, circle)
    circle = np.where(circle == me, (me + 1) % S, circle)  # never one's own number

    # Organisations: partner agencies, and small businesses that staff declare.
    n_bus = max(30, int(0.05 * S))
    bus_names = [f"{force.person_surname[rng.integers(P)]} {names.BUSINESS_WORDS[i % len(names.BUSINESS_WORDS)]}" for i in range(n_bus)]
    org_names = list(names.PARTNER_AGENCIES) + bus_names
    is_bus = np.array([False] * len(names.PARTNER_AGENCIES) + [True] * n_bus)
    org_id = np.array([f"ORG{10000 + i * 7 + int(rng.integers(7))}" for i in range(len(org_names))], dtype=object)
    org_cp = reg.add_many([f"org:{o}" for o in org_id])
    orgs = Organisations(org_id=org_id, name=np.array(org_names, dtype=object), is_business=is_bus, cp=org_cp)
    n_ag = len(names.PARTNER_AGENCIES)
    agencies = rng.integers(n_ag, size=(S, 3))

    contacts = Contacts(
        registry=reg, staff_phone=staff_phone, staff_email=staff_email, person_phone=person_phone,
        person_email=person_email, person_listed_from=listed, personal=personal, n_personal=n_personal,
        heavy_personal=heavy, circle=circle.astype(np.int32), agencies=agencies, orgs=orgs,
        declarations=Declarations(),
        phone_device=np.array([f"PH{x}" for x in rng.choice(9_000_000, S, replace=False) + 1_000_000], dtype=object),
        mail_device=np.array([f"MB{x}" for x in rng.choice(9_000_000, S, replace=False) + 1_000_000], dtype=object),
    )
    _declarations(rng, force, clock, contacts)
    return contacts


def _declarations(rng: np.random.Generator, force: Force, clock: Clock, c: Contacts) -> None:
    """Notifiable associations and business interests, mostly decided long before the period."""
    S = force.n_staff
    dec = c.declarations
    settled = np.flatnonzero(force.staff_start_day < -90)
    rel_by_staff = Groups(force.relative_staff, S, force.relative_person)
    adults = np.flatnonzero((force.person_staff < 0) & (force.person_birth_year > 0) & (force.person_birth_year < clock.start.year - 18))
    bus = np.flatnonzero(c.orgs.is_business)
    used_bus: set[int] = set()

    def past_days(s: int) -> tuple[int, int]:
        earliest = max(int(force.staff_start_day[s]) + 30, -3 * 365)
        declared = int(rng.integers(earliest, -40)) if earliest < -40 else -40
        return declared, declared + int(rng.integers(14, 40))

    def next_business() -> int:
        free = [b for b in bus if int(b) not in used_bus]
        b = int(free[int(rng.integers(len(free)))]) if free else int(bus[int(rng.integers(len(bus)))])
        used_bus.add(b)
        return b

    u = rng.random(len(settled))
    for s, x in zip(settled, u):
        s = int(s)
        if x < 0.08:  # approved association: a relative or friend with a record
            rels = rel_by_staff.of(s)
            if len(rels) and rng.random() < 0.7:
                p, relationship = int(rels[int(rng.integers(len(rels)))]), "family"
            else:
                p, relationship = int(adults[int(rng.integers(len(adults)))]), ("friend" if rng.random() < 0.7 else "partner")
            d0, d1 = past_days(s)
            cond = names.CONDITIONS_ASSOCIATION[int(rng.integers(2))] if rng.random() < 0.5 else None
            dec.add(s, "association", p, c.person_number(p), -1, relationship, "approved", d0, d1, cond)
        elif x < 0.11:  # approved business interest, with conditions
            b = next_business()
            d0, d1 = past_days(s)
            dec.add(s, "business_interest", -1, int(c.orgs.cp[b]), b, "business", "approved", d0, d1, names.CONDITIONS_BUSINESS[int(rng.integers(3))])
        elif x < 0.115:  # declined business interest (and, for innocents, given up)
            b = next_business()
            d0, d1 = past_days(s)
            dec.add(s, "business_interest", -1, int(c.orgs.cp[b]), b, "business", "declined", d0, d1, None)
        elif x < 0.117:  # withdrawn
            b = next_business()
            d0, d1 = past_days(s)
            dec.add(s, "business_interest", -1, int(c.orgs.cp[b]), b, "business", "withdrawn", d0, d1, None)
    # New declarations during (or just before) the period; some decided within it.
    n_new = max(2, int(round(S * 0.11 * (clock.days + 30) / 3650)))
    for s in rng.choice(settled, size=min(n_new, len(settled)), replace=False):
        s = int(s)
        d0 = int(rng.integers(-30, clock.days))
        d1 = d0 + int(rng.integers(10, 35))
        status = str(rng.choice(["approved", "approved", "approved", "approved", "declined", "withdrawn"]))
        if rng.random() < 0.6:
            p = int(adults[int(rng.integers(len(adults)))])
            dec.add(s, "association", p, c.person_number(p), -1, str(rng.choice(["friend", "partner", "family"])), status, d0, d1,
                    names.CONDITIONS_ASSOCIATION[0] if status == "approved" else None)
        else:
            b = next_business()
            dec.add(s, "business_interest", -1, int(c.orgs.cp[b]), b, "business", status, d0, d1,
                    names.CONDITIONS_BUSINESS[0] if status == "approved" else None)
