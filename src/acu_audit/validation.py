"""Great Expectations: the declared input contract, one suite per table.

The suites are built from :mod:`acu_audit.contract`, once per run, in one
ephemeral context. Each night's staged file (typed values beside their raw
text) is validated as a pandas frame -- GX 1.x validates pandas only -- and the
result of every expectation is stored in ``validation_results`` for the analyst.

The per-row quarantine itself is done in SQL (``ingest.staging``) from the same
contract; ``tests/test_validation.py`` proves the two agree on every fixture.
GX is imported lazily because it takes seconds to import.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from acu_audit.contract import TYPE_DESCRIPTIONS, TableSpec
from acu_audit.db import Warehouse, quote_identifier
from acu_audit.errors import value_free
from acu_audit.paths import absolute

_TYPED = ("int", "date", "timestamp")


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a table's suite, in GX terms, with the SQL rule it mirrors."""

    gx_type: str  # the GX expectation class name
    kwargs: dict[str, Any]
    rule: str  # missing | type | value | rule | unique
    column: str
    description: str  # what it asks, in words: GX's class name alone says "not null" for a bad timestamp


def expectations_for(spec: TableSpec) -> list[ExpectationSpec]:
    """The suite of one contract table."""
    out: list[ExpectationSpec] = []
    for column in spec.columns:
        name = column.name
        if not column.nullable:
            # Required: a value is given (for a typed column, its raw text: whether it parses is the next rule).
            given = f"r__{name}" if column.type in _TYPED else name
            out.append(ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": given}, "missing", name,
                                       f"{name}: a value is given (required)"))
        if column.type in _TYPED:
            # Whenever a value is given, it must parse.
            out.append(
                ExpectationSpec(
                    "ExpectColumnValuesToNotBeNull",
                    {"column": name, "row_condition": f"r__{name}.notnull()", "condition_parser": "pandas"},
                    "type",
                    name,
                    f"{name}: the value given is {TYPE_DESCRIPTIONS[column.type]}",
                )
            )
        if column.type == "enum":
            out.append(ExpectationSpec("ExpectColumnValuesToBeInSet", {"column": name, "value_set": list(column.values)}, "value", name,
                                       f"{name}: one of {', '.join(column.values)}"))
        if column.min_value is not None:
            out.append(ExpectationSpec("ExpectColumnValuesToBeBetween", {"column": name, "min_value": column.min_value}, "value", name,
                                       f"{name}: at least {column.min_value}"))
    for rule in spec.pair_rules:
        out.append(
            ExpectationSpec(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {"column_A": rule.later, "column_B": rule.earlier, "ignore_row_if": "either_value_is_missing"},
                "rule",
                rule.later,
                f"{rule.later}: after {rule.earlier}",
            )
        )
    if len(spec.key) == 1:
        out.append(ExpectationSpec("ExpectColumnValuesToBeUnique", {"column": spec.key[0]}, "unique", spec.key[0],
                                   f"{spec.key[0]}: each value once in the file (the key)"))
    else:
        out.append(ExpectationSpec("ExpectCompoundColumnsToBeUnique", {"column_list": list(spec.key)}, "unique", ",".join(spec.key),
                                   f"({', '.join(spec.key)}): each combination once in the file (the key)"))
    return out


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str
    rule: str
    description: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_index_list: list[int] | None
    partial_unexpected: list[Any]
    error: str | None


def _exception_message(exception_info: Any) -> str | None:
    """GX records a failure to *run* an expectation here instead of raising."""
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message") or "expectation raised an exception")
    return None


def staged_frame_sql(spec: TableSpec) -> str:
    """The staged rows GX sees: the file's new rows (not the duplicates of rows already stored,
    validated when they first came; a key repeated within the file is kept, for the uniqueness
    expectation), with typed values, and raw text for typed columns."""
    cols = ["_line"]
    for column in spec.columns:
        cols.append(quote_identifier(column.name))
        if column.type in _TYPED:
            cols.append(quote_identifier(f"r__{column.name}"))
    return (f"SELECT {', '.join(cols)} FROM stg_typed "
            "WHERE _ord NOT IN (SELECT _ord FROM stg_exceptions WHERE _disposition = 'duplicate' AND _lines IS NULL) "
            "ORDER BY _ord")


class GxValidator:
    """Validates staged files against the contract suites; one GX context per run.

    ``docs_dir``: also build Great Expectations' own Data Docs there (static HTML, built
    offline), one page per validated file and one per suite, rendered once when the night's
    files are validated (:meth:`build_docs`), not once per file. The pages list no values:
    the counts of unexpected values are kept, the values themselves (which may be staff
    ids) are not (``partial_unexpected_count`` 0).
    """

    def __init__(self, result_format: str = "SUMMARY", docs_dir: os.PathLike | str | None = None) -> None:
        self.result_format = result_format
        # Great Expectations resolves a relative base_directory against nothing and refuses it.
        self.docs_dir = None if docs_dir is None else str(absolute(docs_dir))
        self.seconds = 0.0  # GX's own time, for the report
        self._gx: Any = None
        self._batch_definition: Any = None
        self._suites: dict[str, Any] = {}
        self._checkpoints: dict[str, Any] = {}
        self.validated = 0  # files validated (pages in the Data Docs)

    def _context(self) -> None:
        if self._gx is not None:
            return
        started = time.perf_counter()
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        source = context.data_sources.add_pandas("staged_files")
        asset = source.add_dataframe_asset(name="staged_file")
        self._batch_definition = asset.add_batch_definition_whole_dataframe("night")
        if self.docs_dir is not None:
            os.makedirs(self.docs_dir, exist_ok=True)
            context.add_data_docs_site(
                site_name="night",
                site_config={
                    "class_name": "SiteBuilder",
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": self.docs_dir},
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
        self._context_obj = context
        self._gx = gx
        self.seconds += time.perf_counter() - started

    def suite(self, spec: TableSpec) -> Any:
        self._context()
        if spec.name not in self._suites:
            suite = self._gx.ExpectationSuite(name=f"contract_{spec.name}")
            for exp in expectations_for(spec):
                cls = getattr(self._gx.expectations, exp.gx_type)
                suite.add_expectation(cls(**exp.kwargs, description=exp.description,
                                          meta={"rule": exp.rule, "column": exp.column, "description": exp.description}))
            self._suites[spec.name] = self._context_obj.suites.add(suite)
        return self._suites[spec.name]

    def _checkpoint(self, spec: TableSpec) -> Any:
        """A checkpoint per suite; its results are kept for the Data Docs. No action: GX's
        UpdateDataDocsAction re-renders the whole site on every run, so a night's cost would
        grow with the square of its files; the site is built once (:meth:`build_docs`)."""
        if spec.name not in self._checkpoints:
            gx = self._gx
            definition = self._context_obj.validation_definitions.add(
                gx.ValidationDefinition(name=f"contract_{spec.name}", data=self._batch_definition, suite=self.suite(spec))
            )
            self._checkpoints[spec.name] = self._context_obj.checkpoints.add(
                gx.Checkpoint(
                    name=f"night_{spec.name}",
                    validation_definitions=[definition],
                    actions=[],
                    result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0},
                )
            )
        return self._checkpoints[spec.name]

    def build_docs(self) -> int:
        """Render the Data Docs of every file validated so far, once; returns the files shown."""
        if self.docs_dir is None or not self.validated:
            return 0
        started = time.perf_counter()
        self._context_obj.build_data_docs(site_names=["night"])
        self.seconds += time.perf_counter() - started
        return self.validated

    def validate_frame(self, spec: TableSpec, frame: pd.DataFrame, run_name: str | None = None) -> list[ExpectationOutcome]:
        """Validate one staged frame; returns one outcome per expectation."""
        suite = self.suite(spec)
        started = time.perf_counter()
        if self.docs_dir is not None:
            from great_expectations.core.run_identifier import RunIdentifier

            run = self._checkpoint(spec).run(batch_parameters={"dataframe": frame},
                                             run_id=RunIdentifier(run_name=run_name or spec.name))
            (result,) = run.run_results.values()
        else:
            batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
            # Counts only: unexpected values may be staff ids, and no value from a row is kept here.
            result = batch.validate(suite, result_format={"result_format": self.result_format, "partial_unexpected_count": 0})
        self.seconds += time.perf_counter() - started
        self.validated += 1
        outcomes = []
        for r in result.results:
            config = r.expectation_config
            details = r.result or {}
            outcomes.append(
                ExpectationOutcome(
                    expectation=config.type,
                    column=config.meta.get("column", ""),
                    rule=config.meta.get("rule", ""),
                    description=config.meta.get("description", ""),
                    success=bool(r.success),
                    element_count=details.get("element_count"),
                    unexpected_count=details.get("unexpected_count"),
                    unexpected_index_list=details.get("unexpected_index_list"),
                    partial_unexpected=[],  # never kept (see result_format): values from rows stay in quarantine
                    error=value_free(m) if (m := _exception_message(r.exception_info)) else None,
                )
            )
        return outcomes

    def validate_staged(self, wh: Warehouse, spec: TableSpec, drop_date: date, file_id: str, run_id: str) -> list[ExpectationOutcome]:
        """Validate the file staged in ``stg_typed`` and store the results."""
        frame = wh.pandas(staged_frame_sql(spec), step=f"stage {spec.name} for Great Expectations")
        outcomes = self.validate_frame(spec, frame, run_name=f"{drop_date.isoformat()}_{spec.name}_{file_id[:8]}")
        rows = [
            (
                run_id,
                drop_date,
                spec.name,
                file_id,
                o.expectation,
                o.column,
                o.success and o.error is None,
                o.element_count,
                o.unexpected_count,
                json.dumps(o.partial_unexpected, default=str),
                o.error,
                self.seconds,
                o.description,
            )
            for o in outcomes
        ]
        wh.executemany(
            """INSERT INTO validation_results (ingest_run_id, drop_date, table_name, file_id, expectation, column_name, success,
                   element_count, unexpected_count, unexpected_sample, error, gx_seconds, description)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
            step="store validation results",
        )
        return outcomes
