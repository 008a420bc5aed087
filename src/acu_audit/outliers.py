"""Outlier score: how unusual each member of staff is among peers of the same function.

Features (``sql/transforms/staff_features.sql``) are log-scaled counts and
shares. Each is normalised within the staff member's peer group -- their unit
function, or the whole force when the function is smaller than
``checks.min_peer_group`` -- as a robust z-score (median and MAD), so a
control-room operator is measured against control rooms. A scikit-learn
IsolationForest with a fixed random_state, fitted on rows sorted by staff_id,
gives a reproducible score; ``anomaly_score`` is the paper's s(x) in (0, 1],
higher is more unusual (``-score_samples``).

Explanations name the features that isolated a staff member: for each tree,
the features split on along the path to the staff member's leaf, weighted by
1 / (depth + 1) (early splits isolate); summed over trees and normalised.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.ensemble import IsolationForest

from acu_audit.config import Settings
from acu_audit.db import Warehouse

# Feature -> how an analyst reads it. Order is the model's column order.
FEATURES: dict[str, str] = {
    "lookups": "look-ups",
    "persons_looked_up": "different people looked up",
    "unexplained_lookups": "look-ups with no policing purpose",
    "unexplained_share": "share of look-ups with no policing purpose",
    "off_duty_lookup_share": "share of look-ups made off duty",
    "sensitive_subjects_unexplained": "victims or vulnerable people looked up with no purpose",
    "ocg_subjects_unexplained": "OCG nominals looked up with no purpose",
    "captures_unexplained": "prints, exports or screenshots with no purpose",
    "alterations_unassigned": "records altered without an assignment",
    "max_lookups_in_an_hour": "look-ups in their busiest hour",
    "messages": "device messages and calls",
    "counterparties": "different counterparties",
    "night_message_share": "share of messages at night",
    "off_duty_message_share": "share of messages off duty",
    "victim_messages": "messages with victims or vulnerable people",
    "victims_contacted": "victims or vulnerable people contacted",
    "victim_messages_off_hours": "messages with victims off duty or at night",
    "unknown_messages": "messages with counterparties unknown to force systems",
    "unknown_counterparties": "counterparties unknown to force systems",
    "banned_channel_messages": "messages on banned channels",
    "risky_contact_messages": "undeclared contact with marked people outside their cases",
    "declared_associations": "declared associations",
    "declined_business_interests": "declined business interests",
}
_SHARES = {name for name in FEATURES if name.endswith("_share")}


@dataclass
class OutlierResult:
    scores: pl.DataFrame  # staff_id, peer_group, anomaly_score, anomaly_percentile
    normalised: np.ndarray  # rows aligned with scores, columns with FEATURES
    raw: pl.DataFrame
    model: IsolationForest
    seconds: float


def normalise_within_peers(features: pl.DataFrame) -> np.ndarray:
    """Robust z-scores of log-scaled features within each peer group."""
    transformed = features.with_columns(
        [pl.col(c).cast(pl.Float64).log1p().alias(c) for c in FEATURES if c not in _SHARES]
        + [pl.col(c).cast(pl.Float64).alias(c) for c in _SHARES]
    )
    exprs = []
    for c in FEATURES:
        median = pl.col(c).median().over("peer_group")
        mad = (pl.col(c) - median).abs().median().over("peer_group")
        # A floor on the spread stops a feature that is almost always zero from exploding.
        spread = pl.max_horizontal(1.4826 * mad, pl.lit(0.1 if c in _SHARES else 0.5))
        exprs.append(((pl.col(c) - median) / spread).clip(-20, 20).alias(c))
    return transformed.select(exprs).to_numpy()


def score_outliers(wh: Warehouse, settings: Settings, params: dict) -> OutlierResult:
    """Build the feature table, fit the forest and return every staff member's score."""
    started = time.perf_counter()
    wh.run_file("transforms/staff_features.sql", params, step="staff features")
    raw = wh.frame("SELECT * FROM staff_features ORDER BY staff_id", step="read staff features").with_columns(
        [pl.col(c).cast(pl.Float64) for c in FEATURES]  # sums arrive as decimals
    )
    config = settings.outliers
    if raw.height < 2:
        scores = raw.select("staff_id", "peer_group").with_columns(
            anomaly_score=pl.lit(0.0), anomaly_percentile=pl.lit(0.0)
        )
        return OutlierResult(scores, np.zeros((raw.height, len(FEATURES))), raw, IsolationForest(), time.perf_counter() - started)
    matrix = normalise_within_peers(raw)
    model = IsolationForest(
        n_estimators=int(config.get("n_estimators", 300)),
        max_samples=min(int(config.get("max_samples", 256)), raw.height),
        random_state=int(config.get("random_state", 20261123)),
        n_jobs=1,  # deterministic and light on a 2-core machine
    )
    model.fit(matrix)
    anomaly = -model.score_samples(matrix)
    order = anomaly.argsort(kind="stable")
    percentile = np.empty_like(anomaly)
    percentile[order] = np.arange(len(anomaly)) / max(len(anomaly) - 1, 1)
    scores = raw.select("staff_id", "peer_group").with_columns(
        anomaly_score=pl.Series(np.round(anomaly, 6)), anomaly_percentile=pl.Series(percentile)
    )
    return OutlierResult(scores, matrix, raw, model, time.perf_counter() - started)


def explain(result: OutlierResult, staff_ids: list[str], top: int = 3) -> dict[str, list[dict]]:
    """Name the features that isolated each of ``staff_ids`` (path-length attribution)."""
    index = {sid: i for i, sid in enumerate(result.scores["staff_id"].to_list())}
    rows = [index[s] for s in staff_ids if s in index]
    if not rows:
        return {}
    X = result.normalised[rows]
    names = list(FEATURES)
    credit = np.zeros((len(rows), len(names)))
    for tree, features in zip(result.model.estimators_, result.model.estimators_features_):
        t = tree.tree_
        paths = tree.decision_path(X[:, features]).toarray()
        depth = _node_depths(t)
        for r in range(len(rows)):
            for node in np.flatnonzero(paths[r]):
                f = t.feature[node]
                if f >= 0:  # internal node
                    credit[r, features[f]] += 1.0 / (depth[node] + 1)
    out: dict[str, list[dict]] = {}
    raw = result.raw
    peer_medians = raw.group_by("peer_group").agg([pl.col(c).median() for c in names])
    medians = {row["peer_group"]: row for row in peer_medians.iter_rows(named=True)}
    for k, r in enumerate(rows):
        sid = staff_ids[k] if staff_ids[k] in index else None
        total = credit[k].sum() or 1.0
        ranked = sorted(range(len(names)), key=lambda j: (-credit[k, j] * max(result.normalised[r, j], 0), j))
        raw_row = raw.row(r, named=True)
        med = medians[raw_row["peer_group"]]
        reasons = []
        for j in ranked:
            z = float(result.normalised[r, j])
            if z <= 1.0 or len(reasons) >= top:
                continue
            name = names[j]
            value, median = raw_row[name], med[name]
            reasons.append(
                {
                    "feature": name,
                    "label": FEATURES[name],
                    "value": value,
                    "peer_median": median,
                    "z": round(z, 1),
                    "share_of_isolation": round(float(credit[k, j] / total), 3),
                    "text": _phrase(name, value, median, raw_row["peer_group"]),
                }
            )
        out[raw_row["staff_id"] if sid is None else sid] = reasons
    return out


def _node_depths(t) -> np.ndarray:
    depth = np.zeros(t.node_count, dtype=int)
    for node in range(t.node_count):
        for child in (t.children_left[node], t.children_right[node]):
            if child >= 0:
                depth[child] = depth[node] + 1
    return depth


def _phrase(name: str, value: float, median: float, peer_group: str) -> str:
    label = FEATURES[name]
    if name in _SHARES:
        return f"{label}: {100 * value:.0f}% (peers' median {100 * median:.0f}%, {peer_group})"
    if median and median > 0:
        ratio = value / median
        times = f"{ratio:.1f}x" if ratio < 10 else f"{math.floor(ratio)}x"
        return f"{label}: {value:,.0f}, {times} the {peer_group} median ({median:,.0f})"
    return f"{label}: {value:,.0f} (most {peer_group} peers: none)"
