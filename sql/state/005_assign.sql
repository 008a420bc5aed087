-- Who is working a lead (`acu-audit lead assign`, the triage page); NULL: nobody yet. The lead
-- snapshots a replay starts from carry it too (their columns follow the leads table's).
ALTER TABLE leads ADD COLUMN assignee VARCHAR;
ALTER TABLE leads ADD COLUMN assigned_at TIMESTAMPTZ;
ALTER TABLE lead_snapshots ADD COLUMN assignee VARCHAR;
ALTER TABLE lead_snapshots ADD COLUMN assigned_at TIMESTAMPTZ;
