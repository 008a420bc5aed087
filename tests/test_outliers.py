"""The outlier score: reproducible, measured against peers of the same function, explained."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from acu_audit.config import load_settings
from acu_audit.outliers import FEATURES, RAW_COLUMNS, explain, fit_outliers

from check_fixtures import load_base, merge_tables, warehouse_with_run_tables

CONFIG = load_settings().outliers


def population(seed: int = 1) -> pl.DataFrame:
    """300 response officers and 100 control-room operators who look up five times more.

    Like real staff, each person's features move together with how busy they are (a latent
    activity level), with a little independent noise on each.
    """
    rng = np.random.default_rng(seed)
    base = {name: 20.0 for name in RAW_COLUMNS} | {name: 0.2 for name in RAW_COLUMNS if name.endswith("_share")}
    base |= {"lookups": 600.0, "messages": 400.0, "declared_associations": 0.0, "declined_business_interests": 0.0}
    rows = []
    for prefix, group, n, lookups in (("R", "response", 300, 600.0), ("C", "control_room", 100, 3000.0)):
        for i in range(n):
            activity = rng.normal(1.0, 0.1)
            row = {"staff_id": f"{prefix}{i:03d}", "peer_group": group}
            for name, value in base.items():
                scale = lookups / 600 if name == "lookups" else 1.0
                row[name] = max(0.0, value * scale * activity * (1 + rng.normal(0, 0.05)))
            rows.append(row)
    return pl.DataFrame(rows)


def test_scores_are_reproducible_and_between_0_and_1():
    a = fit_outliers(population(), CONFIG).scores
    b = fit_outliers(population().sample(fraction=1.0, shuffle=True, seed=9), CONFIG).scores  # row order does not matter
    assert a.equals(b)
    assert a["anomaly_score"].min() > 0 and a["anomaly_score"].max() <= 1


def test_control_room_volume_is_normal_among_control_rooms_but_not_in_response():
    frame = population().with_columns(
        lookups=pl.when(pl.col("staff_id") == "R000").then(3000.0).otherwise(pl.col("lookups"))
    )
    result = fit_outliers(frame, CONFIG)
    ids = result.scores["staff_id"].to_list()
    z = result.normalised[:, list(FEATURES).index("lookups")]
    # The same volume is far out in response and ordinary in a control room...
    assert z[ids.index("R000")] > 5
    assert np.median(np.abs([z[i] for i, s in enumerate(ids) if s.startswith("C")])) < 1
    # ...so the forest ranks that officer high and does not flag control rooms en masse.
    pct = dict(zip(ids, result.scores["anomaly_percentile"]))
    assert pct["R000"] > 0.9
    assert np.median([pct[s] for s in ids if s.startswith("C")]) < 0.7


def test_explanation_names_the_feature_that_stands_out():
    frame = population().with_columns(
        unknown_counterparties=pl.when(pl.col("staff_id") == "R007").then(60.0).otherwise(pl.col("unknown_counterparties"))
    )
    result = fit_outliers(frame, CONFIG)
    reasons = explain(result, ["R007"])["R007"]
    assert reasons and reasons[0]["feature"] == "unknown_counterparties"
    assert "unknown to force systems" in reasons[0]["text"] and "response" in reasons[0]["text"]


def test_message_features_count_each_counterparty_once_and_the_local_night(tmp_path):
    """messages, counterparties and night_message_share (sql/transforms/staff_features.sql), from
    the real steps on the check fixtures' small force, against the same figures counted here.
    A counterparty messaged from two devices, on two channels, both ways and in many hours is
    one counterparty; colleagues count; hours outside the window do not; the night is local
    (London turns to BST on 29 March, inside this window: 21:00 UTC is then 22:00 local)."""
    as_of = date(2026, 4, 3)
    settings = load_settings()
    rng = np.random.default_rng(5)
    numbers = ["07700900101", "07700900102", "07700900103", "07700900104", "N-S2"]
    start = datetime(2026, 3, 3, tzinfo=timezone.utc)  # before the window, so some rows fall outside it
    rows, seen = [], set()
    while len(rows) < 400:
        row = {"staff_id": str(rng.choice(["S1", "S3", "S4"])), "channel": str(rng.choice(["sms", "call", "whatsapp"])),
               "direction": str(rng.choice(["out", "in"])), "counterparty": str(rng.choice(numbers)),
               "hour_start": start + timedelta(hours=int(rng.integers(0, 32 * 24)))}
        row["device_id"] = f"{row['staff_id']}-{rng.integers(1, 3)}"
        key = (row["device_id"], row["channel"], row["direction"], row["counterparty"], row["hour_start"])
        if key not in seen:
            seen.add(key)
            rows.append(row | {"message_count": int(rng.integers(1, 9)), "hour_start": row["hour_start"].isoformat()})
    tables = merge_tables(load_base()["tables"], {"device_messages": rows})  # N-S2: a colleague's number
    with warehouse_with_run_tables(tables, as_of, settings, tmp_path / "landing") as (wh, params):
        wh.run_file("transforms/staff_features.sql", params)
        found = {r["staff_id"]: r for r in wh.records("SELECT staff_id, messages, counterparties, night_message_share FROM staff_features")}

    london, night = ZoneInfo("Europe/London"), settings.checks["shared"]
    in_window = [r for r in rows if params["window_start_utc"] <= datetime.fromisoformat(r["hour_start"]) < params["window_end_utc"]]
    assert 0 < len(in_window) < len(rows)
    for staff in ("S1", "S3", "S4"):
        mine = [r for r in in_window if r["staff_id"] == staff]
        hours = [datetime.fromisoformat(r["hour_start"]).astimezone(london).hour for r in mine]
        at_night = sum(r["message_count"] for r, h in zip(mine, hours)
                       if h >= night["night_start_hour"] or h < night["night_end_hour"])
        total = sum(r["message_count"] for r in mine)
        assert found[staff]["messages"] == total
        assert found[staff]["counterparties"] == len({r["counterparty"] for r in mine}) < len(mine)
        assert found[staff]["night_message_share"] == at_night / total
    assert found["S2"]["messages"] == 0 and found["S2"]["counterparties"] == 0  # in post, no messages: zeros
