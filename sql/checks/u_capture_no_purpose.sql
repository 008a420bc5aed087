-- Prints, exports and screenshots with no purpose, one hit per staff member and record:
-- every screenshot; prints and exports when the staff member captured at least
-- $min_captures records and, per look-up made, far more than nearly all peers of the same
-- function (a rate, so heavy users are not flagged for volume alone).
WITH captured AS (
    SELECT *, count(DISTINCT record_type || ':' || record_id) OVER (PARTITION BY staff_id) AS records_captured
    FROM run_unexplained
    WHERE list_contains($capture_actions, action)
), volume AS (
    SELECT staff_id, lookups FROM run_lookup_totals
), per_staff AS (
    SELECT c.staff_id, any_value(c.records_captured) AS records_captured,
           any_value(c.records_captured) / any_value(v.lookups) AS capture_rate
    FROM captured c JOIN volume v USING (staff_id) GROUP BY c.staff_id
), peers AS (
    SELECT s.peer_group, quantile_cont(coalesce(c.capture_rate, 0), $peer_quantile) AS peer_q
    FROM ref_staff s LEFT JOIN per_staff c USING (staff_id) GROUP BY s.peer_group
)
SELECT c.staff_id,
       max(c.occurred_at) AS occurred_at,
       min(c.occurred_at) AS window_start,
       max(c.occurred_at) AS window_end,
       c.record_type || ':' || c.record_id AS subject,
       array_to_string(list(DISTINCT c.action ORDER BY c.action), '/') || ' of ' || c.record_type || ' record '
           || c.record_id || ' (' || count(*) || ' time(s))'
           || CASE WHEN any_value(c.person_id) IS NOT NULL THEN ' about person ' || any_value(c.person_id) ELSE '' END
           || CASE WHEN any_value(c.records_captured) > 1
                   THEN '; ' || any_value(c.records_captured) || ' records captured without purpose in the window, '
                        || round(1000 * any_value(ps.capture_rate), 1) || ' per 1,000 look-ups (peers'' '
                        || CAST(round($peer_quantile * 100) AS INTEGER) || 'th percentile: ' || round(1000 * any_value(pe.peer_q), 1) || ')'
                   ELSE '' END
           || '; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', list(c.event_id)) AS evidence,
       CASE WHEN bool_or(c.action = 'screenshot') THEN $screenshot_weight ELSE 1.0 END AS weight
FROM captured c
JOIN per_staff ps USING (staff_id)
LEFT JOIN ref_staff s USING (staff_id)
LEFT JOIN peers pe ON pe.peer_group = coalesce(s.peer_group, 'force')
GROUP BY c.staff_id, c.record_type, c.record_id
HAVING bool_or(c.action = 'screenshot')
    OR (any_value(c.records_captured) >= $min_captures
        AND any_value(ps.capture_rate) > coalesce(any_value(pe.peer_q), 0)
        AND any_value(ps.capture_rate) >= $peer_multiple * coalesce(any_value(pe.peer_q), 0))
