-- Deletes and updates of records with no assignment and no case of their unit;
-- one hit per record, heavier when the record's person is a device contact.
WITH altered AS (
    SELECT l.staff_id, l.event_id, l.occurred_at, l.action, l.record_type, l.record_id, l.case_id, l.person_id
    FROM run_lookups l
    WHERE ((l.action = 'delete' AND list_contains($delete_record_types, l.record_type))
           OR (l.action = 'update' AND list_contains($update_record_types, l.record_type)))
      AND NOT l.via_assignment AND NOT l.via_unit_case
), record_people AS (
    -- The record's own person, and the offenders and suspects on its case.
    SELECT a.event_id, a.person_id FROM altered a WHERE a.person_id IS NOT NULL
    UNION
    SELECT a.event_id, cp.person_id
    FROM altered a JOIN ref_case_people cp ON cp.case_id = a.case_id
    WHERE cp.role IN ('offender', 'suspect')
), in_contact AS (
    SELECT rp.event_id, list(DISTINCT pc.person_id) AS contacts, flatten(list(pc.row_ids)) AS message_ids,
           max(pc.last_hour) AS last_message
    FROM record_people rp
    JOIN altered a USING (event_id)
    JOIN run_person_contact pc ON pc.staff_id = a.staff_id AND pc.person_id = rp.person_id
    GROUP BY rp.event_id
)
SELECT a.staff_id,
       greatest(max(a.occurred_at), max(c.last_message)) AS occurred_at,
       min(a.occurred_at) AS window_start,
       max(a.occurred_at) AS window_end,
       a.record_type || ':' || a.record_id AS subject,
       array_to_string(list(DISTINCT a.action ORDER BY a.action), '/') || ' of ' || a.record_type || ' ' || a.record_id
           || ' with no assignment and not owned by their unit'
           || CASE WHEN bool_or(c.event_id IS NOT NULL)
                   THEN '; the person on it is among their device contacts' ELSE '' END AS reason,
       list_concat(evidence_ids('access_events', list(a.event_id)),
                   evidence_ids('device_messages', flatten(list(coalesce(c.message_ids, []))))) AS evidence,
       (CASE WHEN bool_or(a.action = 'delete') THEN 1.0 ELSE $update_weight END)
         * (CASE WHEN bool_or(c.event_id IS NOT NULL) THEN $contact_weight ELSE 1.0 END) AS weight
FROM altered a
LEFT JOIN in_contact c USING (event_id)
GROUP BY a.staff_id, a.record_type, a.record_id
