"""A snapshot re-sent: rows sent as the last drop sent them are duplicates without being typed
(``acu_audit.ingest.resent``), and the warehouse, ledger and quarantine are exactly what typing
every row gives, through changes, removals, bad values, repeated keys, late drops and a second
file of a drop."""

from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import date, timedelta
from unittest import mock

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from acu_audit.contract import TABLES
from acu_audit.db import Warehouse
from acu_audit.flow.steps import Loaded
from acu_audit.ingest import ensure_schema, ingest_landing
from acu_audit.ingest import loader

from conftest import write_table

STAFF = [
    {"staff_id": f"S{i}", "surname": f"Surname{i}", "forenames": "Ann", "role": "officer", "unit": "Response North",
     "unit_function": "response", "start_date": "2020-01-01", "home_postcode": "PR1 2AB"}
    for i in range(1, 5)
]


def staff_on(wh: Warehouse, day: date) -> dict[str, str]:
    return dict(wh.execute("SELECT staff_id, unit FROM staff_as_of($d)", {"d": day}))


def test_rows_re_sent_as_before_are_duplicates_without_being_typed(tmp_path, warehouse):
    write_table(tmp_path / "2026-03-04", "staff", STAFF)
    (first,) = ingest_landing(warehouse, tmp_path).processed
    assert (first.loaded, first.resent) == (4, 0)
    # Re-sent unchanged, in another column order (rows are read by column name): nothing typed.
    write_table(tmp_path / "2026-03-05", "staff", STAFF, columns=list(reversed(TABLES["staff"].column_names)))
    report = ingest_landing(warehouse, tmp_path)
    (again,) = report.processed
    assert (again.read, again.loaded, again.duplicate, again.resent) == (4, 0, 4, 4)
    # The night's summary says so.
    assert "4 duplicate (4 of them snapshot rows sent as before, not typed)" in Loaded(report, []).detail
    # One moved unit, one left the force: only the changed row is typed and loaded.
    moved = [dict(STAFF[0], unit="Response South"), *STAFF[1:3]]
    write_table(tmp_path / "2026-03-06", "staff", moved)
    (changed,) = ingest_landing(warehouse, tmp_path).processed
    assert (changed.read, changed.loaded, changed.duplicate, changed.resent) == (3, 1, 2, 2)
    assert staff_on(warehouse, date(2026, 3, 6)) == {"S1": "Response South", "S2": "Response North", "S3": "Response North"}
    # The removed member of staff sent again as before is typed (their stored state is "removed").
    write_table(tmp_path / "2026-03-07", "staff", STAFF)
    (back,) = ingest_landing(warehouse, tmp_path).processed
    assert (back.loaded, back.duplicate, back.resent) == (2, 2, 2)  # S1 moved back, S4 returns
    assert staff_on(warehouse, date(2026, 3, 7)) == {s["staff_id"]: "Response North" for s in STAFF}


def test_a_late_drop_makes_the_next_drop_type_every_row(tmp_path, warehouse):
    """A late drop changes the table by another way than its newest listing: the rows remembered
    from the newest drop are forgotten, and the next drop is typed and compared in full."""
    write_table(tmp_path / "2026-03-06", "staff", STAFF)
    ingest_landing(warehouse, tmp_path)
    write_table(tmp_path / "2026-03-04", "staff", [dict(s, unit="Control Room") for s in STAFF])
    ingest_landing(warehouse, tmp_path)
    assert warehouse.scalar("SELECT count(*) FROM snapshot_sent_rows") == 0
    write_table(tmp_path / "2026-03-07", "staff", STAFF)
    (next_drop,) = ingest_landing(warehouse, tmp_path).processed
    assert (next_drop.duplicate, next_drop.resent) == (4, 0)
    assert warehouse.scalar("SELECT count(*) FROM snapshot_sent_rows") == 4  # and remembered again


# ---- the same warehouse as typing every row ---------------------------------------------------

@contextmanager
def every_row_typed():
    """Loads with the re-sent rows found, then thrown away: every row is typed, as before."""
    found = loader.match_resent_rows

    def nothing_known(wh, *args, **kwargs):
        found(wh, *args, **kwargs)
        wh.execute("DELETE FROM stg_resent")
        return 0

    with mock.patch.object(loader, "match_resent_rows", nothing_known):
        yield


_VARIANTS = ("absent", "as_first", "moved", "renamed", "bad_date", "twice", "twice_differing")


def _rows(choices: list[str]) -> list[dict]:
    rows = []
    for base, choice in zip(STAFF, choices, strict=True):
        row = {"as_first": base, "moved": dict(base, unit="Response South"), "renamed": dict(base, surname="Other"),
               "bad_date": dict(base, start_date="not a date"), "twice": base,
               "twice_differing": base}.get(choice)
        if row is None:
            continue
        rows.append(row)
        if choice == "twice":
            rows.append(base)
        if choice == "twice_differing":
            rows.append(dict(base, unit="Dog Section"))
    return rows


_drop = st.fixed_dictionaries({
    "day": st.integers(0, 6),  # days after 1 March: a day already loaded comes late, or again
    "rows": st.lists(st.sampled_from(_VARIANTS), min_size=4, max_size=4),
    "shuffle": st.randoms(use_true_random=False),
    "second_file": st.one_of(st.none(), st.lists(st.sampled_from(_VARIANTS), min_size=4, max_size=4)),
})


def _state(wh: Warehouse) -> tuple:
    staff = wh.execute("SELECT * FROM staff ORDER BY ALL")
    ledger = wh.execute("SELECT file_id, status, read, loaded, duplicate, rejected, conflicts, note "
                        "FROM ingest_files ORDER BY ALL")
    quarantine = wh.execute("SELECT * EXCLUDE (quarantined_at) FROM quarantine ORDER BY ALL")
    return staff, ledger, quarantine


def _example(*drops: tuple[int, list[str]]) -> list[dict]:
    return [{"day": day, "rows": rows, "shuffle": random.Random(0), "second_file": None} for day, rows in drops]


_ALL_AS_FIRST = ["as_first"] * 4


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drops=st.lists(_drop, min_size=2, max_size=5))
# A key sent twice differing is a conflict: its previous state stands, and neither row is
# remembered, so the next drop's row for it is compared with that state.
@example(drops=_example((0, ["moved", "as_first", "as_first", "as_first"]), (1, ["twice_differing", "as_first", "as_first", "as_first"]),
                        (2, _ALL_AS_FIRST)))
# A row sent as before beside another row of its key: the two are compared with each other.
@example(drops=_example((0, _ALL_AS_FIRST), (1, ["twice_differing", "as_first", "as_first", "as_first"])))
# A quarantined row leaves its entity as it stood; sent again, it is quarantined again.
@example(drops=_example((0, ["moved", "as_first", "as_first", "as_first"]), (1, ["bad_date", "as_first", "absent", "twice"]),
                        (2, ["bad_date", "as_first", "as_first", "twice"]), (3, _ALL_AS_FIRST)))
def test_a_snapshot_loads_as_when_every_row_is_typed(tmp_path_factory, drops):
    landing = tmp_path_factory.mktemp("landing")
    with Warehouse(None) as fast, Warehouse(None) as typed:
        ensure_schema(fast)
        ensure_schema(typed)
        for n, d in enumerate(drops):
            folder = landing / (date(2026, 3, 1) + timedelta(days=d["day"])).isoformat()
            rows = _rows(d["rows"])
            d["shuffle"].shuffle(rows)
            write_table(folder, "staff", rows)  # a day sent again: a new file of a loaded drop
            if d["second_file"] is not None and not (folder / "staff.parquet").exists():
                pl.DataFrame(_rows(d["second_file"]), schema={c: pl.String for c in TABLES["staff"].column_names}) \
                    .write_parquet(folder / "staff.parquet")
            ingest_landing(fast, landing)
            with every_row_typed():
                ingest_landing(typed, landing)
            assert _state(fast) == _state(typed), f"after drop {n + 1} of {len(drops)}"


def test_rows_typed_by_other_rules_are_typed_again(tmp_path, warehouse):
    """Rows remembered under other typing rules (an older acu-audit, another contract) are not
    taken as re-sent: their text might type to other content now."""
    write_table(tmp_path / "2026-03-04", "staff", STAFF)
    ingest_landing(warehouse, tmp_path)
    warehouse.execute("UPDATE snapshot_sent_rows SET rules = 'typed by an older acu-audit'")
    write_table(tmp_path / "2026-03-05", "staff", STAFF)
    (again,) = ingest_landing(warehouse, tmp_path).processed
    assert (again.duplicate, again.resent) == (4, 0)
