"""acu-audit: corruption-risk audit pipeline for police anti-corruption units.

The data path, one module per step (see README's diagram):
landing files -> ``ingest`` (typed, validated, quarantined) -> DuckDB tables ->
``purpose`` (policing purpose of every look-up) -> ``checks`` (STUDIOSB hits) ->
``outliers`` (isolation forest among unit-function peers) -> ``leads`` (ranked,
with lifecycle) -> ``report`` / ``publish`` (outputs for analysts).
"""

__version__ = "0.1.0"
