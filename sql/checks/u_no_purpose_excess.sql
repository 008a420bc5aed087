-- Share of a staff member's look-ups with no purpose found, against their peer group's
-- median and MAD (a share, so heavy users are not flagged for volume alone).
WITH per_staff AS (
    SELECT staff_id, any_value(peer_group) AS peer_group,
           count(*) FILTER (WHERE NOT has_purpose) AS unexplained,
           count(*) AS lookups,
           count(*) FILTER (WHERE NOT has_purpose) / count(*) AS share,
           min(occurred_at) FILTER (WHERE NOT has_purpose) AS first_at,
           max(occurred_at) FILTER (WHERE NOT has_purpose) AS last_at,
           list(event_id) FILTER (WHERE NOT has_purpose) AS ids
    FROM run_lookups
    GROUP BY staff_id
), peers AS (
    SELECT peer_group, median(share) AS peer_median, mad(share) AS peer_mad, count(*) AS peer_n
    FROM per_staff GROUP BY peer_group
), scored AS (
    SELECT s.*, p.peer_median, p.peer_n,
           (s.share - p.peer_median) / (1.4826 * p.peer_mad + 0.005) AS robust_z
    FROM per_staff s JOIN peers p USING (peer_group)
)
SELECT staff_id,
       last_at AS occurred_at,
       first_at AS window_start,
       last_at AS window_end,
       CAST(NULL AS VARCHAR) AS subject,
       unexplained || ' of ' || lookups || ' look-ups (' || round(100 * share, 1) || '%) with no policing purpose found; '
           || peer_group || ' peers (' || peer_n || ' staff) have a median of ' || round(100 * peer_median, 1) || '%' AS reason,
       evidence_ids('access_events', ids) AS evidence,
       least(2.0, robust_z / $min_robust_z) AS weight
FROM scored
WHERE unexplained >= $min_lookups
  AND share >= $min_ratio * peer_median
  AND robust_z >= $min_robust_z
