"""Lead-list quality against a generated force's ground truth.

    python benchmarks/leads_quality.py --out OUT --truth FORCE/truth.json --db DB [--json]

Reads OUT/leads.csv (staff_ref only) and maps planted insiders' staff_ids to
staff_refs with the same key the run used (ACU_AUDIT_SECRET or the key file),
so the pipeline never sees truth.json. Prints each planted insider's rank and
categories, recall in the top 1% of staff and in the top k (k = number of
plants), decoys in the top 1%, and category precision (share of a found
insider's letters that are expected) and recall (share of expected letters found).

To produce OUT from scratch:

    acu-audit generate --out /tmp/f2k --staff 2000 --days 60 --seed 7
    acu-audit run --landing /tmp/f2k/landing --out /tmp/f2k/out --db /tmp/f2k/acu.duckdb
    python benchmarks/leads_quality.py --out /tmp/f2k/out --truth /tmp/f2k/truth.json --db /tmp/f2k/acu.duckdb
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import duckdb
import polars as pl

from acu_audit.privacy import load_secret, staff_ref


def evaluate(leads: pl.DataFrame, truth: dict, staff_total: int) -> dict:
    key = load_secret(create=False)
    ranks = {r["staff_ref"]: r for r in leads.iter_rows(named=True)}
    top_pct = max(1, math.ceil(0.01 * staff_total))
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
                "categories": "|".join(letters),
                "expected": "|".join(plant["expected_categories"]),
                "precision": (len(set(letters) & expected) / len(letters)) if letters else None,
                "recall": len(set(letters) & expected) / len(expected),
            }
        )
    decoys = [d for d in truth.get("decoys", []) if (r := ranks.get(staff_ref(key, d["staff_id"]))) and r["rank"] <= top_pct]
    found = [r for r in rows if r["rank"] is not None]
    return {
        "staff": staff_total,
        "leads": leads.height,
        "top_1pct": top_pct,
        "k": k,
        "recall_top_1pct": sum(1 for r in rows if r["rank"] and r["rank"] <= top_pct) / k,
        "recall_top_k": sum(1 for r in rows if r["rank"] and r["rank"] <= k) / k,
        "recall_any_lead": len(found) / k,
        "decoys_in_top_1pct": [d["scenario"] for d in decoys],
        "category_precision": sum(r["precision"] for r in found) / len(found) if found else 0.0,
        "category_recall": sum(r["recall"] for r in rows) / k,
        "insiders": sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the run's --out folder")
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True, help="the run's DuckDB file (for the staff count)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    leads = pl.read_csv(args.out / "leads.csv")
    as_of = leads["as_of"][0] if leads.height else None
    con = duckdb.connect(str(args.db), read_only=True)
    staff_total = con.execute(
        "SELECT count(*) FROM staff_as_of(CAST(? AS DATE)) WHERE end_date IS NULL OR end_date >= CAST(? AS DATE) - 27",
        [as_of, as_of],
    ).fetchall()[0][0]
    con.close()
    result = evaluate(leads, json.loads(args.truth.read_text()), staff_total)
    if args.json:
        print(json.dumps(result, indent=1, default=str))
        return
    print(f"{result['leads']} leads for {result['staff']:,} staff; top 1% = {result['top_1pct']} places, k = {result['k']} plants")
    print(f"{'scenario':30s} {'seed case':18s} {'rank':>5s} {'score':>6s}  categories (expected)")
    for r in result["insiders"]:
        rank = f"{r['rank']:5d}" if r["rank"] else "    -"
        score = f"{r['score']:6.1f}" if r["score"] is not None else "     -"
        print(f"{r['scenario']:30s} {str(r['seed_case'] or ''):18s} {rank} {score}  {r['categories'] or '-'} ({r['expected']})")
    print(f"recall in top 1%: {result['recall_top_1pct']:.0%}   recall in top k: {result['recall_top_k']:.0%}   "
          f"on the list at all: {result['recall_any_lead']:.0%}")
    print(f"decoys in top 1%: {len(result['decoys_in_top_1pct'])} {result['decoys_in_top_1pct']}")
    print(f"category precision: {result['category_precision']:.0%}   category recall: {result['category_recall']:.0%}")


if __name__ == "__main__":
    main()
