"""The ``acu-audit`` command line."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from acu_audit.errors import AcuAuditError

app = typer.Typer(
    name="acu-audit",
    help="Corruption-risk audit pipeline for police anti-corruption units.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()


def _date(value: Optional[str]) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write landing/ and the ground truth into.")],
    staff: Annotated[int, typer.Option(help="Workforce size.")] = 2000,
    days: Annotated[int, typer.Option(help="Nights of data.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 7,
    start: Annotated[Optional[str], typer.Option(help="First day, YYYY-MM-DD.")] = None,
    plant_intensity: Annotated[float, typer.Option(help="Scale of the planted insiders' signals (1 = realistic).")] = 1.0,
) -> None:
    """Generate a demo force: DIR/landing/ per the data contract, and its ground truth beside landing/."""
    from acu_audit.synth import generate_force  # the generator is never on the pipeline path

    kwargs = {"staff": staff, "days": days, "seed": seed, "plant_intensity": plant_intensity}
    if start:
        kwargs["start"] = _date(start)
    report = generate_force(out_dir, progress=lambda msg: console.print(f"[dim]{msg}[/]"), **kwargs)
    table = Table(title=f"Demo force: {staff} staff x {days} days, seed {seed} ({report.seconds:.1f} s)")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in report.row_counts.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)
    out.print(f"landing: {report.landing_dir}\ntruth:   {report.truth_path}")


@app.command()
def ingest(
    landing: Annotated[Path, typer.Option(help="The landing folder (one sub-folder per drop).")],
    db: Annotated[Path, typer.Option(help="DuckDB file to load into.")] = Path("acu_audit.duckdb"),
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Load drops up to this date only.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ledger as JSON on stdout.")] = False,
    no_validation: Annotated[bool, typer.Option("--no-validation", help="Skip the Great Expectations suites.")] = False,
) -> None:
    """Load every drop not yet loaded into the DuckDB file, in drop-date order."""
    from acu_audit.db import Warehouse
    from acu_audit.ingest import ingest_landing
    from acu_audit.validation import GxValidator

    try:
        with Warehouse(db) as wh:
            validator = None if no_validation else GxValidator()
            report = ingest_landing(
                wh,
                landing,
                up_to=_date(as_of),
                validator=validator,
                on_file=None if as_json else lambda f: console.print(f"[dim]{f.drop_date} {f.file_name}: {f.status}[/]"),
            )
    except (AcuAuditError, FileNotFoundError) as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(report.ledger_json(), indent=1) + "\n")
        return
    print_ingest_report(report)


@app.command()
def run(
    landing: Annotated[Path, typer.Option(help="The landing folder (one sub-folder per drop).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for leads, hits and the report.")],
    db: Annotated[Path, typer.Option(help="DuckDB file (created if missing).")] = Path("acu_audit.duckdb"),
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Audit as of this date (default: the latest drop).")] = None,
    reveal_identities: Annotated[bool, typer.Option("--reveal-identities", help="Also write staff_id (the reveal is recorded).")] = False,
    config: Annotated[Optional[Path], typer.Option(help="A force configuration overriding configs/default.yaml.")] = None,
    no_validation: Annotated[bool, typer.Option("--no-validation", help="Skip the Great Expectations suites.")] = False,
) -> None:
    """Load new drops, run the checks over the review window and write the outputs."""
    from acu_audit.config import load_settings
    from acu_audit.pipeline import RunContext, run_nightly

    try:
        ctx = RunContext(
            landing=landing,
            out=out_dir,
            db=db,
            settings=load_settings(config),
            as_of=_date(as_of),
            reveal_identities=reveal_identities,
            validate=not no_validation,
            progress=lambda msg: console.print(f"[dim]{msg}[/]"),
        )
        run_nightly(ctx)
    except (AcuAuditError, FileNotFoundError) as exc:
        _fail(exc)
    for warning in ctx.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    out.print(f"as of {ctx.as_of}: outputs in {out_dir}")


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
            out.print(f"[yellow]{f.error}[/]")
    for w in report.warnings:
        out.print(f"[yellow]warning:[/] {w}")
    t = report.totals()
    out.print(
        f"read {t['read']:,} = loaded {t['loaded']:,} + duplicate {t['duplicate']:,} + rejected {t['rejected']:,}; "
        f"{report.seconds:.1f} s (Great Expectations {report.gx_seconds:.1f} s)"
    )


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
