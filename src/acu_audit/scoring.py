"""Lead score: one number per member of staff from their hits and outlier score.

The formula and its weights live in ``configs/default.yaml`` (``scoring``) and
are explained with worked numbers in ``docs/scoring.md``. In short, for each
hit of a stable (not shadow) check:

    hit = severity_weight x risk/100 x hit weight x recency x rarity

``rarity`` is how rare tripping this check is: (ln(1/p) / ln(1/reference_rate))
^ exponent, capped at 1, where p is the larger of the share of the force and the share of
the staff member's peer group that tripped it tonight (measured before the
calibration kept only the tail of a common check) -- so a check half a busy
unit trips says little. No floor lifts a common check; only hits concentrated
in one small team keep the severity's floor, so a ring of colluders in one
small unit cannot hide one another.

Hits of the same check add with diminishing returns (each further hit counts
``repeat_decay`` times the previous), categories likewise (``category_decay``),
so many weak common hits cannot outvote one strong specific one. When
independent categories agree the evidence is multiplied by ``1 +
agreement_boost`` per extra category (capped). The outlier score adds when the
staff member is in the top tenth of the force (and alone makes a lead in the top
hundredth). The total saturates into 0-100:

    score = 100 x (1 - exp(-(evidence x agreement + outlier_weight x outlier)))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

CATEGORY_ORDER = "STUDIOMB"


@dataclass(frozen=True)
class ScoringConfig:
    severity_weight: dict[str, float]
    recency_half_life_days: float
    repeat_decay: float
    reference_rate: float
    rarity_exponent: float
    rarity_floor: dict[str, float]
    min_function_size: int
    category_decay: float
    agreement_boost: float
    agreement_cap: int
    agreement_min_category_score: float
    min_check_evidence: float  # a check's evidence for one member of staff below this is not kept
    outlier_weight: float
    outlier_contribution_percentile: float
    outlier_lead_percentile: float

    @classmethod
    def from_settings(cls, settings) -> ScoringConfig:
        s = settings.scoring
        return cls(
            severity_weight={k: float(v) for k, v in s["severity_weight"].items()},
            recency_half_life_days=float(s["recency_half_life_days"]),
            repeat_decay=float(s["repeat_decay"]),
            reference_rate=float(s["rarity"]["reference_rate"]),
            rarity_exponent=float(s["rarity"]["exponent"]),
            rarity_floor={k: float(v) for k, v in s["rarity"]["floor"].items()},
            min_function_size=int(settings.checks["min_peer_group"]),
            category_decay=float(s["category_decay"]),
            agreement_boost=float(s["agreement"]["boost"]),
            agreement_cap=int(s["agreement"]["max_extra_categories"]),
            agreement_min_category_score=float(s["agreement"]["min_category_score"]),
            min_check_evidence=float(s["min_check_evidence"]),
            outlier_weight=float(s["outlier"]["weight"]),
            outlier_contribution_percentile=float(s["outlier"]["contribution_percentile"]),
            outlier_lead_percentile=float(s["outlier"]["lead_percentile"]),
        )


def rarity(p: float, severity: str, cfg: ScoringConfig, concentrated: bool = False) -> float:
    """How specific tripping a check is, 0-1, given the share p of staff who trip it.

    Measured rarity alone decides, except for hits concentrated in one small team (a ring of
    colluders), which keep the severity's floor however common the check is there.
    """
    p = min(max(p, 1e-9), 1.0)
    specific = min(1.0, math.log(1 / p) / math.log(1 / cfg.reference_rate)) ** cfg.rarity_exponent if p < 1 else 0.0
    return max(specific, cfg.rarity_floor.get(severity, 0.0)) if concentrated else specific


def recency(age_days: float, cfg: ScoringConfig) -> float:
    return 0.5 ** (max(age_days, 0.0) / cfg.recency_half_life_days)


def diminishing_sum(values: list[float], decay: float) -> float:
    """Largest first, each further value counts ``decay`` times the previous one's share."""
    return sum(v * decay**i for i, v in enumerate(sorted(values, reverse=True)))


def outlier_component(percentile: float, cfg: ScoringConfig) -> float:
    """0 below the contribution percentile of the force, rising linearly to 1 at the top."""
    floor = cfg.outlier_contribution_percentile
    if percentile < floor:
        return 0.0
    return (percentile - floor) / max(1 - floor, 1e-9)


def _by_id(hits: list[dict]) -> list[dict]:
    return sorted(hits, key=lambda h: (h["hit_id"], str(h.get("found_on") or "")))


def check_trip_rates(hits: pl.DataFrame, staff: pl.DataFrame, cfg: ScoringConfig) -> pl.DataFrame:
    """Share of the force and of each unit function that tripped each check."""
    force_n = max(staff.height, 1)
    function_n = staff.group_by("unit_function").agg(pl.len().alias("function_n"))
    tripped = hits.select("check_id", "staff_id").unique().join(staff.select("staff_id", "unit_function"), on="staff_id", how="left")
    force_rate = tripped.group_by("check_id").agg((pl.col("staff_id").n_unique() / force_n).alias("p_force"))
    function_rate = (
        tripped.group_by("check_id", "unit_function")
        .agg(pl.col("staff_id").n_unique().alias("tripped"))
        .join(function_n, on="unit_function", how="left")
        .with_columns(
            # Small functions fall back to the force-wide rate, like peer groups.
            p_function=pl.when(pl.col("function_n") >= cfg.min_function_size)
            .then(pl.col("tripped") / pl.col("function_n"))
            .otherwise(None)
        )
        .select("check_id", "unit_function", "p_function")
    )
    return function_rate.join(force_rate, on="check_id", how="left")


def score_staff(
    hits: pl.DataFrame,
    staff: pl.DataFrame,
    outliers: pl.DataFrame,
    cfg: ScoringConfig,
    as_of: date,
    night_end: datetime,
) -> pl.DataFrame:
    """Per member of staff with evidence (or an outlier score above the percentile): the lead score.

    ``hits``: staff_id, hit_id, check_id, category, severity, risk, weight, evidence_at (the
    hit's latest evidence) and optionally evidence_start (its earliest).
    ``staff``: staff_id, unit_function. ``outliers``: staff_id, anomaly_score, anomaly_percentile.
    ``night_end``: the end of the night (:func:`acu_audit.window.end_of_night`), which ages are measured to.
    """
    rates = check_trip_rates(hits, staff, cfg)
    scored_hits = (
        hits.join(staff.select("staff_id", "unit_function"), on="staff_id", how="left")
        .join(rates, on=["check_id", "unit_function"], how="left")
        .with_columns(p=pl.max_horizontal(pl.col("p_force"), pl.col("p_function").fill_null(0)))
    )
    # The calibration's measured share (before it kept only the tail of a common check) is the
    # rarity when the hits carry it; shares counted from the hits themselves otherwise.
    if "peer_share" in scored_hits.columns:
        scored_hits = scored_hits.with_columns(p=pl.coalesce(pl.col("peer_share"), pl.col("p")))
    if "team_concentrated" not in scored_hits.columns:
        scored_hits = scored_hits.with_columns(team_concentrated=pl.lit(False))
    rows = []
    for hit in scored_hits.iter_rows(named=True):
        age = (night_end - hit["evidence_at"]).total_seconds() / 86400 if hit["evidence_at"] else 0.0
        value = (
            cfg.severity_weight[hit["severity"]]
            * hit["risk"]
            / 100
            * hit["weight"]
            * recency(age, cfg)
            * rarity(hit["p"], hit["severity"], cfg, bool(hit["team_concentrated"]))
        )
        rows.append({**hit, "hit_score": value})
    per_hit = pl.DataFrame(rows, schema_overrides={"hit_score": pl.Float64}) if rows else None

    outlier_by_staff = {r["staff_id"]: r for r in outliers.iter_rows(named=True)}
    results = []
    by_staff: dict[str, list[dict]] = {}
    if per_hit is not None:
        for row in per_hit.iter_rows(named=True):
            by_staff.setdefault(row["staff_id"], []).append(row)
    outlier_leads = {s for s, o in outlier_by_staff.items() if o["anomaly_percentile"] >= cfg.outlier_lead_percentile}
    candidates = set(by_staff) | outlier_leads
    for staff_id in sorted(candidates):
        staff_hits = by_staff.get(staff_id, [])
        per_check: dict[str, list[float]] = {}
        check_category: dict[str, str] = {}
        for h in staff_hits:
            per_check.setdefault(h["check_id"], []).append(h["hit_score"])
            check_category[h["check_id"]] = h["category"]
        check_scores = {c: diminishing_sum(v, cfg.repeat_decay) for c, v in per_check.items()}
        # Evidence too weak to matter once weighed by its rarity is not kept: common, weak evidence
        # is not evidence (it neither ranks nor puts anybody on the list).
        check_scores = {c: v for c, v in check_scores.items() if v >= cfg.min_check_evidence}
        staff_hits = [h for h in staff_hits if h["check_id"] in check_scores]
        if not check_scores and staff_id not in outlier_leads:
            continue
        per_category: dict[str, list[float]] = {}
        for c, v in check_scores.items():
            per_category.setdefault(check_category[c], []).append(v)
        category_scores = {k: diminishing_sum(v, cfg.category_decay) for k, v in per_category.items()}
        evidence = diminishing_sum(list(category_scores.values()), cfg.category_decay)
        agreeing = sum(1 for v in category_scores.values() if v >= cfg.agreement_min_category_score)
        agreement = 1 + cfg.agreement_boost * min(max(agreeing - 1, 0), cfg.agreement_cap)
        outlier = outlier_by_staff.get(staff_id, {"anomaly_score": 0.0, "anomaly_percentile": 0.0})
        o = outlier_component(outlier["anomaly_percentile"], cfg)
        total = evidence * agreement + cfg.outlier_weight * o
        # A hit spans evidence_start..evidence_at (its latest evidence, which drives recency).
        starts = [h.get("evidence_start") or h["evidence_at"] for h in staff_hits if h["evidence_at"]]
        times = [h["evidence_at"] for h in staff_hits if h["evidence_at"]]
        ordered = _by_id(staff_hits)
        top_checks = sorted(check_scores, key=lambda c: (-check_scores[c], c))
        results.append(
            {
                "staff_id": staff_id,
                "score": round(100 * (1 - math.exp(-total)), 2),
                "evidence": round(evidence, 4),
                "agreement": agreement,
                "outlier_component": round(o, 4),
                "anomaly_score": outlier["anomaly_score"],
                "anomaly_percentile": outlier["anomaly_percentile"],
                "categories": sorted(category_scores, key=lambda k: (-category_scores[k], CATEGORY_ORDER.find(k))),
                "top_checks": top_checks,
                # strongest first, whatever order the hits arrived in (a re-run stores the same text)
                "check_scores": {c: round(check_scores[c], 4) for c in top_checks},
                "hit_ids": [h["hit_id"] for h in ordered],
                "hit_nights": [h.get("found_on") or as_of for h in ordered],
                "n_hits": len(staff_hits),
                "first_seen": min(starts) if starts else None,
                "last_seen": max(times) if times else None,
                "evidence_times": sorted(starts + times),
                "check_last_seen": {
                    c: max((h["evidence_at"] for h in staff_hits if h["check_id"] == c and h["evidence_at"]), default=None)
                    for c in check_scores
                },
            }
        )
    return pl.DataFrame(
        results,
        schema={
            "staff_id": pl.String,
            "score": pl.Float64,
            "evidence": pl.Float64,
            "agreement": pl.Float64,
            "outlier_component": pl.Float64,
            "anomaly_score": pl.Float64,
            "anomaly_percentile": pl.Float64,
            "categories": pl.List(pl.String),
            "top_checks": pl.List(pl.String),
            "check_scores": pl.Object,
            "hit_ids": pl.List(pl.String),
            "hit_nights": pl.List(pl.Date),
            "n_hits": pl.Int64,
            "first_seen": pl.Datetime("us", "UTC"),
            "last_seen": pl.Datetime("us", "UTC"),
            "evidence_times": pl.List(pl.Datetime("us", "UTC")),
            "check_last_seen": pl.Object,
        },
    )
