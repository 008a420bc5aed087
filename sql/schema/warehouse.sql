-- The warehouse: everything here can be rebuilt from the landing folder.
-- Analyst state (statuses, notes, suppressions, reveals, audit log) lives in a
-- separate file; see sql/state/.
--
-- Every loaded row keeps its lineage: the drop it came from (_drop_date), the
-- file (_file_id -> ingest_files) and the line in that file (_line). Snapshot
-- tables hold every version: the version for a date is the latest _drop_date on
-- or before it. Tables without an id column get row_id, a hash of the natural key.


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
CREATE TABLE IF NOT EXISTS staff (
    staff_id VARCHAR NOT NULL, surname VARCHAR, forenames VARCHAR, role VARCHAR, unit VARCHAR,
    unit_function VARCHAR, start_date DATE, end_date DATE, home_postcode VARCHAR, home_address_id VARCHAR,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS persons (
    person_id VARCHAR NOT NULL, surname VARCHAR, forenames VARCHAR, birth_year BIGINT, postcode VARCHAR,
    address_id VARCHAR, staff_id VARCHAR,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS person_markers (
    row_id VARCHAR NOT NULL, person_id VARCHAR NOT NULL, marker VARCHAR NOT NULL, added_at DATE,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS cases (
    case_id VARCHAR NOT NULL, case_type VARCHAR, opened_at TIMESTAMPTZ, closed_at TIMESTAMPTZ, owning_unit VARCHAR,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS case_people (
    row_id VARCHAR NOT NULL, case_id VARCHAR NOT NULL, person_id VARCHAR NOT NULL, role VARCHAR NOT NULL,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS assignments (
    row_id VARCHAR NOT NULL, case_id VARCHAR NOT NULL, staff_id VARCHAR NOT NULL, assigned_at TIMESTAMPTZ NOT NULL,
    unassigned_at TIMESTAMPTZ, assignment_role VARCHAR,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS operations (
    operation_id VARCHAR NOT NULL, executed_at TIMESTAMPTZ, owning_unit VARCHAR,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS operation_targets (
    row_id VARCHAR NOT NULL, operation_id VARCHAR NOT NULL, person_id VARCHAR NOT NULL,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS operation_staff (
    row_id VARCHAR NOT NULL, operation_id VARCHAR NOT NULL, staff_id VARCHAR NOT NULL,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS contact_directory (
    row_id VARCHAR NOT NULL, counterparty VARCHAR NOT NULL, person_id VARCHAR, staff_id VARCHAR,
    organisation_id VARCHAR, source VARCHAR,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS declarations (
    declaration_id VARCHAR NOT NULL, staff_id VARCHAR, kind VARCHAR, person_id VARCHAR, counterparty VARCHAR,
    organisation_id VARCHAR, relationship VARCHAR, status VARCHAR, declared_at DATE, decided_at DATE,
    conditions VARCHAR,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);

-- ---- events (appended) -------------------------------------------------------
CREATE TABLE IF NOT EXISTS access_events (
    event_id VARCHAR NOT NULL, occurred_at TIMESTAMPTZ NOT NULL, staff_id VARCHAR NOT NULL, system VARCHAR,
    action VARCHAR, record_type VARCHAR, record_id VARCHAR, person_id VARCHAR, case_id VARCHAR,
    terminal_id VARCHAR, reason_code VARCHAR,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS device_messages (
    row_id VARCHAR NOT NULL, staff_id VARCHAR NOT NULL, device_id VARCHAR NOT NULL, channel VARCHAR NOT NULL,
    direction VARCHAR NOT NULL, counterparty VARCHAR NOT NULL, hour_start TIMESTAMPTZ NOT NULL,
    message_count BIGINT NOT NULL, duration_s BIGINT,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS duty_roster (
    row_id VARCHAR NOT NULL, staff_id VARCHAR NOT NULL, shift_start TIMESTAMPTZ NOT NULL,
    shift_end TIMESTAMPTZ NOT NULL, duty_type VARCHAR NOT NULL,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
CREATE TABLE IF NOT EXISTS timesheets (
    claim_id VARCHAR NOT NULL, staff_id VARCHAR NOT NULL, claimed_start TIMESTAMPTZ NOT NULL,
    claimed_end TIMESTAMPTZ NOT NULL, claim_type VARCHAR NOT NULL,
    _drop_date DATE NOT NULL, _file_id VARCHAR NOT NULL, _line BIGINT
);
