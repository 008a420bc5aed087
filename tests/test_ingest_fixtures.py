"""Every contract table: good rows load, each kind of bad row is quarantined with its
reason, and Great Expectations and the SQL quarantine agree on every fixture."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from acu_audit.contract import TABLES
from acu_audit.ingest import ingest_landing
from acu_audit.validation import GxValidator, staged_frame_sql

from conftest import FIXTURES

EXPECTED = json.loads((FIXTURES / "contract" / "expected.json").read_text())
DROP = date(2026, 3, 4)


class RecordingValidator(GxValidator):
    """The real validator, keeping GX's verdicts by file line for comparison."""

    def __init__(self) -> None:
        super().__init__(result_format="COMPLETE")
        self.by_table: dict[str, list[tuple[str, str, set[int]]]] = {}

    def validate_staged(self, wh, spec, drop_date, file_id, run_id):
        lines = wh.con.sql(staged_frame_sql(spec)).df()["_line"].tolist()
        outcomes = super().validate_staged(wh, spec, drop_date, file_id, run_id)
        self.by_table[spec.name] = [
            (o.rule, o.column, {lines[i] for i in (o.unexpected_index_list or [])}) for o in outcomes
        ]
        assert all(o.error is None for o in outcomes), [o.error for o in outcomes if o.error]
        return outcomes


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Load every fixture table once, as one drop, with GX recording its verdicts."""
    from acu_audit.db import Warehouse

    landing = tmp_path_factory.mktemp("landing")
    (landing / DROP.isoformat()).mkdir()
    for table in TABLES:
        shutil.copy(FIXTURES / "contract" / f"{table}.csv", landing / DROP.isoformat() / f"{table}.csv")
    wh = Warehouse(None)
    validator = RecordingValidator()
    report = ingest_landing(wh, landing, validator=validator)
    yield wh, report, validator
    wh.close()


@pytest.mark.parametrize("table", list(TABLES))
def test_each_bad_row_is_quarantined_with_its_kind(loaded, table):
    wh, report, _ = loaded
    expected = {int(k): v for k, v in EXPECTED[table].items()}
    quarantined = {
        r["line"]: r
        for r in wh.records("SELECT line, kind, column_name, reason, raw_text FROM quarantine WHERE table_name = $t", {"t": table})
    }
    expected_quarantine = {line: kind for line, kind in expected.items() if kind != "duplicate"}
    assert {line: r["kind"] for line, r in quarantined.items()} == expected_quarantine
    for line, row in quarantined.items():
        assert row["reason"].startswith(f"line {line}:"), row
        assert row["raw_text"], row  # the row as it arrived is kept
        if row["kind"] in ("missing", "type", "value", "rule"):
            assert row["column_name"] in TABLES[table].column_names
            assert f"'{row['column_name']}'" in row["reason"]


@pytest.mark.parametrize("table", list(TABLES))
def test_ledger_identity_and_good_rows_loaded(loaded, table):
    wh, report, _ = loaded
    (result,) = [f for f in report.files if f.table == table]
    expected = EXPECTED[table]
    with open(FIXTURES / "contract" / f"{table}.csv") as f:
        total_lines = sum(1 for _ in f) - 1
    assert result.read == total_lines
    assert result.read == result.loaded + result.duplicate + result.rejected
    assert result.duplicate == sum(1 for v in expected.values() if v == "duplicate")
    assert result.loaded == total_lines - len(expected)
    assert result.conflicts == sum(1 for v in expected.values() if v == "conflict")
    stored_lines = {r[0] for r in wh.execute(f'SELECT _line FROM "{table}"')}
    assert stored_lines == set(range(2, total_lines + 2)) - {int(k) for k in expected}
    assert result.status == "partial"


@pytest.mark.parametrize("table", list(TABLES))
def test_great_expectations_agrees_with_sql_quarantine(loaded, table):
    wh, _, validator = loaded
    verdicts = validator.by_table[table]
    gx_rows = set().union(*(lines for rule, _, lines in verdicts if rule != "unique"))
    sql_rows = {
        r[0] for r in wh.execute(
            "SELECT line FROM quarantine WHERE table_name = $t AND kind IN ('missing', 'type', 'value', 'rule')", {"t": table}
        )
    }
    assert gx_rows == sql_rows
    # Per column and rule, too: the same rows fail the same rule.
    for rule, column, lines in verdicts:
        if rule == "unique":
            continue
        sql_for_rule = {
            r[0] for r in wh.execute(
                """SELECT line FROM quarantine, unnest(string_split(reason, '; ')) AS t(part)
                   WHERE table_name = $t AND part LIKE '%column ''' || $c || '''%'""",
                {"t": table, "c": column},
            )
        }
        assert lines <= sql_for_rule, (rule, column, lines, sql_for_rule)
    # Uniqueness: GX flags every row of a repeated key; SQL calls them duplicate or conflict.
    (unique_lines,) = [lines for rule, _, lines in verdicts if rule == "unique"]
    repeated = {int(k) for k, v in EXPECTED[table].items() if v in ("duplicate", "conflict")}
    assert repeated <= unique_lines and len(unique_lines) == len(repeated) + 1


def test_validation_results_are_stored_per_drop(loaded):
    wh, _, _ = loaded
    rows = wh.records(
        "SELECT table_name, count(*) AS n, count(*) FILTER (WHERE NOT success) AS failed, count(error) AS errors "
        "FROM validation_results WHERE drop_date = $d GROUP BY ALL",
        {"d": DROP},
    )
    assert {r["table_name"] for r in rows} == set(TABLES)
    assert all(r["failed"] >= 1 and r["errors"] == 0 for r in rows)
