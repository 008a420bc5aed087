"""Locate the project's SQL and configuration files.

In a source checkout (the normal, editable install) they live at the top of the
repository beside ``src/``; a built wheel carries copies under
``acu_audit/_resources``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE_DIR.parents[1]


def _resource_dir(name: str) -> Path:
    for candidate in (_REPO_ROOT / name, _PACKAGE_DIR / "_resources" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the {name}/ directory beside the acu_audit package")


def sql_dir() -> Path:
    return _resource_dir("sql")


def configs_dir() -> Path:
    return _resource_dir("configs")


@cache
def read_sql(relative_path: str) -> str:
    """Return the text of ``sql/<relative_path>``."""
    return (sql_dir() / relative_path).read_text(encoding="utf-8")
