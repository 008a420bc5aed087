-- Hourly look-up counts per record type, against the staff member's own history
-- (before the window) and their peer group's hours in the window. Counts first; the
-- evidence ids only for the hours that qualify. Hours are whole UTC hours counted as
-- integers (cheaper than truncating zoned timestamps).
WITH straddling AS (
    -- UTC clock hours of the window (a day either side) that straddle a local midnight: none where
    -- the zone's offsets are whole hours.
    SELECT k AS epoch_hour
    FROM range(epoch_hour_of($window_start_utc) - 24, epoch_hour_of($window_end_utc) + 25) AS t(k)
    WHERE CAST(timezone($tz, to_timestamp(k * 3600)) AS DATE)
       <> CAST(timezone($tz, to_timestamp((k + 1) * 3600) - INTERVAL 1 MICROSECOND) AS DATE)
), hourly AS NOT MATERIALIZED (  -- read twice (peers, bursts): cheaper than holding 4.7 M rows at 40,000 staff
    SELECT h.staff_id, h.record_type, to_timestamp(h.epoch_hour * 3600) AS hour, h.n, h.unexplained,
           coalesce(s.peer_group, 'force') AS peer_group
    FROM (
        -- run_lookup_hours holds one row per local day, member of staff, record type and hour, so an
        -- hour has one row unless it straddles a local midnight: only those hours are summed
        -- (grouping every row cost 0.8 s at 40,000 staff).
        SELECT staff_id, record_type, epoch_hour, lookups AS n, unexplained
        FROM run_lookup_hours
        WHERE list_contains($record_types, record_type) AND epoch_hour NOT IN (SELECT epoch_hour FROM straddling)
        UNION ALL
        SELECT staff_id, record_type, epoch_hour,
               CAST(sum(lookups) AS BIGINT) AS n, CAST(sum(unexplained) AS BIGINT) AS unexplained
        FROM run_lookup_hours
        WHERE list_contains($record_types, record_type) AND epoch_hour IN (SELECT epoch_hour FROM straddling)
        GROUP BY ALL
    ) h LEFT JOIN ref_staff s USING (staff_id)
), peers AS (
    SELECT peer_group, record_type, quantile_cont(n, $peer_quantile) AS peer_q
    FROM hourly GROUP BY ALL
), own AS (
    SELECT staff_id, record_type, quantile_cont(n, $own_quantile) AS own_q
    FROM (
        SELECT staff_id, record_type, epoch_hour_of(occurred_at) AS epoch_hour, count(*) AS n
        FROM access_events
        WHERE occurred_at >= $baseline_start_utc AND occurred_at < $window_start_utc
          AND list_contains($record_types, record_type)
        GROUP BY ALL
    )
    GROUP BY ALL
), bursts AS (
    SELECT h.*, p.peer_q, o.own_q
    FROM hourly h
    JOIN peers p USING (peer_group, record_type)
    LEFT JOIN own o USING (staff_id, record_type)
    WHERE h.n >= $min_lookups
      AND h.n >= $peer_multiple * p.peer_q
      AND h.n >= $own_multiple * coalesce(o.own_q, 0)
      AND h.unexplained >= $min_unexplained_share * h.n
), evidence AS (
    SELECT b.staff_id, b.record_type, b.hour, list(l.event_id) AS ids, max(l.occurred_at) AS last_lookup
    FROM bursts b JOIN run_lookups l
      ON l.staff_id = b.staff_id AND l.record_type = b.record_type
     AND l.occurred_at >= b.hour AND l.occurred_at < b.hour + INTERVAL 1 HOUR
    GROUP BY ALL
)
SELECT b.staff_id,
       e.last_lookup AS occurred_at,
       b.hour AS window_start,
       b.hour + INTERVAL 1 HOUR AS window_end,
       b.record_type || ' look-ups' AS subject,
       b.n || ' ' || b.record_type || ' look-ups in the hour from ' || local_stamp(b.hour, $tz)
           || ' (' || b.unexplained || ' with no policing purpose); their own usual busiest hour: '
           || coalesce(CAST(round(b.own_q, 1) AS VARCHAR), 'no history')
           || ', peers'' (' || b.peer_group || '): ' || round(b.peer_q, 1) AS reason,
       evidence_ids('access_events', e.ids) AS evidence,
       least(2.0, b.n / greatest(b.peer_q * $peer_multiple, coalesce(b.own_q, 0) * $own_multiple, $min_lookups)) AS weight
FROM bursts b JOIN evidence e USING (staff_id, record_type, hour)
