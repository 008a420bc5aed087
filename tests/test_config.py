"""The configuration a night uses: one home for every default (configs/default.yaml), shown merged."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from acu_audit.cli import app
from acu_audit.config import load_settings, settings_from


def test_config_show_prints_the_merged_configuration_and_its_files(tmp_path):
    force = tmp_path / "force.yaml"
    force.write_text("scoring:\n  outlier:\n    weight: 0.9\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "show", "--config", str(force)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("configs/default.yaml") and lines[1] == f"# from {force}"
    shown = yaml.safe_load(result.output)
    assert shown["scoring"]["outlier"]["weight"] == 0.9  # the force's value
    assert shown["scoring"]["rarity"] == load_settings().raw["scoring"]["rarity"]  # the rest from the default
    assert settings_from(shown).scoring == load_settings(force).scoring  # what a night would use


def test_config_show_names_a_missing_file(tmp_path):
    result = CliRunner().invoke(app, ["config", "show", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code != 0 and "nope.yaml" in result.output


def test_every_setting_the_code_reads_has_its_value_in_the_default_file():
    """No default is written in code: a missing key is an error, not a silent fallback."""
    import re
    from pathlib import Path

    import acu_audit

    package = Path(acu_audit.__file__).parent
    fallbacks = [f"{p.relative_to(package)}: {m.group(0)}" for p in package.rglob("*.py") if "synth" not in p.parts
                 for m in re.finditer(r"\b(settings\.\w+|config|s|c|rt)\.get\(\"\w+\", [^)]+\)", p.read_text(encoding="utf-8"))]
    assert fallbacks == []
