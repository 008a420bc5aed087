"""The lead score's promises (docs/scoring.md), proven on small synthetic forces."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone

import polars as pl
import pytest

from acu_audit.config import load_settings
from acu_audit.scoring import ScoringConfig, diminishing_sum, rarity, score_staff
from acu_audit.window import end_of_night

AS_OF = date(2026, 3, 28)
NIGHT_END = end_of_night(AS_OF, load_settings().timezone)
CFG = ScoringConfig.from_settings(load_settings())
HIT_SCHEMA = {
    "hit_id": pl.String, "staff_id": pl.String, "check_id": pl.String, "category": pl.String, "severity": pl.String,
    "risk": pl.Int64, "weight": pl.Float64, "evidence_at": pl.Datetime("us", "UTC"),
}


def force(n_response: int = 400, n_control: int = 100, n_small: int = 8) -> pl.DataFrame:
    rows = [{"staff_id": f"R{i}", "unit_function": "response"} for i in range(n_response)]
    rows += [{"staff_id": f"C{i}", "unit_function": "control_room"} for i in range(n_control)]
    rows += [{"staff_id": f"X{i}", "unit_function": "exploitation"} for i in range(n_small)]
    return pl.DataFrame(rows)


def hit(staff_id: str, check_id: str, severity: str = "medium", risk: int = 50, weight: float = 1.0,
        category: str = "U", day: int = 27, n: int = 0) -> dict:
    return {"hit_id": f"{staff_id}-{check_id}-{n}", "staff_id": staff_id, "check_id": check_id, "category": category,
            "severity": severity, "risk": risk, "weight": weight,
            "evidence_at": datetime(2026, 3, day, 12, tzinfo=timezone.utc)}


def no_outliers(staff: pl.DataFrame) -> pl.DataFrame:
    return staff.select("staff_id").with_columns(anomaly_score=pl.lit(0.4), anomaly_percentile=pl.lit(0.5))


def scores(hits: list[dict], staff: pl.DataFrame, outliers: pl.DataFrame | None = None) -> dict[str, float]:
    """Each member of staff's score; 0 for one whose evidence is too weak to be kept (not listed)."""
    frame = pl.DataFrame(hits, schema=HIT_SCHEMA)
    result = score_staff(frame, staff, outliers if outliers is not None else no_outliers(staff), CFG, AS_OF, NIGHT_END)
    return defaultdict(float, zip(result["staff_id"].to_list(), result["score"].to_list()))


def test_rarity_is_full_for_rare_checks_and_small_for_common_ones():
    assert rarity(1 / 2000, "medium", CFG) == 1.0
    assert rarity(0.5, "low", CFG) < 0.15
    # No floor lifts a common check, whatever its severity...
    assert rarity(0.5, "critical", CFG) < 0.15 < CFG.rarity_floor["critical"]
    assert rarity(0.2, "critical", CFG) < 0.31
    # ...except for hits concentrated in one small team.
    assert rarity(0.5, "critical", CFG, concentrated=True) == CFG.rarity_floor["critical"]


def test_the_small_team_floor_holds_and_a_function_wide_habit_gets_none():
    # A ring of five colluders in an eight-person unit all trip a critical check: the
    # calibration marks their hits as concentrated in one team, and they keep the floor.
    staff = force()
    ring = [{**hit(f"X{i}", "o_ocg_contact", "critical", 85, category="O"), "team_concentrated": True} for i in range(5)]
    frame = pl.DataFrame(ring, schema={**HIT_SCHEMA, "team_concentrated": pl.Boolean})
    result = dict(zip(*score_staff(frame, staff, no_outliers(staff), CFG, AS_OF, NIGHT_END).select("staff_id", "score").to_dict().values()))
    assert all(result[f"X{i}"] >= 40 for i in range(5)), result
    # The same critical check tripped by a fifth of response, as a habit: no floor.
    habit = [hit(f"R{i}", "o_ocg_contact", "critical", 85, category="O") for i in range(80)]
    assert max(scores(habit, staff).values(), default=0.0) < 25


def test_rare_and_specific_outranks_common_and_many_for_checks_outside_the_catalogue():
    """Stated in measured rarity, never by check name: two fixture checks no catalogue has."""
    staff = force()
    # A fifth of response trip a critical fixture check, each three times, in two categories.
    common = [hit(f"R{i}", "z_fixture_common", "critical", 90, weight=2.0, n=k) for i in range(80) for k in range(3)]
    common += [hit(f"R{i}", "z_fixture_common_too", "critical", 90, weight=2.0, category="O") for i in range(80)]
    # One member of staff trips a rare, high-severity fixture check once.
    rare = [hit("R399", "z_fixture_rare", "high", 70, category="T")]
    result = scores(common + rare, staff)
    assert result["R399"] > max(result[f"R{i}"] for i in range(80))
    # One common hit, measured among the fifth of the function who trip it, adds less than the rare one.
    single = [hit(f"R{i}", "z_fixture_common", "critical", 90, weight=2.0) for i in range(80)]
    assert scores(single + rare, staff)["R0"] < result["R399"] / 2


def test_one_specific_hit_outranks_many_weak_common_hits():
    staff = force()
    # Half of response trips a weak check, each of them ten times.
    common = [hit(f"R{i}", "u_weak_common", "low", 30, n=k) for i in range(200) for k in range(10)]
    specific = [hit("R399", "d_drug_nominal_contact", "high", 80, category="D")]
    result = scores(common + specific, staff)
    assert result["R399"] > max(result[f"R{i}"] for i in range(200)) * 2


def test_volume_alone_does_not_reach_the_top():
    # A control-room operator who is the force's biggest outlier but tripped no check
    # scores below anyone with a single specific high-severity hit.
    staff = force()
    outliers = no_outliers(staff).with_columns(
        anomaly_percentile=pl.when(pl.col("staff_id") == "C0").then(1.0).otherwise(0.5),
        anomaly_score=pl.when(pl.col("staff_id") == "C0").then(0.8).otherwise(0.4),
    )
    result = scores([hit("R1", "t_record_altered_not_assigned", "high", 75, category="T")], staff, outliers)
    assert "C0" in result  # an outlier still gets a lead...
    assert result["C0"] < result["R1"]  # ...but ranks below real evidence


def test_repeats_of_one_check_have_diminishing_returns():
    assert diminishing_sum([1.0] * 10, CFG.repeat_decay) < 2 * 1.0
    staff = force()
    once = scores([hit("R1", "u_capture_no_purpose")], staff)["R1"]
    ten = scores([hit("R1", "u_capture_no_purpose", n=k) for k in range(10)], staff)["R1"]
    assert once < ten < 2.2 * once


def test_independent_categories_agreeing_boost_the_score():
    staff = force()
    one = scores([hit("R1", "d_drug_nominal_contact", "high", 80, category="D")], staff)["R1"]
    two = scores(
        [hit("R1", "d_drug_nominal_contact", "high", 80, category="D"),
         hit("R1", "u_lookup_then_contact", "critical", 85, category="U")], staff
    )["R1"]
    same_category = scores(
        [hit("R1", "d_drug_nominal_contact", "high", 80, category="D"),
         hit("R1", "d_other", "critical", 85, category="D")], staff
    )["R1"]
    assert two > same_category > one


def test_recent_evidence_counts_more():
    staff = force()
    recent = scores([hit("R1", "b_declined_business_contact", "high", 75, category="B", day=27)], staff)["R1"]
    old = scores([hit("R1", "b_declined_business_contact", "high", 75, category="B", day=2)], staff)["R1"]
    assert recent > old


@pytest.mark.parametrize("severity", ["low", "medium", "high", "critical"])
def test_scores_stay_within_0_and_100(severity):
    staff = force()
    many = [hit("R1", f"c{k}", severity, 100, weight=3.0, category=c, n=k) for k, c in enumerate("STUDIOMB")]
    assert 0 < scores(many, staff)["R1"] <= 100


def test_weak_common_evidence_is_not_kept_and_lists_nobody():
    """scoring.min_check_evidence: a check's evidence weighed below it neither ranks nor lists anybody."""
    staff = force()
    common = [hit(f"R{i}", "u_weak_common", "low", 30) for i in range(200)]  # half of response, once each
    frame = pl.DataFrame(common, schema=HIT_SCHEMA)
    assert score_staff(frame, staff, no_outliers(staff), CFG, AS_OF, NIGHT_END).is_empty()
    rare = [hit("R399", "u_rare", "medium", 50)]
    assert scores(rare, staff)["R399"] > 0  # a medium-severity check one member of staff trips: kept


def test_the_review_line_is_over_the_span_each_member_counted_once_at_their_best():
    from acu_audit.leads import span_review_line

    earlier = {f"S{i}": 90.0 - i for i in range(30)}  # thirty staff who scored high on some earlier night
    tonight = {"S0": 10.0, "T1": 85.0}
    # 2,000 staff, 1%: at most 20 may reach the line over the span; S0 counts at its best (90), not tonight's 10.
    line = span_review_line(tonight, earlier, 2000, 0.01, 40.0)
    best = sorted([*earlier.values(), 85.0], reverse=True)
    assert line == pytest.approx(best[20] + 0.01)
    assert sum(1 for v in best if v >= line) == 20


def test_ages_are_measured_to_the_end_of_the_local_night():
    """One end of day: in summer the night of 1 July ends at local midnight, 23:00 UTC, and a hit's
    age (its recency) is measured to that instant, as the window's end is."""
    from acu_audit.window import ReviewWindow

    summer = date(2026, 7, 1)
    night_end = end_of_night(summer, "Europe/London")
    assert night_end == datetime(2026, 7, 1, 23, tzinfo=timezone.utc)
    assert ReviewWindow(summer, 28, "Europe/London").end_utc == night_end
    staff = force()
    half_life = CFG.recency_half_life_days

    def evidence_at_age(evidence_at: datetime | None) -> float:
        row = {**hit("R0", "u_lookup_burst", severity="critical", risk=100), "evidence_at": evidence_at}
        scored = score_staff(pl.DataFrame([row], schema=HIT_SCHEMA), staff, no_outliers(staff), CFG, summer, night_end)
        return scored["evidence"][0]

    from datetime import timedelta

    fresh = evidence_at_age(night_end)
    assert fresh == evidence_at_age(None)  # age 0 at the end of the local night, not at UTC midnight an hour later
    assert evidence_at_age(night_end - timedelta(days=half_life)) == pytest.approx(fresh / 2, rel=1e-6)
