"""Settings: thresholds, weights and unit-function knowledge live in ``configs/``.

``configs/default.yaml`` is the embedded default. A force overrides any part
of it with its own YAML file (``--config FILE`` or ``ACU_AUDIT_CONFIG``); the
two are deep-merged, so an override names only what it changes. Nothing here
is code: a changed value never needs a code change.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from acu_audit.errors import ConfigError
from acu_audit.paths import absolute_or_none, env_path
from acu_audit.resources import configs_dir

CONFIG_ENV = "ACU_AUDIT_CONFIG"


def deep_merge(base: dict, override: dict) -> dict:
    out = deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = deepcopy(value)
    return out


@dataclass(frozen=True)
class Settings:
    """The whole configuration, as loaded. Sections stay plain dicts where checks own them."""

    timezone: str
    review_window_days: int
    span_days: int  # the span the queue covers: calibration, scores and the review line (docs/scoring.md)
    purpose: dict[str, Any]
    checks: dict[str, dict[str, Any]]
    scoring: dict[str, Any]
    outliers: dict[str, Any]
    leads: dict[str, Any]
    feeds: dict[str, Any]
    runtime: dict[str, Any]
    source_files: tuple[str, ...] = field(default_factory=tuple)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def check_params(self, check_id: str) -> dict[str, Any]:
        return dict(self.checks.get("parameters", {}).get(check_id, {}))

    def check_enabled(self, check_id: str) -> bool:
        return check_id not in set(self.checks.get("disabled", []) or [])


def load_settings(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Load the default configuration, then a force's file, then in-code overrides (tests, what-ifs)."""
    default_path = configs_dir() / "default.yaml"
    data = yaml.safe_load(default_path.read_text(encoding="utf-8"))
    sources = [str(default_path)]
    p = absolute_or_none(path) or env_path(CONFIG_ENV)
    if p is not None:
        if not p.is_file():
            raise ConfigError(f"configuration file not found: {p}")
        try:
            data = deep_merge(data, yaml.safe_load(p.read_text(encoding="utf-8")) or {})
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
        sources.append(str(p))
    if overrides:
        data = deep_merge(data, overrides)
    return settings_from(data, tuple(sources))


def settings_from(data: dict[str, Any], sources: tuple[str, ...] = ()) -> Settings:
    """Settings from a whole, merged configuration (as ``load_settings`` merges it, or as a night
    recorded it in its analyst copy), checked."""
    try:
        ZoneInfo(data["timezone"])
    except (KeyError, ZoneInfoNotFoundError) as exc:
        raise ConfigError(f"timezone: not a known IANA zone: {data.get('timezone')!r}") from exc
    window = data.get("review_window_days")
    if not isinstance(window, int) or window < 1:
        raise ConfigError(f"review_window_days must be a positive whole number, got {window!r}")
    span = data.get("span_days")
    if not isinstance(span, int) or span < window:
        raise ConfigError(f"span_days must be a whole number of days at least review_window_days ({window}), got {span!r}")
    try:
        return Settings(
            timezone=data["timezone"],
            review_window_days=window,
            span_days=span,
            purpose=data["purpose"],
            checks=data["checks"],
            scoring=data["scoring"],
            outliers=data["outliers"],
            leads=data["leads"],
            feeds=data["feeds"],
            runtime=data.get("runtime", {}),
            source_files=sources,
            raw=data,
        )
    except KeyError as exc:
        raise ConfigError(f"configuration is missing the section {exc.args[0]!r}") from exc
