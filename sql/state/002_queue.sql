-- The analysts' queue (docs/scoring.md, "The queue"): a lead stays on the list until an analyst
-- closes it, keeps the score it earned (gently aged), and once over the review line stays in the
-- review tier until closed.

ALTER TABLE leads ADD COLUMN peak_score DOUBLE;            -- the highest score on any night
ALTER TABLE leads ADD COLUMN peak_as_of DATE;              -- the night of that score
ALTER TABLE leads ADD COLUMN review_since DATE;            -- first night over the review line (NULL: never)
ALTER TABLE leads ADD COLUMN referred_last_seen TIMESTAMPTZ;  -- evidence seen when referred

-- Each night's list gains the tier, the age of the evidence, a flag for referred leads with new
-- evidence, tonight's own score (NULL when the lead had no evidence in tonight's window), and the
-- night each hit behind the lead was found (parallel to hit_ids).
ALTER TABLE lead_versions ADD COLUMN tier VARCHAR;
ALTER TABLE lead_versions ADD COLUMN age_days INTEGER;
ALTER TABLE lead_versions ADD COLUMN flag VARCHAR;
ALTER TABLE lead_versions ADD COLUMN tonight_score DOUBLE;
ALTER TABLE lead_versions ADD COLUMN hit_nights DATE[];
