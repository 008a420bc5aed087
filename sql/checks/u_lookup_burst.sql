-- Hourly look-up counts per record type, against the staff member's own history
-- (before the window) and their peer group's hours in the window.
WITH hourly AS (
    SELECT staff_id, record_type, date_trunc('hour', occurred_at) AS hour, any_value(peer_group) AS peer_group,
           count(*) AS n, count(*) FILTER (WHERE NOT has_purpose) AS unexplained, list(event_id) AS ids
    FROM run_lookups
    WHERE list_contains($record_types, record_type)
    GROUP BY ALL
), peers AS (
    SELECT peer_group, record_type, quantile_cont(n, $peer_quantile) AS peer_q
    FROM hourly GROUP BY ALL
), own AS (
    SELECT staff_id, record_type, quantile_cont(n, $own_quantile) AS own_q
    FROM (
        SELECT staff_id, record_type, date_trunc('hour', occurred_at) AS hour, count(*) AS n
        FROM access_events
        WHERE occurred_at >= $baseline_start_utc AND occurred_at < $window_start_utc
          AND list_contains($record_types, record_type)
        GROUP BY ALL
    )
    GROUP BY ALL
)
SELECT h.staff_id,
       h.hour AS occurred_at,
       h.hour AS window_start,
       h.hour + INTERVAL 1 HOUR AS window_end,
       h.record_type || ' look-ups' AS subject,
       h.n || ' ' || h.record_type || ' look-ups in the hour from ' || strftime(timezone($tz, h.hour), '%d %b %H:00')
           || ' (' || h.unexplained || ' with no policing purpose); their own usual busiest hour: '
           || coalesce(CAST(round(o.own_q, 1) AS VARCHAR), 'no history')
           || ', peers'' (' || h.peer_group || '): ' || round(p.peer_q, 1) AS reason,
       evidence_ids('access_events', h.ids) AS evidence,
       least(2.0, h.n / greatest(p.peer_q * $peer_multiple, coalesce(o.own_q, 0) * $own_multiple, $min_lookups)) AS weight
FROM hourly h
JOIN peers p USING (peer_group, record_type)
LEFT JOIN own o USING (staff_id, record_type)
WHERE h.n >= $min_lookups
  AND h.n >= $peer_multiple * p.peer_q
  AND h.n >= $own_multiple * coalesce(o.own_q, 0)
  AND h.unexplained >= $min_unexplained_share * h.n
