"""Prefect artifacts for every nightly run: the top leads (staff_ref only), a summary of
the night, and the Great Expectations results. Artifact keys: lowercase, digits, dashes."""

from __future__ import annotations

from pathlib import Path

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from acu_audit.flow.nightly import Journal, NightResult
from acu_audit.night import Night
from acu_audit.publish import published_night

TOP_LEADS = 25


def night_summary_markdown(result: NightResult) -> str:
    night, ingest, checks, leads, health = (result.night, result.loaded.report, result.reviewed.checked.report, result.leads,
                                            result.feeds)
    lines = [f"# acu-audit night of {night.as_of}", ""]
    if health.data_as_of != night.as_of:
        lines += [f"**Data as of {health.data_as_of}**: the landing holds no drop for {night.as_of}.", ""]
    if ingest is not None:
        totals = ingest.totals()
        processed = ingest.processed
        lines += [
            "## Drops",
            f"- drops loaded: {', '.join(str(d) for d in ingest.drops_loaded) or 'none new'}",
            f"- files: {len(processed)} loaded, {len(ingest.files) - len(processed)} already loaded",
            f"- rows: {totals['read']:,} read = {totals['loaded']:,} loaded + {totals['duplicate']:,} duplicate"
            f" + {totals['rejected']:,} rejected ({totals['conflicts']:,} conflicts); {totals['unresolved_refs']:,} unresolved references",
            f"- snapshot rows sent as before, known without typing: {totals['resent']:,} of the duplicates",
            f"- Great Expectations: {ingest.gx_seconds:.1f} s",
        ]
        again = result.reviewed.purpose.days_relabelled
        lines += [f"- look-ups labelled with their policing purpose: {len(result.reviewed.purpose.days_labelled)} day(s)"
                  + (f", of them {len(again)} labelled before and again now, because their data changed (late events, "
                     f"a late drop, a changed snapshot) or how look-ups are labelled did: {', '.join(str(d) for d in again)}"
                     if again else ""), ""]
    if checks is not None:
        failed = [o.check_id for o in checks.failed]
        lines += [
            "## Checks",
            f"- {len(checks.outcomes)} checks run, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""),
            "- hits per category: " + (", ".join(f"{k} {v}" for k, v in checks.hits_by_category().items()) or "none"),
            f"- {checks.calibration.removed:,} hits below their function's line (common there: only the few with the most are reported)",
            "",
        ]
        shares = result.reviewed.checked.shares
        if shares:
            lines += ["### Share of each unit function tripping each check (staff kept after calibration)", "",
                      "| check | function | staff | tripped | share | kept |", "|---|---|---|---|---|---|"]
            lines += [f"| {r['check_id']} | {r['unit_function']} | {r['staff']} | {r['tripped']} | {r['share']:.1%}"
                      f"{' (warning)' if r['warn'] else ''} | {r['kept']} |" for r in shares if r["tripped"]]
            lines.append("")
    if leads is not None:
        changes = result.reviewed.listed.changes
        caught_up = result.caught_up
        lines += [
            "## Leads",
            f"- {len(leads.rows)} on the list: " + ", ".join(f"{v} {k}" for k, v in changes.items()),
            f"- {leads.review} in the review tier (tonight's line {result.reviewed.listed.review_line:.1f}, "
            f"{leads.entered_review} entered tonight); {leads.carried} kept with no evidence in tonight's window",
            f"- {leads.held_back} closed with no further action and held back",
            *([f"- the database was behind: {len(caught_up)} missed night(s) reviewed first ({caught_up[0]} to {caught_up[-1]})"]
              if caught_up else []),
            "",
        ]
    if result.warnings:
        lines += ["## Warnings", *[f"- {w}" for w in result.warnings], ""]
    lines += ["## Timings", *[f"- {t.name}: {t.seconds:.1f} s" for t in result.timings]]
    return "\n".join(lines)


def failure_summary_markdown(night: Night | None, out: Path, failure: Exception, journal: Journal) -> str:
    """What a failed night says: what broke, and which list is still the published one."""
    still = published_night(out)
    night = night.as_of if night is not None else "the latest drop"
    lines = [
        f"# acu-audit night of {night}: FAILED", "",
        f"**What broke:** {failure}", "",
        "This is an error of acu-audit itself, not of the data: nothing was published for this night. "
        + (f"The published list is still the night of {still}." if still else "No list has been published yet."),
        "Fix the cause and run the night again; the drops that did not load will load then.", "",
    ]
    if journal.warnings:
        lines += ["## Warnings before the failure", *[f"- {w}" for w in journal.warnings], ""]
    if journal.timings:
        lines += ["## Steps that finished", *[f"- {t.name}: {t.seconds:.1f} s" for t in journal.timings]]
    return "\n".join(lines)


def publish_failure_artifact(night: Night | None, out: Path, failure: Exception, journal: Journal) -> None:
    create_markdown_artifact(key="night-summary", markdown=failure_summary_markdown(night, out, failure, journal),
                             description=f"Night of {night.as_of if night else 'the latest drop'}: FAILED")


def publish_artifacts(result: NightResult) -> None:
    night = result.night
    rows = result.leads.rows[:TOP_LEADS]
    create_table_artifact(
        key="top-leads",
        table=[
            {"rank": r["rank"], "tier": r["tier"], "lead_id": r["lead_id"], "staff_ref": r["staff_ref"], "score": round(r["score"], 1),
             "age_days": r["age_days"], "categories": "|".join(r["categories"]), "change": r["change"], "summary": r["summary"]}
            for r in rows
        ],
        description=f"Top {len(rows)} leads as of {night.as_of} (staff_ref only)",
    )
    create_markdown_artifact(key="night-summary", markdown=night_summary_markdown(result), description=f"Night of {night.as_of}")
    docs = night.paths.out / "data-docs" / "index.html"
    if docs.exists():
        create_link_artifact(
            key="data-docs",
            link=docs.resolve().as_uri(),
            link_text=f"Great Expectations Data Docs, night of {night.as_of}",
            description="Tonight's validation of each new file against the data contract (built offline under --out)",
        )
    validation = result.loaded.validation_failures
    create_table_artifact(
        key="validation-results",
        table=validation or [{"result": "no new files validated tonight"}],
        description="Great Expectations: expectations that failed or could not run, per drop and table",
    )
