-- Share of a staff member's look-ups with no purpose found, against their peer group's
-- median and MAD (a share, so heavy users are not flagged for volume alone).
WITH per_staff AS (
    SELECT t.staff_id, coalesce(s.peer_group, 'force') AS peer_group, t.lookups, t.unexplained,
           t.unexplained / t.lookups AS share
    FROM run_lookup_totals t LEFT JOIN ref_staff s USING (staff_id)
), peers AS (
    SELECT peer_group, median(share) AS peer_median, mad(share) AS peer_mad, count(*) AS peer_n
    FROM per_staff GROUP BY peer_group
), flagged AS (
    SELECT s.*, p.peer_median, p.peer_n,
           (s.share - p.peer_median) / (1.4826 * p.peer_mad + 0.005) AS robust_z
    FROM per_staff s JOIN peers p USING (peer_group)
    WHERE s.unexplained >= $min_lookups
      AND s.share >= $min_ratio * p.peer_median
      AND (s.share - p.peer_median) / (1.4826 * p.peer_mad + 0.005) >= $min_robust_z
)
SELECT f.staff_id,
       max(u.occurred_at) AS occurred_at,
       min(u.occurred_at) AS window_start,
       max(u.occurred_at) AS window_end,
       CAST(NULL AS VARCHAR) AS subject,
       any_value(f.unexplained) || ' of ' || any_value(f.lookups) || ' look-ups (' || round(100 * any_value(f.share), 1)
           || '%) with no policing purpose found; ' || any_value(f.peer_group) || ' peers (' || any_value(f.peer_n)
           || ' staff) have a median of ' || round(100 * any_value(f.peer_median), 1) || '%' AS reason,
       evidence_ids('access_events', list(u.event_id)) AS evidence,
       least(2.0, any_value(f.robust_z) / $min_robust_z) AS weight
FROM flagged f JOIN run_unexplained u USING (staff_id)
GROUP BY f.staff_id
