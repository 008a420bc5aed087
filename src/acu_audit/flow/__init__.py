"""The nightly audit: one implementation of a night and the loops over nights.

- :mod:`acu_audit.flow.steps`: each step of a night, ``(warehouse, night, inputs) -> result``.
- :mod:`acu_audit.flow.nightly`: :func:`run_night` (the order of the steps), the catch-up of
  missed nights, the backfill's nights, the run log and failures.
- :mod:`acu_audit.flow.prefect_flow`: the Prefect flows, each step a task (imports Prefect).
- :mod:`acu_audit.flow.artifacts`: the Prefect artifacts of a night.
"""

from acu_audit.flow.nightly import DIRECT, NightFailed, NightResult, run_night, settle_night

__all__ = ["DIRECT", "NightFailed", "NightResult", "run_night", "settle_night"]
