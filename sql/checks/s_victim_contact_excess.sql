-- Per staff member and victim: volume against peers, and recent rate against their own earlier rate.
WITH victim_messages AS (
    SELECT m.staff_id, m.cp_person_id AS person_id, m.peer_group, m.row_id, m.hour_start, m.message_count
    FROM run_messages m JOIN ref_person_flags f ON f.person_id = m.cp_person_id
    WHERE f.is_victim AND f.person_staff_id IS NULL
), pairs AS (
    SELECT staff_id, person_id, any_value(peer_group) AS peer_group,
           sum(message_count) AS total,
           coalesce(sum(message_count) FILTER (WHERE hour_start >= $window_end_utc - to_days($recent_days)), 0) AS recent,
           coalesce(sum(message_count) FILTER (WHERE hour_start < $window_end_utc - to_days($recent_days)), 0) AS early_window,
           min(hour_start) AS first_at, max(hour_start) + INTERVAL 1 HOUR AS last_at, list(row_id) AS ids
    FROM victim_messages GROUP BY staff_id, person_id
), before_window AS (
    SELECT m.staff_id, d.person_id, sum(m.message_count) AS messages
    FROM device_messages m JOIN ref_contact_directory d USING (counterparty)
    WHERE m.hour_start >= $baseline_start_utc AND m.hour_start < $window_start_utc AND d.person_id IS NOT NULL
    GROUP BY ALL
), history AS (
    SELECT staff_id, count(DISTINCT CAST(hour_start AS DATE)) AS days
    FROM device_messages WHERE hour_start >= $baseline_start_utc AND hour_start < $window_start_utc
    GROUP BY staff_id
), open_case AS (
    -- Still assigned to an open case she is on during the recent period: rising contact is expected.
    SELECT DISTINCT staff_id, person_id FROM staff_case_people
    WHERE coalesce(unassigned_at, TIMESTAMPTZ 'infinity') > $window_end_utc - to_days($recent_days)
      AND coalesce(closed_at, TIMESTAMPTZ 'infinity') > $window_end_utc - to_days($recent_days)
), peers AS (
    SELECT peer_group, quantile_cont(total, $peer_quantile) AS peer_q, count(*) AS peer_pairs FROM pairs GROUP BY peer_group
), measured AS (
    SELECT p.*, pe.peer_q, pe.peer_pairs, oc.person_id IS NOT NULL AS open_case,
           coalesce(h.days, 0) >= $min_history_days AS has_history,
           p.early_window + CASE WHEN coalesce(h.days, 0) >= $min_history_days THEN coalesce(b.messages, 0) ELSE 0 END AS earlier,
           -- days covered by "earlier": the early window, plus the baseline when history is long enough
           (epoch($window_end_utc - to_days($recent_days)) - epoch(CASE WHEN coalesce(h.days, 0) >= $min_history_days
                                                                   THEN $baseline_start_utc ELSE $window_start_utc END)) / 86400 AS earlier_days
    FROM pairs p
    JOIN peers pe USING (peer_group)
    LEFT JOIN before_window b USING (staff_id, person_id)
    LEFT JOIN history h USING (staff_id)
    LEFT JOIN open_case oc USING (staff_id, person_id)
), judged AS (
    SELECT *,
           total >= CASE WHEN open_case THEN $open_case_multiple ELSE $peer_multiple END * peer_q AS excess,
           NOT open_case AND earlier >= $min_earlier_messages AND recent >= $min_recent_messages
             AND recent / $recent_days >= $growth_ratio * earlier / greatest(earlier_days, 1) AS rising
    FROM measured
    WHERE total >= $min_messages
)
SELECT staff_id,
       last_at - INTERVAL 1 HOUR AS occurred_at,
       first_at AS window_start,
       last_at AS window_end,
       'person:' || person_id AS subject,
       total || ' messages/calls with a victim or vulnerable person in the window'
           || CASE WHEN excess THEN '; ' || round(total / greatest(peer_q, 1), 1) || 'x the ' || peer_group
                                    || ' peers'' ' || CAST(round($peer_quantile * 100) AS INTEGER) || 'th percentile per victim ('
                                    || round(peer_q) || ')' ELSE '' END
           || CASE WHEN rising THEN '; rising: ' || recent || ' in the last ' || $recent_days || ' days against '
                                    || earlier || ' in the ' || round(earlier_days) || ' days before' ELSE '' END
           || CASE WHEN open_case THEN '; she is on an open case of theirs' ELSE '; no open case of theirs involves her' END
           || CASE WHEN NOT has_history THEN ' (little history: compared with peers only)' ELSE '' END AS reason,
       evidence_ids('device_messages', ids) AS evidence,
       least(2.5, greatest(CASE WHEN excess THEN total / greatest(peer_q * CASE WHEN open_case THEN $open_case_multiple ELSE $peer_multiple END, 1) ELSE 0 END,
                           CASE WHEN rising THEN 1.0 + 0.25 * (recent / $recent_days) / greatest(earlier / greatest(earlier_days, 1), 0.1) / $growth_ratio ELSE 0 END)) AS weight
FROM judged
WHERE excess OR rising
