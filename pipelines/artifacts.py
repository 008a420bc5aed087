"""Prefect artifacts for every nightly run: the top leads (staff_ref only), a summary of
the night, and the Great Expectations results. Artifact keys: lowercase, digits, dashes."""

from __future__ import annotations

from pathlib import Path

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from acu_audit.pipeline import RunContext
from acu_audit.publish import published_night

TOP_LEADS = 25


def night_summary_markdown(ctx: RunContext) -> str:
    ingest = ctx.results.get("ingest")
    checks = ctx.results.get("checks")
    leads = ctx.results.get("leads")
    health = ctx.results.get("feed_health")
    lines = [f"# acu-audit night of {ctx.as_of}", ""]
    if health is not None and health.data_as_of != ctx.as_of:
        lines += [f"**Data as of {health.data_as_of}**: the landing holds no drop for {ctx.as_of}.", ""]
    if ingest is not None:
        totals = ingest.totals()
        processed = ingest.processed
        lines += [
            "## Drops",
            f"- drops loaded: {', '.join(str(d) for d in ingest.drops_loaded) or 'none new'}",
            f"- files: {len(processed)} loaded, {len(ingest.files) - len(processed)} already loaded",
            f"- rows: {totals['read']:,} read = {totals['loaded']:,} loaded + {totals['duplicate']:,} duplicate"
            f" + {totals['rejected']:,} rejected ({totals['conflicts']:,} conflicts); {totals['unresolved_refs']:,} unresolved references",
            f"- Great Expectations: {ingest.gx_seconds:.1f} s",
            "",
        ]
    if checks is not None:
        failed = [o.check_id for o in checks.failed]
        lines += [
            "## Checks",
            f"- {len(checks.outcomes)} checks run, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""),
            "- hits per category: " + (", ".join(f"{k} {v}" for k, v in checks.hits_by_category().items()) or "none"),
            f"- {checks.calibration.removed:,} hits below their function's line (common there: only the few with the most are reported)",
            "",
        ]
        shares = ctx.results.get("check_shares") or []
        if shares:
            lines += ["### Share of each unit function tripping each check (staff kept after calibration)", "",
                      "| check | function | staff | tripped | share | kept |", "|---|---|---|---|---|---|"]
            lines += [f"| {r['check_id']} | {r['unit_function']} | {r['staff']} | {r['tripped']} | {r['share']:.1%}"
                      f"{' (warning)' if r['warn'] else ''} | {r['kept']} |" for r in shares if r["tripped"]]
            lines.append("")
    if leads is not None:
        changes = {k: sum(1 for r in leads.rows if r["change"] == k) for k in ("new", "escalated", "returning", "unchanged")}
        caught_up = ctx.results.get("caught_up") or []
        lines += [
            "## Leads",
            f"- {len(leads.rows)} on the list: " + ", ".join(f"{v} {k}" for k, v in changes.items()),
            f"- {leads.review} in the review tier (tonight's line {ctx.results.get('review_line', 0):.1f}, "
            f"{leads.entered_review} entered tonight); {leads.carried} kept with no evidence in tonight's window",
            f"- {leads.held_back} closed with no further action and held back",
            *([f"- the database was behind: {len(caught_up)} missed night(s) reviewed first ({caught_up[0]} to {caught_up[-1]})"]
              if caught_up else []),
            "",
        ]
    if ctx.warnings:
        lines += ["## Warnings", *[f"- {w}" for w in ctx.warnings], ""]
    lines += ["## Timings", *[f"- {t.name}: {t.seconds:.1f} s" for t in ctx.timings]]
    return "\n".join(lines)


def failure_summary_markdown(ctx: RunContext, failure: Exception) -> str:
    """What a failed night says: what broke, and which list is still the published one."""
    night = ctx.as_of or "the latest drop"
    still = published_night(ctx.out)
    lines = [
        f"# acu-audit night of {night}: FAILED", "",
        f"**What broke:** {failure}", "",
        "This is an error of acu-audit itself, not of the data: nothing was published for this night. "
        + (f"The published list is still the night of {still}." if still else "No list has been published yet."),
        "Fix the cause and run the night again; the drops that did not load will load then.", "",
    ]
    if ctx.warnings:
        lines += ["## Warnings before the failure", *[f"- {w}" for w in ctx.warnings], ""]
    if ctx.timings:
        lines += ["## Steps that finished", *[f"- {t.name}: {t.seconds:.1f} s" for t in ctx.timings]]
    return "\n".join(lines)


def publish_failure_artifact(ctx: RunContext, failure: Exception) -> None:
    create_markdown_artifact(key="night-summary", markdown=failure_summary_markdown(ctx, failure),
                             description=f"Night of {ctx.as_of or 'the latest drop'}: FAILED")


def publish_artifacts(ctx: RunContext) -> None:
    leads = ctx.results.get("leads")
    rows = leads.rows[:TOP_LEADS] if leads is not None else []
    create_table_artifact(
        key="top-leads",
        table=[
            {"rank": r["rank"], "tier": r["tier"], "lead_id": r["lead_id"], "staff_ref": r["staff_ref"], "score": round(r["score"], 1),
             "age_days": r["age_days"], "categories": "|".join(r["categories"]), "change": r["change"], "summary": r["summary"]}
            for r in rows
        ],
        description=f"Top {len(rows)} leads as of {ctx.as_of} (staff_ref only)",
    )
    create_markdown_artifact(key="night-summary", markdown=night_summary_markdown(ctx), description=f"Night of {ctx.as_of}")
    docs = Path(ctx.out) / "data-docs" / "index.html"
    if docs.exists():
        create_link_artifact(
            key="data-docs",
            link=docs.resolve().as_uri(),
            link_text=f"Great Expectations Data Docs, night of {ctx.as_of}",
            description="Tonight's validation of each new file against the data contract (built offline under --out)",
        )
    validation = ctx.results.get("validation_rows") or []
    create_table_artifact(
        key="validation-results",
        table=validation or [{"result": "no new files validated tonight"}],
        description="Great Expectations: expectations that failed or could not run, per drop and table",
    )
