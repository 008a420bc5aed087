"""``report.html``: the morning list for analysts, one self-contained page.

No network: no external scripts, styles or fonts; plots are SVGs embedded as
data URIs. Staff appear as staff_ref unless identities were revealed; members
of the public appear as person_id and warning markers, never by name.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, PackageLoader, select_autoescape

from acu_audit.checks.catalogue import CATEGORY_NAMES, load_catalogue
from acu_audit.data_quality import failures_since_published, feed_quality, quarantine_reasons
from acu_audit.db import Warehouse
from acu_audit.night import Findings, Night
from acu_audit.clock import local_date, local_time
from acu_audit.evidence import card_rows, cited_ids

# Leads given a detailed card: every lead in the review tier (what analysts work through), and at
# least this many from the top of the list.
MIN_LEADS_DETAILED = 25
MAX_EVIDENCE_ROWS = 15


def _env() -> Environment:
    return Environment(loader=PackageLoader("acu_audit", "templates"), autoescape=select_autoescape(["html", "j2"]))


def timeline_frames(wh: Warehouse, staff_ids: list[str], night: Night) -> dict[str, pl.DataFrame]:
    """Per staff member and local day of the night's window: look-ups with and without purpose,
    messages, on duty.

    One query per source for all the leads shown, not one per lead.
    """
    params = {**night.params(), "ids": staff_ids}
    lookups = wh.frame(
        """SELECT staff_id, local_day AS day, count(*) FILTER (WHERE has_purpose) AS with_purpose,
                  count(*) FILTER (WHERE NOT has_purpose) AS no_purpose
           FROM access_purpose WHERE staff_id IN (SELECT unnest($ids)) AND local_day BETWEEN $window_start AND $as_of GROUP BY ALL""",
        {k: params[k] for k in ("ids", "window_start", "as_of")},
    )
    messages = wh.frame(
        """SELECT staff_id, CAST(timezone($tz, hour_start) AS DATE) AS day, sum(message_count) AS messages
           FROM device_messages WHERE staff_id IN (SELECT unnest($ids)) AND hour_start >= $window_start_utc AND hour_start < $window_end_utc
           GROUP BY ALL""",
        {k: params[k] for k in ("ids", "tz", "window_start_utc", "window_end_utc")},
    )
    on_duty = wh.frame(
        """SELECT DISTINCT staff_id, CAST(timezone($tz, shift_start) AS DATE) AS day, true AS on_duty
           FROM duty_roster WHERE staff_id IN (SELECT unnest($ids)) AND list_contains($on_duty_types, duty_type)
             AND shift_start >= $window_start_utc - INTERVAL 1 DAY AND shift_start < $window_end_utc""",
        {k: params[k] for k in ("ids", "tz", "window_start_utc", "window_end_utc", "on_duty_types")},
    )
    return daily_timelines(staff_ids, night.window.days_list(), lookups, messages, on_duty)


def daily_timelines(staff_ids: list[str], days: list, lookups: pl.DataFrame, messages: pl.DataFrame,
                    on_duty: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """One frame per member of staff: every day of ``days`` in order, with its look-ups, messages
    and duty (0 and false where a source has no row). Built for all the leads at once, one grid
    of staff and days joined and split by staff member (a filter and three joins per lead cost
    about a second for a review tier of 300)."""
    grid = pl.DataFrame({"staff_id": list(dict.fromkeys(staff_ids))}, schema={"staff_id": pl.String}).join(
        pl.DataFrame({"day": days}, schema={"day": pl.Date}), how="cross")
    timelines = (
        grid.join(lookups, on=["staff_id", "day"], how="left")
        .join(messages, on=["staff_id", "day"], how="left")
        .join(on_duty, on=["staff_id", "day"], how="left")
        .with_columns(pl.col("with_purpose", "no_purpose", "messages").cast(pl.Int64), pl.col("on_duty").cast(pl.Boolean))
        .fill_null(0)
        .sort("staff_id", "day")
    )
    return {key[0]: frame.drop("staff_id") for key, frame in timelines.partition_by("staff_id", as_dict=True).items()}


TIMELINE_SIZE = (900, 280)  # px: the drawing's own size; the page scales it down to its width
LEGEND_BAND = 34  # px above the plot for the legend


def timeline_svg(frame: pl.DataFrame) -> str:
    """Look-ups per day (with and without purpose), contact volume per day, days off duty shaded,
    as an SVG data URI: drawn directly (a few hundred bytes a day), not through matplotlib, whose
    figure cost (about 0.2 s) times a review tier of hundreds made the report the night's slowest part."""
    # The legend has its own band above the plot (LEGEND_BAND), so no bar is ever under it; the
    # drawing scales to the page's width (viewBox), 900 px wide at most.
    width, height, left, right, top, bottom = TIMELINE_SIZE[0], TIMELINE_SIZE[1], 50, 50, LEGEND_BAND, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(frame.height, 1)
    slot = plot_w / n
    with_purpose, no_purpose = frame["with_purpose"].to_list(), frame["no_purpose"].to_list()
    messages, on_duty, days = frame["messages"].to_list(), frame["on_duty"].to_list(), frame["day"].to_list()
    top_lookups = max([a + b for a, b in zip(with_purpose, no_purpose)] + [1])
    top_messages = max(messages + [1])

    def y(value: float, scale: float) -> float:
        return top + plot_h - plot_h * value / scale

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    for i in range(frame.height):
        x = left + i * slot
        if not on_duty[i]:
            parts.append(f'<rect x="{x:.1f}" y="{top}" width="{slot:.1f}" height="{plot_h}" fill="#eeeeee"/>')
        bar_x, bar_w = x + slot * 0.15, slot * 0.7
        base = y(with_purpose[i], top_lookups)
        parts.append(f'<rect x="{bar_x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{top + plot_h - base:.1f}" fill="#8fb3d9"/>')
        stacked = y(with_purpose[i] + no_purpose[i], top_lookups)
        parts.append(f'<rect x="{bar_x:.1f}" y="{stacked:.1f}" width="{bar_w:.1f}" height="{base - stacked:.1f}" fill="#d9534f"/>')
        if i % 4 == 0:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{height - 10}" text-anchor="middle">{days[i].strftime("%d %b")}</text>')
    points = " ".join(f"{left + (i + 0.5) * slot:.1f},{y(m, top_messages):.1f}" for i, m in enumerate(messages))
    legend = [("rect", "#8fb3d9", "look-ups with a purpose"), ("rect", "#d9534f", "look-ups, no purpose found"),
              ("line", "#333333", "messages and calls"), ("rect", "#eeeeee", "day off duty")]
    x = left
    for kind, colour, label in legend:
        if kind == "rect":
            parts.append(f'<rect x="{x}" y="8" width="11" height="11" fill="{colour}" stroke="#999999" stroke-width="0.5"/>')
        else:
            parts.append(f'<line x1="{x}" y1="14" x2="{x + 11}" y2="14" stroke="{colour}" stroke-width="1.5"/>')
        parts.append(f'<text x="{x + 15}" y="18">{label}</text>')
        x += 15 + 6.5 * len(label) + 18  # about 6.5 px a character at 11 px
    parts += [
        f'<polyline points="{points}" fill="none" stroke="#333333" stroke-width="1.5"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#999999"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{top_lookups:,}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
        f'<text x="14" y="{top + plot_h / 2:.0f}" transform="rotate(-90 14 {top + plot_h / 2:.0f})" text-anchor="middle">look-ups</text>',
        f'<text x="{width - right + 4}" y="{top + 4}">{top_messages:,}</text>',
        f'<text x="{width - right + 4}" y="{top + plot_h}">0</text>',
        f'<text x="{width - 12}" y="{top + plot_h / 2:.0f}" transform="rotate(90 {width - 12} {top + plot_h / 2:.0f})" '
        'text-anchor="middle">messages</text>',
        "</svg>",
    ]
    return "data:image/svg+xml;base64," + base64.b64encode("".join(parts).encode()).decode()


def colleague_leads(wh: Warehouse, as_of, hits: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For hits about a colleague's number (``counterparty:...`` that the directory gives to a
    member of staff): the colleague's staff_ref and, when they have one tonight, their lead."""
    numbers = sorted({h["subject"].split(":", 1)[1] for h in hits if (h["subject"] or "").startswith("counterparty:")})
    if not numbers:
        return {}
    rows = wh.records(
        """SELECT d.counterparty, r.staff_ref, l.lead_id
           FROM ref_contact_directory d JOIN staff_refs r ON r.staff_id = d.staff_id
           LEFT JOIN lead_scores l ON l.staff_id = d.staff_id AND l.as_of = $d
           WHERE d.counterparty IN (SELECT unnest($n))""",
        {"n": numbers, "d": as_of},
        step="colleagues named by hits",
    )
    return {f"counterparty:{r['counterparty']}": {"colleague": r["staff_ref"], "colleague_lead": r["lead_id"]} for r in rows}


def report_context(wh: Warehouse, night: Night, findings: Findings, folder: Path) -> dict[str, Any]:
    """What the report template shows of the night; ``folder`` is the night's set (its Data Docs)."""
    window = night.window
    reveal = night.reveal.identities
    leads = wh.records(
        """SELECT l.*, r.staff_ref FROM lead_scores l JOIN staff_refs r USING (staff_id)
           WHERE l.as_of = $d ORDER BY l.rank""",
        {"d": night.as_of},
    )
    titles = {c.id: c.meta for c in load_catalogue()}
    shown = [lead for i, lead in enumerate(leads) if lead["tier"] == "review" or i < MIN_LEADS_DETAILED]
    timelines = timeline_frames(wh, [lead["staff_id"] for lead in shown], night)
    hits_by_lead: dict[str, list[dict[str, Any]]] = {lead["lead_id"]: [] for lead in shown}
    for hit in wh.records(
        # A hit is dated by its latest evidence row (occurred_at: acu_audit.checks.catalogue),
        # so it reads the same as that row beside it.
        """SELECT e.lead_id, h.check_id, h.category, h.severity, h.reason, h.evidence, h.subject, e.found_on,
                  h.occurred_at AS hit_time
           FROM lead_evidence e JOIN check_hits h ON h.as_of = e.found_on AND h.hit_id = e.hit_id
           WHERE e.as_of = $d AND e.lead_id IN (SELECT unnest($leads))
           ORDER BY e.lead_id, h.check_id, hit_time, e.found_on""",
        {"d": night.as_of, "leads": list(hits_by_lead)},
        step="evidence of the leads shown",
    ):
        hit["hit_at"] = local_time(hit.pop("hit_time"), window.timezone)
        hit["found_on"] = local_date(hit["found_on"])
        hits_by_lead[hit.pop("lead_id")].append(hit)
    colleagues = colleague_leads(wh, night.as_of, [h for hits in hits_by_lead.values() for h in hits])
    for hits in hits_by_lead.values():
        for h in hits:
            h.update(colleagues.get(h["subject"] or "", {}))
    cited = {lid: cited_ids([e for h in hits for e in h["evidence"]], [h["subject"] for h in hits])
             for lid, hits in hits_by_lead.items()}
    rows = card_rows(wh, cited, window.timezone, MAX_EVIDENCE_ROWS)
    detailed = []
    for lead in shown:
        hits = hits_by_lead[lead["lead_id"]]
        detailed.append(
            {
                **lead,
                "who": lead["staff_id"] if reveal else lead["staff_ref"],
                "first_seen_local": local_time(lead["first_seen"], window.timezone),
                "last_seen_local": local_time(lead["last_seen"], window.timezone),
                "hits": [
                    {**h, "title": titles[h["check_id"]].title if h["check_id"] in titles else h["check_id"],
                     "investigation": titles[h["check_id"]].investigation_steps if h["check_id"] in titles else []}
                    for h in hits
                ],
                "explanation": json.loads(lead["explanation"] or "[]"),
                "evidence_rows": rows[lead["lead_id"]],
                "evidence_total": sum(len(ids) for ids in cited[lead["lead_id"]].values()),
                "timeline": timeline_svg(timelines[lead["staff_id"]]),
            }
        )
    review_count = sum(1 for lead in leads if lead["tier"] == "review")
    capacity = int(night.settings.leads["review"]["capacity"])
    changes = {c: sum(1 for lead in leads if lead["change"] == c) for c in ("new", "escalated", "returning", "unchanged")}
    return {
        "as_of": night.as_of,
        "since_last_night": changes,
        "review_count": review_count,
        "review_line": findings.review_line,
        "review_capacity": capacity,
        "span_days": night.settings.span_days,
        "declarations": wh.scalar("SELECT count(*) FROM check_hits WHERE as_of = $d AND route = 'declarations'", {"d": night.as_of}),
        "beyond_capacity": max(0, review_count - capacity),
        "window_start": window.start,
        "generated_at": local_time(datetime.now(timezone.utc), window.timezone),
        "run_id": night.run_id,
        "categories": CATEGORY_NAMES,
        "leads": [{**lead, "who": lead["staff_id"] if reveal else lead["staff_ref"]} for lead in leads],
        "detailed": detailed,
        "carded": {lead["lead_id"] for lead in shown},  # only these are linked: no link leads nowhere
        "reveal": reveal,
        "warnings": list(findings.warnings),
        "data_quality": {"feeds": feed_quality(wh, night.as_of), "reasons": quarantine_reasons(wh, night.as_of)[:40],
                         "data_docs": (folder / "data-docs" / "index.html").exists(),
                         "failed_runs": [{**f, "failed_at": local_time(f["failed_at"], window.timezone),
                                          "night": local_date(f["as_of"]) if f["as_of"] else "the latest drop"}
                                         for f in failures_since_published(wh, night.as_of)]},
        "data_as_of": findings.data_as_of,
    }


def write_report(wh: Warehouse, night: Night, findings: Findings, folder: Path) -> Path:
    """The night's report.html in ``folder`` (the night's set)."""
    path = folder / "report.html"
    html = _env().get_template("report.html.j2").render(**report_context(wh, night, findings, folder))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
