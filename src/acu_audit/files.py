"""How acu-audit writes files: readable by their owner only, and CSV cells a spreadsheet
will not run as formulas.

Every entry point (the CLI, the nightly flow, opening a DuckDB file) calls
:func:`owner_only`, which sets the process umask: files are created 0600 and folders 0700,
whoever creates them (DuckDB, polars, Prefect's result storage, our own writers). A team that
shares outputs through a group sets ``ACU_AUDIT_GROUP_READABLE=1``: 0640 and 0750.
"""

from __future__ import annotations

import os
import re
from typing import Any

import polars as pl

GROUP_READABLE_ENV = "ACU_AUDIT_GROUP_READABLE"
# OWASP CSV injection: a cell starting with one of these is run by a spreadsheet as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def file_umask() -> int:
    return 0o027 if os.environ.get(GROUP_READABLE_ENV, "").lower() in ("1", "true", "yes") else 0o077


def owner_only() -> None:
    """Create every later file owner-only (or group-readable when so configured)."""
    os.umask(file_umask())


def folder_mode() -> int:
    return 0o777 & ~file_umask()


def restrict_folder(path: os.PathLike | str) -> None:
    """An existing folder we write into (``--out``) gets the same mode as one we create."""
    os.chmod(path, folder_mode())


def neutralise_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, prefixed with ``'``; numbers (also ``"-3"``) left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """:func:`neutralise_cell` on every text column of a frame (before ``write_csv``)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    return frame.with_columns(
        pl.when(pl.any_horizontal(pl.col(c).str.starts_with(start) for start in FORMULA_START)
                & ~pl.col(c).str.contains(f"^{_NUMBER.pattern}$"))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )
