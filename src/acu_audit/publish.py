"""Write the run's outputs into ``--out``.

Staff appear as ``staff_ref`` (a keyed pseudonym) unless identities are
deliberately revealed; every file is readable by its owner only.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from acu_audit.db import Warehouse
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
        frame.write_csv(path)
    restrict_file(path)
    return path


def hits_frame(wh: Warehouse, as_of, reveal: bool) -> pl.DataFrame:
    return wh.frame(
        f"""
        SELECT {identity_column(reveal)}, h.check_id, h.category, h.status, h.severity, h.risk,
               h.occurred_at, h.window_start, h.window_end, h.subject, h.reason, h.evidence, h.weight,
               h.check_version, h.as_of, h.run_id, h.hit_id
        FROM check_hits h JOIN staff_refs r USING (staff_id)
        WHERE h.as_of = $as_of
        ORDER BY h.check_id, r.staff_ref, h.hit_id
        """,
        {"as_of": as_of},
        step="hits for publishing",
    )


def write_hits(wh: Warehouse, ctx) -> Path:
    ensure_staff_refs(wh, ctx)
    return write_frame(hits_frame(wh, ctx.as_of, ctx.reveal_identities), Path(ctx.out) / "hits.parquet")
