"""Files the project writes: owner-only, and CSV cells a spreadsheet will not run."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import polars as pl
import pytest

from acu_audit.files import file_umask, neutralise_cell, neutralise_frame


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+44 1234", "'+44 1234"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("-3", "-3"),
        ("+2.5e3", "+2.5e3"),
        (-3, -3),
        ("plain text", "plain text"),
        (None, None),
    ],
)
def test_formula_cells_are_neutralised_and_numbers_left_alone(value, expected):
    assert neutralise_cell(value) == expected
    if isinstance(value, str):
        frame = neutralise_frame(pl.DataFrame({"c": [value], "n": [-3]}))
        assert frame["c"][0] == expected and frame["n"][0] == -3


def test_group_mode_is_configurable(monkeypatch):
    monkeypatch.delenv("ACU_AUDIT_GROUP_READABLE", raising=False)
    assert file_umask() == 0o077
    monkeypatch.setenv("ACU_AUDIT_GROUP_READABLE", "1")
    assert file_umask() == 0o027


def loose_entries(*roots: Path) -> list[str]:
    """Every file or folder under the roots that group or others can read, write or enter."""
    loose = []
    for root in roots:
        for path in [root, *root.rglob("*")]:
            if path.is_symlink():
                continue
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                loose.append(f"{path} {oct(mode)}")
    return loose


def test_a_run_an_export_and_the_state_store_are_owner_only_and_formula_safe(published, tmp_path):
    """Everything a run, a referral pack and the state store write: no file or folder open to
    group or others, and no CSV cell that a spreadsheet would run as a formula."""
    from typer.testing import CliRunner

    from acu_audit.cli import app

    root = published
    leads = pl.read_csv(root / "out" / "leads.csv")
    lead_id = leads["lead_id"][0]
    packs = tmp_path / "packs"
    result = CliRunner().invoke(app, ["lead", "export", lead_id, "--out", str(packs), "--db", str(root / "acu_audit.duckdb"),
                                       "--reason", "referral test"])
    assert result.exit_code == 0, result.output
    written = [root / "out", packs, *root.glob("*.duckdb")]
    assert len(written) >= 4  # out, packs, the warehouse and the state store
    loose = loose_entries(*written)
    assert not loose, loose
    cells = 0
    for path in [*(root / "out").rglob("*.csv"), *packs.rglob("*.csv")]:
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    cells += 1
                    assert neutralise_cell(cell) == cell or cell.startswith("'"), (path, cell)
    assert cells > 100


def test_each_csv_writer_neutralises_formulas(tmp_path):
    """The project's CSV writers: the night's leads (publish.write_frame) and referral packs
    (analyst._write_csv). The landing files of the generator are feeds, not outputs."""
    from acu_audit.analyst import _write_csv
    from acu_audit.publish import write_frame

    rows = [{"summary": "=HYPERLINK(\"http://evil\",\"x\")", "reason_code": "@SUM(1+1)", "delta": "-3", "n": -3}]
    write_frame(pl.DataFrame(rows), tmp_path / "leads.csv")
    _write_csv(tmp_path / "pack.csv", rows)
    for path in (tmp_path / "leads.csv", tmp_path / "pack.csv"):
        with open(path, newline="", encoding="utf-8") as handle:
            (row,) = list(csv.DictReader(handle))
        assert row["summary"].startswith("'=") and row["reason_code"] == "'@SUM(1+1)", path
        assert row["delta"] == "-3" and row["n"] == "-3", path
