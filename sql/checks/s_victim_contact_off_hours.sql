-- Off-duty and night contact with one victim, against what peers exchange with any victim
-- out of hours, and against all contact with the same person.
WITH victim_messages AS (
    SELECT m.*
    FROM run_messages m JOIN ref_person_flags f ON f.person_id = m.cp_person_id
    WHERE f.is_victim AND f.person_staff_id IS NULL
), pairs AS (
    SELECT staff_id, cp_person_id AS person_id, any_value(peer_group) AS peer_group,
           sum(message_count) AS total,
           coalesce(sum(message_count) FILTER (WHERE NOT on_duty OR at_night), 0) AS off_hours,
           coalesce(sum(message_count) FILTER (WHERE NOT on_duty), 0) AS off_duty,
           coalesce(sum(message_count) FILTER (WHERE at_night), 0) AS night,
           min(hour_start) FILTER (WHERE NOT on_duty OR at_night) AS first_at,
           max(hour_start) FILTER (WHERE NOT on_duty OR at_night) + INTERVAL 1 HOUR AS last_at,
           list(row_id) FILTER (WHERE NOT on_duty OR at_night) AS ids
    FROM victim_messages
    GROUP BY staff_id, cp_person_id
), peers AS (
    SELECT peer_group, quantile_cont(off_hours, $peer_quantile) AS peer_q FROM pairs GROUP BY peer_group
)
SELECT p.staff_id,
       p.last_at - INTERVAL 1 HOUR AS occurred_at,
       p.first_at AS window_start,
       p.last_at AS window_end,
       'person:' || p.person_id AS subject,
       p.off_hours || ' of ' || p.total || ' messages/calls with a victim or vulnerable person were off duty or at night ('
           || p.off_duty || ' off duty, ' || p.night || ' at night); ' || p.peer_group || ' peers'' '
           || CAST(round($peer_quantile * 100) AS INTEGER) || 'th percentile out of hours per victim: ' || round(pe.peer_q)
           || CASE WHEN pc.declared THEN '; an association is declared' ELSE '' END AS reason,
       evidence_ids('device_messages', p.ids) AS evidence,
       least(2.0, p.off_hours / greatest($peer_multiple * pe.peer_q, $min_messages))
         * CASE WHEN pc.declared THEN 0.5 ELSE 1.0 END AS weight
FROM pairs p
JOIN peers pe USING (peer_group)
JOIN run_person_contact pc ON pc.staff_id = p.staff_id AND pc.person_id = p.person_id
WHERE p.off_hours >= $min_messages
  AND p.off_hours >= $peer_multiple * pe.peer_q
  AND p.off_hours >= $min_share * p.total
