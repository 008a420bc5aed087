"""Pseudonyms for staff: ``staff_ref`` is a keyed hash (HMAC-SHA256) of the staff_id.

The key comes from ``ACU_AUDIT_SECRET``, or the file named by
``ACU_AUDIT_SECRET_FILE``, or ``<user config dir>/acu-audit/secret``. When none
exists the first run creates that file (mode 0600) and says where, because
losing it changes every staff_ref. The key never lives in the repository.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

import polars as pl

from acu_audit.db import Warehouse
from acu_audit.errors import AcuAuditError
from acu_audit.paths import env_path

SECRET_ENV = "ACU_AUDIT_SECRET"
SECRET_FILE_ENV = "ACU_AUDIT_SECRET_FILE"
REF_PREFIX = "sr-"


def default_secret_path() -> Path:
    return (env_path("XDG_CONFIG_HOME") or Path.home() / ".config") / "acu-audit" / "secret"


def load_secret(*, create: bool = True, notify: Callable[[str], None] | None = None) -> bytes:
    """Return the pseudonymisation key, creating the default key file on first use."""
    value = os.environ.get(SECRET_ENV)
    if value:
        return value.encode()
    path = env_path(SECRET_FILE_ENV) or default_secret_path()
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise AcuAuditError(f"the pseudonymisation key file {path} is empty")
        return text.encode()
    if not create:
        raise AcuAuditError(f"no pseudonymisation key: set {SECRET_ENV} or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    if notify:
        notify(
            f"created the pseudonymisation key {path} (mode 0600). Back it up: losing it changes every staff_ref."
        )
    return key.encode()


def staff_ref(key: bytes, staff_id: str) -> str:
    """The stable pseudonym of one staff_id."""
    return REF_PREFIX + hmac.new(key, staff_id.encode(), hashlib.sha256).hexdigest()[:12]


def register_staff_refs(wh: Warehouse, key: bytes, extra_ids: Iterable[str] = ()) -> int:
    """(Re)build the temp table ``staff_refs(staff_id, staff_ref)``.

    Covers every version of the staff table and every staff_id with a check hit (an
    unresolved reference is pseudonymised too), plus ``extra_ids``: everyone an output
    can mention.
    """
    ids: set[str] = set(extra_ids)
    for table in ("staff", "check_hits"):
        if wh.table_exists(table):
            ids.update(r[0] for r in wh.execute(f'SELECT DISTINCT staff_id FROM "{table}" WHERE staff_id IS NOT NULL'))
    ordered = sorted(ids)
    frame = pl.DataFrame({"staff_id": ordered, "staff_ref": [staff_ref(key, sid) for sid in ordered]}, schema={"staff_id": pl.String, "staff_ref": pl.String})
    wh.register_frame("staff_refs_frame", frame)
    wh.execute("CREATE OR REPLACE TEMP TABLE staff_refs AS SELECT * FROM staff_refs_frame", step="register staff refs")
    wh.unregister("staff_refs_frame")
    return len(ordered)


def ensure_staff_refs(wh: Warehouse, notify: Callable[[str], None] | None = None) -> None:
    """Build the temp table ``staff_refs`` once per connection (a run's nights share it)."""
    if not wh.table_exists("staff_refs"):  # a temp table: it lives as long as the connection
        register_staff_refs(wh, load_secret(notify=notify))


def restrict_file(path: Path) -> None:
    """Make an output readable by its owner only."""
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
