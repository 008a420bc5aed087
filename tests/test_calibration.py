"""Checks calibrated to the force they run on (sql/transforms/check_calibration.sql).

The fixture check ids are outside the catalogue on purpose: calibration is stated in measured
shares of a peer group, never by naming checks.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl
import pytest

from acu_audit.checks.calibration import calibrate_hits
from acu_audit.config import load_settings
from acu_audit.db import Warehouse

AS_OF = date(2026, 3, 28)
SETTINGS = load_settings()


def staff_rows() -> list[dict]:
    """200 response officers in five units of 40 (unit 'Response 0' ... ), and an 8-person team elsewhere."""
    rows = [{"staff_id": f"R{i:03d}", "unit": f"Response {i // 40}", "unit_function": "response"} for i in range(200)]
    rows += [{"staff_id": f"X{i}", "unit": "Exploitation East", "unit_function": "exploitation"} for i in range(8)]
    rows += [{"staff_id": f"Y{i:02d}", "unit": f"Intelligence {i // 20}", "unit_function": "intelligence"} for i in range(60)]
    return rows


@pytest.fixture
def wh():
    with Warehouse(None) as wh:
        wh.script("schema/derived.sql")
        frame = pl.DataFrame(staff_rows()).with_columns(peer_group=pl.col("unit_function"))
        wh.register_frame("staff_frame", frame)
        wh.execute("CREATE TEMP TABLE ref_staff AS SELECT * FROM staff_frame")
        yield wh


def add_hits(wh: Warehouse, check_id: str, weights: dict[str, float]) -> None:
    rows = [{"as_of": AS_OF, "run_id": "r", "hit_id": f"{check_id}-{s}", "check_id": check_id, "check_version": "v",
             "category": "U", "status": "stable", "severity": "high", "risk": 70, "staff_id": s,
             "occurred_at": datetime(2026, 3, 27, 12, tzinfo=timezone.utc), "subject": f"person:{s}", "reason": "a reason",
             "evidence": [f"access_events:{s}"], "weight": w} for s, w in weights.items()]
    wh.insert_rows("check_hits", rows)


def kept(wh: Warehouse, check_id: str) -> dict[str, dict]:
    return {r["staff_id"]: r for r in wh.records("SELECT * FROM check_hits WHERE check_id = $c", {"c": check_id})}


def test_a_rare_check_keeps_every_hit_with_its_measured_share(wh):
    add_hits(wh, "z_fixture", {"R001": 1.0, "R002": 3.0})
    report = calibrate_hits(wh, SETTINGS, AS_OF)
    hits = kept(wh, "z_fixture")
    assert set(hits) == {"R001", "R002"} and report.removed == 0
    assert hits["R001"]["peer_share"] == pytest.approx(2 / 200) and not hits["R001"]["team_concentrated"]
    assert hits["R001"]["reason"] == "a reason"


def test_the_line_moves_with_the_force_same_fixture_at_two_noise_levels(wh):
    # The same two officers as above, in a force where a third of their colleagues, spread over
    # every unit, also trip the check once.
    common = {f"R{i:03d}": 1.0 for i in range(3, 200, 3)}
    add_hits(wh, "z_fixture", {"R001": 1.0, "R002": 3.0, **common})
    report = calibrate_hits(wh, SETTINGS, AS_OF)
    hits = kept(wh, "z_fixture")
    assert set(hits) == {"R002"} and report.removed == 67  # only the one with most of it stays
    assert hits["R002"]["peer_share"] == pytest.approx(68 / 200)
    assert "34% of response trip this check tonight" in hits["R002"]["reason"]
    (rate,) = wh.records("SELECT * FROM check_rates WHERE check_id = 'z_fixture' AND unit_function = 'response'")
    assert (rate["staff"], rate["tripped"], rate["kept"]) == (200, 68, 1) and rate["line"] == pytest.approx(1.0)
    # ...and the run says the check is not evidence there.
    assert any("z_fixture trips 34% of response" in w for w in report.warnings)


def test_a_ring_concentrated_in_one_small_team_is_kept(wh):
    # Five of one 40-strong response unit trip a check nobody else in response trips, each as
    # weakly as the three common hits elsewhere that the line removes.
    ring = {f"R{i:03d}": 1.0 for i in range(40, 45)}
    add_hits(wh, "z_ring", {**ring, "R100": 1.0, "R101": 1.0})
    calibrate_hits(wh, SETTINGS, AS_OF)
    hits = kept(wh, "z_ring")
    assert set(hits) == set(ring)
    assert all(h["team_concentrated"] for h in hits.values())
    assert "concentrated in their unit: 5 of its 40 staff" in hits["R040"]["reason"]


def test_small_groups_are_measured_against_the_force(wh):
    # Three of an eight-person exploitation team: 3/8 of their function, but a small function
    # is measured with the whole force (268 staff), where 3 is about 1%: all kept.
    add_hits(wh, "z_small", {"X0": 1.0, "X1": 1.0, "X2": 1.0})
    calibrate_hits(wh, SETTINGS, AS_OF)
    assert set(kept(wh, "z_small")) == {"X0", "X1", "X2"}
