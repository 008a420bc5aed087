-- Derived tables: rebuilt from the loaded data by `acu-audit rebuild`.

-- Every look-up labelled with the policing purpose the data shows (or none),
-- built once per local day and reused by every check (sql/transforms/policing_purpose.sql).
CREATE TABLE IF NOT EXISTS access_purpose (
    event_id         VARCHAR NOT NULL,
    staff_id         VARCHAR NOT NULL,
    occurred_at      TIMESTAMPTZ NOT NULL,
    local_day        DATE NOT NULL,
    local_hour       INTEGER NOT NULL,
    system           VARCHAR,
    action           VARCHAR,
    record_type      VARCHAR,
    record_id        VARCHAR,
    person_id        VARCHAR,
    case_id          VARCHAR,
    reason_code      VARCHAR,
    unit             VARCHAR,            -- the staff member's unit on that day (NULL: unknown staff_id)
    unit_function    VARCHAR,
    via_assignment   BOOLEAN NOT NULL,   -- assigned to the case, or to a case the person is on
    via_unit_case    BOOLEAN NOT NULL,   -- the case (or a case the person is on) is owned by their unit
    via_function     BOOLEAN NOT NULL,   -- function-wide purpose (configs/: purpose.function_rules)
    via_operation    BOOLEAN NOT NULL,   -- briefed on an operation targeting the person
    via_reason_code  BOOLEAN NOT NULL,   -- a reason code was entered
    has_purpose      BOOLEAN NOT NULL,
    on_duty          BOOLEAN NOT NULL,   -- inside a duty, overtime or training shift (with margin)
    absence          VARCHAR,            -- leave | sick | rest when rostered off at that time
    subject_markers  VARCHAR[],          -- warning markers of the person looked up, that day
    subject_staff_id VARCHAR             -- the person looked up is a member of staff
);

-- Look-ups per member of staff, record type and UTC clock hour, kept per local day beside the
-- labels they count (built with them, so a day labelled again is counted again): the window's
-- hourly figures are a sum over 28 small days, not a group-by over every look-up each night.
CREATE TABLE IF NOT EXISTS lookup_hours (
    local_day    DATE NOT NULL,
    staff_id     VARCHAR NOT NULL,
    record_type  VARCHAR,
    epoch_hour   BIGINT NOT NULL,   -- whole hours since 1970-01-01 00:00 UTC
    lookups      BIGINT NOT NULL,
    unexplained  BIGINT NOT NULL    -- of them, with no policing purpose found
);

-- Which snapshot versions and how many events each labelled day was built from:
-- a day is relabelled only when these change (new or late data).
CREATE TABLE IF NOT EXISTS purpose_days (
    local_day   DATE PRIMARY KEY,
    version_key VARCHAR NOT NULL,
    events      BIGINT NOT NULL,
    labelled_at TIMESTAMPTZ NOT NULL
);
-- The part of the key that only snapshots and configuration change: a day whose base key
-- still holds is topped up (its new look-ups, and those of staff whose roster changed), not
-- labelled again in full.
ALTER TABLE purpose_days ADD COLUMN IF NOT EXISTS base_key VARCHAR;

-- Check hits, one set per as-of date (a re-run for a date replaces that date's hits).
-- evidence: qualified ids of the rows behind the hit, e.g. 'access_events:E123'.
CREATE TABLE IF NOT EXISTS check_hits (
    as_of         DATE NOT NULL,
    run_id        VARCHAR NOT NULL,
    hit_id        VARCHAR NOT NULL,
    check_id      VARCHAR NOT NULL,
    check_version VARCHAR NOT NULL,
    category      VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,      -- stable (scores) | experimental (shadow: stored, does not score)
    severity      VARCHAR NOT NULL,
    risk          INTEGER NOT NULL,
    staff_id      VARCHAR NOT NULL,
    occurred_at   TIMESTAMPTZ,
    window_start  TIMESTAMPTZ,
    window_end    TIMESTAMPTZ,
    subject       VARCHAR,
    reason        VARCHAR NOT NULL,
    evidence      VARCHAR[] NOT NULL,
    weight        DOUBLE NOT NULL
);

-- Calibration (sql/transforms/check_calibration.sql): the share of the staff member's peer group
-- (or of the force, if larger) that tripped the check that night, which scoring turns into the
-- hit's rarity, and whether the hit belongs to a small team where the check concentrates.
ALTER TABLE check_hits ADD COLUMN IF NOT EXISTS peer_share DOUBLE;
ALTER TABLE check_hits ADD COLUMN IF NOT EXISTS team_concentrated BOOLEAN;
-- Where a check's hits go: 'leads' (evidence: calibrated, scored, listed) or 'declarations'
-- (a compliance matter: the declarations reminders, never the lead list). And whether the night's
-- calibration over the span kept the hit as evidence (a hit not kept is a trip below the line:
-- stored, because the span's shares are measured over every trip, but neither scored nor listed).
ALTER TABLE check_hits ADD COLUMN IF NOT EXISTS route VARCHAR DEFAULT 'leads';
ALTER TABLE check_hits ADD COLUMN IF NOT EXISTS kept BOOLEAN DEFAULT false;

-- Each night's calibration over the span, per check and member of staff: their strength (items'
-- weights), the share of their peer group (or the force, if larger) that tripped the check over
-- the span, the group's line where the check is common there, and whether their evidence is kept.
CREATE TABLE IF NOT EXISTS span_calibration (
    as_of              DATE NOT NULL,
    check_id           VARCHAR NOT NULL,
    staff_id           VARCHAR NOT NULL,
    strength           DOUBLE NOT NULL,
    items              INTEGER NOT NULL,
    peer_group         VARCHAR,
    peer_share         DOUBLE,
    group_share        DOUBLE,
    line               DOUBLE,
    team_concentrated  BOOLEAN NOT NULL,
    team_tripped       INTEGER,
    team_members       INTEGER,
    rest_share         DOUBLE,
    kept               BOOLEAN NOT NULL
);

-- Per check, night and unit function: staff, staff who tripped it (before calibration), their
-- share, staff whose hits were kept, and the calibration line of their peer group (NULL: the
-- check is rare there, every hit kept).
CREATE TABLE IF NOT EXISTS check_rates (
    as_of         DATE NOT NULL,
    check_id      VARCHAR NOT NULL,
    unit_function VARCHAR,
    peer_group    VARCHAR,
    staff         INTEGER NOT NULL,
    tripped       INTEGER NOT NULL,
    share         DOUBLE NOT NULL,
    kept          INTEGER NOT NULL,
    line          DOUBLE
);

-- One row per check per as-of date: what ran, which version, how long, and any error.
CREATE TABLE IF NOT EXISTS check_runs (
    as_of         DATE NOT NULL,
    run_id        VARCHAR NOT NULL,
    check_id      VARCHAR NOT NULL,
    check_version VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,      -- ok | failed
    hits          BIGINT,
    staff_hit     BIGINT,
    seconds       DOUBLE,
    error         VARCHAR,
    parameters    VARCHAR                -- JSON of the bound parameter values
);

-- Per as-of date: the outlier score and raw features of every member of staff.
CREATE TABLE IF NOT EXISTS outlier_scores (
    as_of               DATE NOT NULL,
    staff_id            VARCHAR NOT NULL,
    peer_group          VARCHAR,
    anomaly_score       DOUBLE NOT NULL,
    anomaly_percentile  DOUBLE NOT NULL,
    features            VARCHAR              -- JSON of the raw feature values
);

-- Per as-of date: the ranked leads (the analyst-facing copy, with lifecycle, is in the state store).
CREATE TABLE IF NOT EXISTS lead_scores (
    as_of              DATE NOT NULL,
    lead_id            VARCHAR NOT NULL,
    staff_id           VARCHAR NOT NULL,
    rank               INTEGER NOT NULL,
    score              DOUBLE NOT NULL,
    evidence           DOUBLE NOT NULL,
    agreement          DOUBLE NOT NULL,
    outlier_component  DOUBLE NOT NULL,
    anomaly_score      DOUBLE,
    categories         VARCHAR[] NOT NULL,
    top_checks         VARCHAR[] NOT NULL,
    check_scores       VARCHAR,             -- JSON: each check's contribution
    hit_ids            VARCHAR[] NOT NULL,
    first_seen         TIMESTAMPTZ,
    last_seen          TIMESTAMPTZ,
    change             VARCHAR NOT NULL,
    status             VARCHAR NOT NULL,
    what_is_new        VARCHAR,
    summary            VARCHAR NOT NULL,
    explanation        VARCHAR
);
-- The queue (docs/scoring.md): tier, age of the evidence, a flag for referred leads with new
-- evidence, tonight's own score (NULL: no evidence in tonight's window), and the night each hit
-- behind the lead was found (parallel to hit_ids). Added in place so older files keep working.
ALTER TABLE lead_scores ADD COLUMN IF NOT EXISTS tier VARCHAR;
ALTER TABLE lead_scores ADD COLUMN IF NOT EXISTS age_days INTEGER;
ALTER TABLE lead_scores ADD COLUMN IF NOT EXISTS flag VARCHAR;
ALTER TABLE lead_scores ADD COLUMN IF NOT EXISTS tonight_score DOUBLE;
ALTER TABLE lead_scores ADD COLUMN IF NOT EXISTS hit_nights DATE[];

-- The hits behind each night's listed leads, with the night each was found: every consumer
-- (hits.parquet, the report's cards, leads show, lead export) reads a lead's evidence here.
CREATE OR REPLACE VIEW lead_evidence AS
SELECT l.as_of, l.lead_id, l.staff_id, e.hit_id, e.found_on
FROM lead_scores l,
     LATERAL (SELECT unnest(l.hit_ids) AS hit_id, unnest(coalesce(l.hit_nights, list_transform(l.hit_ids, lambda x: l.as_of))) AS found_on) e;

-- Hits not scored tonight because an analyst suppression covers them.
CREATE TABLE IF NOT EXISTS suppressed_hits (
    as_of           DATE NOT NULL,
    hit_id          VARCHAR NOT NULL,
    suppression_id  INTEGER NOT NULL
);

-- Feed health per as-of date: tonight's rows per event table (and per system) against the
-- trailing baseline.
CREATE TABLE IF NOT EXISTS feed_health (
    as_of           DATE NOT NULL,
    data_as_of      DATE,
    feed            VARCHAR NOT NULL,
    rows_tonight    BIGINT NOT NULL,
    baseline_median DOUBLE,
    status          VARCHAR NOT NULL     -- ok | thin | missing | new
);

-- Where a published night's time and memory went, phase by phase (the night's progress lines):
-- the process's resident memory and its peak so far, and DuckDB's share of it, after each phase.
CREATE TABLE IF NOT EXISTS run_phases (
    as_of          DATE NOT NULL,
    run_id         VARCHAR NOT NULL,
    phase          VARCHAR NOT NULL,
    seconds        DOUBLE NOT NULL,
    rss_mb         DOUBLE,
    peak_rss_mb    DOUBLE,
    duckdb_mb      DOUBLE,
    detail         VARCHAR
);
-- The highest resident memory sampled during the phase and the most DuckDB held near it (what the
-- peak was made of; the figures after a phase can miss a peak inside it). See flow/nightly.PhasePeaks.
ALTER TABLE run_phases ADD COLUMN IF NOT EXISTS step_peak_mb DOUBLE;
ALTER TABLE run_phases ADD COLUMN IF NOT EXISTS step_peak_duckdb_mb DOUBLE;

-- The nightly runs that completed, per as-of date (backfill resumes from here).
CREATE TABLE IF NOT EXISTS run_log (
    as_of          DATE NOT NULL,
    run_id         VARCHAR NOT NULL,
    finished_at    TIMESTAMPTZ NOT NULL,
    status         VARCHAR NOT NULL,     -- completed | completed_with_warnings | reviewed (caught up, no outputs)
    leads          INTEGER,
    warnings       VARCHAR[],
    leads_sha256   VARCHAR
);

-- Nightly runs that failed (acu-audit's own error, not bad data): nothing was published for
-- them and the previous night's list stayed. The next report names them until a night of the
-- same date, or a later one, is published.
CREATE TABLE IF NOT EXISTS run_failures (
    as_of          DATE,                 -- NULL when the night could not be settled
    run_id         VARCHAR NOT NULL,
    failed_at      TIMESTAMPTZ NOT NULL,
    step           VARCHAR NOT NULL,     -- what the run was doing: loading drop D, checks, ...
    error          VARCHAR NOT NULL
);
