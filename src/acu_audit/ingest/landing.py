"""Find drops and files in a landing folder."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from acu_audit.contract import TABLES, table_for_filename

# Within a drop, reference data loads before the events that point at it.
_TABLE_ORDER = {name: i for i, name in enumerate(n for n, t in TABLES.items() if t.kind == "snapshot")}
_TABLE_ORDER.update({name: 100 + i for i, name in enumerate(n for n, t in TABLES.items() if t.kind == "event")})


@dataclass(frozen=True)
class LandingFile:
    drop_date: date
    path: Path
    table: str | None  # None: not a contract table
    format: str  # csv | parquet | unknown

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Drop:
    drop_date: date
    path: Path
    files: tuple[LandingFile, ...]


def parse_drop_name(name: str) -> date | None:
    try:
        return date.fromisoformat(name) if len(name) == 10 else None
    except ValueError:
        return None


def discover_drops(landing: Path, up_to: date | None = None) -> tuple[list[Drop], list[str]]:
    """Return the drops in drop-date order (up to ``up_to`` inclusive) and warnings.

    A folder whose name is not a date is reported, not loaded.
    """
    landing = Path(landing)
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder not found: {landing}")
    drops: list[Drop] = []
    warnings: list[str] = []
    for entry in sorted(landing.iterdir()):
        if not entry.is_dir():
            continue
        drop_date = parse_drop_name(entry.name)
        if drop_date is None:
            warnings.append(f"{entry}: folder name is not a drop date (YYYY-MM-DD); not loaded")
            continue
        if up_to is not None and drop_date > up_to:
            continue
        files = []
        for file in sorted(entry.iterdir()):
            if not file.is_file() or file.name.startswith("."):
                continue
            table, fmt = table_for_filename(file.name)
            files.append(LandingFile(drop_date, file, table, fmt))
        files.sort(key=lambda f: (_TABLE_ORDER.get(f.table or "", 1000), f.name))
        drops.append(Drop(drop_date, entry, tuple(files)))
    drops.sort(key=lambda d: d.drop_date)
    return drops, warnings


def sha256_of(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """Content hash and size of a file, streamed."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def file_id_for(drop_date: date, file_name: str, content_sha256: str) -> str:
    """Stable id of one version of one landing file."""
    return hashlib.sha256(f"{drop_date.isoformat()}/{file_name}/{content_sha256}".encode()).hexdigest()[:24]
