"""Lead-list quality against generated forces' ground truth: one run, or a matrix of forces.

One run (a force you generated and ran yourself):

    python benchmarks/leads_quality.py --out OUT --truth FORCE/truth.json --db DB [--json]

The matrix (generates each force, runs ``acu-audit run`` over its whole landing, scores it):

    python benchmarks/leads_quality.py --matrix [--work /tmp/acu-matrix] [--jobs 2]
        [--profiles "default;noisy;busy;mix;early;noisy,busy,mix,early"] [--seeds 7,11]
        [--intensities 1,0.5] [--staff 2000] [--days 60] [--big PROFILE] [--json FILE] [--reuse]

Each matrix row is one force (profile combination x seed x plant intensity) and one single
``acu-audit run`` over its whole landing, as a force's first night would be. The last row is
the worst of each column: that row, not the average, is the yardstick.

Columns: plants in the top 1% of staff and in the top 20 (of k plants); plants in the review
tier (once ``leads.csv`` has a ``tier`` column, else "-"); decoys (innocent staff whose
legitimate work looks suspicious) in the top 1%, the top 20 and the review tier; category
precision (share of a found plant's letters that are expected) and recall (share of expected
letters found, over all plants); leads on the list and in the review tier; the share of
innocent staff (neither plant nor decoy) hit by any stable, unsuppressed check tonight.

The pipeline never reads truth.json: planted staff_ids are mapped to staff_refs here, with the
same key the run used (the matrix keeps its own key file under --work).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from acu_audit.files import owner_only
from acu_audit.privacy import load_secret, staff_ref

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROFILES = "default;noisy;busy;mix;early;noisy,busy,mix,early"
TOP_N = 20


# --- scoring one run ------------------------------------------------------------------------------
def evaluate(leads: pl.DataFrame, truth: dict, staff_total: int, hits: pl.DataFrame | None = None) -> dict:
    """Score one published list against the force's ground truth (see the module docstring)."""
    key = load_secret(create=False)
    ranks = {r["staff_ref"]: r for r in leads.iter_rows(named=True)}
    top_pct = max(1, math.ceil(0.01 * staff_total))
    has_tier = "tier" in leads.columns
    insiders = truth["insiders"]
    k = len(insiders)
    rows = []
    for plant in insiders:
        lead = ranks.get(staff_ref(key, plant["staff_id"]))
        letters = lead["categories"].split("|") if lead and lead["categories"] else []
        expected = set(plant["expected_categories"])
        rows.append(
            {
                "scenario": plant["scenario"],
                "seed_case": plant.get("seed_case"),
                "rank": lead["rank"] if lead else None,
                "score": lead["score"] if lead else None,
                "tier": lead.get("tier") if lead else None,
                "categories": "|".join(letters),
                "expected": "|".join(plant["expected_categories"]),
                "precision": (len(set(letters) & expected) / len(letters)) if letters else None,
                "recall": len(set(letters) & expected) / len(expected),
            }
        )
    decoy_leads = [(d, ranks.get(staff_ref(key, d["staff_id"]))) for d in truth.get("decoys", [])]
    found = [r for r in rows if r["rank"] is not None]
    planted_refs = {staff_ref(key, p["staff_id"]) for p in insiders} | {staff_ref(key, d["staff_id"]) for d in truth.get("decoys", [])}
    innocent_hit, per_check = None, {}
    if hits is not None:
        as_of = leads["as_of"][0] if leads.height and "as_of" in leads.columns else None
        tonight = hits.filter(pl.col("status") == "stable")
        if "suppressed" in tonight.columns:
            tonight = tonight.filter(~pl.col("suppressed").fill_null(False))
        if as_of is not None and "as_of" in tonight.columns:
            tonight = tonight.filter(pl.col("as_of").cast(pl.String) == str(as_of))
        hit_refs = set(tonight["staff_ref"].to_list()) - planted_refs
        innocent_n = max(1, staff_total - len(planted_refs))
        innocent_hit = len(hit_refs) / innocent_n
        innocent = tonight.filter(~pl.col("staff_ref").is_in(list(planted_refs)))
        per_check = {r["check_id"]: r["staff"] / innocent_n
                     for r in innocent.group_by("check_id").agg(pl.col("staff_ref").n_unique().alias("staff")).iter_rows(named=True)}
    return {
        "staff": staff_total,
        "leads": leads.height,
        "review_tier": int((leads["tier"] == "review").sum()) if has_tier else None,
        "top_1pct": top_pct,
        "k": k,
        "in_top_1pct": sum(1 for r in rows if r["rank"] and r["rank"] <= top_pct),
        "in_top_20": sum(1 for r in rows if r["rank"] and r["rank"] <= TOP_N),
        "in_review": sum(1 for r in rows if r["tier"] == "review") if has_tier else None,
        "recall_top_1pct": sum(1 for r in rows if r["rank"] and r["rank"] <= top_pct) / k,
        "recall_top_k": sum(1 for r in rows if r["rank"] and r["rank"] <= k) / k,
        "recall_any_lead": len(found) / k,
        "decoys_in_top_1pct": [d["scenario"] for d, r in decoy_leads if r and r["rank"] <= top_pct],
        "decoys_in_top_20": [d["scenario"] for d, r in decoy_leads if r and r["rank"] <= TOP_N],
        "decoys_in_review": [d["scenario"] for d, r in decoy_leads if r and r.get("tier") == "review"] if has_tier else None,
        # Precision over found plants with letters (a lead from the outlier score alone has none).
        "category_precision": (sum(r["precision"] for r in found if r["precision"] is not None)
                               / max(1, sum(1 for r in found if r["precision"] is not None))) if found else 0.0,
        "category_recall": sum(r["recall"] for r in rows) / k,
        "innocent_hit_share": innocent_hit,
        "innocent_share_by_check": per_check,
        "insiders": sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0)),
    }


def staff_count(db: Path, as_of) -> int:
    """Staff employed at some point in the review window ending on ``as_of``."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT count(*) FROM staff_as_of(CAST(? AS DATE)) WHERE end_date IS NULL OR end_date >= CAST(? AS DATE) - 27",
            [as_of, as_of],
        ).fetchall()[0][0]
    finally:
        con.close()


def span_shares_by_check(db: Path, as_of, truth: dict) -> dict[str, float]:
    """Per check, the share of innocent staff (neither plant nor decoy) whose evidence the night's
    calibration keeps over the span (``span_calibration``; empty before the span existed)."""
    planted = [p["staff_id"] for p in truth["insiders"]] + [d["staff_id"] for d in truth.get("decoys", [])]
    con = duckdb.connect(str(db), read_only=True)
    try:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'span_calibration'").fetchall()[0][0]:
            return {}
        staff = staff_count(db, as_of) - len(planted)
        rows = con.execute(
            """SELECT check_id, count(DISTINCT staff_id) FROM span_calibration
               WHERE as_of = CAST(? AS DATE) AND kept AND staff_id NOT IN (SELECT unnest(?)) GROUP BY check_id""",
            [as_of, planted]).fetchall()
        return {check: n / max(staff, 1) for check, n in rows}
    finally:
        con.close()


def evaluate_run(out: Path, truth_path: Path, db: Path) -> dict:
    leads = pl.read_csv(out / "leads.csv")
    as_of = leads["as_of"][0] if leads.height else None
    hits = pl.read_parquet(out / "hits.parquet") if (out / "hits.parquet").exists() else None
    truth = json.loads(truth_path.read_text())
    result = evaluate(leads, truth, staff_count(db, as_of), hits)
    result["innocent_share_by_check_span"] = span_shares_by_check(db, as_of, truth) if as_of else {}
    return result


def print_run(result: dict) -> None:
    print(f"{result['leads']} leads for {result['staff']:,} staff; top 1% = {result['top_1pct']} places, k = {result['k']} plants")
    print(f"{'scenario':30s} {'seed case':18s} {'rank':>5s} {'score':>6s}  categories (expected)")
    for r in result["insiders"]:
        rank = f"{r['rank']:5d}" if r["rank"] else "    -"
        score = f"{r['score']:6.1f}" if r["score"] is not None else "     -"
        print(f"{r['scenario']:30s} {str(r['seed_case'] or '')[:18]:18s} {rank} {score}  {r['categories'] or '-'} ({r['expected']})")
    print(f"recall in top 1%: {result['recall_top_1pct']:.0%}   recall in top k: {result['recall_top_k']:.0%}   "
          f"on the list at all: {result['recall_any_lead']:.0%}")
    print(f"decoys in top 1%: {len(result['decoys_in_top_1pct'])} {result['decoys_in_top_1pct']}")
    print(f"category precision: {result['category_precision']:.0%}   category recall: {result['category_recall']:.0%}")
    if result["innocent_hit_share"] is not None:
        print(f"innocent staff hit by any stable check tonight: {result['innocent_hit_share']:.1%}")


# --- the matrix ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Force:
    profile: str
    seed: int
    intensity: float
    staff: int
    days: int

    @property
    def name(self) -> str:
        return f"{self.profile.replace(',', '+')}-s{self.seed}-i{self.intensity:g}-{self.staff}x{self.days}"


def generator_fingerprint() -> str:
    """A hash of the generator's code: a cached force is regenerated when the generator changes."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "acu_audit" / "synth").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run_force(force: Force, work: Path, env: dict[str, str], log, reuse: bool = False) -> dict:
    """Generate the force (or reuse it), run ``acu-audit run`` over its whole landing, score it.

    ``reuse``: score the outputs of an earlier run of this force instead of running it again.
    """
    folder = work / force.name
    marker = folder / "generated.json"
    wanted = {"profile": force.profile, "seed": force.seed, "intensity": force.intensity, "staff": force.staff,
              "days": force.days, "generator": generator_fingerprint()}
    cli = [sys.executable, "-m", "acu_audit.cli"]
    started = time.perf_counter()
    if not (marker.exists() and json.loads(marker.read_text()) == wanted):
        folder.mkdir(parents=True, exist_ok=True)
        _call(cli + ["generate", "--out", str(folder), "--staff", str(force.staff), "--days", str(force.days),
                     "--seed", str(force.seed), "--plant-intensity", str(force.intensity), "--profile", force.profile],
              env, folder / "generate.log")
        marker.write_text(json.dumps(wanted))
    generated = time.perf_counter()
    if not (reuse and (folder / "out" / "leads.csv").exists()):
        for stale in ("acu.duckdb", "acu.duckdb.wal", "acu.state.duckdb", "acu.state.duckdb.wal"):
            (folder / stale).unlink(missing_ok=True)
        run_env = {**env, "PREFECT_HOME": str(folder / "prefect"), "PREFECT_LOCAL_STORAGE_PATH": str(folder / "prefect" / "storage")}
        _call(cli + ["run", "--landing", str(folder / "landing"), "--out", str(folder / "out"), "--db", str(folder / "acu.duckdb"),
                     "--no-validation"], run_env, folder / "run.log")
    result = evaluate_run(folder / "out", folder / "truth.json", folder / "acu.duckdb")
    result.update(force=force.name, profile=force.profile, seed=force.seed, intensity=force.intensity,
                  generate_s=round(generated - started, 1), run_s=round(time.perf_counter() - generated, 1))
    (folder / "result.json").write_text(json.dumps(result, indent=1, default=str))
    log(f"{force.name}: {result['in_top_20']}/{result['k']} plants in the top 20, {result['leads']} leads "
        f"(run {result['run_s']:.0f} s)")
    return result


def _call(argv: list[str], env: dict[str, str], log_path: Path) -> None:
    with open(log_path, "w") as log:
        done = subprocess.run(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv[2:4])} failed (exit {done.returncode}); see {log_path}")


COLUMNS = (
    # header, key, format, worst
    ("force", "force", "{}", None),
    ("top1%", "in_top_1pct", "{}", min),
    ("top20", "in_top_20", "{}", min),
    ("review", "in_review", "{}", min),
    ("decoys top1%", "n_decoys_top_1pct", "{}", max),
    ("decoys top20", "n_decoys_top_20", "{}", max),
    ("decoys review", "n_decoys_review", "{}", max),
    ("cat prec", "category_precision", "{:.2f}", min),
    ("cat rec", "category_recall", "{:.2f}", min),
    ("leads", "leads", "{:,}", max),
    ("review tier", "review_tier", "{:,}", max),
    ("innocent hit", "innocent_hit_share", "{:.1%}", max),
)


def matrix_table(results: list[dict]) -> str:
    """A markdown table, a row per run and a last row with the worst of each column."""
    rows = []
    for r in results:
        r = {**r, "n_decoys_top_1pct": len(r["decoys_in_top_1pct"]), "n_decoys_top_20": len(r["decoys_in_top_20"]),
             "n_decoys_review": len(r["decoys_in_review"]) if r["decoys_in_review"] is not None else None}
        rows.append(r)
    k = rows[0]["k"] if rows else 0

    def cell(key: str, fmt: str, value) -> str:
        if value is None:
            return "-"
        text = fmt.format(value)
        return f"{text} of {k}" if key in ("in_top_1pct", "in_top_20", "in_review") else text

    lines = ["| " + " | ".join(h for h, *_ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(cell(key, fmt, r.get(key)) for _, key, fmt, _ in COLUMNS) + " |")
    worst = []
    for _, key, fmt, pick in COLUMNS:
        values = [r.get(key) for r in rows if r.get(key) is not None]
        worst.append("**worst**" if pick is None else (f"**{cell(key, fmt, pick(values))}**" if values else "-"))
    lines.append("| " + " | ".join(worst) + " |")
    return "\n".join(lines)


def scenario_table(results: list[dict]) -> str:
    """Per planted scenario: in how many runs it made the top 20, and its worst rank."""
    by: dict[str, list] = {}
    for r in results:
        for ins in r["insiders"]:
            by.setdefault(ins["scenario"], []).append(ins["rank"])
    lines = ["| scenario | runs in top 20 | worst rank |", "|---|---|---|"]
    for scenario, ranks in sorted(by.items(), key=lambda kv: sum(1 for x in kv[1] if x and x <= TOP_N)):
        top = sum(1 for x in ranks if x and x <= TOP_N)
        worst = "not listed" if any(x is None for x in ranks) else str(max(ranks))
        lines.append(f"| {scenario} | {top} of {len(ranks)} | {worst} |")
    return "\n".join(lines)


def check_table(results: list[dict]) -> str:
    """Per check: the share of innocent staff it hits tonight and over the span (its evidence kept),
    on the median run and on the worst run."""
    checks = sorted({c for r in results for key in ("innocent_share_by_check", "innocent_share_by_check_span")
                     for c in r.get(key, {})})
    rows = []
    for c in checks:
        tonight = sorted(r.get("innocent_share_by_check", {}).get(c, 0.0) for r in results)
        span = sorted(r.get("innocent_share_by_check_span", {}).get(c, 0.0) for r in results)
        rows.append((c, tonight[len(tonight) // 2], tonight[-1], span[len(span) // 2], span[-1]))
    lines = ["| check | innocent staff hit tonight, median run | worst run | over the span, median run | worst run |",
             "|---|---|---|---|---|"]
    for c, median, worst, span_median, span_worst in sorted(rows, key=lambda x: (-x[4], -x[2])):
        lines.append(f"| {c} | {median:.1%} | {worst:.1%} | {span_median:.1%} | {span_worst:.1%} |")
    return "\n".join(lines)


def run_matrix(args: argparse.Namespace) -> None:
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {**os.environ, "ACU_AUDIT_SECRET_FILE": str(work / "secret"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    env.pop("ACU_AUDIT_SECRET", None)
    os.environ["ACU_AUDIT_SECRET_FILE"] = env["ACU_AUDIT_SECRET_FILE"]
    os.environ.pop("ACU_AUDIT_SECRET", None)
    load_secret(create=True)  # one key for every run of the matrix, made before they start in parallel
    forces = [Force(p, s, i, args.staff, args.days)
              for p in args.profiles.split(";") for s in (int(x) for x in args.seeds.split(","))
              for i in (float(x) for x in args.intensities.split(","))]
    if args.big:
        forces.append(Force(args.big, 7, 1.0, 40000, 30))
    print(f"{len(forces)} forces under {work}, {args.jobs} at a time", file=sys.stderr)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"  {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda f: run_force(f, work, env, log, args.reuse), forces))
    print(f"\nLead-list quality matrix: {len(results)} runs, {time.perf_counter() - started:.0f} s "
          f"(k = {results[0]['k']} plants per force; top 1% = {results[0]['top_1pct']} places at {args.staff:,} staff)\n")
    print(matrix_table(results))
    print()
    print(scenario_table(results))
    print()
    print(check_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="one run: the run's --out folder")
    parser.add_argument("--truth", type=Path, help="one run: the force's truth.json")
    parser.add_argument("--db", type=Path, help="one run: the run's DuckDB file (for the staff count)")
    parser.add_argument("--json", nargs="?", const=True, default=None,
                        help="one run: print JSON; matrix: write every run's result to this file")
    parser.add_argument("--matrix", action="store_true", help="generate, run and score a matrix of forces")
    parser.add_argument("--work", type=Path, default=Path("/tmp/acu-matrix"), help="matrix: where forces and runs live")
    parser.add_argument("--profiles", default=DEFAULT_PROFILES, help="matrix: profile combinations separated by ';'")
    parser.add_argument("--seeds", default="7,11")
    parser.add_argument("--intensities", default="1,0.5")
    parser.add_argument("--staff", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=1, help="matrix: runs at a time")
    parser.add_argument("--big", metavar="PROFILE", help="matrix: also a 40,000 x 30 force of this profile")
    parser.add_argument("--reuse", action="store_true", help="matrix: score earlier runs' outputs where they exist (no new runs)")
    args = parser.parse_args()
    owner_only()  # what it writes (copies, logs, results) holds a force's data: owner-only, as acu-audit's own files
    if args.matrix:
        args.json = Path(args.json) if isinstance(args.json, str) else None
        run_matrix(args)
        return
    if not (args.out and args.truth and args.db):
        parser.error("give --out, --truth and --db for one run, or --matrix")
    result = evaluate_run(args.out, args.truth, args.db)
    if args.json:
        print(json.dumps(result, indent=1, default=str))
        return
    print_run(result)


if __name__ == "__main__":
    main()
