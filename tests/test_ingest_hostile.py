"""Ingest under hostile input: no record lost, every physical line accounted for.

A property-based test writes files of every contract table with valid rows and
every kind of malformed row mixed in, and checks the accounting rule: read
equals the records in the file (counted by the test, not by any reader), read =
loaded + duplicate + rejected, every valid row is loaded at its physical line,
every malformed one is quarantined at its physical line with its column.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from acu_audit.contract import TABLES
from acu_audit.db import Warehouse
from acu_audit.ingest import discover_drops, ingest_landing
from acu_audit.ingest.records import BOM, MAX_RECORD_BYTES, RecordScanner, split_records

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from make_contract_fixtures import good_row, good_value  # noqa: E402

DROP = "2026-03-04"

# A staff id planted where a reason or warning could quote it: it must never be quoted (issue 22).
PLANTED_ID = "S42674"
MARKUP = "[/b]bad [bold red]x[/] [/x] Roads"  # Rich markup in text: loaded, and printed as text
# Row kinds DuckDB's reader takes in its stride (the typing step quarantines them)...
TYPED_KINDS = ["good", "good", "good", "quoted_comma", "type", "no_zone", "enum", "missing", "dup", "conflict",
               "markup", "planted"]
# ...and kinds that need the slow path.
PARSE_KINDS = ["quoted_newline", "stray_quote", "too_few", "too_many", "nul", "bad_utf8", "blank", "bom", "long",
               "crlf", "cr"]


@dataclass
class Expect:
    line: int
    end_line: int
    outcome: str  # load | duplicate | quarantine
    column: str | None = None


def _quote(value: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([value])  # line breaks in a value get it quoted
    return out.getvalue()[:-2]


def _columns(spec, *types, required=False):
    return [c for c in spec.columns if c.type in types and (c.nullable is False or not required)]


def build_file(table: str, kinds: list[str], unterminated_last: bool, crlf_file: bool) -> tuple[bytes, list[Expect], bool]:
    """A CSV file of ``table`` with one record per kind, what must become of each, and whether
    any record needs the slow path."""
    spec = TABLES[table]
    names = list(spec.column_names)
    newline = b"\r\n" if crlf_file else b"\n"
    out = bytearray(",".join(names).encode() + newline)
    expects: list[Expect] = []
    line = 2
    n = 100
    slow = False  # whether a record that needs the slow path was written

    def emit(raw: bytes, outcome: str, column: str | None = None, ending: bytes = newline, anomalous: bool = False) -> None:
        nonlocal line, slow
        slow = slow or anomalous or ending != newline
        breaks = raw.count(b"\n") + raw.replace(b"\r\n", b"").count(b"\r")
        out.extend(raw + ending)
        expects.append(Expect(line, line + breaks, outcome, column))
        line += breaks + 1

    def row_bytes(row: dict[str, str]) -> bytes:
        return ",".join(_quote(row[c]) for c in names).encode()

    texts = _columns(spec, "text")
    non_key_texts = [c for c in texts if c.name not in spec.key]
    for kind in kinds:
        n += 1
        row = good_row(spec, n)
        if kind == "good":
            emit(row_bytes(row), "load")
        elif kind == "quoted_comma" and non_key_texts:
            row[non_key_texts[0].name] = 'He said "stop", then left'
            emit(row_bytes(row), "load")
        elif kind == "quoted_newline" and non_key_texts:
            row[non_key_texts[0].name] = "first line\nsecond line"
            emit(row_bytes(row), "load", anomalous=True)
        elif kind in ("type", "no_zone") and _columns(spec, "int", "date", "timestamp"):
            typed = _columns(spec, "timestamp") if kind == "no_zone" and _columns(spec, "timestamp") else _columns(spec, "int", "date", "timestamp")
            col = typed[n % len(typed)]
            row[col.name] = "2026-03-04T10:15:00" if col.type == "timestamp" else {"int": "many", "date": "04/03/2026"}[col.type]
            # an end not after its start also fails: only when the broken column is the end
            emit(row_bytes(row), "quarantine", col.name)
        elif kind == "markup" and non_key_texts:
            row[non_key_texts[0].name] = MARKUP
            emit(row_bytes(row), "load")
        elif kind == "planted" and _columns(spec, "enum", "int", "date", "timestamp"):
            col = _columns(spec, "enum", "int", "date", "timestamp")[n % len(_columns(spec, "enum", "int", "date", "timestamp"))]
            row[col.name] = f"D'{PLANTED_ID}"  # an apostrophe once defeated the masking of quoted values
            emit(row_bytes(row), "quarantine", col.name)
        elif kind == "enum" and _columns(spec, "enum"):
            col = _columns(spec, "enum")[0]
            row[col.name] = "not_an_option"
            emit(row_bytes(row), "quarantine", col.name)
        elif kind == "missing":
            col = _columns(spec, "text", required=True)[0]  # the key: an empty key
            row[col.name] = ""
            emit(row_bytes(row), "quarantine", col.name)
        elif kind == "dup":
            emit(row_bytes(row), "load")
            emit(row_bytes(row), "duplicate")
        elif kind == "conflict" and non_key_texts + [c for c in spec.columns if c.name not in spec.key]:
            target = (non_key_texts or [c for c in spec.columns if c.name not in spec.key])[0]
            changed = dict(row)
            changed[target.name] = "CHANGED" if target.type == "text" else good_value(target, n + 1)
            if changed[target.name] == row[target.name]:
                changed[target.name] = good_value(target, n + 2)
            emit(row_bytes(row), "quarantine", target.name)
            emit(row_bytes(changed), "quarantine", target.name)
        elif kind == "stray_quote":
            col = texts[n % len(texts)]
            row[col.name] = 'ab"c"d'  # unquoted, so the quotes are stray (an even count: one line)
            emit(",".join(row[c] for c in names).encode(), "quarantine", col.name, anomalous=True)
        elif kind == "too_few":
            emit(row_bytes({**row}).rsplit(b",", 1)[0], "quarantine", names[-1], anomalous=True)
        elif kind == "too_many":
            emit(row_bytes(row) + b",surplus", "quarantine", f"field {len(names) + 1} (beyond the header)", anomalous=True)
        elif kind in ("nul", "bad_utf8"):
            col = texts[n % len(texts)]
            index = names.index(col.name)
            fields = [_quote(row[c]).encode() for c in names]
            fields[index] = fields[index] + (b"\x00x" if kind == "nul" else b"\xff\xfe")
            emit(b",".join(fields), "quarantine", col.name, anomalous=True)
        elif kind == "blank":
            # after a lone CR an empty line would make CR LF, one line end: use a space there
            emit(b" " if out.endswith(b"\r") else b"", "quarantine", anomalous=True)
        elif kind == "bom":
            emit(b"\xef\xbb\xbf" + row_bytes(row), "load", anomalous=True)
        elif kind == "long":
            col = non_key_texts[0] if non_key_texts else texts[0]
            row[col.name] = "x" * (MAX_RECORD_BYTES + 10)
            emit(row_bytes(row), "quarantine", col.name, anomalous=True)  # the longest value is named
        elif kind == "crlf":
            emit(row_bytes(row), "load", ending=b"\r\n" if not crlf_file else b"\n")
        elif kind == "cr":
            emit(row_bytes(row), "load", ending=b"\r")
        else:  # a kind this table cannot have: a good row instead
            emit(row_bytes(row), "load")
    if unterminated_last:
        n += 1
        row = good_row(spec, n)
        col = texts[0]
        fields = [_quote(row[c]) for c in names]
        fields[names.index(col.name)] = '"' + row[col.name]  # a file cut short inside a quote
        out.extend(",".join(fields).encode())
        expects.append(Expect(line, line, "quarantine", col.name))
        slow = True
    return bytes(out), expects, slow


def check_accounting(wh: Warehouse, table: str, result, expects: list[Expect]) -> None:
    assert result.read == len(expects), (result.read, len(expects))
    assert result.read == result.loaded + result.duplicate + result.rejected
    loaded_lines = sorted(r[0] for r in wh.execute(f'SELECT _line FROM "{table}" WHERE _file_id = $f', {"f": result.file_id}))
    assert loaded_lines == [e.line for e in expects if e.outcome == "load"]
    assert result.duplicate == sum(e.outcome == "duplicate" for e in expects)
    quarantined = {
        r["line"]: r
        for r in wh.records(
            "SELECT line, column_name, reason, raw_text, kind FROM quarantine WHERE file_id = $f", {"f": result.file_id}
        )
    }
    wanted = {e.line: e for e in expects if e.outcome == "quarantine"}
    assert sorted(quarantined) == sorted(wanted)
    for line, e in wanted.items():
        row = quarantined[line]
        where = f"line {e.line}:" if e.end_line == e.line else f"lines {e.line}-{e.end_line}:"
        assert row["reason"].startswith(where), (where, row["reason"])
        if e.column is not None:
            assert row["column_name"] == e.column, (e, row)
        assert row["raw_text"] is not None or "blank line" in row["reason"]
        if "not UTF-8" in row["reason"]:
            assert "\\xff" in row["raw_text"]  # the original bytes, escaped
        assert PLANTED_ID not in row["reason"], row["reason"]  # reasons never quote a value from a row
    assert PLANTED_ID not in (result.error or "") and PLANTED_ID not in (result.note or "")
    # Every physical line belongs to exactly one record.
    covered = [ln for e in expects for ln in range(e.line, e.end_line + 1)]
    assert covered == list(range(2, 2 + len(covered)))


kinds_strategy = st.one_of(
    st.lists(st.sampled_from(TYPED_KINDS), min_size=1, max_size=25).map(lambda k: (k, True)),
    st.lists(st.sampled_from(TYPED_KINDS + PARSE_KINDS), min_size=1, max_size=25).map(lambda k: (k, False)),
)


@settings(max_examples=60, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    table=st.sampled_from(list(TABLES)),
    kinds=kinds_strategy,
    unterminated_last=st.booleans(),
    crlf_file=st.booleans(),
)
def test_every_record_is_loaded_duplicate_or_quarantined_at_its_line(tmp_path_factory, table, kinds, unterminated_last, crlf_file):
    kinds, typed_only = kinds
    if "long" in kinds:  # one over-long record per file is plenty (1 MiB each)
        kinds = [k for i, k in enumerate(kinds) if k != "long" or i == kinds.index("long")]
    data, expects, slow = build_file(table, kinds, unterminated_last and not typed_only, crlf_file)
    landing = tmp_path_factory.mktemp("landing")
    (landing / DROP).mkdir()
    (landing / DROP / f"{table}.csv").write_bytes(data)
    with Warehouse(None) as wh:
        (result,) = ingest_landing(wh, landing).files
        check_accounting(wh, table, result, expects)
        if not slow:
            assert result.note is None, result.note  # DuckDB's fast reader took the file
        else:
            assert result.note and result.note.startswith("read record by record"), result.note


_SCANNED = ["size", "lf", "crlf", "cr", "in_quote", "quoted_line_end", "blank_line", "bom_inside", "nul", "utf8_error",
            "stray_quote", "long_line", "lines", "records"]


def _scan(data: bytes, cuts: list[int]) -> dict:
    scanner = RecordScanner()
    for start, end in zip([0, *cuts], [*cuts, len(data)]):
        scanner.feed(data[start:end])
    scanner.finish()
    return {name: getattr(scanner, name) for name in _SCANNED}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"a", b",", b'"', b"\n", b"\r", b"\r\n", b"\x00", BOM, "\u00e9".encode(), b"\xff",
                              b'"a,b"', b'""']), max_size=40).map(b"".join),
    st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
@example(data=b"ab" + BOM, cuts=[2])  # a BOM that is not the file's first bytes, read whole or as the next chunk
@example(data=BOM + b"a", cuts=[1])  # the file's own BOM, cut in two
@example(data=b"a\n\r\nb", cuts=[2])  # a blank CRLF line across two chunks
@example(data=b"a\n\r\nb", cuts=[2, 3])  # ...and across three, the middle one a single byte
def test_the_record_scan_reads_the_same_whatever_the_chunks(data, cuts):
    """The scan that decides DuckDB's reader may read a file sees the same file however it is cut
    into chunks (a line end, a quote, a BOM or a UTF-8 character can straddle two), and what it
    counts is what the bytes hold."""
    whole = _scan(data, [])
    assert _scan(data, sorted({c for c in cuts if 0 < c < len(data)})) == whole
    assert (whole["lf"], whole["cr"], whole["crlf"]) == (data.count(b"\n"), data.count(b"\r"), data.count(b"\r\n"))
    assert whole["blank_line"] == (b"\n\n" in data or b"\n\r\n" in data)
    assert whole["nul"] == (b"\x00" in data)
    assert whole["bom_inside"] == (BOM in data[1:])
    try:
        data.decode("utf-8")
        assert not whole["utf8_error"]
    except UnicodeDecodeError:
        assert whole["utf8_error"]


def test_splitter_picks_up_after_a_broken_record():
    header = ["a", "b", "c"]
    data = b'a,b,c\n1,"open,3\n4,5,6\n7,8,"x\ny"\n'
    records = list(split_records(data, header))
    assert [(r.line, r.end_line, r.fields) for r in records] == [
        (2, 2, None),  # the quote never closes properly: only its own line is lost
        (3, 3, ["4", "5", "6"]),  # and the next line loads
        (4, 5, ["7", "8", "x\ny"]),  # a real quoted line break spans two lines
    ]
    assert records[0].column == "b"


# ---- the three reproductions of the issue ----------------------------------------------
def _events(n: int) -> list[dict]:
    return [{"event_id": f"E{i}", "occurred_at": "2026-03-04T10:00:00Z", "staff_id": "S1", "system": "PNC",
             "action": "view", "record_type": "person", "record_id": f"P{i}", "person_id": f"P{i}",
             "case_id": "", "terminal_id": "", "reason_code": "R1"} for i in range(n)]


def _write(path: Path, rows: list[dict], newline: str = "\n") -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator=newline)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())


def test_a_row_too_long_to_load_is_quarantined_not_lost(tmp_path):
    rows = _events(50)
    rows[20]["reason_code"] = "x" * (50 << 20)  # 50 MB in one field
    (tmp_path / DROP).mkdir()
    _write(tmp_path / DROP / "access_events.csv", rows)
    with Warehouse(None) as wh:
        (r,) = ingest_landing(wh, tmp_path).files
        assert (r.read, r.loaded, r.rejected) == (50, 49, 1)
        (reason, raw, column) = wh.execute("SELECT reason, raw_text, column_name FROM quarantine")[0]
        assert reason.startswith("line 22:") and "over the limit" in reason and column == "reason_code"
        assert len(raw) < 10_000  # the raw text is cut, with the size said


def test_crlf_rows_appended_to_an_lf_file_lose_no_good_row(tmp_path):
    (tmp_path / DROP).mkdir()
    rows = _events(300)
    path = tmp_path / DROP / "access_events.csv"
    _write(path, rows[:290])
    tail = io.StringIO()
    csv.DictWriter(tail, fieldnames=list(rows[0]), lineterminator="\r\n").writerows(rows[290:])
    text = tail.getvalue()
    text = text[: text.rindex("\r\n", 0, len(text) - 2)] + "\r\n" + "E999,2026-03-04T1"  # the last one cut short
    with open(path, "a", newline="") as handle:
        handle.write(text)
    with Warehouse(None) as wh:
        (r,) = ingest_landing(wh, tmp_path).files
        assert (r.read, r.loaded, r.rejected) == (300, 299, 1)
        assert r.note.startswith("read record by record (the slow path): mixed line ends")
        assert wh.execute("SELECT line FROM quarantine")[0][0] == 301


def test_conflicting_rows_in_one_file(tmp_path):
    """Events: neither version loads. Snapshots: the previous version of the entity stands, flagged."""
    (tmp_path / "2026-03-03").mkdir()
    (tmp_path / DROP).mkdir()
    staff = [{"staff_id": f"S{i}", "surname": "A", "forenames": "B", "role": "officer", "unit": "U1",
              "unit_function": "response", "start_date": "2020-01-01", "end_date": "", "home_postcode": "AB1 2CD",
              "home_address_id": ""} for i in range(3)]
    _write(tmp_path / "2026-03-03" / "staff.csv", staff)
    changed = [*staff, {**staff[1], "unit": "U2"}, {**staff[1], "unit": "U3"}]
    _write(tmp_path / DROP / "staff.csv", [staff[0], staff[2], *changed[3:]])
    events = _events(3)
    _write(tmp_path / DROP / "access_events.csv", [*events, {**events[1], "record_id": "P99"}])
    with Warehouse(None) as wh:
        files = {f.table: f for f in ingest_landing(wh, tmp_path).files if f.drop_date == date(2026, 3, 4)}
        ev = files["access_events"]
        assert (ev.read, ev.loaded, ev.rejected, ev.conflicts) == (4, 2, 2, 2)
        assert wh.scalar("SELECT count(*) FROM access_events WHERE event_id = 'E1'") == 0
        st_ = files["staff"]
        # S0 and S2 repeat their state (duplicates: a snapshot stores its changes); S1 conflicts.
        assert (st_.read, st_.loaded, st_.duplicate, st_.rejected) == (4, 0, 2, 2)
        assert "kept their previous version" in st_.note
        tonight = wh.records("SELECT staff_id, unit, _drop_date FROM staff_as_of(DATE '2026-03-04') ORDER BY staff_id")
        assert [(r["staff_id"], r["unit"]) for r in tonight] == [("S0", "U1"), ("S1", "U1"), ("S2", "U1")]
        assert [r["_drop_date"] for r in tonight if r["staff_id"] == "S1"] == [date(2026, 3, 3)]  # the previous state
        reasons = [r[0] for r in wh.execute("SELECT reason FROM quarantine WHERE table_name = 'staff' ORDER BY line")]
        assert all("previous version stands" in x for x in reasons)
        columns = {r[0] for r in wh.execute("SELECT column_name FROM quarantine WHERE kind = 'conflict'")}
        assert columns == {"unit", "record_id"}


def test_line_numbers_are_physical_after_quoted_line_breaks(tmp_path):
    (tmp_path / DROP).mkdir()
    rows = _events(40)
    for i in range(0, 40, 4):
        rows[i]["reason_code"] = "two\nlines"
    rows[37]["action"] = "teleport"
    _write(tmp_path / DROP / "access_events.csv", rows)
    physical = 1 + 37 + 10  # the header, the 37 rows before row 37, and the breaks inside 10 of them
    with Warehouse(None) as wh:
        ingest_landing(wh, tmp_path)
        assert wh.scalar("SELECT line FROM quarantine") == physical + 1
        assert wh.scalar("SELECT _line FROM access_events WHERE event_id = 'E39'") == physical + 3


# ---- paths: links and special files are refused, recorded, never read ------------------
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlinked_files_and_drops_are_refused_and_recorded(tmp_path):
    landing = tmp_path / "landing"
    outside = tmp_path / "outside"
    (landing / DROP).mkdir(parents=True)
    (outside / "2026-03-05").mkdir(parents=True)
    secret = outside / "key.txt"
    secret.write_text("staff_id,surname\nSECRET-KEY,x\n")
    _write(outside / "2026-03-05" / "access_events.csv", _events(3))
    (landing / DROP / "staff.csv").symlink_to(secret)
    (landing / "2026-03-05").symlink_to(outside / "2026-03-05", target_is_directory=True)
    _write(landing / DROP / "access_events.csv", _events(2))
    with Warehouse(None) as wh:
        report = ingest_landing(wh, landing)
        statuses = sorted((f.file_name, f.status) for f in report.files)
        assert statuses == [("2026-03-05", "refused"), ("access_events.csv", "loaded"), ("staff.csv", "refused")]
        assert wh.scalar("SELECT count(*) FROM access_events") == 2
        ledger = wh.records("SELECT file_name, status, error, extra_columns FROM ingest_files WHERE status = 'refused'")
        assert all("symbolic link" in r["error"] for r in ledger)
        everything = str(wh.execute("SELECT * FROM quarantine")) + str(wh.execute("SELECT * FROM ingest_files"))
        assert "SECRET-KEY" not in everything
        assert sum("refused" in w for w in report.warnings) == 2
        # a second run records nothing twice
        ingest_landing(wh, landing)
        assert wh.scalar("SELECT count(*) FROM ingest_files WHERE status = 'refused'") == 2


def test_a_landing_folder_that_is_itself_a_link_still_works(tmp_path):
    real = tmp_path / "real"
    (real / DROP).mkdir(parents=True)
    _write(real / DROP / "access_events.csv", _events(2))
    (tmp_path / "landing").symlink_to(real, target_is_directory=True)
    drops, warnings = discover_drops(tmp_path / "landing")
    assert [len(d.files) for d in drops] == [1] and not warnings and not drops[0].refused


def test_a_fifo_in_a_drop_is_refused_without_blocking(tmp_path):
    (tmp_path / DROP).mkdir()
    os.mkfifo(tmp_path / DROP / "access_events.csv")
    drops, warnings = discover_drops(tmp_path)
    assert drops[0].files == () and "not a regular file" in drops[0].refused[0].reason


# ---- smaller gaps ---------------------------------------------------------------------
def test_corrupt_parquet_counts_its_rows_and_says_what_is_wrong(tmp_path):
    import polars as pl

    (tmp_path / DROP).mkdir()
    path = tmp_path / DROP / "access_events.parquet"
    pl.DataFrame(_events(1000)).write_parquet(path, compression="uncompressed", row_group_size=1000)
    data = bytearray(path.read_bytes())
    data[100:4000] = os.urandom(3900)  # damage the data pages, keep the footer
    path.write_bytes(bytes(data))
    with Warehouse(None) as wh:
        (r,) = ingest_landing(wh, tmp_path).files
        assert r.status == "unreadable"
        assert (r.read, r.rejected) == (1000, 1000)
        assert "Parquet file is damaged" in r.error or "cannot be read" in r.error
        assert wh.scalar("SELECT count(*) FROM quarantine WHERE kind = 'file'") == 1


def test_nul_bytes_in_parquet_text_are_quarantined(tmp_path):
    import polars as pl

    (tmp_path / DROP).mkdir()
    rows = _events(3)
    rows[1]["reason_code"] = "R\x00X"
    pl.DataFrame(rows).write_parquet(tmp_path / DROP / "access_events.parquet")
    with Warehouse(None) as wh:
        (r,) = ingest_landing(wh, tmp_path).files
        assert (r.loaded, r.rejected) == (2, 1)
        assert wh.execute("SELECT column_name, reason FROM quarantine")[0] == ("reason_code", "line 3: column 'reason_code' holds a NUL byte")


def test_a_killed_ingest_run_is_marked_interrupted_on_the_next_start(tmp_path):
    from acu_audit.ingest import ensure_schema, start_ingest_run

    (tmp_path / DROP).mkdir()
    _write(tmp_path / DROP / "access_events.csv", _events(2))
    with Warehouse(None) as wh:
        ensure_schema(wh)
        start_ingest_run(wh, tmp_path, None, "ingest-killed")  # never finished: the process died
        ingest_landing(wh, tmp_path, run_id="ingest-next")
        runs = dict(wh.execute("SELECT ingest_run_id, status FROM ingest_runs"))
        assert runs == {"ingest-killed": "interrupted", "ingest-next": "finished"}


# ---- kill and resume -------------------------------------------------------------------
def _warehouse_snapshot(db: Path) -> dict:
    """What a finished ingest leaves: rows per table, the ledger per file, quarantine per file."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = {t: con.execute(f'SELECT count(*), count(DISTINCT _file_id) FROM "{t}"').fetchall()[0] for t in TABLES}
        ledger = con.execute(
            'SELECT file_id, "read", loaded, duplicate, rejected, status FROM ingest_files ORDER BY file_id'
        ).fetchall()
        quarantine = con.execute("SELECT file_id, line, reason FROM quarantine ORDER BY ALL").fetchall()
        still_open = con.execute("SELECT count(*) FROM ingest_runs WHERE status IS NULL").fetchall()[0][0]
    finally:
        con.close()
    return {"rows": rows, "ledger": ledger, "quarantine": quarantine, "still_open": still_open}


@pytest.mark.slow
def test_ingest_killed_at_random_points_resumes_to_the_same_warehouse(tmp_path):
    """SIGKILL the ingest at random moments, again and again; the finished warehouse equals one
    loaded without interruption, row for row and ledger line for ledger line."""
    import random
    import signal
    import subprocess
    import time

    cli = [sys.executable, "-m", "acu_audit.cli"]
    env = {**os.environ, "ACU_AUDIT_SECRET_FILE": str(tmp_path / "secret")}
    subprocess.run(cli + ["generate", "--out", str(tmp_path / "force"), "--staff", "150", "--days", "8", "--seed", "5"],
                   env=env, check=True, capture_output=True)
    landing = tmp_path / "force" / "landing"
    last = sorted(landing.iterdir())[-1]
    with open(last / "access_events.csv", "ab") as handle:  # a damaged tail: the slow path is among the kill points
        handle.write(b'E-bad-1,2026-03-04T10:00:00Z,S1,PNC,view,person,"R1,P1,,,\r\nE-bad-2,not a time\r\n')

    def ingest(db: Path) -> subprocess.Popen:
        return subprocess.Popen(cli + ["ingest", "--landing", str(landing), "--db", str(db), "--no-validation"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    started = time.perf_counter()
    assert ingest(tmp_path / "reference.duckdb").wait() == 0
    full = time.perf_counter() - started
    reference = _warehouse_snapshot(tmp_path / "reference.duckdb")
    assert reference["still_open"] == 0
    assert any(status == "partial" for *_, status in reference["ledger"])  # the damaged file

    rng = random.Random(15)
    killed = tmp_path / "killed.duckdb"
    kills = 0
    for _ in range(6):
        process = ingest(killed)
        # Within the first half of a whole run's time: each run resumes where the last was killed,
        # so a later point could fall after a resumed run has finished (and kill nothing).
        time.sleep(rng.uniform(0.2, max(0.3, full / 2)))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    assert ingest(killed).wait() == 0
    resumed = _warehouse_snapshot(killed)
    assert kills >= 3
    assert resumed["rows"] == reference["rows"]
    assert resumed["ledger"] == reference["ledger"]
    assert resumed["quarantine"] == reference["quarantine"]
    assert resumed["still_open"] == 0  # every killed run that had started is marked interrupted
