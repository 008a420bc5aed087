"""Great Expectations: the declared input contract, one suite per table.

The suites are built from :mod:`acu_audit.contract`, once per run, in one
ephemeral context. Each night's staged file (typed values beside their raw
text) is validated as a pandas frame -- GX 1.x validates pandas only -- and the
result of every expectation is stored in ``validation_results`` for the analyst.

The per-row quarantine itself is done in SQL (``ingest.staging``) from the same
contract; ``tests/test_ingest_fixtures.py`` proves the two agree on every fixture.
GX is imported lazily because it takes seconds to import.

A GX validation costs about 0.15 s however small the frame, and a first run brings hundreds of
files, most with few new rows. So a validator may be given ``chunk_rows``: files of one table
wait until that many new rows are pending (or :meth:`GxValidator.flush`), and are validated
together, uniqueness counted within each file. A chunk that passes every expectation passes
for each of its files; one that does not is validated again file by file, so a failure is
always stored against its own file.

A night validates *beside* its other steps (``beside=True``): each frame of new rows is taken
out of DuckDB where it was staged, then Great Expectations works on it on a thread of its own
once the loading is done, while the night goes on to label, check and score (GX is pandas and
Python: 3-6 s of one core a night at 40,000 staff, 30-50 s over a 40,000 × 30 first run;
the night's SQL leaves part of the second core idle). Every GX call runs on that one thread,
in order; :meth:`GxValidator.collect` waits for them and stores what they found. Nothing the
night loads depends on GX: the rows are sorted by the same rules in SQL.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from acu_audit.config import Settings
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


def _given(raw_column: str) -> Any:
    """GX's row condition "the raw text is given", as a Condition object (the string form with a
    pandas condition parser is deprecated since GX Core 1.9). GX is imported here, not at module
    level: it takes seconds to import, and a night without validation never needs it."""
    from great_expectations.expectations.row_conditions import Column

    return Column(raw_column).is_not_null()


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
                    {"column": name, "row_condition": _given(f"r__{name}")},
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
    # Within each file (FILE_COLUMN): a frame may hold several files of the table (see chunk_rows).
    out.append(ExpectationSpec("ExpectCompoundColumnsToBeUnique",
                               {"column_list": [FILE_COLUMN, *spec.key], "ignore_row_if": "any_value_is_missing"},
                               "unique", ",".join(spec.key), f"({', '.join(spec.key)}): once in the file (the key)"))
    return out


FILE_COLUMN = "_file"  # the file a staged row came from, in the frames GX sees

# What a Data Docs page carries from the web -- stylesheets and scripts from CDNs, GX's logo, its
# newsletter footer -- is taken out: the pages open on a force network with no way out, and an
# analyst reads the contract's words. A few lines of local style keep them legible.
_REMOTE_TAGS = (
    re.compile(r"<link\b[^>]*href=\"https?://[^\"]*\"[^>]*>", re.I),
    re.compile(r"<script\b[^>]*src=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I),
    re.compile(r"<img\b[^>]*src=\"https?://[^\"]*\"[^>]*>", re.I),
    re.compile(r"<footer\b.*?</footer>", re.I | re.S),
    re.compile(r"<p>\s*Data Docs autogenerated using\s*<a href=\"https?://[^\"]*\">[^<]*</a>\.\s*</p>", re.I),
    re.compile(r"<a\b[^>]*href=\"https?://[^\"]*\"[^>]*>.*?</a>", re.I | re.S),  # any other link out
)
_RAW_COLUMN = re.compile(r"\br__([a-z_]+)")  # the raw text beside a typed column: its value as given
_LOCAL_STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 1rem 2rem; color: #1b1b1b; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; }
.navbar, .ge-breadcrumbs { display: block; margin-bottom: 1rem; } .breadcrumb-item { display: inline; margin-right: .5rem; }
.alert { background: #eef1f4; padding: .25rem .5rem; } .text-danger { color: #b00020; } .text-success { color: #1b7f3b; }
ul.nav { list-style: none; padding-left: 0; } .modal, .tooltip-text { display: none; }
</style>"""


def self_contained_page(html: str) -> str:
    """A Data Docs page with nothing fetched from the network, no vendor footer, and the contract's
    column names (``r__occurred_at`` reads ``occurred_at (as given)``, ``_file`` reads ``file``)."""
    for pattern in _REMOTE_TAGS:
        html = pattern.sub("", html)
    html = _RAW_COLUMN.sub(lambda m: f"{m.group(1)} (as given)", html)
    html = re.sub(rf"(?<![\w/.]){FILE_COLUMN}\b", "file", html)  # uniqueness is within each file
    return html.replace("</head>", f"{_LOCAL_STYLE}</head>", 1)


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
    expectation), with typed values (instants in UTC), and raw text for typed columns."""
    cols = ["_line"]
    for column in spec.columns:
        name = quote_identifier(column.name)
        # An instant as naive UTC: the same order and equality, and GX's column-pair rules read
        # a zone-aware pandas column through Series.values, which pandas 3 deprecates.
        cols.append(f"timezone('UTC', {name}) AS {name}" if column.type == "timestamp" else name)
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

    @classmethod
    def from_settings(cls, settings: Settings, docs_dir: os.PathLike | str | None = None, beside: bool = False) -> GxValidator:
        """The validator a run uses: chunks of ``runtime.validation_chunk_rows`` new rows; ``beside``
        as ``runtime.validation_beside`` allows."""
        return cls(docs_dir=docs_dir, chunk_rows=int(settings.runtime["validation_chunk_rows"]),
                   beside=beside and bool(settings.runtime["validation_beside"]))

    def __init__(self, result_format: str = "SUMMARY", docs_dir: os.PathLike | str | None = None, chunk_rows: int = 0,
                 beside: bool = False) -> None:
        self.result_format = result_format
        # Great Expectations resolves a relative base_directory against nothing and refuses it.
        self.docs_dir = None if docs_dir is None else str(absolute(docs_dir))
        self.seconds = 0.0  # GX's own time, for the report
        self._gx: Any = None
        self._batch_definition: Any = None
        self._suites: dict[str, Any] = {}
        self._checkpoints: dict[str, Any] = {}
        self.validated = 0  # frames validated (pages in the Data Docs)
        self.chunk_rows = chunk_rows  # 0: each file as it comes
        self._pending: dict[str, list[_PendingFile]] = {}
        # Files load side by side (ingest.Lanes): one validation at a time, and a table's waiting
        # rows are validated on the connection whose temporary table holds them.
        self._pending_on: dict[str, Warehouse] = {}
        self._lock = threading.RLock()
        # beside: GX's own thread and the calls handed to it (what collect() waits for). Its work
        # waits for the loading to end (flush) unless frames of more than _ROWS_HELD rows would be
        # held: GX holding the interpreter slows the lanes' own Python more than it gains.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="great-expectations") if beside else None
        self._handed: list[Future] = []
        self._go = threading.Event()
        self._closing = False
        self._held = 0  # rows of the frames handed to GX's thread and not validated yet
        self._room = threading.Condition()

    @property
    def beside(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> GxValidator:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop GX's thread (beside): what waits there is dropped, a frame in hand finished."""
        if self._thread is not None:
            self._closing = True
            self._go.set()
            self._thread.shutdown(wait=True, cancel_futures=True)

    def _on_gx_thread(self, call: Any, *args: Any, rows: int = 0) -> Any:
        """``call(*args)`` now, or (beside) handed to GX's thread: then None, its outcome for
        collect(). ``rows``: the rows of the frame handed with it, held until it is validated."""
        if self._thread is None:
            return call(*args)
        with self._room:
            if self._held and self._held + rows > _ROWS_HELD:
                self._go.set()  # the loading outruns the validation: GX starts now, and the lane waits
                self._room.wait_for(lambda: not self._held or self._held + rows <= _ROWS_HELD)
            self._held += rows

        def on_the_thread() -> Any:
            try:
                self._go.wait()
                return None if self._closing else call(*args)
            finally:
                with self._room:
                    self._held -= rows
                    self._room.notify_all()

        self._handed.append(self._thread.submit(on_the_thread))
        return None

    def collect(self, wh: Warehouse) -> None:
        """Wait for every call handed to GX's thread, in order, and store the outcomes found (on
        ``wh``). A GX error is raised here. Nothing to do without ``beside``."""
        self._go.set()
        handed, self._handed = self._handed, []
        for call in handed:
            found = call.result()
            if isinstance(found, _Found):
                self._store(wh, found.results)

    def _context(self) -> None:
        if self._gx is not None:
            return
        started = time.perf_counter()
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every frame below HASH_THRESHOLD bytes (an md5 over pandas' hash of
        # every row) as a batch marker that no expectation or result reads: 1.3 s of the 2.1 s
        # it took to validate one night's 700,000 look-ups at 40,000 staff. Our files are
        # identified by their own digest in the ingest ledger.
        pandas_execution_engine.HASH_THRESHOLD = 0

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

    def build_docs(self) -> int | None:
        """Render the Data Docs of every file validated so far, once; returns the files shown
        (beside: None, and the pages are there once :meth:`collect` returns)."""
        return self._on_gx_thread(self._build_docs)

    def _build_docs(self) -> int:
        if self.docs_dir is None or not self.validated:
            return 0
        started = time.perf_counter()
        self._context_obj.build_data_docs(site_names=["night"])
        for page in Path(self.docs_dir).rglob("*.html"):
            page.write_text(self_contained_page(page.read_text(encoding="utf-8")), encoding="utf-8")
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
        """Validate the file's new rows staged in ``stg_typed`` and store the results; with
        ``chunk_rows``, they may wait for more files of the table (then [] is returned).

        Waiting rows stay in DuckDB (a temporary table per contract table) and become one pandas
        frame per chunk: a first run's 600 files are 30 conversions, not 600."""
        with self._lock:
            return self._validate_staged(wh, spec, drop_date, file_id, run_id)

    def _validate_staged(self, wh: Warehouse, spec: TableSpec, drop_date: date, file_id: str, run_id: str) -> list[ExpectationOutcome]:
        pending_table = _pending_table(spec)
        if self._pending.get(spec.name) and self._pending_on.get(spec.name) is not wh:
            self._validate_pending(self._pending_on[spec.name], spec.name)  # waiting on another connection
        pending = self._pending.setdefault(spec.name, [])
        self._pending_on[spec.name] = wh
        if not pending:  # the table's first file waiting (OR REPLACE: nothing is kept from a failed night)
            wh.execute(f"CREATE OR REPLACE TEMP TABLE {pending_table} AS "
                       f"SELECT *, CAST(NULL AS VARCHAR) AS {FILE_COLUMN} FROM ({staged_frame_sql(spec)}) LIMIT 0",
                       step=f"rows waiting for Great Expectations: {spec.name}")
        rows = wh.execute(f"INSERT INTO {pending_table} SELECT *, $f FROM ({staged_frame_sql(spec)})", {"f": file_id},
                          step=f"stage {spec.name} for Great Expectations")[0][0]
        pending.append(_PendingFile(spec, drop_date, file_id, run_id, rows))
        if sum(p.rows for p in pending) < self.chunk_rows:
            return []
        return self._validate_pending(wh, spec.name)

    def flush(self, wh: Warehouse) -> None:
        """Validate and store every file still waiting (before the night's results are read), each
        table on the connection that staged it (``wh`` when it is gone from the record). Beside,
        they are handed to GX's thread, which starts on what it holds: :meth:`collect` stores it."""
        with self._lock:
            for table in list(self._pending):
                self._validate_pending(self._pending_on.pop(table, wh), table)
        self._go.set()  # the loading is done: GX's thread may start

    def _validate_pending(self, wh: Warehouse, table: str) -> list[ExpectationOutcome]:
        files = self._pending.pop(table, [])
        if not files:
            return []
        spec = files[0].spec
        pending_table = _pending_table(spec)
        frame = wh.pandas(f"SELECT * FROM {pending_table}", step=f"{spec.name} for Great Expectations")
        wh.execute(f"DROP TABLE {pending_table}", step=f"{spec.name} validated")
        found = self._on_gx_thread(self._validate_files, spec, files, frame, rows=len(frame))
        if found is None:  # beside: collect() stores it
            return []
        self._store(wh, found.results)
        return found.outcomes

    def _validate_files(self, spec: TableSpec, files: list[_PendingFile], frame: pd.DataFrame) -> _Found:
        """The outcomes of files validated together: for each file, and for the frame as a whole."""
        if len(files) == 1:
            (f,) = files
            outcomes = self.validate_frame(spec, frame, run_name=f"{f.drop_date.isoformat()}_{spec.name}_{f.file_id[:8]}")
            return _Found(outcomes, [(f, outcomes)])
        outcomes = self.validate_frame(
            spec, frame, run_name=f"{files[0].drop_date.isoformat()}_to_{files[-1].drop_date.isoformat()}_{spec.name}_{len(files)}_files")
        if all(o.success and o.error is None for o in outcomes):
            return _Found(outcomes, [(f, [replace(o, element_count=f.rows, unexpected_count=0, unexpected_index_list=None)
                                          for o in outcomes]) for f in files])
        # each file alone, so each failure is stored against its own file
        by_file = dict(tuple(frame.groupby(FILE_COLUMN, sort=False)))
        return _Found(outcomes, [(f, self.validate_frame(spec, by_file.get(f.file_id, frame.iloc[0:0]).reset_index(drop=True),
                                                         run_name=f"{f.drop_date.isoformat()}_{spec.name}_{f.file_id[:8]}"))
                                 for f in files])

    def _store(self, wh: Warehouse, results: list[tuple[_PendingFile, list[ExpectationOutcome]]]) -> None:
        """Every outcome of the files validated together, in one statement."""
        rows = [
            (f.run_id, f.drop_date, f.spec.name, f.file_id, o.expectation, o.column, o.success and o.error is None,
             o.element_count, o.unexpected_count, json.dumps(o.partial_unexpected, default=str), o.error, self.seconds,
             o.description)
            for f, outcomes in results for o in outcomes
        ]
        with wh.rows_as("gx_outcomes", rows, _OUTCOME_SCHEMA):
            wh.execute("INSERT INTO validation_results BY NAME SELECT * FROM gx_outcomes", step="store validation results")


# Rows of new-row frames GX's thread may hold (beside) before it starts: a 40,000-staff night's
# 1.3 M new rows wait for the loading to end (a frame larger than this alone still waits).
_ROWS_HELD = 2_000_000


@dataclass(frozen=True)
class _Found:
    """What validating a frame found: the frame's outcomes, and each of its files' (to store)."""

    outcomes: list[ExpectationOutcome]
    results: list[tuple[_PendingFile, list[ExpectationOutcome]]]


def _pending_table(spec: TableSpec) -> str:
    return quote_identifier(f"gx_pending_{spec.name}")


_OUTCOME_SCHEMA = {
    "ingest_run_id": pl.String, "drop_date": pl.Date, "table_name": pl.String, "file_id": pl.String,
    "expectation": pl.String, "column_name": pl.String, "success": pl.Boolean, "element_count": pl.Int64,
    "unexpected_count": pl.Int64, "unexpected_sample": pl.String, "error": pl.String, "gx_seconds": pl.Float64,
    "description": pl.String,
}


@dataclass(frozen=True)
class _PendingFile:
    """A file's new rows waiting to be validated with more of its table's files."""

    spec: TableSpec
    drop_date: date
    file_id: str
    run_id: str
    rows: int  # its new rows, waiting in the table's gx_pending_ temporary table
