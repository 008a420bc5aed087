"""STUDIOSB checks: the catalogue (``sql/checks``) and the runner."""

from acu_audit.checks.catalogue import CATEGORY_NAMES, HIT_COLUMNS, Check, CheckMeta, check_by_id, load_catalogue
from acu_audit.checks.runner import CheckOutcome, CheckRunReport, prepare_run_tables, run_checks

__all__ = [
    "CATEGORY_NAMES",
    "HIT_COLUMNS",
    "Check",
    "CheckMeta",
    "CheckOutcome",
    "CheckRunReport",
    "check_by_id",
    "load_catalogue",
    "prepare_run_tables",
    "run_checks",
]
