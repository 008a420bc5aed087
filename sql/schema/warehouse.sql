-- The warehouse's ledger: ingest runs, files, the quarantine and Great Expectations' results.
-- Everything in the warehouse can be rebuilt from the landing folder. Analyst state (statuses,
-- notes, suppressions, reveals, audit log) lives in a separate file; see sql/state/.
--
-- The tables of the data contract themselves are created from acu_audit/contract.py
-- (acu_audit.schema.contract_tables), with their lineage columns.


CREATE TABLE IF NOT EXISTS ingest_runs (
    ingest_run_id   VARCHAR PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    landing         VARCHAR NOT NULL,
    up_to           DATE,
    files_processed INTEGER,
    files_skipped   INTEGER
);
-- finished | interrupted (killed; noticed by the next run) | NULL while running
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS status VARCHAR;

-- The per-file ledger: read = loaded + duplicate + rejected, always.
CREATE TABLE IF NOT EXISTS ingest_files (
    file_id          VARCHAR PRIMARY KEY,      -- hash of drop, table and content
    ingest_run_id    VARCHAR NOT NULL,
    drop_date        DATE NOT NULL,
    table_name       VARCHAR,                  -- NULL: not a contract table
    file_name        VARCHAR NOT NULL,
    path             VARCHAR NOT NULL,
    format           VARCHAR NOT NULL,
    content_sha256   VARCHAR NOT NULL,
    bytes            BIGINT NOT NULL,
    "read"           BIGINT NOT NULL,
    loaded           BIGINT NOT NULL,
    duplicate        BIGINT NOT NULL,
    rejected         BIGINT NOT NULL,
    conflicts        BIGINT NOT NULL,          -- included in rejected
    unresolved_refs  BIGINT NOT NULL,          -- loaded rows whose staff_id/person_id is not (yet) known
    extra_columns    VARCHAR[],
    status           VARCHAR NOT NULL,         -- loaded | partial | rejected | unreadable | unrecognised | empty | refused
    error            VARCHAR,
    seconds          DOUBLE,
    loaded_at        TIMESTAMPTZ NOT NULL
);
-- How the file was read when not plainly: the slow path and why, versions carried forward.
ALTER TABLE ingest_files ADD COLUMN IF NOT EXISTS note VARCHAR;
-- The file's modification time when loaded: a file with the same drop, name, size and time is
-- not read again (hashing a landing's whole history each night would cost minutes at force scale).
ALTER TABLE ingest_files ADD COLUMN IF NOT EXISTS mtime_ns BIGINT;

-- Each snapshot's rows as its newest drop sent them, those that agree with their entity's
-- stored state: a hash of the row's text and the entity's key. A row of the next drop whose
-- text hashes alike is a duplicate without being typed (acu_audit.ingest.resent).
CREATE TABLE IF NOT EXISTS snapshot_sent_rows (
    table_name VARCHAR NOT NULL,
    drop_date  DATE NOT NULL,
    rules      VARCHAR NOT NULL,   -- fingerprint of the typing rules the rows were typed by
    row_hash   UHUGEINT NOT NULL,  -- md5 of the row's contract columns as text
    row_key    VARCHAR NOT NULL
);

-- Every input row that was not loaded and is not a duplicate, with its reason.
CREATE TABLE IF NOT EXISTS quarantine (
    file_id          VARCHAR NOT NULL,
    drop_date        DATE NOT NULL,
    table_name       VARCHAR,
    file_name        VARCHAR NOT NULL,
    line             BIGINT,                   -- 1 is the header; NULL for a whole-file problem
    column_name      VARCHAR,                  -- the first column at fault, when there is one
    raw_text         VARCHAR,                  -- the row as it arrived
    reason           VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,         -- parse | missing | type | value | rule | conflict | file
    stored_version   VARCHAR,                  -- for a conflict: the version already stored (JSON)
    quarantined_at   TIMESTAMPTZ NOT NULL
);

-- Great Expectations results, one row per expectation per drop and table.
CREATE TABLE IF NOT EXISTS validation_results (
    ingest_run_id    VARCHAR NOT NULL,
    drop_date        DATE NOT NULL,
    table_name       VARCHAR NOT NULL,
    file_id          VARCHAR NOT NULL,
    expectation      VARCHAR NOT NULL,
    column_name      VARCHAR,
    success          BOOLEAN NOT NULL,
    element_count    BIGINT,
    unexpected_count BIGINT,
    unexpected_sample VARCHAR,                 -- JSON list of a few offending values
    error            VARCHAR,                  -- GX's exception_info, when the expectation itself failed to run
    gx_seconds       DOUBLE
);
-- What the expectation asks, in words ("occurred_at: the value given is an ISO-8601 timestamp ...").
ALTER TABLE validation_results ADD COLUMN IF NOT EXISTS description VARCHAR;

-- ---- snapshots (reference data) ------------------------------------------------
