"""The ``acu-audit`` command line."""

from __future__ import annotations

import functools
import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from acu_audit.errors import AcuAuditError
from acu_audit.clock import local_date, local_time

app = typer.Typer(
    name="acu-audit",
    help="Corruption-risk audit pipeline for police anti-corruption units.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Data reaches the terminal as text, never as Rich markup: a unit named "[/x] Roads" or an
# operation "[/b]bad" is printed as it is. Styles are given as arguments (style="dim").
console = Console(stderr=True, markup=False, highlight=False)
out = Console(markup=False, highlight=False)


@app.callback()
def _every_command() -> None:
    """Before any command: every file and folder it creates is owner-only."""
    from acu_audit.files import owner_only

    owner_only()


def _absolute(value: Optional[Path]) -> Optional[Path]:
    """Every path option is made absolute here, where it enters (``acu_audit.paths``)."""
    from acu_audit.paths import absolute_or_none

    return absolute_or_none(value)


def _date(value: Optional[str]) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _local_zone() -> str:
    """The force's zone (configs/default.yaml ``timezone``): times people read are local, zone named."""
    from acu_audit.config import load_settings

    return load_settings(None).timezone


def _text_table(title: str, columns: tuple[str, ...], rows: list[tuple]) -> Table:
    """A table of values shown as text: None as blank, and never read as Rich markup (values
    come from files and from what people typed)."""
    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def _fail(exc: Exception, code: int = 2) -> None:
    """The message and an exit code: 2 for a usage or input error, 1 for a night that could not run."""
    console.print(Text.assemble(("error: ", "bold red"), str(exc)))
    raise typer.Exit(code=code)


def _shown(path: Path) -> str:
    """A path to print for the user to type: relative to the working folder when it is below it."""
    import os

    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else relative


def _require_landing(landing: Path) -> None:
    """Checked before anything is created: a wrong --landing leaves no database behind."""
    if not landing.is_dir():
        _fail(AcuAuditError(f"landing folder not found: {landing}"))


def _require_database(db: Path) -> None:
    """Analyst commands read an existing warehouse; they never create one (or its folder)."""
    if not db.is_file():
        _fail(AcuAuditError(f"no database at {db}: run `acu-audit run` first, or give --db"))


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write landing/ and the ground truth into.", callback=_absolute)],
    staff: Annotated[int, typer.Option(help="Workforce size.")] = 2000,
    days: Annotated[int, typer.Option(help="Nights of data.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 7,
    start: Annotated[Optional[str], typer.Option(help="First day, YYYY-MM-DD.")] = None,
    plant_intensity: Annotated[float, typer.Option(help="Scale of the planted insiders' signals (1 = realistic).")] = 1.0,
    profile: Annotated[Optional[str], typer.Option(help="A force unlike the demo: noisy, busy, mix, early, or several comma-separated.")] = None,
) -> None:
    """Generate a demo force: DIR/landing/ per the data contract, and its ground truth beside landing/."""
    from acu_audit.synth import generate_force  # the generator is never on the pipeline path
    from acu_audit.synth.profiles import parse_profile

    try:
        chosen = parse_profile(profile)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile") from exc
    kwargs = {"staff": staff, "days": days, "seed": seed, "plant_intensity": plant_intensity, "profile": chosen}
    if start:
        kwargs["start"] = _date(start)
    try:
        report = generate_force(out_dir, progress=lambda msg: console.print(f"{msg}", style="dim"), **kwargs)
    except ValueError as exc:
        _fail(exc)
    table = Table(title=f"Demo force: {staff} staff x {days} days, seed {seed}, profile {chosen.label} ({report.seconds:.1f} s)")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in report.row_counts.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)
    out.print(f"landing: {report.landing_dir}\ntruth:   {report.truth_path}")


@app.command()
def ingest(
    landing: Annotated[Path, typer.Option(help="The landing folder (one sub-folder per drop).", callback=_absolute)],
    db: Annotated[Path, typer.Option(help="DuckDB file to load into.", callback=_absolute)] = Path("acu_audit.duckdb"),
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Load drops up to this date only.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ledger as JSON on stdout.")] = False,
    no_validation: Annotated[bool, typer.Option("--no-validation", help="Skip the Great Expectations suites.")] = False,
) -> None:
    """Load every drop not yet loaded into the DuckDB file, in drop-date order."""
    from acu_audit.config import load_settings
    from acu_audit.ingest import ingest_landing, loading_warehouse
    from acu_audit.validation import GxValidator

    _require_landing(landing)
    try:
        settings = load_settings()
        with loading_warehouse(db, settings.runtime) as wh:
            validator = None if no_validation else GxValidator.from_settings(settings)
            report = ingest_landing(
                wh,
                landing,
                up_to=_date(as_of),
                validator=validator,
                on_file=None if as_json else lambda f: console.print(f"{f.drop_date} {f.file_name}: {f.status}", style="dim"),
                lanes=int(settings.runtime["ingest_lanes"]),
            )
    except (AcuAuditError, FileNotFoundError) as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(report.ledger_json(), indent=1) + "\n")
        return
    print_ingest_report(report)


@app.command()
def run(
    landing: Annotated[Path, typer.Option(help="The landing folder (one sub-folder per drop).", callback=_absolute)],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for leads, hits and the report.", callback=_absolute)],
    db: Annotated[Path, typer.Option(help="DuckDB file (created if missing).", callback=_absolute)] = Path("acu_audit.duckdb"),
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Audit as of this date (default: the latest drop).")] = None,
    reveal_identities: Annotated[bool, typer.Option("--reveal-identities", help="Also write staff_id (the reveal is recorded).")] = False,
    config: Annotated[Optional[Path], typer.Option(help="A force configuration overriding configs/default.yaml.", callback=_absolute)] = None,
    no_validation: Annotated[bool, typer.Option("--no-validation", help="Skip the Great Expectations suites.")] = False,
    state: Annotated[Optional[Path], typer.Option(help="The analyst-state file (default: <db>.state.duckdb).", callback=_absolute)] = None,
    reason: Annotated[Optional[str], typer.Option(help="Why identities are revealed (recorded with the reveal).")] = None,
    actor: Annotated[Optional[str], typer.Option(help="Who is running this (default: the login name).")] = None,
) -> None:
    """Load new drops, run the checks over the review window and write the outputs.

    Runs the nightly Prefect flow (acu_audit.flow.prefect_flow) on Prefect's ephemeral API:
    no server to start.
    """
    final = run_flow(
        landing=landing, out_dir=out_dir, db=db, as_of=_date(as_of), state=state, config=config,
        reveal_identities=reveal_identities, reason=reason, actor=actor, validate=not no_validation,
    )
    if final.get("current", True):
        out.print(f"{final['message']}\n  {out_dir / 'leads.csv'}\n  {out_dir / 'report.html'}")
    else:
        out.print(f"{final['message']}\n  {final['night_set']}")


def _import_what_the_night_needs(validate: bool) -> None:
    """The night's slow imports, done while Prefect's server starts (Great Expectations takes about 4 s)."""
    import sklearn.ensemble  # noqa: F401 - imported for the outlier score

    import acu_audit.flow.steps  # noqa: F401

    if validate:
        import great_expectations  # noqa: F401


def run_flow(*, landing: Path, out_dir: Path, db: Path, as_of: Optional[date], state: Optional[Path] = None,
             config: Optional[Path] = None, reveal_identities: bool = False, reason: Optional[str] = None,
             actor: Optional[str] = None, validate: bool = True) -> dict:
    """Run the nightly flow in this process and return its final message and warnings.

    A night that fails (acu-audit's own error: nothing published, the previous list stays)
    ends the command with exit code 1 and says what broke.
    """
    import os

    from acu_audit.paths import absolute, absolute_or_none, absolute_prefect_settings, text_or_none

    # Plain progress lines on the terminal; Prefect's own console logging only for problems.
    os.environ.setdefault("ACU_AUDIT_PROGRESS", "console")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    absolute_prefect_settings()
    landing, out_dir, db = absolute(landing), absolute(out_dir), absolute(db)
    _require_landing(landing)
    from acu_audit import runtime

    runtime.stop_on_sigterm()
    console.print("starting the nightly flow on Prefect's ephemeral API (the first start takes about 20 s)", style="dim")
    try:
        runtime.start_ephemeral_api(meanwhile=functools.partial(_import_what_the_night_needs, validate))
    except runtime.ApiServerFailed as exc:  # nothing ran: the previous night's list stays
        _fail(exc, code=1)
    for orphan in runtime.mark_orphaned_runs():
        console.print(Text.assemble(("warning: ", "yellow"), f"flow run {orphan} was left Running by a killed process: marked Crashed"))
    from prefect import tags

    from acu_audit.flow.prefect_flow import nightly_audit

    runtime.forget_stop_signals()
    try:
        with tags(*runtime.process_tags()):
            final = nightly_audit(
                landing=str(landing), db=str(db), out=str(out_dir), as_of=as_of, state=text_or_none(absolute_or_none(state)),
                config=text_or_none(absolute_or_none(config)), reveal_identities=reveal_identities, reveal_reason=reason,
                actor=actor, run_validation=validate, return_state=True,
            )
    except KeyboardInterrupt:
        # Ctrl-C, or SIGTERM landing in a query: Prefect has marked the run Crashed; nothing was published.
        _say_stopped()
        raise typer.Exit(code=runtime.stop_exit_code() or 130)
    except SystemExit:
        raise
    except BaseException as exc:
        # A stop signal can surface as another error on its way out: landing while a compiled library
        # (polars) calls back into Python, the exception Prefect's handler raises becomes that
        # library's panic, so Prefect never delivers the signal again. Stopped, not broken.
        if runtime.stop_exit_code() is None:
            raise
        _say_stopped(f" (it surfaced as {type(exc).__name__})")
        raise typer.Exit(code=runtime.stop_exit_code()) from None
    if not final.is_completed():
        if runtime.stop_exit_code() is not None:  # the same, surfaced as an error the flow reported
            _say_stopped(f" (it surfaced as: {final.message})" if final.message else "")
            raise typer.Exit(code=runtime.stop_exit_code())
        console.print(Text.assemble(("the night failed: ", "bold red"), final.message or "the nightly flow failed"))
        raise typer.Exit(code=1)
    data = final.result() or {}
    for warning in data.get("warnings", []):
        console.print(Text.assemble(("warning: ", "yellow"), warning))
    return {"message": final.message, **data}


def _say_stopped(how: str = "") -> None:
    console.print(Text.assemble(("stopped: ", "bold red"), f"the night was stopped by a signal{how}; nothing published, "
                                "the previous night's list stays (run it again to finish it)"))


@app.command()
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Where the demo force and its outputs go.", callback=_absolute)] = Path("demo"),
    staff: Annotated[int, typer.Option(help="Workforce size.")] = 2000,
    days: Annotated[int, typer.Option(help="Nights of data.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Generate a demo force, load its history, run the nightly flow for the last two nights, show the top ten."""
    import json as _json
    import time

    import polars as pl

    from acu_audit.config import load_settings
    from acu_audit.ingest import ingest_landing, loading_warehouse
    from acu_audit.synth import generate_force  # the generator is never on the pipeline path

    started = time.perf_counter()
    # The demo records what it generated in its own marker; the ground truth is never read.
    landing, marker = folder / "landing", folder / "demo.json"
    wanted = {"staff": staff, "days": days, "seed": seed}
    existing = _json.loads(marker.read_text()) if marker.exists() else {}
    if landing.is_dir() and existing == wanted:
        console.print(f"reusing the demo force in {landing}", style="dim")
    else:
        console.print(f"generating a demo force: {staff:,} staff, {days} nights (seed {seed}) ...", style="dim")
        for stale in (folder / "acu_audit.duckdb", folder / "acu_audit.duckdb.wal", folder / "acu_audit.state.duckdb"):
            stale.unlink(missing_ok=True)
        try:
            generate_force(folder, staff=staff, days=days, seed=seed)
        except ValueError as exc:  # a size the generator cannot build a force of
            _fail(exc)
        marker.write_text(_json.dumps(wanted))
    drops = sorted(p.name for p in landing.iterdir() if p.is_dir())
    db = folder / "acu_audit.duckdb"
    # A force loads its history once; the nightly flow then validates and loads each new night.
    # The demo runs the last two nights, so the morning review has a yesterday to compare with.
    nights = [date.fromisoformat(d) for d in drops[-2:]]
    history_drops = drops[: -len(nights)]
    if history_drops:
        console.print(f"loading the history ({len(history_drops)} nights before {nights[0]}) ...", style="dim")
        try:
            runtime = load_settings().runtime
            with loading_warehouse(db, runtime) as wh:
                history = ingest_landing(wh, landing, up_to=date.fromisoformat(history_drops[-1]),
                                         on_file=_history_progress(len(history_drops)), lanes=int(runtime["ingest_lanes"]))
        except AcuAuditError as exc:
            _fail(exc)
        totals = history.totals()
        console.print(f"history: {totals['read']:,} rows read in {history.seconds:.0f} s ({totals['loaded']:,} stored; "
                      f"{totals['duplicate']:,} repeat what is stored, {totals['resent']:,} of them snapshot rows sent as "
                      "before, known without typing)", style="dim")
    for night in nights:
        console.print(f"the night of {night}", style="dim")
        run_flow(landing=landing, out_dir=folder / "out", db=db, as_of=night)
    leads = pl.read_csv(folder / "out" / "leads.csv")
    table = Table(title=f"Top ten of {leads.height} leads as of {drops[-1]}")
    for col in ("#", "staff_ref", "score", "categories", "summary"):
        table.add_column(col, overflow="fold")
    for r in leads.head(10).iter_rows(named=True):
        table.add_row(str(r["rank"]), r["staff_ref"], f"{r['score']:.1f}", r["categories"], r["summary"])
    out.print(table)
    out.print(f"report: {_shown(folder / 'out' / 'report.html')}  (tonight's set: {(folder / 'out' / 'current').resolve().name})")
    out.print(f"notebooks: open notebooks/ with the kernel 'acu-audit (.venv)'; they read {_shown(folder / 'out' / 'analyst.duckdb')}")
    out.print(f"done in {time.perf_counter() - started:.0f} s. Next: the review queue in a browser, "
              f"acu-audit ui --db {_shown(db)} (or acu-audit leads list --db {_shown(db)})")


def _history_progress(drops: int, every_s: float = 10.0):
    """A line at most every ``every_s`` seconds while the history loads (it takes minutes)."""
    import time

    seen: set = set()
    rows = [0]
    last = [time.monotonic()]

    def on_file(result) -> None:
        seen.add(result.drop_date)
        rows[0] += result.read
        if time.monotonic() - last[0] >= every_s:
            last[0] = time.monotonic()
            console.print(f"  loading night {len(seen)} of {drops} ({result.drop_date}): {rows[0]:,} rows read so far", style="dim")

    return on_file


# ---- analyst commands -------------------------------------------------------------------
leads_app = typer.Typer(help="Tonight's lead list and one lead with its evidence.", no_args_is_help=True)
lead_app = typer.Typer(help="Act on one lead: status, assignee, referral pack.", no_args_is_help=True)
checks_app = typer.Typer(help="The check catalogue and its outcomes.", no_args_is_help=True)
app.add_typer(leads_app, name="leads")
app.add_typer(lead_app, name="lead")
app.add_typer(checks_app, name="checks")
config_app = typer.Typer(help="The configuration a night uses.", no_args_is_help=True)
app.add_typer(config_app, name="config")
quarantine_app = typer.Typer(help="Rows that were not loaded, and why.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")
suppressions_app = typer.Typer(help="The allow-list: suppressions in force, and revoking one.", no_args_is_help=True)
app.add_typer(suppressions_app, name="suppressions")

DbOption = Annotated[Path, typer.Option(help="The warehouse DuckDB file.", callback=_absolute)]
StateOption = Annotated[Optional[Path], typer.Option(help="The analyst-state file (default: <db>.state.duckdb).", callback=_absolute)]
ActorOption = Annotated[Optional[str], typer.Option(help="Who is acting (default: the login name).")]


def _status_option(value: Optional[str]) -> Optional[str]:
    """A lead status as the rules spell it; anything else is refused before the command runs."""
    from acu_audit.state import STATUSES

    if value is None:
        return None
    spelled = value.strip().replace(" ", "_").replace("-", "_")
    if spelled not in STATUSES:
        raise typer.BadParameter(f"{value!r} is not a status: one of {', '.join(STATUSES)}")
    return spelled


def _state_path(db: Path, state: Optional[Path]) -> Path:
    from acu_audit.state import default_state_path

    return state or default_state_path(db)


def _on_state(db: Path, state: Optional[Path], action) -> None:
    """One analyst action on the state file (opened for it alone); a refusal ends the command with its reason."""
    from acu_audit.state import open_state

    try:
        with open_state(_state_path(db, state)) as store:
            action(store)
    except AcuAuditError as exc:
        _fail(exc)


@leads_app.command("list")
def leads_list(
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of")] = None,
    status: Annotated[Optional[str], typer.Option(help="Only leads with this status now: new, reviewing, referred, no_further_action.", callback=_status_option)] = None,
    tier: Annotated[Optional[str], typer.Option(help="Only this tier now: review, watch (or closed, with --all).")] = None,
    category: Annotated[Optional[str], typer.Option(help="Only leads with this STUDIOSB category (a letter, e.g. U).")] = None,
    include_closed: Annotated[bool, typer.Option("--all", help="Also leads closed since the list was published.")] = False,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    json_: Annotated[bool, typer.Option("--json", help="JSON lines on stdout, every field.")] = False,
) -> None:
    """Tonight's ranked list (staff_ref only), with each lead's status as it is now.

    Two lines a lead, lead ids never wrapped (copy one into `leads show`); the summary is cut to
    the terminal's width (`--json` has it whole). The triage page (`acu-audit ui`) shows more.
    """
    from acu_audit.analyst import latest_list
    from acu_audit.state import open_state

    try:
        with open_state(_state_path(db, state), read_only=True) as store:
            listing = latest_list(store, _date(as_of), status, include_closed=include_closed)
    except AcuAuditError as exc:
        _fail(exc)
    rows = [r for r in listing.rows if (tier is None or r["tier"] == tier)
            and (category is None or category.upper() in r["categories"])]
    if json_:
        for r in rows[:limit]:
            print(json.dumps(r, default=str, sort_keys=True))
        return
    if listing.as_of is None:
        out.print("no published leads yet")
        return
    review = sum(1 for r in rows if r["tier"] == "review")
    # Two lines a lead, fixed columns first: ids whole (to copy), the summary cut to the width.
    out.print(f"Leads as of {listing.as_of}: {len(rows)}, {review} in review (listed first)")
    out.print(f"{'#':>4} {'tier':<7}{'lead':<14}{'staff_ref':<17}{'score':>5}  {'cat.':<5}{'status':<13}change",
              style="bold", no_wrap=True, overflow="ellipsis")
    width = max(out.width - 6, 20)
    shown_status = {"no_further_action": "closed (NFA)"}
    for r in rows[:limit]:
        change = r["change"] + (f" ({r['flag']})" if r["flag"] else "")
        out.print(f"{r['rank']:>4} {(r['tier'] or ''):<7}{r['lead_id']:<14}{r['staff_ref']:<17}{r['score']:>5.0f}  "
                  f"{''.join(r['categories']):<5}{shown_status.get(r['status'], r['status']):<13}{change}",
                  no_wrap=True, overflow="ellipsis")
        summary = r["summary"] or ""
        out.print("      " + (summary if len(summary) <= width else summary[: width - 1] + "…"), style="dim",
                  no_wrap=True, overflow="ellipsis")
    if len(rows) > limit:
        out.print(f"{len(rows) - limit} more not shown (--limit)")
    if listing.closed_since and not include_closed and status is None:
        out.print(f"{listing.closed_since} lead(s) closed with no further action since this list was published "
                  "are left out (--all shows them)")


@leads_app.command("show")
def leads_show(
    lead_id: str,
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    reveal_identities: Annotated[bool, typer.Option("--reveal-identities", help="Show the staff_id (recorded).")] = False,
    reason: Annotated[Optional[str], typer.Option(help="Why identities are revealed (recorded).")] = None,
    actor: ActorOption = None,
) -> None:
    """One lead: versions, checks that fired with their reasons and evidence ids, notes."""
    from acu_audit.analyst import lead_detail, open_warehouse_read_only
    from acu_audit.state import current_actor, open_state, require_reveal_reason

    try:
        if reveal_identities:
            require_reveal_reason(reason, "lead")  # refused before anything is read or recorded
        with open_state(_state_path(db, state)) as store, open_warehouse_read_only(db) as wh:
            detail = lead_detail(store, wh, lead_id)
            store.record_view(current_actor(actor), lead_id, reveal=reveal_identities, reason=reason)
    except AcuAuditError as exc:
        _fail(exc)
    lead = detail["lead"]
    tz = _local_zone()
    identity = f" ({lead['staff_id']})" if reveal_identities else ""
    out.print(Text.assemble((lead["lead_id"], "bold"),
                            f" {lead['staff_ref']}{identity}  status: {lead['status']}  episode from {local_date(lead['episode_start'])}, "
                            f"evidence {local_time(lead['first_seen'], tz)} to {local_time(lead['last_seen'], tz)}"))
    for v in detail["versions"]:
        out.print(f"  {local_date(v['as_of'])}: rank {v['rank']} ({v['tier'] or 'untiered'}), score {v['score']:.1f}"
                         + (f", evidence {v['age_days']} day(s) old" if v["age_days"] else "")
                         + f", {'|'.join(v['categories'])}, {v['change']}" + (f" ({v['what_is_new']})" if v["what_is_new"] else ""))
    if detail["versions"]:
        explanation = json.loads(detail["versions"][-1]["explanation"] or "[]")
        if explanation:
            out.print("  unusual among peers: " + "; ".join(e["text"] for e in explanation))
    for h in detail["hits"]:
        out.print(f"  [{h['category']}] {h['check_id']} ({h['severity']}, {local_time(h['occurred_at'], tz)}, "
                         f"found on the night of {local_date(h['found_on'])}): {h['reason']}")
        if h.get("colleague"):
            out.print(f"      the colleague: {h['colleague']}" + (f", lead {h['colleague_lead']}" if h.get("colleague_lead") else ""))
        out.print(f"      evidence: {', '.join(h['evidence'][:8])}" + (f" and {len(h['evidence']) - 8} more" if len(h["evidence"]) > 8 else ""))
    for n in detail["notes"]:
        out.print(f"  note {local_time(n['recorded_at'], tz)} {n['actor']} ({n['status']}): {n['note']}")


@lead_app.command("set-status")
def lead_set_status(
    lead_id: str,
    status: Annotated[str, typer.Argument(help="new | reviewing | referred | no_further_action")],
    note: Annotated[Optional[str], typer.Option(help="Why (kept with the lead).")] = None,
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    actor: ActorOption = None,
) -> None:
    """Set a lead's status; closing with no further action keeps it off the list until new evidence arrives."""
    from acu_audit.state import current_actor

    status = status.replace(" ", "_").replace("-", "_")
    _on_state(db, state, lambda store: store.set_status(lead_id, status, current_actor(actor), note))
    out.print(f"{lead_id}: {status}")


@lead_app.command("assign")
def lead_assign(
    lead_id: str,
    to: Annotated[str, typer.Option("--to", help="The analyst who takes the lead (an empty name takes it back).")],
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    actor: ActorOption = None,
) -> None:
    """Give a lead to an analyst; recorded in the audit log like every action."""
    from acu_audit.state import current_actor

    _on_state(db, state, lambda store: store.assign(lead_id, to, current_actor(actor)))
    out.print(f"{lead_id}: assigned to {to.strip()}" if to.strip() else f"{lead_id}: assigned to nobody")


@lead_app.command("export")
def lead_export(
    lead_id: str,
    reason: Annotated[Optional[str], typer.Option(help="Why the pack is made, e.g. a referral number (required; recorded in the pack and the audit log, and the reason for a reveal).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder to write the referral pack into (default: referrals/ beside the database).", callback=_absolute)] = None,
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    reveal_identities: Annotated[bool, typer.Option("--reveal-identities", help="Include staff_id (recorded).")] = False,
    actor: ActorOption = None,
) -> None:
    """A frozen referral pack: evidence rows, check versions, drop files and a hash of each file.

    Each export is a new folder (``referral-<lead>-<UTC time>``); a pack is never overwritten.
    """
    from acu_audit.analyst import export_referral_pack, open_warehouse_read_only
    from acu_audit.state import current_actor, open_state

    try:
        with open_state(_state_path(db, state)) as store, open_warehouse_read_only(db) as wh:
            pack = export_referral_pack(store, wh, lead_id, out_dir or db.parent / "referrals", actor=current_actor(actor),
                                        reveal=reveal_identities, reason=reason)
    except AcuAuditError as exc:
        _fail(exc)
    out.print(f"referral pack: {pack}")


@app.command()
def suppress(
    reason: Annotated[str, typer.Option(help="Why this is allowed (required).")],
    owner: Annotated[str, typer.Option(help="Who owns the decision.")],
    expires: Annotated[str, typer.Option(help="Expiry date, YYYY-MM-DD; it stops applying after that day.")],
    staff_ref_: Annotated[Optional[str], typer.Option("--staff-ref", help="A member of staff (their staff_ref).")] = None,
    check: Annotated[Optional[str], typer.Option(help="A check id.")] = None,
    subject: Annotated[Optional[str], typer.Option(help="With --staff-ref: only hits about this subject (e.g. person:P123).")] = None,
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    actor: ActorOption = None,
) -> None:
    """Allow-list a staff member, a check, or a staff member and subject pair, with a reason, owner and expiry."""
    from acu_audit.analyst import open_warehouse_read_only, resolve_staff_ref
    from acu_audit.analyst import suppress as add_suppression
    from acu_audit.state import current_actor, open_state

    try:
        staff_id = None
        if staff_ref_ and not check:
            with open_warehouse_read_only(db) as wh:
                staff_id = resolve_staff_ref(wh, staff_ref_)
        with open_state(_state_path(db, state)) as store:
            suppression_id, kind = add_suppression(
                store, reason=reason, owner=owner, expires_on=_date(expires), actor=current_actor(actor),
                staff_id=staff_id, staff_ref=staff_ref_, check=check, subject=subject,
            )
    except AcuAuditError as exc:
        _fail(exc)
    out.print(f"suppression {suppression_id} ({kind}) until {expires}")


@quarantine_app.command("list")
def quarantine_list(
    drop: Annotated[Optional[str], typer.Option(help="Only this drop (YYYY-MM-DD).")] = None,
    table: Annotated[Optional[str], typer.Option(help="Only this contract table.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
    reveal_raw: Annotated[bool, typer.Option("--reveal-raw", help="Show the raw text (staff ids, names): recorded, needs --reason.")] = False,
    reason: Annotated[Optional[str], typer.Option(help="Why the raw text is revealed (recorded).")] = None,
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    actor: ActorOption = None,
) -> None:
    """Quarantined rows: drop, file, physical line, column, kind and reason; raw text masked unless revealed."""
    from acu_audit.analyst import open_warehouse_read_only
    from acu_audit.data_quality import quarantine_rows
    from acu_audit.state import current_actor, open_state, require_reveal_reason

    try:
        if reveal_raw:
            require_reveal_reason(reason, "quarantined raw text")
        with open_warehouse_read_only(db) as wh:
            rows = quarantine_rows(wh, drop=_date(drop), table=table, reveal=reveal_raw, limit=limit)
        if reveal_raw:
            with open_state(_state_path(db, state)) as store:
                store.record_reveal(current_actor(actor), reason, "quarantined raw text", _date(drop),
                                    {"table": table, "rows": len(rows)})
    except AcuAuditError as exc:
        _fail(exc)
    out.print(_text_table(
        f"Quarantine: {len(rows)} row(s)" + (f" of drop {drop}" if drop else "") + (f" in {table}" if table else ""),
        ("drop", "table", "file", "line", "column", "kind", "reason", "raw text"),
        [(r["drop_date"], r["table_name"], r["file_name"], r["line"], r["column_name"], r["kind"], r["reason"], r["raw_text"])
         for r in rows],
    ))


@suppressions_app.command("list")
def suppressions_list(
    all_: Annotated[bool, typer.Option("--all", help="Also expired and revoked ones.")] = False,
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
) -> None:
    """Suppressions in force (staff shown by staff_ref): what, why, whose decision, until when."""
    from acu_audit.state import open_state

    try:
        with open_state(_state_path(db, state), read_only=True) as store:
            rows = store.list_suppressions(include_ended=all_)
    except AcuAuditError as exc:
        _fail(exc)
    out.print(_text_table(
        f"Suppressions ({'all' if all_ else 'in force'}): {len(rows)}",
        ("id", "kind", "staff_ref", "check", "subject", "reason", "owner", "by", "expires", "state"),
        [(r["suppression_id"], r["kind"], r["staff_ref"], r["check_id"], r["subject"], r["reason"], r["owner"],
          r["created_by"], r["expires_on"],
          r["state"] + (f" by {r['revoked_by']}: {r['revoke_reason']}" if r["state"] == "revoked" else ""))
         for r in rows],
    ))


@suppressions_app.command("revoke")
def suppressions_revoke(
    suppression_id: Annotated[int, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option(help="Why it ends now (required, recorded).")],
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    actor: ActorOption = None,
) -> None:
    """End a suppression now. It is kept, with who revoked it and why; from the next run it no longer applies."""
    from acu_audit.state import current_actor

    _on_state(db, state, lambda store: store.revoke_suppression(suppression_id, current_actor(actor), reason))
    out.print(f"suppression {suppression_id} revoked")


@app.command()
def ui(
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="The published outputs the page reads (default: out/ beside the database).", callback=_absolute)] = None,
    host: Annotated[str, typer.Option(help="The address to listen on (loopback only unless --allow-remote).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8765,
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Listen on an address other machines can reach (not the default).")] = False,
    actor: ActorOption = None,
) -> None:
    """The review queue in a browser: filter, open, assign, set status, suppress, export, reveal.

    Every action is the CLI's own, recorded in the audit log as the person who started the page.
    """
    from acu_audit.ui.app import LOOPBACK, UiConfig, host_name, serve

    if host not in LOOPBACK and not allow_remote:
        _fail(AcuAuditError(f"--host {host} can be reached from other machines: give --allow-remote to do that on purpose"))
    if host in ("0.0.0.0", "::", ""):
        _fail(AcuAuditError("--host needs the address or name readers will type (the page answers only to it), not a wildcard"))
    out_dir = out_dir or db.parent / "out"
    if not (out_dir / "analyst.duckdb").exists():
        _fail(AcuAuditError(f"no published night in {out_dir}: run `acu-audit run` (or the demo) first, or give --out"))
    config = UiConfig.for_server(db=db, state=_state_path(db, state), out=out_dir, host=host, port=port, actor=actor)
    if host not in LOOPBACK:
        console.print(Text.assemble(("warning: ", "yellow"), f"listening on {host}: anyone who can reach it can act as "
                                    f"{config.actor}; use it only on a network you trust"))
    try:
        from acu_audit.state import open_state

        with open_state(config.state, busy_timeout_s=2.0):
            pass  # brings an older state file up to date (an assignee column) before the first read
    except AcuAuditError:
        pass  # no state yet, or the night holds it: the page says so
    out.print(f"the review queue: http://{host_name(host)}:{port}/  (acting as {config.actor}; Ctrl-C stops it)")
    serve(config, host, port)


@app.command()
def runs(
    limit: Annotated[int, typer.Option(help="At most this many nights, newest first.")] = 20,
    json_: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
    db: DbOption = Path("acu_audit.duckdb"),
) -> None:
    """Past nights from the warehouse: each run's status, leads, warnings and time, and the failures.

    The same runs Prefect shows, without a Prefect server (`prefect flow-run ls` needs one: each
    call on the ephemeral API starts a temporary server with an empty history).
    """
    from acu_audit.analyst import open_warehouse_read_only

    try:
        with open_warehouse_read_only(db) as wh:
            rows = wh.records(
                """SELECT l.as_of, l.run_id, l.status, l.finished_at, l.leads, len(l.warnings) AS warnings,
                          (SELECT round(sum(p.seconds), 1) FROM run_phases p WHERE p.run_id = l.run_id) AS seconds,
                          NULL AS failed_step, NULL AS error
                   FROM run_log l
                   UNION ALL
                   SELECT as_of, run_id, 'failed', failed_at, NULL, NULL, NULL, step, error FROM run_failures
                   ORDER BY finished_at DESC LIMIT $n""", {"n": limit}) if wh.table_exists("run_log") else []
    except AcuAuditError as exc:
        _fail(exc)
    if json_:
        for r in rows:
            print(json.dumps(r, default=str, sort_keys=True))
        return
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(_local_zone())
    status = {"completed_with_warnings": "completed, warnings", "reviewed": "reviewed (caught up)"}
    out.print(_text_table(
        f"Nightly runs, newest first ({len(rows)}; --json for run ids)", ("night", "status", "finished", "leads", "warn.", "s", "failure"),
        [(str(r["as_of"] or ""), status.get(r["status"], r["status"]), r["finished_at"].astimezone(tz).strftime("%m-%d %H:%M"),
          "" if r["leads"] is None else r["leads"], "" if r["warnings"] is None else r["warnings"],
          "" if r["seconds"] is None else f"{r['seconds']:.0f}",
          f"{r['failed_step']}: {r['error']}" if r["status"] == "failed" else "") for r in rows],
    ))


@app.command("audit-log")
def audit_log(
    since: Annotated[Optional[str], typer.Option(help="From this date (YYYY-MM-DD, UTC).")] = None,
    actor_: Annotated[Optional[str], typer.Option("--actor", help="Only this actor's entries.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 200,
    json_: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
) -> None:
    """Read the audit log: every reveal, status change, suppression, export and view, newest first."""
    from acu_audit.state import open_state

    try:
        with open_state(_state_path(db, state), read_only=True) as store:
            rows = store.audit_entries(since=_date(since), actor=actor_, limit=limit)
    except AcuAuditError as exc:
        _fail(exc)
    if json_:
        for r in rows:
            print(json.dumps(r, default=str, sort_keys=True))
        return
    tz = _local_zone()
    out.print(_text_table(
        f"Audit log: {len(rows)} entries" + (f" since {since}" if since else "") + (f" by {actor_}" if actor_ else ""),
        ("at (local)", "actor", "action", "target", "detail"),
        [(local_time(r["recorded_at"], tz), r["actor"], r["action"], r["target"], r["detail"]) for r in rows],
    ))


@app.command()
def reveal(
    staff_ref_: Annotated[str, typer.Argument(metavar="STAFF_REF")],
    reason: Annotated[Optional[str], typer.Option(help="Why (recorded).")] = None,
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    actor: ActorOption = None,
) -> None:
    """Show who a staff_ref is. The reveal is recorded with its actor and reason."""
    from acu_audit.analyst import open_warehouse_read_only, resolve_staff_ref
    from acu_audit.state import current_actor, open_state

    try:
        with open_warehouse_read_only(db) as wh:
            staff_id = resolve_staff_ref(wh, staff_ref_)
            person = wh.records("SELECT surname, forenames, unit, unit_function FROM staff WHERE staff_id = $s ORDER BY _drop_date DESC LIMIT 1", {"s": staff_id})
        with open_state(_state_path(db, state)) as store:
            store.record_reveal(current_actor(actor), reason, "staff_ref", None, {"staff_ref": staff_ref_})
    except AcuAuditError as exc:
        _fail(exc)
    p = person[0] if person else {}
    out.print(f"{staff_ref_} = {staff_id} {p.get('forenames', '')} {p.get('surname', '')}, {p.get('unit', '')} ({p.get('unit_function', '')})")


@checks_app.command("list")
def checks_list(
    db: Annotated[Optional[Path], typer.Option(help="The warehouse: adds each check's hits on its latest night.", callback=_absolute)] = None,
    state: StateOption = None,
) -> None:
    """Every check: id, category, status, severity, risk, title (with --db: hits on the latest night)."""
    from acu_audit.analyst import latest_check_runs, open_warehouse_read_only
    from acu_audit.checks import load_catalogue

    runs: dict[str, dict] = {}
    night = None
    if db is not None:
        try:
            with open_warehouse_read_only(db) as wh:
                night, runs = latest_check_runs(wh)
        except AcuAuditError as exc:
            _fail(exc)
    columns = ("id", "cat.", "status", "severity", "risk", "title", "seed case")
    if db is not None:
        columns += (f"hits {night}" if night else "hits",)
    rows = []
    for c in load_catalogue():
        m = c.meta
        row = (m.id, m.category, m.status, m.severity, m.risk, m.title, m.seed_cases[0])
        if db is not None:
            r = runs.get(m.id)
            row += ("not run" if r is None else (f"{r['hits']} ({r['staff_hit']} staff)" if r["status"] == "ok" else r["status"]),)
        rows.append(row)
    out.print(_text_table("STUDIOSB check catalogue (M = social media)", columns, rows))


@checks_app.command("stats")
def checks_stats(
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="The night (default: the latest run).")] = None,
) -> None:
    """Per check: the share of each unit function it trips tonight, and its outcomes with analysts."""
    from acu_audit.analyst import check_function_shares, check_outcomes, open_warehouse_read_only
    from acu_audit.state import open_state

    try:
        with open_warehouse_read_only(db) as wh:
            night, shares = check_function_shares(wh, _date(as_of))
        with open_state(_state_path(db, state), read_only=True) as store:
            rows = check_outcomes(store)
    except AcuAuditError as exc:
        _fail(exc)
    width = max([len("check"), *(len(r["check_id"]) for r in shares), *(len(r["check_id"]) for r in rows)])
    if shares:
        # One row per check and unit function it trips, a check's id once above its functions: a
        # column per function would squeeze the ids out of 80 columns.
        table = Table(title=f"Who trips each check, {night}", box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
        table.add_column("check", no_wrap=True, min_width=width)
        table.add_column("unit function", overflow="fold")
        for col in ("tripped", "share", "kept"):
            table.add_column(col, justify="right", no_wrap=True)
        by_check: dict[str, list[dict]] = {}
        for r in shares:
            if r["tripped"]:
                by_check.setdefault(r["check_id"], []).append(r)
        for check_id, cells in sorted(by_check.items()):
            for i, r in enumerate(sorted(cells, key=lambda c: -c["share"])):
                table.add_row(check_id if i == 0 else "", r["unit_function"].replace("_", " "), f"{r['tripped']} of {r['staff']}",
                              Text(f"{r['share']:.1%}", style="red" if r["warn"] else ""), str(r["kept"]),
                              end_section=i == len(cells) - 1)
        out.print(table)
        out.print("tripped: staff of the function with a hit over the span; kept: those whose hits are evidence after "
                  "calibration; red: above the warning share", style="dim")
    table = Table(title="Check outcomes", box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    table.add_column("check", no_wrap=True, min_width=width)
    for col in ("leads", "referred", "no further action", "open"):
        table.add_column(col, justify="right", no_wrap=col != "no further action", max_width=10)
    for r in rows:
        table.add_row(r["check_id"], str(r["leads"]), str(r["referred"]), str(r["no_further_action"]), str(r["open"]))
    out.print(table)


@config_app.command("show")
def config_show(
    config: Annotated[Optional[Path], typer.Option(help="A force configuration overriding configs/default.yaml.", callback=_absolute)] = None,
) -> None:
    """Print the merged configuration a night uses: configs/default.yaml, then the force's file
    (--config, or ACU_AUDIT_CONFIG), as YAML, with the files it came from."""
    import yaml

    from acu_audit.config import load_settings

    try:
        settings = load_settings(config)
    except AcuAuditError as exc:
        _fail(exc)
    out.print("\n".join(f"# from {source}" for source in settings.source_files))
    out.print(yaml.safe_dump(settings.raw, sort_keys=False, default_flow_style=None, width=100).rstrip())


@app.command()
def rebuild(
    landing: Annotated[Path, typer.Option(help="The landing folder.", callback=_absolute)],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the outputs.", callback=_absolute)],
    db: DbOption = Path("acu_audit.duckdb"),
    state: StateOption = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of")] = None,
    config: Annotated[Optional[Path], typer.Option(help="A force configuration.", callback=_absolute)] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Re-derive the warehouse from landing (the analyst-state file is left untouched).

    The same night as ``run`` (``acu_audit.flow.run_night``), run in place without Prefect."""
    from acu_audit.config import load_settings
    from acu_audit.flow import run_night, settle_night

    state_file = _state_path(db, state)
    _require_landing(landing)  # before anything is deleted
    if not yes:
        typer.confirm(f"Delete {db} and rebuild it from {landing}? ({state_file} is kept)", abort=True)
    for suffix in ("", ".wal"):
        target = Path(str(db) + suffix)
        if target.exists():
            target.unlink()
    try:
        night = settle_night(landing=landing, out=out_dir, db=db, state=state_file, settings=load_settings(config),
                             as_of=_date(as_of))
        run_night(night, progress=lambda msg: console.print(f"{msg}", style="dim"))
    except (AcuAuditError, FileNotFoundError) as exc:
        _fail(exc)
    out.print(f"rebuilt {db} as of {night.as_of}; {state_file} untouched")


def print_ingest_report(report) -> None:
    processed = report.processed
    table = Table(title=f"Ingest {report.run_id}: {len(processed)} files loaded, {len(report.files) - len(processed)} already loaded")
    for col in ("drop", "file", "read", "loaded", "duplicate", "rejected", "unresolved", "status"):
        table.add_column(col, justify="right" if col in ("read", "loaded", "duplicate", "rejected", "unresolved") else "left")
    for f in processed:
        table.add_row(
            str(f.drop_date), f.file_name, f"{f.read:,}", f"{f.loaded:,}", f"{f.duplicate:,}", f"{f.rejected:,}",
            f"{f.unresolved_refs:,}", f.status,
        )
    out.print(table)
    for f in processed:
        if f.error:
            out.print(f.error, style="yellow")
    for w in report.warnings:
        out.print(Text.assemble(("warning: ", "yellow"), w))
    t = report.totals()
    out.print(
        f"read {t['read']:,} = loaded {t['loaded']:,} + duplicate {t['duplicate']:,} + rejected {t['rejected']:,}; "
        f"{report.seconds:.1f} s (Great Expectations {report.gx_seconds:.1f} s)"
    )


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
