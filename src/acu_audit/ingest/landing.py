"""Find drops and files in a landing folder."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from acu_audit.contract import TABLES, table_for_filename
from acu_audit.ingest.records import RecordScanner

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
class Refusal:
    """A path in the landing that is not loaded and why: recorded in the ledger, never read."""

    drop_date: date
    path: Path
    reason: str

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Drop:
    drop_date: date
    path: Path
    files: tuple[LandingFile, ...]
    refused: tuple[Refusal, ...] = ()


def parse_drop_name(name: str) -> date | None:
    try:
        return date.fromisoformat(name) if len(name) == 10 else None
    except ValueError:
        return None


def _refusal(path: Path, root: Path, want_dir: bool) -> str | None:
    """Why a landing entry must not be read: a link, not a plain file or folder, or outside the landing."""
    try:
        info = path.lstat()
    except OSError as exc:
        return f"cannot be examined ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link; drops and their files must be real folders and files inside the landing"
    if want_dir and not stat.S_ISDIR(info.st_mode):
        return "not a folder"
    if not want_dir and not stat.S_ISREG(info.st_mode):
        return "not a regular file (a device, pipe or socket)"
    if not path.resolve().is_relative_to(root):
        return "resolves outside the landing folder"
    return None


def discover_drops(landing: Path, up_to: date | None = None) -> tuple[list[Drop], list[str]]:
    """Return the drops in drop-date order (up to ``up_to`` inclusive) and warnings.

    A folder whose name is not a date is reported, not loaded. Symbolic links, special
    files and anything that resolves outside the landing are refused (``Drop.refused``,
    recorded in the ledger). The landing folder itself may be a link or a mount point:
    it is resolved first, and everything under it is judged against that.
    """
    landing = Path(landing)
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder not found: {landing}")
    root = landing.resolve()
    drops: list[Drop] = []
    warnings: list[str] = []
    for entry in sorted(root.iterdir()):
        drop_date = parse_drop_name(entry.name)
        if entry.is_symlink() or not entry.is_dir():
            if drop_date is not None and (up_to is None or drop_date <= up_to):
                why = _refusal(entry, root, want_dir=True) or "not a folder"
                warnings.append(f"{entry}: refused: {why}")
                drops.append(Drop(drop_date, entry, (), (Refusal(drop_date, entry, why),)))
            continue
        if drop_date is None:
            warnings.append(f"{entry}: folder name is not a drop date (YYYY-MM-DD); not loaded")
            continue
        if up_to is not None and drop_date > up_to:
            continue
        files, refused = [], []
        for file in sorted(entry.iterdir()):
            if file.name.startswith("."):
                continue
            why = _refusal(file, root, want_dir=False)
            if why is not None:
                warnings.append(f"{file}: refused: {why}")
                refused.append(Refusal(drop_date, file, why))
                continue
            table, fmt = table_for_filename(file.name)
            files.append(LandingFile(drop_date, file, table, fmt))
        files.sort(key=lambda f: (_TABLE_ORDER.get(f.table or "", 1000), f.name))
        drops.append(Drop(drop_date, entry, tuple(files), tuple(refused)))
    drops.sort(key=lambda d: d.drop_date)
    return drops, warnings


class ChangedWhileRead(Exception):
    """The landing file changed (rewritten, or its name pointed elsewhere) while it was being read."""


@dataclass
class OpenedFile:
    """A landing file opened once, without following a link; every read goes through this descriptor.

    ``read_path`` names the open file itself (``/proc/self/fd/N`` on Linux), so DuckDB reads the
    very file that was hashed even if the name in the landing is swapped for a link meanwhile;
    :meth:`check_unchanged` then says whether it was rewritten while it was read.
    """

    path: Path  # as named in the landing (for messages)
    fd: int
    opened: os.stat_result

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def read_path(self) -> Path:
        through_fd = Path(f"/proc/self/fd/{self.fd}")
        return through_fd if through_fd.exists() else self.path

    def check_unchanged(self) -> None:
        """Raise :class:`ChangedWhileRead` when the file was rewritten since it was opened, or (where
        the descriptor cannot be read by name) its name now leads to another file."""
        now = os.fstat(self.fd)
        if (now.st_size, now.st_mtime_ns) != (self.opened.st_size, self.opened.st_mtime_ns):
            raise ChangedWhileRead("the file was rewritten while it was being loaded; it loads on the next run")
        if self.read_path == self.path:
            try:
                named = os.lstat(self.path)
            except OSError as exc:
                raise ChangedWhileRead("the file was moved while it was being loaded") from exc
            if stat.S_ISLNK(named.st_mode) or named.st_ino != self.opened.st_ino:
                raise ChangedWhileRead("the file was replaced while it was being loaded; it loads on the next run")


@contextmanager
def open_landing_file(path: Path) -> Iterator[OpenedFile]:
    """Open a landing file for reading, refusing a link or anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise ChangedWhileRead("not a regular file any more")
        yield OpenedFile(Path(path), fd, opened)
    finally:
        os.close(fd)


def sha256_of(opened: OpenedFile, chunk: int = 1 << 22, scanner: RecordScanner | None = None) -> tuple[str, int]:
    """Content hash and size of an opened landing file, streamed from its descriptor; feeds
    ``scanner`` the same bytes (one read)."""
    digest = hashlib.sha256()
    size = 0
    offset = 0
    while block := os.pread(opened.fd, chunk, offset):
        offset += len(block)
        digest.update(block)
        size += len(block)
        if scanner is not None:
            scanner.feed(block)
    if scanner is not None:
        scanner.finish()
    return digest.hexdigest(), size


def file_id_for(drop_date: date, file_name: str, content_sha256: str) -> str:
    """Stable id of one version of one landing file."""
    return hashlib.sha256(f"{drop_date.isoformat()}/{file_name}/{content_sha256}".encode()).hexdigest()[:24]
