"""Hostile values through the commands: text from the data is printed as text, no staff id reaches a
warning, a reason or an artifact, and a file swapped after it was checked is never loaded."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from acu_audit.cli import app
from acu_audit.contract import TABLES
from acu_audit.db import Warehouse
from acu_audit.ingest import ingest_landing
from conftest import write_table

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from make_contract_fixtures import good_row  # noqa: E402

DROP = "2026-03-04"
MARKUP = st.one_of(
    st.sampled_from(["[/b]bad", "[/x] Roads", "[bold red]x[/]", "[/]", "[link=file:///etc/passwd]y[/link]", "[", "]["]),
    st.text(alphabet="[]/abx =", min_size=1, max_size=12),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(list(TABLES)), value=MARKUP, header=MARKUP)
def test_markup_in_any_text_column_or_header_is_printed_as_text(tmp_path_factory, table, value, header):
    """`ingest` prints what it loaded and why rows were refused; none of it is read as Rich markup."""
    root = tmp_path_factory.mktemp("markup")
    spec = TABLES[table]
    rows = []
    for n in range(1, 4):
        row = good_row(spec, n)
        for column in spec.columns:
            if column.type == "text" and column.name not in spec.key:
                row[column.name] = value
        row[header] = value
        rows.append(row)
    rows.append({**good_row(spec, 9), spec.columns[-1].name: value + "|not valid"})  # a refused row quoting nothing
    names = [*spec.column_names, header] if header not in spec.column_names else list(spec.column_names)
    write_table(root / "landing" / DROP, table, rows, names)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["ingest", "--landing", str(root / "landing"),
                                                            "--db", str(root / "acu.duckdb"), "--no-validation"])
    assert result.exit_code == 0, result.output
    assert "MarkupError" not in result.output


@pytest.fixture(scope="module")
def hostile_force(tmp_path_factory):
    """A small force whose last drop carries markup in a unit and an operation, a duty roster with
    two columns swapped in its header, an enum value with an apostrophe and a damaged Parquet file."""
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("hostile-force")
    generate_force(root, staff=150, days=8, seed=6)
    drops = sorted((root / "landing").iterdir())
    first, last = drops[0], drops[-1]
    staff = pl.read_csv(first / "staff.csv", infer_schema_length=0)
    marked = staff["staff_id"][0]
    for drop in drops:  # the unit is renamed in every version of the staff snapshot
        if (drop / "staff.csv").exists():
            frame = pl.read_csv(drop / "staff.csv", infer_schema_length=0)
            frame.with_columns(pl.when(pl.col("staff_id") == marked).then(pl.lit("[/x] Roads")).otherwise(pl.col("unit"))
                               .alias("unit")).write_csv(drop / "staff.csv")
    roster = (last / "duty_roster.csv").read_text().splitlines()
    names = roster[0].split(",")
    i, j = names.index("staff_id"), names.index("shift_start")
    names[i], names[j] = names[j], names[i]
    (last / "duty_roster.csv").write_text("\n".join([",".join(names), *roster[1:]]) + "\n")
    with open(last / "access_events.csv", "a", encoding="utf-8") as handle:
        handle.write(f"E-HOSTILE-1,2026-10-08T10:00:00Z,{marked},PNC,D'{marked},person,R1,,,,\n")
    (last / "timesheets.parquet").write_bytes(b"PAR1" + marked.encode() * 40 + b"PAR1")
    if (last / "timesheets.csv").exists():
        (last / "timesheets.csv").unlink()
    return root, set(staff["staff_id"].to_list()), marked


def test_hostile_data_through_run_and_reveal(hostile_force, prefect_harness):
    """`run` publishes and exits 0; `reveal` shows the unit as written; no staff id is quoted by any
    warning, quarantine reason, the report, the artifacts or the run log."""
    from test_flows import read_artifact

    root, staff_ids, marked = hostile_force
    runner = CliRunner(env={"COLUMNS": "250"})
    result = runner.invoke(app, ["run", "--landing", str(root / "landing"), "--out", str(root / "out"),
                                 "--db", str(root / "acu.duckdb"), "--no-validation", "--actor", "hostile-test"])
    assert result.exit_code == 0, result.output
    assert "duty_roster.csv" in result.output and "timesheets.parquet" in result.output  # the damage is said...
    found = [s for s in staff_ids if s in result.output]
    assert not found, found  # ...without quoting a staff id

    with duckdb.connect(str(root / "acu.duckdb"), read_only=True) as con:
        reasons = [r[0] for r in con.execute("SELECT reason FROM quarantine").fetchall()]
        ledger = [r for row in con.execute("SELECT error, note FROM ingest_files").fetchall() for r in row if r]
        run_log = [w for (ws,) in con.execute("SELECT warnings FROM run_log").fetchall() for w in ws or []]
        staff_ref = None
    assert reasons and any("shift_start" in r for r in reasons)
    for text in [*reasons, *ledger, *run_log]:
        assert not [s for s in staff_ids if s in text], text

    html = (root / "out" / "report.html").read_text()
    assert not [s for s in staff_ids if s in html]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (flow_run,) = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
    assert not [s for s in staff_ids if s in (flow_run.state.message or "")]
    for key in ("night-summary", "validation-results", "top-leads"):
        for artifact in read_artifact(key, flow_run.id):
            assert not [s for s in staff_ids if s in json.dumps(artifact.data, default=str)], key

    from acu_audit.privacy import load_secret
    from acu_audit.privacy import staff_ref as ref_of

    staff_ref = ref_of(load_secret(create=False), marked)
    shown = runner.invoke(app, ["reveal", staff_ref, "--db", str(root / "acu.duckdb"), "--reason", "hostile values test"])
    assert shown.exit_code == 0, shown.output
    assert "[/x] Roads" in shown.output


def _force_file(tmp_path: Path) -> tuple[Path, bytes]:
    spec = TABLES["access_events"]
    path = write_table(tmp_path / "landing" / DROP, "access_events", [good_row(spec, n) for n in range(1, 6)])
    return path, path.read_bytes()


def test_a_file_swapped_for_a_link_after_it_was_checked_loads_what_was_hashed(tmp_path, monkeypatch):
    """The name in the landing is swapped for a link to outside content between the hash and the
    load: the content hashed is the content loaded, and the ledger keeps its hash."""
    import acu_audit.ingest.loader as loader

    path, original = _force_file(tmp_path)
    outside = tmp_path / "outside.csv"
    spec = TABLES["access_events"]
    write_table(tmp_path / "elsewhere", "access_events", [{**good_row(spec, n), "event_id": f"OUTSIDE-{n}"} for n in range(1, 40)])
    shutil.move(tmp_path / "elsewhere" / "access_events.csv", outside)
    real = loader.sha256_of

    def hash_then_swap(opened, **kwargs):
        digest = real(opened, **kwargs)
        os.unlink(path)
        os.symlink(outside, path)  # the attacker's moment: after the check, before the load
        return digest

    monkeypatch.setattr(loader, "sha256_of", hash_then_swap)
    with Warehouse(tmp_path / "acu.duckdb") as wh:
        report = ingest_landing(wh, tmp_path / "landing")
        ids = {r[0] for r in wh.execute("SELECT event_id FROM access_events")}
        (sha,) = wh.execute("SELECT content_sha256 FROM ingest_files WHERE table_name = 'access_events'")[0]
    (result,) = report.files
    assert result.status == "loaded" and result.loaded == 5
    assert not any(i.startswith("OUTSIDE") for i in ids)
    assert sha == hashlib.sha256(original).hexdigest()


def test_a_file_rewritten_while_it_loads_is_refused_then_loads_whole(tmp_path, monkeypatch):
    import acu_audit.ingest.loader as loader

    path, _ = _force_file(tmp_path)
    real = loader.sha256_of
    calls = []

    def hash_then_append(opened, **kwargs):
        digest = real(opened, **kwargs)
        if not calls:
            with open(path, "a", encoding="utf-8") as handle:  # rewritten in place after the hash
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow([good_row(TABLES["access_events"], 77)[c] for c in TABLES["access_events"].column_names])
        calls.append(1)
        return digest

    monkeypatch.setattr(loader, "sha256_of", hash_then_append)
    with Warehouse(tmp_path / "acu.duckdb") as wh:
        first = ingest_landing(wh, tmp_path / "landing")
        assert [f.status for f in first.files] == ["refused"] and "rewritten" in first.files[0].error
        assert wh.scalar("SELECT count(*) FROM access_events") == 0
        second = ingest_landing(wh, tmp_path / "landing")
        assert [f.status for f in second.files] == ["loaded"] and second.files[0].loaded == 6
