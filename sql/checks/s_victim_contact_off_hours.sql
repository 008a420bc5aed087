-- Off-duty and night contact with victims, against all contact with the same person.
WITH victim_messages AS (
    SELECT m.*
    FROM run_messages m JOIN ref_person_flags f ON f.person_id = m.cp_person_id
    WHERE f.is_victim AND f.person_staff_id IS NULL
)
SELECT v.staff_id,
       max(v.hour_start) FILTER (WHERE NOT v.on_duty OR v.at_night) AS occurred_at,
       min(v.hour_start) FILTER (WHERE NOT v.on_duty OR v.at_night) AS window_start,
       max(v.hour_start) FILTER (WHERE NOT v.on_duty OR v.at_night) + INTERVAL 1 HOUR AS window_end,
       'person:' || v.cp_person_id AS subject,
       sum(v.message_count) FILTER (WHERE NOT v.on_duty OR v.at_night) || ' of ' || sum(v.message_count)
           || ' messages/calls with a victim or vulnerable person were off duty or at night ('
           || coalesce(sum(v.message_count) FILTER (WHERE NOT v.on_duty), 0) || ' off duty, '
           || coalesce(sum(v.message_count) FILTER (WHERE v.at_night), 0) || ' at night)'
           || CASE WHEN any_value(pc.declared) THEN '; an association is declared' ELSE '' END AS reason,
       evidence_ids('device_messages', list(v.row_id) FILTER (WHERE NOT v.on_duty OR v.at_night)) AS evidence,
       least(2.0, sum(v.message_count) FILTER (WHERE NOT v.on_duty OR v.at_night) / $min_messages / 2 + 0.5)
         * CASE WHEN any_value(pc.declared) THEN 0.5 ELSE 1.0 END AS weight
FROM victim_messages v
JOIN run_person_contact pc ON pc.staff_id = v.staff_id AND pc.person_id = v.cp_person_id
GROUP BY v.staff_id, v.cp_person_id
HAVING coalesce(sum(v.message_count) FILTER (WHERE NOT v.on_duty OR v.at_night), 0) >= $min_messages
   AND sum(v.message_count) FILTER (WHERE NOT v.on_duty OR v.at_night) >= $min_share * sum(v.message_count)
