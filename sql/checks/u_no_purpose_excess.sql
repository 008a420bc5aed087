-- Unexplained look-ups per staff member, against their peer group's median and MAD.
WITH per_staff AS (
    SELECT staff_id, any_value(peer_group) AS peer_group,
           count(*) FILTER (WHERE NOT has_purpose) AS unexplained,
           count(*) AS lookups,
           min(occurred_at) FILTER (WHERE NOT has_purpose) AS first_at,
           max(occurred_at) FILTER (WHERE NOT has_purpose) AS last_at,
           list(event_id) FILTER (WHERE NOT has_purpose) AS ids
    FROM run_lookups
    GROUP BY staff_id
), peers AS (
    SELECT peer_group, median(unexplained) AS peer_median, mad(unexplained) AS peer_mad, count(*) AS peer_n
    FROM per_staff GROUP BY peer_group
)
SELECT s.staff_id,
       s.last_at AS occurred_at,
       s.first_at AS window_start,
       s.last_at AS window_end,
       CAST(NULL AS VARCHAR) AS subject,
       s.unexplained || ' of ' || s.lookups || ' look-ups with no policing purpose found; peers ('
           || p.peer_group || ', ' || p.peer_n || ' staff) have a median of ' || round(p.peer_median, 1) AS reason,
       evidence_ids('access_events', s.ids) AS evidence,
       least(2.0, (s.unexplained - p.peer_median) / (1.4826 * p.peer_mad + 1) / $min_robust_z) AS weight
FROM per_staff s JOIN peers p USING (peer_group)
WHERE s.unexplained >= $min_lookups
  AND s.unexplained >= $min_ratio * p.peer_median
  AND (s.unexplained - p.peer_median) / (1.4826 * p.peer_mad + 1) >= $min_robust_z
