-- Analyst state: what cannot be rebuilt from landing. Lives in its own DuckDB file
-- (default: <warehouse>.state.duckdb); `acu-audit rebuild` never touches it.

-- Leads: one per member of staff and episode; lead_id is stable across nights.
CREATE TABLE leads (
    lead_id            VARCHAR PRIMARY KEY,
    staff_id           VARCHAR NOT NULL,
    staff_ref          VARCHAR NOT NULL,
    episode_start      DATE NOT NULL,
    first_seen         TIMESTAMPTZ,
    last_seen          TIMESTAMPTZ,
    created_as_of      DATE NOT NULL,
    status             VARCHAR NOT NULL DEFAULT 'new'
                       CHECK (status IN ('new', 'reviewing', 'referred', 'no_further_action')),
    status_changed_at  TIMESTAMPTZ,
    status_actor       VARCHAR,
    closed_last_seen   TIMESTAMPTZ          -- evidence seen when closed with no further action
);

-- Each night's published list, kept. A re-run of a night replaces that night's rows only
-- when something changed.
CREATE TABLE lead_versions (
    as_of          DATE NOT NULL,
    lead_id        VARCHAR NOT NULL,
    run_id         VARCHAR NOT NULL,
    rank           INTEGER NOT NULL,
    score          DOUBLE NOT NULL,
    categories     VARCHAR[] NOT NULL,
    top_checks     VARCHAR[] NOT NULL,
    anomaly_score  DOUBLE,
    first_seen     TIMESTAMPTZ,
    last_seen      TIMESTAMPTZ,
    summary        VARCHAR NOT NULL,
    change         VARCHAR NOT NULL CHECK (change IN ('new', 'escalated', 'returning', 'unchanged')),
    what_is_new    VARCHAR,
    status         VARCHAR NOT NULL,
    hit_ids        VARCHAR[] NOT NULL,
    explanation    VARCHAR,               -- JSON: the outlier features that made them unusual
    published_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (as_of, lead_id)
);

CREATE TABLE lead_notes (
    lead_id  VARCHAR NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    actor    VARCHAR NOT NULL,
    status   VARCHAR,
    note     VARCHAR NOT NULL
);

-- Allow-list entries: a member of staff, a check, or a staff member and subject pair.
CREATE SEQUENCE suppression_seq START 1;
CREATE TABLE suppressions (
    suppression_id  INTEGER PRIMARY KEY DEFAULT nextval('suppression_seq'),
    kind            VARCHAR NOT NULL CHECK (kind IN ('staff', 'check', 'pair')),
    staff_id        VARCHAR,
    staff_ref       VARCHAR,
    check_id        VARCHAR,
    subject         VARCHAR,
    reason          VARCHAR NOT NULL,
    owner           VARCHAR NOT NULL,
    created_by      VARCHAR NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_on      DATE NOT NULL,
    CHECK ((kind = 'staff' AND staff_id IS NOT NULL) OR (kind = 'check' AND check_id IS NOT NULL)
           OR (kind = 'pair' AND staff_id IS NOT NULL AND subject IS NOT NULL))
);

-- Every reveal of identities, and every analyst action.
CREATE TABLE reveals (
    recorded_at TIMESTAMPTZ NOT NULL,
    actor   VARCHAR NOT NULL,
    reason  VARCHAR NOT NULL,
    scope   VARCHAR NOT NULL,
    as_of   DATE,
    detail  VARCHAR
);

CREATE TABLE audit_log (
    recorded_at TIMESTAMPTZ NOT NULL,
    actor   VARCHAR NOT NULL,
    action  VARCHAR NOT NULL,
    target  VARCHAR,
    detail  VARCHAR
);
