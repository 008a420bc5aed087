"""Lead lifecycle across nights, in a real analyst-state file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from acu_audit.errors import DatabaseBusyError
from acu_audit.leads import QueueRules, lead_id_for, publish_leads
from acu_audit.state import StateStore, migrations, open_state
from acu_audit.window import end_of_night


def scored(rows: list[dict]) -> pl.DataFrame:
    out = []
    for r in rows:
        t = r.get("times") or [datetime(2026, 3, r.get("day", 20), 12, tzinfo=timezone.utc)]
        out.append({
            "staff_id": r["staff_id"], "score": r.get("score", 50.0), "evidence": 1.0, "agreement": 1.0,
            "outlier_component": 0.0, "anomaly_score": 0.5, "anomaly_percentile": 0.5,
            "categories": r.get("categories", ["U"]), "top_checks": r.get("checks", ["u_capture_no_purpose"]),
            "check_scores": {}, "hit_ids": r.get("hit_ids", [f"h-{r['staff_id']}-{t[-1]:%d}"]), "n_hits": 1,
            "first_seen": min(t), "last_seen": max(t), "evidence_times": t,
            "check_last_seen": {c: max(t) for c in r.get("checks", ["u_capture_no_purpose"])},
        })
    if not out:  # a night with no evidence at all: the same columns, no rows
        return scored([{"staff_id": "S0"}]).clear()
    return pl.DataFrame(out)


def night(store: StateStore, as_of: date, rows: list[dict], line: float = 70.0):
    refs = {f"S{i}": f"sr-S{i}" for i in range(100)}
    return publish_leads(
        store, scored(rows), as_of=as_of, run_id=f"run-{as_of}", staff_refs=refs,
        peer_groups={}, check_titles={}, explanations={}, window_start=datetime(2026, 3, 1, tzinfo=timezone.utc),
        night_end=end_of_night(as_of, "Europe/London"),
        rules=QueueRules(gap_days=14, escalation_points=5, review_line=line),
    )


@pytest.fixture
def store(tmp_path):
    with open_state(tmp_path / "state.duckdb", create=True) as s:
        yield s


def by_staff(result) -> dict:
    return {r["staff_id"]: r for r in result.rows}


def test_new_then_unchanged_then_escalated_with_a_stable_lead_id(store):
    first = by_staff(night(store, date(2026, 3, 20), [{"staff_id": "S1", "score": 50, "day": 20}]))
    second = by_staff(night(store, date(2026, 3, 21), [{"staff_id": "S1", "score": 51, "day": 20}]))
    third = by_staff(night(store, date(2026, 3, 22), [{"staff_id": "S1", "score": 52, "day": 22, "categories": ["U", "S"]}]))
    assert first["S1"]["change"] == "new"
    assert second["S1"]["change"] == "unchanged"
    assert third["S1"]["change"] == "escalated" and "S" in third["S1"]["what_is_new"]
    assert first["S1"]["lead_id"] == second["S1"]["lead_id"] == third["S1"]["lead_id"] == lead_id_for("sr-S1", date(2026, 3, 20))
    assert store.db.scalar("SELECT count(*) FROM lead_versions") == 3  # each night's list is kept


def test_score_rise_escalates(store):
    night(store, date(2026, 3, 20), [{"staff_id": "S1", "score": 40}])
    assert by_staff(night(store, date(2026, 3, 21), [{"staff_id": "S1", "score": 46}]))["S1"]["change"] == "escalated"


def test_no_further_action_stays_closed_until_new_evidence_then_returns_with_same_id(store):
    lead_id = night(store, date(2026, 3, 20), [{"staff_id": "S1", "day": 20}]).rows[0]["lead_id"]
    store.set_status(lead_id, "no_further_action", "analyst1", "explained by a tasking")
    held = night(store, date(2026, 3, 21), [{"staff_id": "S1", "day": 20}])
    assert held.rows == [] and held.held_back == 1
    back = night(store, date(2026, 3, 24), [{"staff_id": "S1", "day": 24, "checks": ["s_victim_contact_excess"],
                                            "times": [datetime(2026, 3, 20, 12, tzinfo=timezone.utc), datetime(2026, 3, 24, 9, tzinfo=timezone.utc)]}])
    (row,) = back.rows
    assert row["lead_id"] == lead_id and row["change"] == "returning" and back.reopened == 1
    assert "s_victim_contact_excess" in row["what_is_new"]
    assert store.lead(lead_id)["status"] == "new"
    actions = [r[0] for r in store.db.execute("SELECT action FROM audit_log ORDER BY recorded_at")]
    assert actions == ["set_status", "reopen_lead"]


def test_evidence_after_a_long_gap_extends_an_open_lead_and_starts_a_new_one_after_closure(store):
    first = night(store, date(2026, 3, 1), [{"staff_id": "S1", "day": 1}]).rows[0]["lead_id"]
    later = night(store, date(2026, 3, 25), [{"staff_id": "S1", "day": 25}]).rows[0]
    assert later["lead_id"] == first  # one open lead per member of staff, however long the gap
    store.set_status(first, "no_further_action", "analyst1", "explained")
    after = night(store, date(2026, 4, 20), [{"staff_id": "S1", "day": 20, "times": [datetime(2026, 4, 20, 9, tzinfo=timezone.utc)]}]).rows[0]
    assert after["lead_id"] != first and after["change"] == "new"
    assert store.db.scalar("SELECT count(*) FROM leads WHERE staff_id = 'S1'") == 2


def test_state_schema_is_versioned_and_migrations_apply_once(tmp_path):
    path = tmp_path / "s.duckdb"
    with open_state(path, create=True) as s:
        assert s.version == max(n for n, _ in migrations())
    with open_state(path) as s:
        assert s.migrate() == []
        assert s.db.scalar("SELECT count(*) FROM schema_version") == len(migrations())


def test_suppression_needs_reason_and_future_expiry(store):
    from acu_audit.errors import AcuAuditError

    with pytest.raises(AcuAuditError, match="reason"):
        store.add_suppression(kind="check", reason=" ", owner="o", expires_on=date(2099, 1, 1), actor="a", check_id="m_banned_channel")
    with pytest.raises(AcuAuditError, match="not in the future"):
        store.add_suppression(kind="check", reason="r", owner="o", expires_on=date(2020, 1, 1), actor="a", check_id="m_banned_channel")
    store.add_suppression(kind="check", reason="pilot", owner="ACU", expires_on=date(2099, 1, 1), actor="a", check_id="m_banned_channel")
    assert [s["check_id"] for s in store.active_suppressions(date(2098, 12, 31))] == ["m_banned_channel"]
    assert store.active_suppressions(date(2099, 1, 2)) == []  # expired entries stop applying by themselves


def test_busy_state_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "busy.duckdb"
    with open_state(path, create=True):
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, time, sys
            con = duckdb.connect({str(path)!r})
            print("holding", flush=True)
            time.sleep(30)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with pytest.raises(DatabaseBusyError, match="database busy"):
            StateStore(path, busy_timeout_s=1.0)
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait(timeout=10)
        holder.stdout.close()


# --- the queue (issue: unreviewed leads stay until closed, review tier) -------------------------
def tiers(result) -> dict[str, tuple[str, int]]:
    return {r["staff_id"]: (r["tier"], r["rank"]) for r in result.rows}


def test_an_unclosed_lead_from_night_one_is_on_night_forty_in_the_same_tier(store):
    start = date(2026, 3, 1)
    first = night(store, start, [{"staff_id": "S1", "score": 85, "day": 1}, {"staff_id": "S2", "score": 30, "day": 1}])
    assert tiers(first) == {"S1": ("review", 1), "S2": ("watch", 2)}
    for d in range(1, 40):  # forty nights of other people's evidence; S1 and S2 never again
        result = night(store, start + timedelta(days=d), [{"staff_id": "S3", "score": 20,
                                                           "times": [datetime(2026, 3, 1, 12, tzinfo=timezone.utc) + timedelta(days=d)]}])
    rows = by_staff(result)
    assert rows["S1"]["tier"] == "review" and rows["S1"]["lead_id"] == first.rows[0]["lead_id"]
    assert rows["S2"]["tier"] == "watch" and rows["S3"]["tier"] == "watch"
    assert rows["S1"]["age_days"] == 39 and rows["S1"]["tonight_score"] is None
    # No evidence kept tonight: a score of 0, not an earlier night's peak; the lead stays listed, and in review.
    assert rows["S1"]["score"] == 0 and rows["S2"]["score"] == 0 and rows["S3"]["score"] == 20
    assert [r["staff_id"] for r in result.rows] == ["S1", "S3", "S2"]  # review first, then by tonight's score
    # Its evidence stays with it, from the night it was found.
    assert rows["S1"]["hit_ids"] == first.rows[0]["hit_ids"] and rows["S1"]["hit_nights"] == [start]
    assert result.carried == 2


def test_a_referred_lead_moves_to_watch_and_is_flagged_on_new_evidence(store):
    lead = night(store, date(2026, 3, 20), [{"staff_id": "S1", "score": 90, "day": 20}]).rows[0]
    assert lead["tier"] == "review"
    store.set_status(lead["lead_id"], "referred", "analyst1", "to PSD")
    quiet = by_staff(night(store, date(2026, 3, 21), []))["S1"]
    assert quiet["tier"] == "watch" and quiet["flag"] is None and quiet["status"] == "referred"
    again = by_staff(night(store, date(2026, 3, 23), [{"staff_id": "S1", "score": 40, "day": 23}]))["S1"]
    assert again["tier"] == "watch" and again["flag"] == "new evidence since referral"
    assert again["lead_id"] == lead["lead_id"]


def test_the_review_tier_is_never_truncated_and_crossing_is_sticky(store):
    first = night(store, date(2026, 3, 20), [{"staff_id": f"S{i}", "score": 80 + i / 10, "day": 20} for i in range(12)])
    assert first.review == 12 and first.entered_review == 12
    # A later night with a higher line: nobody is demoted; new leads below it watch.
    later = night(store, date(2026, 3, 22), [{"staff_id": "S50", "score": 85, "day": 22}], line=90.0)
    assert later.review == 12 and by_staff(later)["S50"]["tier"] == "watch"
    assert [r["tier"] for r in later.rows] == ["review"] * 12 + ["watch"]
    assert [r["rank"] for r in later.rows] == list(range(1, 14))
    # Closing a lead takes it off the list; the others stay.
    store.set_status(first.rows[0]["lead_id"], "no_further_action", "analyst1", "explained")
    assert night(store, date(2026, 3, 23), [], line=90.0).review == 11


def test_a_summary_reads_as_plain_words():
    """No 'hit(s)', no snake_case peer groups, no 'top 0.0%' (issue 27)."""
    from acu_audit.leads import summarise

    row = {"top_checks": ["c1", "c2", "c3"], "categories": ["U", "S"], "n_hits": 1, "outlier_component": 0.1,
           "anomaly_percentile": 0.9999}
    text = summarise(row, {"c1": "Look-ups of victims", "c2": "Contact with a victim"}, "roads_policing")
    assert text == ("Look-ups of victims; also contact with a victim and 1 more check (U|S; 1 finding); "
                    "unusual among roads policing (the most unusual in the force)")
    row.update(n_hits=4, anomaly_percentile=0.95, top_checks=["c1", "c2", "c3", "c4"])
    assert summarise(row, {}, "response").endswith("and 2 more checks (U|S; 4 findings); unusual among response (top 5.0% of the force)")
