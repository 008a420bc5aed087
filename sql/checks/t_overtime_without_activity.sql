-- Overtime claims with no look-ups and no device messages inside the claimed hours.
WITH claims AS (
    SELECT t.staff_id, 'timesheets:' || t.claim_id AS evidence_id, t.claimed_start, t.claimed_end
    FROM timesheets t
    WHERE t.claim_type = 'overtime'
      AND t.claimed_start >= $window_start_utc AND t.claimed_start < $window_end_utc
    UNION ALL
    -- Rostered overtime counts as a claim only where no timesheet claim covers it.
    SELECT r.staff_id, 'duty_roster:' || r.row_id, r.shift_start, r.shift_end
    FROM duty_roster r
    WHERE r.duty_type = 'overtime'
      AND r.shift_start >= $window_start_utc AND r.shift_start < $window_end_utc
      AND NOT EXISTS (SELECT 1 FROM timesheets t
                      WHERE t.staff_id = r.staff_id AND t.claim_type = 'overtime'
                        AND t.claimed_start < r.shift_end AND t.claimed_end > r.shift_start)
), long_claims AS (
    SELECT * FROM claims WHERE epoch(claimed_end) - epoch(claimed_start) >= $min_claim_hours * 3600
), idle AS (
    SELECT c.*
    FROM long_claims c
    WHERE NOT EXISTS (SELECT 1 FROM access_events a
                      WHERE a.staff_id = c.staff_id AND a.occurred_at >= c.claimed_start AND a.occurred_at < c.claimed_end)
      AND NOT EXISTS (SELECT 1 FROM device_messages m
                      WHERE m.staff_id = c.staff_id AND m.hour_start >= date_trunc('hour', c.claimed_start)
                        AND m.hour_start < c.claimed_end)
)
SELECT staff_id,
       max(claimed_start) AS occurred_at,
       min(claimed_start) AS window_start,
       max(claimed_end) AS window_end,
       CAST(NULL AS VARCHAR) AS subject,
       count(*) || ' overtime claim(s), ' || round(sum(epoch(claimed_end) - epoch(claimed_start)) / 3600, 1)
           || ' hours in all, with no system look-up and no device message or call in the claimed hours' AS reason,
       list_sort(list(evidence_id)) AS evidence,
       -- The size of the claim: hours claimed with no activity, in overtime sessions of $session_hours.
       least(3.0, sum(epoch(claimed_end) - epoch(claimed_start)) / 3600 / $session_hours) AS weight
FROM idle
GROUP BY staff_id
HAVING count(*) >= $min_claims
