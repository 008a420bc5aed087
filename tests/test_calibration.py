"""Checks calibrated to the force they run on, over the span (sql/transforms/check_calibration.sql).

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
# Shares measured over the nights seen (here one), not estimated over the whole span.
SETTINGS = load_settings(overrides={"checks": {"calibration": {"estimate_unseen_span": False}}})
# The default span, 90 nights, of which a test may have seen only some.
SPAN = load_settings()


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


def add_hits(wh: Warehouse, check_id: str, weights: dict[str, float], night: date = AS_OF, subject: str | None = None) -> None:
    rows = [{"as_of": night, "run_id": "r", "hit_id": f"{check_id}-{s}-{night}", "check_id": check_id, "check_version": "v",
             "category": "U", "status": "stable", "severity": "high", "risk": 70, "staff_id": s,
             "occurred_at": datetime(night.year, night.month, night.day, 12, tzinfo=timezone.utc), "subject": subject or f"person:{s}",
             "reason": "a reason", "evidence": [f"access_events:{s}"], "weight": w, "route": "leads", "kept": False}
            for s, w in weights.items()]
    wh.insert_rows("check_hits", rows)


def kept(wh: Warehouse, check_id: str, night: date = AS_OF) -> dict[str, dict]:
    return {r["staff_id"]: r for r in wh.records("SELECT * FROM check_hits WHERE check_id = $c AND as_of = $d AND kept",
                                                 {"c": check_id, "d": night})}


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
    # rare that much (1 of 200 has as much) in a check a third trips: their geometric mean
    assert hits["R002"]["peer_share"] == pytest.approx((68 / 200) ** 0.5 * (1 / 200) ** 0.5)
    assert "34% of response trip this check over the span" in hits["R002"]["reason"]
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


def test_rare_on_a_night_is_not_rare_over_the_span(wh):
    """Each night a different 1% of response trips the check once; over 40 nights a fifth of it has.
    Measured night by night every hit would be kept; over the span only the few with the most are."""
    from datetime import timedelta

    nights = [AS_OF - timedelta(days=k) for k in range(40)]
    for k, night in enumerate(reversed(nights)):
        add_hits(wh, "z_nightly", {f"R{(k * 2) % 200:03d}": 1.0, f"R{(k * 2 + 1) % 200:03d}": 1.0}, night=night)
    for night, person in ((nights[5], "P1"), (nights[12], "P2"), (AS_OF, "P3")):  # one officer, three people, three nights
        add_hits(wh, "z_nightly", {"R150": 1.0}, night=night, subject=f"person:{person}")
    report = calibrate_hits(wh, SPAN, AS_OF)
    (rate,) = wh.records("SELECT * FROM check_rates WHERE check_id = 'z_nightly' AND unit_function = 'response' AND as_of = $d",
                         {"d": AS_OF})
    assert rate["tripped"] == 81 and rate["share"] == pytest.approx(81 / 200)  # over the span, not 3 of 200 tonight
    assert set(kept(wh, "z_nightly")) == {"R150"}  # tonight: the one with three pieces of it
    assert report.removed == 2  # tonight's two once-only trips are stored, not kept
    (decision,) = wh.records("SELECT * FROM span_calibration WHERE as_of = $d AND staff_id = 'R150'", {"d": AS_OF})
    assert decision["items"] == 3 and decision["strength"] == pytest.approx(3.0) and decision["kept"]
    # How rare that is (docs/scoring.md's worked example): the share that trips the check at all,
    # 81 of 200 over the 40 nights seen, estimated over the whole span (40 nights of 28-day windows
    # cover 67 of the span's 117 days), and the share with at least this much of it, 1 of 200;
    # their geometric mean.
    over_span = 1 - (1 - 81 / 200) ** (117 / 67)
    assert decision["group_share"] == pytest.approx(over_span)
    assert decision["peer_share"] == pytest.approx(over_span ** 0.5 * (1 / 200) ** 0.5)


def test_a_span_not_yet_fully_seen_is_not_taken_for_rare(wh):
    """The first night of a history: 1.5% of response trip a check in one 28-day window. Over the
    90-night span as many again would trip it every few weeks, so it is not rare: as a habit
    only the few with the most of it keep it (measured as seen, all four are kept)."""
    trips = {f"R{i:03d}": 1.0 for i in range(0, 200, 67)} | {"R100": 2.0}  # 4 of 200
    add_hits(wh, "z_young", trips)
    calibrate_hits(wh, SPAN, AS_OF)
    assert set(kept(wh, "z_young")) == {"R100"}
    (decision,) = wh.records("SELECT * FROM span_calibration WHERE as_of = $d AND staff_id = 'R100'", {"d": AS_OF})
    assert decision["group_share"] == pytest.approx(1 - (1 - 4 / 200) ** (117 / 28))
    wh.execute("DELETE FROM span_calibration")
    calibrate_hits(wh, SETTINGS, AS_OF)
    assert set(kept(wh, "z_young")) == set(trips)
