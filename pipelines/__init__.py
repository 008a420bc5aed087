"""Prefect flows and deployments for acu-audit. Thin: the work is in ``acu_audit``."""
