"""The analysts' notebooks run top to bottom against a freshly published demo copy.

Notebooks are committed without outputs; the executed copies, with their plots, are
written to ``build/notebooks/`` (not committed) so a reviewer can open what CI saw.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BUILD = ROOT / "build" / "notebooks"


def _kernel_name() -> str:
    """The project's own kernel (registered by scripts/dev setup), else this interpreter's."""
    from jupyter_client.kernelspec import KernelSpecManager

    return "acu-audit" if "acu-audit" in KernelSpecManager().find_kernel_specs() else "python3"


def test_the_three_analyst_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01_morning_review.ipynb", "02_staff_timeline.ipynb", "03_check_explorer.ipynb"
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    dirty = [i for i, cell in enumerate(book.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_on_the_published_copy(path, published, monkeypatch):
    from nbclient import NotebookClient

    # The kernel inherits this process's environment: point it at tonight's copy.
    monkeypatch.setenv("ACU_AUDIT_PUBLISHED", str(published / "out" / "analyst.duckdb"))
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, kernel_name=_kernel_name(), timeout=300,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    BUILD.mkdir(parents=True, exist_ok=True)
    nbformat.write(book, BUILD / path.name)

    outputs = [out for cell in book.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "every notebook draws at least one plot"
    # Tables as words (explore.readable_tables): polars' own HTML has a row of types, a shape line,
    # quoted strings and "null".
    tables = [o["data"]["text/html"] for o in outputs if "<table" in o.get("data", {}).get("text/html", "")]
    assert tables, "every notebook shows a table"
    assert not [t for t in tables if "shape: (" in t or ">null<" in t or "&quot;" in t], "a table shows polars' types or nulls"

    # Pseudonyms only: no raw staff_id from the force's staff file appears anywhere in what the analyst sees.
    text = json.dumps([o for o in outputs])
    first_drop = sorted(p for p in (published / "landing").iterdir() if p.is_dir())[0]
    import polars as pl

    staff_ids = set(pl.read_csv(first_drop / "staff.csv")["staff_id"].to_list())
    shown = set(re.findall(r"[A-Za-z0-9_-]+", text))
    assert not staff_ids & shown
    assert re.search(r"sr-[0-9a-f]{12}", text), "the notebook shows staff as staff_ref pseudonyms"
