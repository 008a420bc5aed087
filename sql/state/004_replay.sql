-- The lead state as each night first found it, before that night's list changed it. A night
-- run again (`run --as-of D` for a night already published) is replayed from here, in a scratch
-- copy, so it gives the same list as the first time and no later night's state changes.
CREATE TABLE lead_snapshots AS SELECT CAST(NULL AS DATE) AS as_of, * FROM leads LIMIT 0;
-- The nights a snapshot was taken for (a night may find no lead at all: an empty snapshot).
CREATE TABLE snapshot_nights (as_of DATE PRIMARY KEY, taken_at TIMESTAMPTZ NOT NULL);
