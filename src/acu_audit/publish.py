"""Write the run's outputs into ``--out``.

Staff appear as ``staff_ref`` (a keyed pseudonym) unless identities are
deliberately revealed; every file is readable by its owner only.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from acu_audit.db import Warehouse
from acu_audit.files import neutralise_frame, restrict_folder
from acu_audit.night import Findings, Night
from acu_audit.outputs import NIGHTS_HITS
from acu_audit.privacy import ensure_staff_refs, restrict_file


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


def declarations_frame(wh: Warehouse, as_of, reveal: bool) -> pl.DataFrame:
    """Tonight's declarations reminders: compliance matters routed away from the lead list (a
    check with ``route: declarations``, such as undeclared contact with a person on the nominal
    index with nothing specific beside it). Nothing is hidden: it is routed here."""
    identity = ", h.staff_id" if reveal else ""
    return wh.frame(
        f"""SELECT r.staff_ref{identity}, h.check_id, h.subject, h.reason,
                   strftime(coalesce(h.window_start, h.occurred_at), '%Y-%m-%dT%H:%M:%SZ') AS first_seen,
                   strftime(h.occurred_at, '%Y-%m-%dT%H:%M:%SZ') AS last_seen,
                   array_to_string(h.evidence, '|') AS evidence, h.as_of
            FROM check_hits h JOIN staff_refs r USING (staff_id)
            WHERE h.as_of = $as_of AND h.route = 'declarations'
            ORDER BY r.staff_ref, h.check_id, h.subject""",
        {"as_of": as_of},
        step="declarations reminders",
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


# What one night publishes. Each night is written into its own folder, out/nights/<as_of>_<run_id>/,
# and out/current, a link to that folder, is swapped in one rename when every file is there:
# a reader sees last night's set or tonight's, never a mix. out/<name> links to current/<name>;
# out/data-docs too (Great Expectations' pages, on nights that validated new files).
NIGHT_FILES = ("leads.csv", "leads.parquet", "hits.parquet", "declarations.csv", "report.html", "analyst.duckdb",
               "manifest.json")
KEEP_NIGHTS = 7


def write_outputs(wh: Warehouse, night: Night, findings: Findings, progress=None) -> dict:
    """leads.csv, leads.parquet, hits.parquet, report.html, analyst.duckdb and manifest.json,
    readable by the owner only, published as one set (see ``NIGHT_FILES``).

    Returns ``paths`` (the links in --out), ``night_set`` (the night's folder), ``made_current``
    (whether out/current now points at it) and ``warnings`` (what publishing has to say)."""
    import shutil

    from acu_audit.analyst_copy import write_analyst_copy
    from acu_audit.report import write_report
    from acu_audit.state import current_actor, open_state

    ensure_staff_refs(wh, notify=progress)
    out = night.paths.out
    out.mkdir(parents=True, exist_ok=True)
    restrict_folder(out)  # an --out made earlier by someone else's umask is ours now
    folder = out / "nights" / f"{night.as_of.isoformat()}_{night.run_id}"
    if folder.exists():
        shutil.rmtree(folder)  # a half-written folder of this very run, killed and resumed
    folder.mkdir(parents=True)
    reveal = night.reveal.identities
    warnings = []
    if reveal:
        with open_state(night.paths.state, create=True) as state:
            state.record_reveal(current_actor(night.reveal.actor), night.reveal.reason, "run outputs", night.as_of,
                                {"out": str(out), "run_id": night.run_id}, reason_required=False)
        if not (night.reveal.reason and night.reveal.reason.strip()):
            warnings.append("identities revealed in tonight's outputs with no reason given (recorded as 'not given'); "
                            "give --reason next time")
    findings = replace(findings, warnings=(*findings.warnings, *warnings))  # the report lists them too
    leads = leads_frame(wh, night.as_of, reveal, data_as_of=findings.data_as_of, missing_feeds=list(findings.missing_feeds))
    # Great Expectations' Data Docs of tonight's validation, built during ingest, join the set.
    docs = night.docs_staging
    if (docs / "index.html").exists():
        docs.rename(folder / "data-docs")
    elif docs.exists():
        shutil.rmtree(docs)
    write_frame(leads, folder / "leads.csv")
    write_frame(leads, folder / "leads.parquet")
    write_frame(hits_frame(wh, night.as_of, reveal), folder / "hits.parquet")
    write_frame(declarations_frame(wh, night.as_of, reveal), folder / "declarations.csv")
    restrict_file(write_report(wh, night, findings, folder))  # links data-docs/index.html when there
    write_analyst_copy(wh, night, findings, folder, lead_history(night))
    write_manifest(folder, night)
    # A night run again is published beside the others; out/current moves only to the latest night.
    current = published_night(out)
    made_current = current is None or night.as_of >= current
    if made_current:
        swap_in(out, folder)
    prune_nights(out)
    paths = {key: out / name for key, name in (
        ("leads_csv", "leads.csv"), ("leads_parquet", "leads.parquet"), ("hits", "hits.parquet"),
        ("declarations", "declarations.csv"), ("report", "report.html"), ("analyst_copy", "analyst.duckdb"), ("manifest", "manifest.json"))}
    return {"paths": paths, "night_set": folder, "made_current": made_current, "warnings": warnings}


def published_night(out: Path):
    """The night of the set ``out/current`` points at, from its manifest (None before the first)."""
    import json
    from datetime import date

    try:
        return date.fromisoformat(json.loads((Path(out) / "current" / "manifest.json").read_text(encoding="utf-8"))["as_of"])
    except (OSError, ValueError, KeyError):
        return None


def write_manifest(folder: Path, night: Night) -> Path:
    """Which night a set belongs to, and a hash of each of its files (written last)."""
    import hashlib
    import json
    from datetime import datetime, timezone

    files = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in NIGHT_FILES if name != "manifest.json"
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps({
        "as_of": night.as_of.isoformat(), "run_id": night.run_id,
        "published_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "revealed_identities": bool(night.reveal.identities), "sha256": files,
    }, indent=1) + "\n", encoding="utf-8")
    restrict_file(path)
    return path


def _replace_with_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` in one rename (a new link under a temporary name first)."""
    import os
    import uuid

    temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}")
    os.symlink(target, temporary)
    os.replace(temporary, link)


def swap_in(out: Path, night: Path) -> None:
    """Make ``night`` the published set: one rename of out/current; the file links never change."""
    import os

    _replace_with_link(out / "current", os.path.relpath(night, out))
    for name in (*NIGHT_FILES, "data-docs"):
        link = out / name
        if not (link.is_symlink() and os.readlink(link) == f"current/{name}"):
            _replace_with_link(link, f"current/{name}")  # once per --out (or over an older plain file)


def prune_nights(out: Path, keep: int = KEEP_NIGHTS) -> None:
    """Keep the newest ``keep`` published nights (and the current one), and no half-written folder."""
    import shutil

    current = (out / "current").resolve()
    folders = sorted((p for p in (out / "nights").iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    published = [p for p in folders if (p / "manifest.json").exists()]
    for folder in folders:
        if folder.resolve() == current:
            continue
        if folder not in published[:keep]:
            shutil.rmtree(folder, ignore_errors=True)


def lead_history(night: Night) -> list[dict]:
    """Every published night's list (pseudonymised), for the notebooks."""
    from acu_audit.state import open_state

    with open_state(night.paths.state, create=True) as state:
        return state.db.records(
            """SELECT v.as_of, v.lead_id, l.staff_ref, v.rank, v.score, v.categories, v.change, v.status
               FROM lead_versions v JOIN leads l USING (lead_id) WHERE v.as_of <= $d ORDER BY v.as_of, v.rank""",
            {"d": night.as_of},
        )
