"""Write the run's outputs into ``--out``.

Staff appear as ``staff_ref`` (a keyed pseudonym) unless identities are
deliberately revealed; every file is readable by its owner only.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from acu_audit.db import Warehouse
from acu_audit.files import neutralise_frame, restrict_folder
from acu_audit.privacy import load_secret, register_staff_refs, restrict_file


def ensure_staff_refs(wh: Warehouse, ctx) -> None:
    """Build the temp table ``staff_refs`` once per run."""
    if not ctx.results.get("staff_refs_ready"):
        register_staff_refs(wh, load_secret(notify=ctx.progress))
        ctx.results["staff_refs_ready"] = True


def identity_column(reveal: bool) -> str:
    """SQL selecting the staff reference for table alias ``h`` joined to ``staff_refs r``."""
    return "r.staff_ref, h.staff_id" if reveal else "r.staff_ref"


def write_frame(frame: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        neutralise_frame(frame).write_csv(path)  # a spreadsheet must not run a cell as a formula
    restrict_file(path)
    return path


# The hits an output of the night holds: every hit in tonight's window, and the hits behind
# tonight's listed leads that were found on earlier nights (the queue). A CTE, `wanted(as_of,
# hit_id)`, with as_of the night each hit was found; the night is bound as $as_of.
NIGHTS_HITS = """
    wanted AS (
        SELECT as_of, hit_id FROM check_hits WHERE as_of = $as_of
        UNION
        SELECT found_on, hit_id FROM lead_evidence WHERE as_of = $as_of AND found_on < $as_of
    )"""


def hits_frame(wh: Warehouse, as_of, reveal: bool) -> pl.DataFrame:
    """Every hit in tonight's window, and the hits behind tonight's listed leads found on earlier
    nights (``as_of`` is the night each hit was found)."""
    return wh.frame(
        f"""
        WITH {NIGHTS_HITS}
        SELECT {identity_column(reveal)}, h.check_id, h.category, h.status, h.severity, h.risk,
               h.occurred_at, h.window_start, h.window_end, h.subject, h.reason, h.evidence, h.weight,
               s.suppression_id IS NOT NULL AS suppressed,
               h.check_version, h.as_of, h.run_id, h.hit_id, h.peer_share, h.team_concentrated
        FROM wanted w JOIN check_hits h USING (as_of, hit_id) JOIN staff_refs r USING (staff_id)
        LEFT JOIN suppressed_hits s ON s.as_of = h.as_of AND s.hit_id = h.hit_id
        ORDER BY h.check_id, r.staff_ref, h.as_of, h.hit_id
        """,
        {"as_of": as_of},
        step="hits for publishing",
    )


LEAD_COLUMNS = (
    "rank", "lead_id", "staff_ref", "score", "categories", "top_checks", "anomaly_score",
    "first_seen", "last_seen", "summary", "tier", "age_days", "change", "status", "flag", "what_is_new", "as_of",
)


def leads_frame(wh: Warehouse, as_of, reveal: bool, data_as_of=None, missing_feeds: list[str] | None = None) -> pl.DataFrame:
    """Tonight's list in the data contract's shape, best first (staff_id only when revealed).

    Every row also says what date its data is as of and which feeds were missing.
    """
    identity = ", h.staff_id" if reveal else ""
    frame = wh.frame(
        f"""
        SELECT h.rank, h.lead_id, r.staff_ref{identity}, round(h.score, 1) AS score,
               array_to_string(h.categories, '|') AS categories,
               array_to_string(h.top_checks, '|') AS top_checks,
               round(h.anomaly_score, 3) AS anomaly_score,
               strftime(h.first_seen, '%Y-%m-%dT%H:%M:%SZ') AS first_seen,
               strftime(h.last_seen, '%Y-%m-%dT%H:%M:%SZ') AS last_seen,
               h.summary, h.tier, h.age_days, h.change, h.status, h.flag, h.what_is_new, h.as_of
        FROM lead_scores h JOIN staff_refs r USING (staff_id)
        WHERE h.as_of = $as_of
        ORDER BY h.rank
        """,
        {"as_of": as_of},
        step="leads for publishing",
    )
    return frame.with_columns(
        data_as_of=pl.lit(data_as_of or as_of, dtype=pl.Date),
        missing_feeds=pl.lit("|".join(missing_feeds or []), dtype=pl.String),
    )


def write_outputs(wh: Warehouse, ctx) -> dict[str, Path]:
    """leads.csv, leads.parquet, hits.parquet, report.html and analyst.duckdb, readable by the owner only."""
    from acu_audit.analyst_copy import write_analyst_copy
    from acu_audit.report import write_report
    from acu_audit.state import current_actor, open_state

    ensure_staff_refs(wh, ctx)
    out = Path(ctx.out)
    out.mkdir(parents=True, exist_ok=True)
    restrict_folder(out)  # an --out made earlier by someone else's umask is ours now
    reveal = ctx.reveal_identities
    if reveal:
        from acu_audit.pipeline import state_path

        with open_state(state_path(ctx)) as state:
            state.record_reveal(current_actor(ctx.actor), ctx.reveal_reason, "run outputs", ctx.as_of, {"out": str(out), "run_id": ctx.run_id})
    health = ctx.results.get("feed_health")
    leads = leads_frame(
        wh, ctx.as_of, reveal,
        data_as_of=health.data_as_of if health else None,
        missing_feeds=health.missing_feeds if health else None,
    )
    paths = {
        "leads_csv": write_frame(leads, out / "leads.csv"),
        "leads_parquet": write_frame(leads, out / "leads.parquet"),
        "hits": write_frame(hits_frame(wh, ctx.as_of, reveal), out / "hits.parquet"),
    }
    paths["report"] = write_report(wh, ctx, out / "report.html")
    restrict_file(paths["report"])
    paths["analyst_copy"] = write_analyst_copy(wh, ctx, lead_history(ctx))
    return paths


def lead_history(ctx) -> list[dict]:
    """Every published night's list (pseudonymised), for the notebooks."""
    from acu_audit.pipeline import state_path
    from acu_audit.state import open_state

    with open_state(state_path(ctx)) as state:
        return state.db.records(
            """SELECT v.as_of, v.lead_id, l.staff_ref, v.rank, v.score, v.categories, v.change, v.status
               FROM lead_versions v JOIN leads l USING (lead_id) ORDER BY v.as_of, v.rank"""
        )
