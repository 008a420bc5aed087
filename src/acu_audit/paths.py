"""Paths as a user types them, made absolute once, where they enter.

A path given on the command line, in an ``ACU_AUDIT_*`` variable or as a Prefect flow or
deployment parameter is made absolute by the entry point that receives it (relative to the
working folder at that moment). Nothing below the entry points depends on the working folder,
and third-party configuration (Great Expectations' Data Docs site, Prefect's home and result
storage) is only ever given absolute paths.
"""

from __future__ import annotations

import os
from pathlib import Path

# Prefect reads these when it is first imported; a relative value would follow the working folder.
PREFECT_PATH_SETTINGS = ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH")


def absolute(path: str | os.PathLike) -> Path:
    """``path`` made absolute against the working folder, ``~`` expanded, ``..`` folded; links are kept."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def absolute_or_none(path: str | os.PathLike | None) -> Path | None:
    return None if path is None or os.fspath(path) == "" else absolute(path)


def text_or_none(path: str | os.PathLike | None) -> str | None:
    """A path as the text a flow parameter carries (None stays None)."""
    return None if path is None else os.fspath(path)


def env_path(name: str) -> Path | None:
    """The path in environment variable ``name`` made absolute, or None when it is unset or empty."""
    return absolute_or_none(os.environ.get(name))


def absolute_prefect_settings() -> None:
    """Make the Prefect path settings in the environment absolute before Prefect is imported."""
    for name in PREFECT_PATH_SETTINGS:
        value = os.environ.get(name)
        if value:
            os.environ[name] = str(absolute(value))
