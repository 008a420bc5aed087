-- Contact with people on cases the staff member worked, after all those cases closed.
WITH worked AS (
    -- Only people the staff member was in contact with in the window.
    SELECT scp.staff_id, scp.person_id,
           max(scp.closed_at) AS last_closed,
           bool_or(scp.closed_at IS NULL) AS any_open,
           list(DISTINCT scp.case_id ORDER BY scp.case_id) AS cases
    FROM staff_case_people scp
    JOIN (SELECT staff_id, person_id FROM run_person_contact WHERE NOT declared) pc USING (staff_id, person_id)
    GROUP BY scp.staff_id, scp.person_id
), after_close AS (
    SELECT m.staff_id, m.cp_person_id AS person_id, m.row_id, m.hour_start, m.message_count, m.on_duty, m.at_night,
           w.last_closed, w.cases
    FROM run_messages m
    JOIN worked w ON w.staff_id = m.staff_id AND w.person_id = m.cp_person_id
    WHERE NOT w.any_open
      AND m.hour_start > w.last_closed + to_days($grace_days)
)
SELECT a.staff_id,
       max(a.hour_start) AS occurred_at,
       min(a.hour_start) AS window_start,
       max(a.hour_start) + INTERVAL 1 HOUR AS window_end,
       'person:' || a.person_id AS subject,
       sum(a.message_count) || ' messages/calls with a ' || CASE WHEN any_value(f.is_victim) THEN 'victim' ELSE 'party' END
           || ' of case ' || array_to_string(any_value(a.cases), ', ') || ' after it closed on '
           || strftime(timezone($tz, any_value(a.last_closed)), '%d %b %Y')
           || ' (' || coalesce(sum(a.message_count) FILTER (WHERE NOT a.on_duty OR a.at_night), 0)
           || ' off duty or at night); no declared association' AS reason,
       evidence_ids('device_messages', list(a.row_id)) AS evidence,
       CASE WHEN any_value(f.is_victim) THEN $victim_weight ELSE 1.0 END AS weight
FROM after_close a
JOIN run_person_contact pc ON pc.staff_id = a.staff_id AND pc.person_id = a.person_id
LEFT JOIN ref_person_flags f ON f.person_id = a.person_id
WHERE NOT pc.declared
GROUP BY a.staff_id, a.person_id
HAVING sum(a.message_count) >= $min_messages
