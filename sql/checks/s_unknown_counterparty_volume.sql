-- Volume with counterparties unknown to force systems, per staff member, against peers.
WITH unknown AS (
    SELECT staff_id, peer_group, counterparty, row_id, message_count, on_duty, at_night
    FROM run_messages
    WHERE cp_kind = 'unknown' AND list_contains($channels, channel)
), per_counterparty AS (
    SELECT staff_id, counterparty, sum(message_count) AS n FROM unknown GROUP BY ALL
), per_staff AS (
    SELECT u.staff_id, any_value(u.peer_group) AS peer_group, sum(u.message_count) AS total,
           count(DISTINCT u.counterparty) AS counterparties,
           coalesce(sum(u.message_count) FILTER (WHERE NOT u.on_duty OR u.at_night), 0) AS off_hours,
           list(u.row_id) AS ids
    FROM unknown u GROUP BY u.staff_id
), sustained AS (
    SELECT staff_id, count(*) AS sustained FROM per_counterparty WHERE n >= $min_per_counterparty GROUP BY staff_id
), peers AS (
    SELECT peer_group, quantile_cont(total, $peer_quantile) AS peer_q FROM per_staff GROUP BY peer_group
), span AS (
    SELECT staff_id, min(hour_start) AS first_at, max(hour_start) + INTERVAL 1 HOUR AS last_at
    FROM run_messages WHERE cp_kind = 'unknown' GROUP BY staff_id
)
SELECT s.staff_id,
       sp.last_at - INTERVAL 1 HOUR AS occurred_at,
       sp.first_at AS window_start,
       sp.last_at AS window_end,
       CAST(NULL AS VARCHAR) AS subject,
       s.total || ' messages/calls with ' || s.counterparties || ' counterparties unknown to force systems ('
           || su.sustained || ' with ' || $min_per_counterparty || ' or more each; ' || s.off_hours
           || ' off duty or at night); ' || s.peer_group || ' peers'' ' || CAST(round($peer_quantile * 100) AS INTEGER)
           || 'th percentile: ' || round(p.peer_q) AS reason,
       evidence_ids('device_messages', s.ids) AS evidence,
       least(2.0, s.total / greatest($peer_multiple * p.peer_q, 1)) AS weight
FROM per_staff s
JOIN peers p USING (peer_group)
JOIN sustained su USING (staff_id)
JOIN span sp USING (staff_id)
WHERE s.total >= $min_messages
  AND s.total >= $peer_multiple * p.peer_q
  AND su.sustained >= $min_counterparties
