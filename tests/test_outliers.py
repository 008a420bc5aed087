"""The outlier score: reproducible, measured against peers of the same function, explained."""

from __future__ import annotations

import numpy as np
import polars as pl

from acu_audit.config import load_settings
from acu_audit.outliers import FEATURES, RAW_COLUMNS, explain, fit_outliers

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
