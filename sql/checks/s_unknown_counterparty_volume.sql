-- Volume with counterparties unknown to force systems, per staff member, against peers.
-- Counted per counterparty first, then per staff member; the evidence rows only for those it hits.
WITH unknown AS (
    SELECT staff_id, peer_group, counterparty, row_id, message_count, on_duty, at_night
    FROM run_messages
    WHERE cp_kind = 'unknown' AND list_contains($channels, channel)
), per_counterparty AS (
    SELECT staff_id, counterparty, any_value(peer_group) AS peer_group, sum(message_count) AS n,
           sum(message_count) FILTER (WHERE NOT on_duty OR at_night) AS off_hours
    FROM unknown GROUP BY staff_id, counterparty
), per_staff AS (
    -- From the per-counterparty sums: a distinct count and a list of every row per staff member
    -- cost 0.5 s a night at 40,000 staff, for the few it hits.
    SELECT staff_id, any_value(peer_group) AS peer_group, sum(n) AS total,
           count(counterparty) AS counterparties,
           coalesce(sum(off_hours), 0) AS off_hours,
           count(*) FILTER (WHERE n >= $min_per_counterparty) AS sustained
    FROM per_counterparty
    GROUP BY staff_id
), peers AS (
    SELECT peer_group, quantile_cont(total, $peer_quantile) AS peer_q FROM per_staff GROUP BY peer_group
), hit AS (
    SELECT s.*, p.peer_q
    FROM per_staff s JOIN peers p USING (peer_group)
    WHERE s.total >= $min_messages
      AND s.total >= $peer_multiple * p.peer_q
      AND s.sustained >= 1 AND s.sustained >= $min_counterparties  -- at least one sustained, whatever the setting
), ids AS (
    SELECT u.staff_id, list(u.row_id) AS ids FROM unknown u SEMI JOIN hit USING (staff_id) GROUP BY u.staff_id
), span AS (
    SELECT staff_id, min(hour_start) AS first_at, max(hour_start) + INTERVAL 1 HOUR AS last_at
    FROM run_messages SEMI JOIN hit USING (staff_id)
    WHERE cp_kind = 'unknown' GROUP BY staff_id
)
SELECT s.staff_id,
       sp.last_at - INTERVAL 1 HOUR AS occurred_at,
       sp.first_at AS window_start,
       sp.last_at AS window_end,
       CAST(NULL AS VARCHAR) AS subject,
       s.total || ' messages/calls with ' || s.counterparties || ' counterparties unknown to force systems ('
           || s.sustained || ' with ' || $min_per_counterparty || ' or more each; ' || s.off_hours
           || ' off duty or at night); ' || s.peer_group || ' peers'' ' || CAST(round($peer_quantile * 100) AS INTEGER)
           || 'th percentile: ' || round(s.peer_q) AS reason,
       evidence_ids('device_messages', i.ids) AS evidence,
       least(2.0, s.total / greatest($peer_multiple * s.peer_q, 1)) AS weight
FROM hit s
JOIN ids i USING (staff_id)
JOIN span sp USING (staff_id)
