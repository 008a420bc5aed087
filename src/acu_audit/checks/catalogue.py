"""The check catalogue: ``sql/checks/<id>.sql`` with ``<id>.yaml`` metadata beside it.

Detection as code, after Sigma and elastic/detection-rules: each check is a
query that returns its hits (zero rows: nothing to see) plus metadata an
analyst can read. Parameter values live in ``configs/`` and are bound, never
formatted in; a check's version is a hash of its SQL and parameter values.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from acu_audit.resources import sql_dir

Category = Literal["S", "T", "U", "D", "I", "O", "M", "B"]
CATEGORY_NAMES: dict[str, str] = {
    "S": "Sexual misconduct (incl. abuse of position for a sexual purpose)",
    "T": "Theft and fraud",
    "U": "Unauthorised disclosure",
    "D": "Drugs",
    "I": "Inappropriate associations",
    "O": "Organised crime",
    "M": "Social media and messaging (the second S of STUDIOSB)",
    "B": "Business interests",
}

# Columns every check returns, in this order (the runner adds check_id and category).
# occurred_at: when the hit happened as people are shown it: the time of its latest evidence
#   row (a look-up's occurred_at, a message row's hour_start, a claim's claimed_start), so a hit
#   reads the same as the row beside it in a report card, a referral pack and a notebook.
# window_start, window_end: the span of the evidence (window_end exclusive); recency and the
#   lead's first_seen/last_seen are measured on them.
HIT_COLUMNS = ("staff_id", "occurred_at", "window_start", "window_end", "subject", "reason", "evidence", "weight")

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class CheckMeta(BaseModel):
    """Metadata of one check; validated for every check by one test."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z]_[a-z0-9_]+$")
    title: str = Field(min_length=10)
    category: Category
    status: Literal["stable", "experimental"]
    severity: Literal["low", "medium", "high", "critical"]
    risk: int = Field(ge=0, le=100)
    description: str = Field(min_length=40)
    seed_cases: list[str] = Field(min_length=1)
    false_positives: list[str] = Field(min_length=1)
    investigation_steps: list[str] = Field(min_length=1)
    parameters: dict[str, str] = Field(default_factory=dict)  # name -> what it means (values in configs/)
    evidence_tables: list[str] = Field(min_length=1)
    # Where its hits go: "leads" (evidence: calibrated, scored, listed) or "declarations" (a
    # compliance matter, such as undeclared contact with nothing specific beside it: the
    # declarations reminders, never the lead list).
    route: Literal["leads", "declarations"] = "leads"

    @field_validator("id")
    @classmethod
    def _letter_matches_category(cls, value: str, info: Any) -> str:
        category = info.data.get("category")
        if category and value[0] != category.lower():
            raise ValueError(f"check id {value!r} must start with its category letter {category.lower()!r}_")
        return value


@dataclass(frozen=True)
class Check:
    meta: CheckMeta
    sql: str
    path: Path

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def scores(self) -> bool:
        """Experimental checks run in shadow mode: hits are stored but do not score."""
        return self.meta.status == "stable"

    def sql_parameters(self) -> set[str]:
        return set(_PARAM.findall(_strip_comments(self.sql)))

    def version(self, params: dict[str, Any]) -> str:
        """Hash of the SQL and the parameter values it binds."""
        used = {k: params[k] for k in sorted(self.meta.parameters) if k in params}
        payload = self.sql + json.dumps(used, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def load_check(yaml_path: Path) -> Check:
    meta = CheckMeta.model_validate(yaml.safe_load(yaml_path.read_text(encoding="utf-8")))
    if meta.id != yaml_path.stem:
        raise ValueError(f"{yaml_path}: id {meta.id!r} does not match the file name")
    sql_path = yaml_path.with_suffix(".sql")
    return Check(meta=meta, sql=sql_path.read_text(encoding="utf-8").strip().rstrip(";"), path=sql_path)


@cache
def load_catalogue(directory: Path | None = None) -> tuple[Check, ...]:
    """Every check, sorted by id."""
    folder = directory or sql_dir() / "checks"
    return tuple(sorted((load_check(p) for p in folder.glob("*.yaml")), key=lambda c: c.id))


def check_by_id(check_id: str) -> Check:
    for check in load_catalogue():
        if check.id == check_id:
            return check
    raise KeyError(f"no check with id {check_id!r}")
