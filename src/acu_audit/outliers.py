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

# Raw columns of sql/transforms/staff_features.sql (shown to analysts as they are).
RAW_COLUMNS = (
    "lookups", "persons_looked_up", "unexplained_lookups", "unexplained_share", "off_duty_lookup_share",
    "sensitive_subjects_unexplained", "ocg_subjects_unexplained", "captures_unexplained", "alterations_unassigned",
    "max_lookups_in_an_hour", "messages", "counterparties", "night_message_share", "off_duty_message_share",
    "victim_messages", "victims_contacted", "victim_messages_off_hours", "unknown_messages", "unknown_counterparties",
    "banned_channel_messages", "risky_contact_messages", "declared_associations", "declined_business_interests",
)


def _per(numerator: str, denominator: str, scale: float) -> pl.Expr:
    return pl.col(numerator) / pl.col(denominator).clip(1, None) * scale


# The model's features. Behaviour is expressed as rates (per look-up, per message) so that a
# busy person is unusual on the two volume features only, and an unusual pattern stands out
# whatever the volume. name -> (how an analyst reads it, expression over RAW_COLUMNS, kind).
FEATURES: dict[str, tuple[str, pl.Expr, str]] = {
    "lookups": ("look-ups", pl.col("lookups"), "count"),
    "messages": ("device messages and calls", pl.col("messages"), "count"),
    "lookup_breadth": ("different people per 100 look-ups", _per("persons_looked_up", "lookups", 100), "rate"),
    "unexplained_share": ("share of look-ups with no policing purpose", pl.col("unexplained_share"), "share"),
    "off_duty_lookup_share": ("share of look-ups made off duty", pl.col("off_duty_lookup_share"), "share"),
    "sensitive_unexplained_rate": ("victims or vulnerable people looked up with no purpose, per 1,000 look-ups",
                                   _per("sensitive_subjects_unexplained", "lookups", 1000), "rate"),
    "ocg_unexplained_rate": ("OCG nominals looked up with no purpose, per 1,000 look-ups",
                             _per("ocg_subjects_unexplained", "lookups", 1000), "rate"),
    "capture_rate": ("prints, exports or screenshots with no purpose, per 1,000 look-ups",
                     _per("captures_unexplained", "lookups", 1000), "rate"),
    "alteration_rate": ("records altered without an assignment, per 1,000 look-ups",
                        _per("alterations_unassigned", "lookups", 1000), "rate"),
    "burstiness": ("share of their look-ups made in their busiest hour", _per("max_lookups_in_an_hour", "lookups", 1), "share"),
    "counterparty_breadth": ("different counterparties per 100 messages", _per("counterparties", "messages", 100), "rate"),
    "night_message_share": ("share of messages at night", pl.col("night_message_share"), "share"),
    "off_duty_message_share": ("share of messages with people other than colleagues sent off duty",
                               pl.col("off_duty_message_share"), "share"),
    "victim_message_share": ("share of messages with victims or vulnerable people", _per("victim_messages", "messages", 1), "share"),
    "victim_off_hours_share": ("share of messages with victims off duty or at night",
                               _per("victim_messages_off_hours", "messages", 1), "share"),
    "victims_contacted": ("victims or vulnerable people contacted", pl.col("victims_contacted"), "count"),
    "unknown_message_share": ("share of messages with counterparties unknown to force systems",
                              _per("unknown_messages", "messages", 1), "share"),
    "unknown_counterparties": ("counterparties unknown to force systems", pl.col("unknown_counterparties"), "count"),
    "banned_channel_share": ("share of messages on banned channels", _per("banned_channel_messages", "messages", 1), "share"),
    "risky_contact_share": ("share of messages with marked people outside their cases, undeclared",
                            _per("risky_contact_messages", "messages", 1), "share"),
    "declared_associations": ("declared associations", pl.col("declared_associations"), "count"),
    "declined_business_interests": ("declined business interests", pl.col("declined_business_interests"), "count"),
}
# Spread floors (robust z denominators) so a feature that is almost always zero cannot explode.
_FLOOR = {"count": 0.25, "rate": 0.25, "share": 0.05}


@dataclass
class OutlierResult:
    scores: pl.DataFrame  # staff_id, peer_group, anomaly_score, anomaly_percentile
    normalised: np.ndarray  # rows aligned with scores, columns with FEATURES
    raw: pl.DataFrame  # the model's features before normalisation, aligned with scores
    model: IsolationForest
    seconds: float

    @property
    def frame_mb(self) -> float:
        """The Python frames the score holds (features raw and normalised, the scores), in MB."""
        return (self.scores.estimated_size() + self.raw.estimated_size() + self.normalised.nbytes) / 1e6

    @property
    def model_mb(self) -> float:
        """The fitted forest's size, as pickled (its trees' arrays), in MB."""
        import pickle

        return len(pickle.dumps(self.model)) / 1e6


def model_features(raw: pl.DataFrame) -> pl.DataFrame:
    """The model's features (before normalisation) from the raw feature table."""
    return raw.select("staff_id", "peer_group", *[expr.cast(pl.Float64).alias(name) for name, (_, expr, _) in FEATURES.items()])


def normalise_within_peers(features: pl.DataFrame) -> np.ndarray:
    """Robust z-scores within each peer group; counts and rates on a log scale."""
    transformed = features.with_columns(
        [
            (pl.col(name).log1p() if kind in ("count", "rate") else pl.col(name)).alias(name)
            for name, (_, _, kind) in FEATURES.items()
        ]
    )
    exprs = []
    for name, (_, _, kind) in FEATURES.items():
        median = pl.col(name).median().over("peer_group")
        mad = (pl.col(name) - median).abs().median().over("peer_group")
        spread = pl.max_horizontal(1.4826 * mad, pl.lit(_FLOOR[kind]))
        exprs.append(((pl.col(name) - median) / spread).clip(-20, 20).alias(name))
    return transformed.select(exprs).to_numpy()


def score_outliers(wh: Warehouse, settings: Settings, params: dict) -> OutlierResult:
    """Build the feature table, fit the forest and return every staff member's score."""
    started = time.perf_counter()
    wh.run_file("transforms/staff_features.sql", params, step="staff features")
    raw = wh.frame("SELECT * FROM staff_features ORDER BY staff_id", step="read staff features")
    result = fit_outliers(raw, settings.outliers)
    result.seconds = time.perf_counter() - started
    return result


def fit_outliers(raw: pl.DataFrame, config: dict) -> OutlierResult:
    """Fit the forest on one row per member of staff (staff_id, peer_group and FEATURES)."""
    started = time.perf_counter()
    raw = raw.sort("staff_id").with_columns([pl.col(c).cast(pl.Float64) for c in RAW_COLUMNS])  # sums arrive as decimals
    if raw.height < 2:
        scores = raw.select("staff_id", "peer_group").with_columns(
            anomaly_score=pl.lit(0.0), anomaly_percentile=pl.lit(0.0)
        )
        return OutlierResult(scores, np.zeros((raw.height, len(FEATURES))), raw, IsolationForest(), time.perf_counter() - started)
    features = model_features(raw)
    matrix = normalise_within_peers(features)
    model = IsolationForest(
        n_estimators=int(config["n_estimators"]),
        max_samples=min(int(config["max_samples"]), raw.height),
        random_state=int(config["random_state"]),
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
    return OutlierResult(scores, matrix, features, model, time.perf_counter() - started)


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
        paths = tree.decision_path(X[:, features]).tocsr()
        paths.sort_indices()
        weight = 1.0 / (_node_depths(t) + 1)
        features = np.asarray(features)
        for r in range(len(rows)):
            nodes = paths.indices[paths.indptr[r]:paths.indptr[r + 1]]
            nodes = nodes[t.feature[nodes] >= 0]  # internal nodes on the path, root first
            np.add.at(credit[r], features[t.feature[nodes]], weight[nodes])  # in path order, as a loop would add
    out: dict[str, list[dict]] = {}
    raw = result.raw
    peer_medians = raw.group_by("peer_group").agg([pl.col(c).median() for c in names])
    medians = {row["peer_group"]: row for row in peer_medians.iter_rows(named=True)}
    for k, r in enumerate(rows):
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
            reasons.append(
                {
                    "feature": name,
                    "label": FEATURES[name][0],
                    "value": raw_row[name],
                    "peer_median": med[name],
                    "z": round(z, 1),
                    "share_of_isolation": round(float(credit[k, j] / total), 3),
                    "text": _phrase(name, raw_row[name], med[name], raw_row["peer_group"]),
                }
            )
        out[raw_row["staff_id"]] = reasons
    return out


def _node_depths(t) -> np.ndarray:
    """Each node's depth (the root's is 0), level by level."""
    depth = np.zeros(t.node_count, dtype=int)
    level, d = np.array([0]), 0
    while level.size:
        depth[level] = d
        children = np.concatenate([t.children_left[level], t.children_right[level]])
        level, d = children[children >= 0], d + 1
    return depth


def _phrase(name: str, value: float, median: float, peer_group: str) -> str:
    label, _, kind = FEATURES[name]
    if kind == "share":
        return f"{label}: {100 * value:.0f}% ({peer_group} median {100 * median:.0f}%)"
    if kind == "rate":
        return f"{label}: {value:.1f} ({peer_group} median {median:.1f})"
    if median and median > 0:
        ratio = value / median
        times = f"{ratio:.1f}x" if ratio < 10 else f"{math.floor(ratio)}x"
        return f"{label}: {value:,.0f}, {times} the {peer_group} median ({median:,.0f})"
    return f"{label}: {value:,.0f} (most {peer_group} peers: none)"
