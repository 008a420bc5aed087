"""Functions for analysts' notebooks, over the published analyst copy (``out/analyst.duckdb``).

Every function opens the copy read-only for the one query and closes it, so a notebook
never holds a file the nightly run needs, and picks up the new night once it is
published. Staff appear as staff_ref only: identities are revealed through the CLI
(``acu-audit reveal``), which records the reveal.

    from acu_audit import explore
    pub = explore.Published.find()          # ACU_AUDIT_PUBLISHED, or demo/out/analyst.duckdb
    explore.todays_leads(pub).head(10)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from acu_audit.analyst_copy import FILE_NAME
from acu_audit.clock import INSTANT_FORMAT, local_time
from acu_audit.contract import ON_DUTY_TYPES
from acu_audit.db import Warehouse
from acu_audit.paths import absolute_or_none, env_path

PUBLISHED_ENV = "ACU_AUDIT_PUBLISHED"
# The counterparty kinds of the analyst copy's messages_daily, in plotting order.
COUNTERPARTY_KINDS = ("colleague", "victim", "marked person", "other person", "organisation", "unknown")


@dataclass(frozen=True)
class Published:
    """The analysts' copy of one night."""

    path: Path

    @classmethod
    def find(cls, path: str | Path | None = None) -> Published:
        """``path``, else $ACU_AUDIT_PUBLISHED, else ``demo/out/analyst.duckdb`` up from here."""
        candidate = absolute_or_none(path) or env_path(PUBLISHED_ENV)
        if candidate is None:
            here = Path.cwd()
            for folder in (here, *here.parents):
                if (folder / "demo" / "out" / FILE_NAME).exists():
                    candidate = folder / "demo" / "out" / FILE_NAME
                    break
        if candidate is None:
            raise FileNotFoundError(f"no published analyst copy: run `acu-audit demo` or set {PUBLISHED_ENV}")
        candidate = Path(candidate)
        if candidate.is_dir():
            candidate = candidate / FILE_NAME
        if not candidate.exists():
            raise FileNotFoundError(f"no published analyst copy at {candidate}")
        return cls(candidate)

    def frame(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        # Opened for each query and closed at once: an open notebook never holds the file.
        with Warehouse(self.path, read_only=True) as copy:
            return copy.frame(sql, params, step="notebook query")

    def meta(self) -> dict[str, Any]:
        return self.frame("SELECT * FROM meta").row(0, named=True)


# ---- the morning review ----------------------------------------------------------------
def todays_leads(pub: Published, top: int | None = None) -> pl.DataFrame:
    """Tonight's queue, review tier first: rank, tier, lead, staff_ref, score, age, categories, change, status, summary."""
    leads = pub.frame(
        """SELECT rank, tier, lead_id, staff_ref, round(score, 1) AS score, age_days,
                  array_to_string(categories, '|') AS categories, change, status, flag,
                  round(anomaly_score, 3) AS anomaly_score, summary
           FROM leads ORDER BY rank"""
    )
    return leads.head(top) if top else leads


def changes_since_yesterday(pub: Published) -> dict[str, pl.DataFrame]:
    """What is new, escalated or returning tonight, and which leads left the list since the last night."""
    leads = todays_leads(pub)
    history = pub.frame("SELECT * FROM lead_history")
    as_of = pub.meta()["as_of"]
    earlier = history.filter(pl.col("as_of") < as_of)
    previous = earlier.filter(pl.col("as_of") == earlier["as_of"].max()) if earlier.height else earlier
    left = previous.filter(~pl.col("lead_id").is_in(leads["lead_id"].to_list())).select("lead_id", "staff_ref", "rank", "score")
    return {
        kind: leads.filter(pl.col("change") == kind) for kind in ("new", "escalated", "returning", "unchanged")
    } | {"left the list": left}


def local_times(frame: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Every instant of a frame as a person reads it: local time, zone named (``15:37 GMT``)."""
    instants = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone is not None]
    return frame.with_columns(
        pl.col(n).dt.convert_time_zone(tz).dt.strftime(INSTANT_FORMAT) for n in instants
    ) if instants else frame


def lead_detail(pub: Published, lead_id: str) -> dict[str, Any]:
    """One lead: its row, the checks that fired (with reasons), evidence rows, and the outlier explanation."""
    leads = pub.frame("SELECT * FROM leads WHERE lead_id = $l", {"l": lead_id})
    if leads.is_empty():
        raise KeyError(f"{lead_id} is not on this night's list")
    lead = leads.row(0, named=True)
    nights = lead["hit_nights"] or [pub.meta()["as_of"]] * len(lead["hit_ids"])
    hits = pub.frame(
        """SELECT h.check_id, c.title, h.category, h.severity, h.weight, h.occurred_at, h.found_on, h.subject, h.reason, h.evidence
           FROM (SELECT unnest($ids) AS hit_id, unnest($nights) AS found_on) w
           JOIN hits h USING (hit_id, found_on) LEFT JOIN checks c USING (check_id)
           ORDER BY h.check_id, h.occurred_at""",
        {"ids": list(lead["hit_ids"]), "nights": list(nights)},
    )
    ids = [e for ev in hits["evidence"].to_list() for e in ev]
    lookups = [e.split(":", 1)[1] for e in ids if e.startswith("access_events:")]
    messages = [e.split(":", 1)[1] for e in ids if e.startswith("device_messages:")]
    tz = pub.meta()["timezone"]
    return {
        "lead": {k: (local_time(v, tz) if isinstance(v, datetime) else v)
                 for k, v in lead.items() if k not in ("hit_ids", "hit_nights")},
        "hits": local_times(hits.drop("evidence"), tz),
        "evidence_lookups": local_times(pub.frame(
            "SELECT * FROM evidence_lookups WHERE event_id IN (SELECT unnest($ids)) ORDER BY occurred_at", {"ids": lookups}
        ), tz),
        "evidence_messages": local_times(pub.frame(
            "SELECT * FROM evidence_messages WHERE row_id IN (SELECT unnest($ids)) ORDER BY hour_start", {"ids": messages}
        ), tz),
        "why_unusual": [e["text"] for e in json.loads(lead["explanation"] or "[]")],
    }


def plot_top_leads(pub: Published, top: int = 20):
    """Tonight's top leads as bars: score, coloured by what changed since yesterday."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    leads = todays_leads(pub, top=top)
    colours = {"new": "#d9534f", "escalated": "#f0ad4e", "returning": "#8e44ad", "unchanged": "#8fb3d9"}
    fig, ax = plt.subplots(figsize=(9, 0.32 * max(leads.height, 3) + 1))
    labels = [f"#{r} {s}  [{c}]{' (review)' if t == 'review' else ''}"
              for r, s, c, t in zip(leads["rank"], leads["staff_ref"], leads["categories"], leads["tier"])]
    ax.barh(labels[::-1], leads["score"].to_list()[::-1],
            color=[colours.get(c, "#999999") for c in leads["change"].to_list()[::-1]])
    # Patches, not empty bars: an empty bar container gives the legend the default colour for every entry.
    ax.legend(handles=[Patch(facecolor=colour, label=change) for change, colour in colours.items()],
              loc="lower right", fontsize=8, title="since yesterday", title_fontsize=8)
    ax.set_xlabel("score")
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(f"Top {leads.height} leads for {pub.meta()['as_of']}", fontsize=10)
    fig.tight_layout()
    return fig


# ---- tables as an analyst reads them ------------------------------------------------------
def readable_tables(max_rows: int = 50) -> None:
    """Show every polars frame of this notebook as :func:`table_html` (the first cell calls it)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:  # not in a notebook: frames print as polars prints them
        return
    shell.display_formatter.formatters["text/html"].for_type(pl.DataFrame, lambda frame: table_html(frame, max_rows))


def table_html(frame: pl.DataFrame, max_rows: int = 50) -> str:
    """A frame as an analyst reads it: column names, then the values as words (no row of types, no
    quotes round text, an empty cell where there is no value, lists joined with commas, times to
    the minute), and how many rows there are."""
    from html import escape

    shown = frame.head(max_rows)
    right = {c for c, t in frame.schema.items() if t.is_numeric()}
    head = "".join(f'<th style="text-align:{"right" if c in right else "left"}">{escape(c)}</th>' for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f'<td style="text-align:{"right" if c in right else "left"}">{escape(cell_text(v))}</td>'
                         for c, v in zip(frame.columns, row)) + "</tr>"
        for row in shown.iter_rows()
    )
    more = f"; the first {max_rows} shown" if frame.height > max_rows else ""
    rows = f"{frame.height:,} row{'' if frame.height == 1 else 's'}{more}"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><p><small>{rows}</small></p>"


def cell_text(value: Any) -> str:
    """One value of a table as words."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M %Z").strip()
    if isinstance(value, (list, tuple)):
        return ", ".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {cell_text(v)}" for k, v in value.items())
    return str(value)


# ---- one member of staff ---------------------------------------------------------------
def staff_timeline(pub: Published, staff_ref: str) -> pl.DataFrame:
    """Per local day of the window: look-ups with and without purpose, messages by counterparty kind, on duty."""
    meta = pub.meta()
    days = pl.DataFrame({"local_day": [meta["window_start"] + timedelta(days=i)
                                       for i in range((meta["as_of"] - meta["window_start"]).days + 1)]})
    lookups = pub.frame("SELECT local_day, with_purpose, no_purpose, off_duty FROM lookups_daily WHERE staff_ref = $s", {"s": staff_ref})
    messages = pub.frame(
        "SELECT local_day, counterparty_kind, messages FROM messages_daily WHERE staff_ref = $s", {"s": staff_ref}
    )
    wide = (
        messages.pivot(on="counterparty_kind", index="local_day", values="messages", aggregate_function="sum")
        if messages.height else pl.DataFrame({"local_day": []}, schema={"local_day": pl.Date})
    )
    for kind in COUNTERPARTY_KINDS:
        if kind not in wide.columns:
            wide = wide.with_columns(pl.lit(0, dtype=pl.Int64).alias(kind))
    duty = pub.frame(
        """SELECT local_day, bool_or(list_contains($on_duty_types, duty_type)) AS on_duty,
                  string_agg(DISTINCT duty_type, '/') AS roster
           FROM duty_days WHERE staff_ref = $s GROUP BY local_day""",
        {"s": staff_ref, "on_duty_types": list(ON_DUTY_TYPES)},
    )
    frame = (
        days.join(lookups, on="local_day", how="left")
        .join(wide.select("local_day", *[pl.col(k).cast(pl.Int64) for k in COUNTERPARTY_KINDS]), on="local_day", how="left")
        .join(duty, on="local_day", how="left")
    )
    return frame.with_columns(
        [pl.col(c).fill_null(0) for c in ("with_purpose", "no_purpose", "off_duty", *COUNTERPARTY_KINDS)]
        + [pl.col("on_duty").fill_null(False), pl.col("roster").fill_null("none")]
    ).sort("local_day")


def staff_declarations(pub: Published, staff_ref: str) -> pl.DataFrame:
    return pub.frame(
        "SELECT declaration_id, kind, relationship, status, declared_at, decided_at, person_id, organisation_id "
        "FROM declarations WHERE staff_ref = $s ORDER BY declared_at",
        {"s": staff_ref},
    )


def plot_staff_timeline(pub: Published, staff_ref: str):
    """Look-ups (with/without purpose) and contact by counterparty kind per day; days off duty shaded."""
    import matplotlib.pyplot as plt

    frame = staff_timeline(pub, staff_ref)
    x = list(range(frame.height))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    for ax in (top, bottom):
        for i, on in enumerate(frame["on_duty"].to_list()):
            if not on:
                ax.axvspan(i - 0.5, i + 0.5, color="#eeeeee", zorder=0)
    top.bar(x, frame["with_purpose"], color="#8fb3d9", label="with a purpose")
    top.bar(x, frame["no_purpose"], bottom=frame["with_purpose"], color="#d9534f", label="no purpose found")
    top.set_ylabel("look-ups")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(f"{staff_ref}: grey = days off duty", fontsize=10)
    base = [0] * frame.height
    colours = ["#cccccc", "#d9534f", "#8e44ad", "#5bc0de", "#f0ad4e", "#333333"]
    for kind, colour in zip(COUNTERPARTY_KINDS, colours):
        values = frame[kind].to_list()
        bottom.bar(x, values, bottom=base, color=colour, label=kind)
        base = [b + v for b, v in zip(base, values)]
    bottom.set_ylabel("messages and calls")
    bottom.legend(loc="upper left", fontsize=7, ncol=3)
    labels = [d.strftime("%d %b") for d in frame["local_day"].to_list()]
    bottom.set_xticks(x[::3], labels[::3], fontsize=8)
    fig.tight_layout()
    return fig


# ---- one check across the force ----------------------------------------------------------
def check_hits(pub: Published, check_id: str) -> pl.DataFrame:
    """One check's hits tonight, with the unit function and local day of each."""
    tz = pub.meta()["timezone"]
    return pub.frame(
        """SELECT staff_ref, unit_function, CAST(timezone($tz, coalesce(occurred_at, window_end)) AS DATE) AS local_day,
                  weight, suppressed, subject, reason
           FROM hits WHERE check_id = $c ORDER BY local_day, staff_ref""",
        {"c": check_id, "tz": tz},
    )


def check_summary(pub: Published) -> pl.DataFrame:
    """Every check tonight: hits, staff hit, share of the force, seconds, status."""
    return pub.frame(
        """SELECT c.check_id, c.category, c.severity, c.status AS maturity, r.hits, r.staff_hit,
                  round(100.0 * r.staff_hit / (SELECT count(*) FROM staff), 2) AS pct_of_staff, round(r.seconds, 2) AS seconds,
                  r.status
           FROM checks c LEFT JOIN check_runs r USING (check_id) ORDER BY c.check_id"""
    )


def plot_check_hits(pub: Published, check_id: str):
    """A check's hits by unit function and by day of the window."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    hits = check_hits(pub, check_id)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    by_function = hits.group_by("unit_function").agg(pl.col("staff_ref").n_unique().alias("staff")).sort("staff")
    left.barh(by_function["unit_function"].fill_null("unknown").to_list(), by_function["staff"].to_list(), color="#445")
    left.set_title(f"{check_id}: staff hit by unit function", fontsize=10)
    by_day, outside = hits_by_day(pub, hits)
    right.bar(by_day["local_day"].to_list(), by_day["hits"].to_list(), width=0.8, color="#8fb3d9")
    right.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=8))
    right.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    right.set_xlim(by_day["local_day"][0] - timedelta(days=1), by_day["local_day"][-1] + timedelta(days=1))
    right.set_title("hits by day of the window" + (f" ({outside} dated outside it, not shown)" if outside else ""), fontsize=10)
    right.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return fig


def hits_by_day(pub: Published, hits: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """A check's hits per local day of the review window, every day of it (none: zero), and how
    many hits are dated outside it (a check over a longer span, such as a record altered weeks ago)."""
    meta = pub.meta()
    days = pl.DataFrame({"local_day": pl.date_range(meta["window_start"], meta["as_of"], eager=True)})
    counted = hits.group_by("local_day").agg(pl.len().alias("hits"))
    by_day = days.join(counted, on="local_day", how="left").with_columns(pl.col("hits").fill_null(0).cast(pl.Int64)).sort("local_day")
    return by_day, hits.height - int(by_day["hits"].sum())


# ---- what if -------------------------------------------------------------------------
def what_if(
    pub: Published,
    *,
    scoring: dict[str, Any] | None = None,
    exclude_checks: tuple[str, ...] = (),
    min_hit_weight: dict[str, float] | None = None,
    top: int = 50,
) -> pl.DataFrame:
    """Re-score tonight in memory with other weights or thresholds; nothing is written.

    ``scoring`` overrides keys of ``configs/default.yaml``'s ``scoring`` section (e.g.
    ``{"outlier": {"weight": 0.6}}``); ``exclude_checks`` drops checks; ``min_hit_weight``
    drops a check's hits below a weight. Returns the leads that enter or leave the top
    ``top``, with their rank before and after.
    """
    from acu_audit.config import deep_merge, settings_from
    from acu_audit.leads import lead_tier, queue_order
    from acu_audit.scoring import ScoringConfig, score_staff
    from acu_audit.window import end_of_night

    meta = pub.meta()
    settings = settings_from(deep_merge(json.loads(meta["config"]), {"scoring": scoring or {}}))  # the night's own config
    cfg = ScoringConfig.from_settings(settings)
    as_of = meta["as_of"]
    # Tonight's evidence over the span, exactly as the night scored it: the hits behind each listed
    # lead (each from the night it was found), with their measured rarity.
    hits = pub.frame(
        """SELECT h.hit_id, h.found_on, h.staff_ref AS staff_id, h.check_id, h.category, h.severity, h.risk, h.weight,
                  h.peer_share, h.team_concentrated,
                  coalesce(h.window_start, h.occurred_at, h.window_end) AS evidence_start,
                  coalesce(h.window_end, h.occurred_at, h.window_start) AS evidence_at
           FROM hits h
           JOIN (SELECT unnest(hit_ids) AS hit_id, unnest(hit_nights) AS found_on FROM leads WHERE tonight_score IS NOT NULL) l
             USING (hit_id, found_on)
           WHERE h.status = 'stable' AND NOT h.suppressed"""
    )
    if exclude_checks:
        hits = hits.filter(~pl.col("check_id").is_in(list(exclude_checks)))
    for check_id, threshold in (min_hit_weight or {}).items():
        hits = hits.filter((pl.col("check_id") != check_id) | (pl.col("weight") >= threshold))
    staff = pub.frame("SELECT staff_ref AS staff_id, unit_function FROM staff")
    outliers = pub.frame("SELECT staff_ref AS staff_id, anomaly_score, anomaly_percentile FROM outliers")
    tonight = score_staff(hits, staff, outliers, cfg, as_of, end_of_night(as_of, meta["timezone"])).select(pl.col("staff_id").alias("staff_ref"), pl.col("score").alias("tonight_after"))
    # Only staff on the night's list can be on it after: the others with hits tonight are closed
    # leads held back (no evidence newer than their closure) or suppressed, and a change of
    # weights or thresholds changes neither. (What-if can only remove or re-weigh evidence.)
    listed_tonight = pub.frame("SELECT staff_ref FROM leads")["staff_ref"]
    tonight = tonight.filter(pl.col("staff_ref").is_in(listed_tonight.to_list()))
    # The night's queue, re-ranked by its own rules (acu_audit.leads.lead_tier, queue_order): a lead's
    # score is tonight's score of its evidence (0 for an open lead with none kept tonight). A lead in
    # the review tier before tonight (there, and not by tonight's score) stays in it.
    before = pub.frame(
        """SELECT staff_ref, rank AS rank_before, round(score, 1) AS score_before, tier AS tier_before, tonight_score, status
           FROM leads"""
    )
    line = float(meta.get("review_line") or 0.0)
    both = before.join(tonight, on="staff_ref", how="full", coalesce=True).with_columns(
        score_after=pl.col("tonight_after").fill_null(0.0).round(2),
    )
    both = both.with_columns(tier_after=pl.Series([
        lead_tier(status, tier == "review" and (scored is None or scored < line), after or 0.0, line)
        for status, tier, scored, after in both.select("status", "tier_before", "tonight_score", "tonight_after").iter_rows()
    ], dtype=pl.String))
    # An open lead stays listed (until an analyst closes it) even when no evidence is left tonight.
    listed = both.filter(pl.col("rank_before").is_not_null() | (pl.col("score_after") > 0))
    order = sorted(range(listed.height), key=lambda i: queue_order(listed["tier_after"][i], listed["score_after"][i],
                                                                   listed["staff_ref"][i]))
    listed = listed[order].with_row_index("rank_after", offset=1)
    ranked = both.select("staff_ref", "rank_before", "score_before").join(
        listed.select("staff_ref", "rank_after", "score_after"), on="staff_ref", how="full", coalesce=True)
    moved = ranked.select("staff_ref", "rank_before", "score_before", "rank_after", "score_after").filter(
        (pl.col("rank_before").fill_null(10**9) <= top) != (pl.col("rank_after").fill_null(10**9) <= top)
    ).with_columns(
        change=pl.when(pl.col("rank_after").fill_null(10**9) <= top).then(pl.lit("enters the top")).otherwise(pl.lit("leaves the top"))
    )
    return moved.sort("change", "rank_after", "rank_before", nulls_last=True)
