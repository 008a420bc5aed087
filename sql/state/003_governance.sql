-- Governance of analyst actions (docs: README "Analyst actions and their rules"): a suppression
-- is revoked, not deleted, with who, when and why; a revoked one stops applying at once.
ALTER TABLE suppressions ADD COLUMN revoked_at TIMESTAMPTZ;
ALTER TABLE suppressions ADD COLUMN revoked_by VARCHAR;
ALTER TABLE suppressions ADD COLUMN revoke_reason VARCHAR;
