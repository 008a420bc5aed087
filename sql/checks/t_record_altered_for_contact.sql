-- Deletes and updates of records with no assignment and no case of their unit, where the person
-- on the record, or an offender or suspect on its case, is among the staff member's device
-- contacts: a record disposed of for someone one is in touch with. One hit per record.
SELECT staff_id,
       greatest(max(occurred_at), max(last_message)) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       record_type || ':' || record_id AS subject,
       array_to_string(list(DISTINCT action ORDER BY action), '/') || ' of ' || record_type || ' ' || record_id
           || ' with no assignment and not owned by their unit; the person on it ('
           || array_to_string(list_distinct(flatten(list(contacts))), ', ') || ') is among their device contacts' AS reason,
       list_concat(evidence_ids('access_events', list(event_id)), evidence_ids('device_messages', flatten(list(message_ids)))) AS evidence,
       CASE WHEN bool_or(action = 'delete') THEN 1.0 ELSE $update_weight END AS weight
FROM run_altered_records
WHERE for_contact
GROUP BY staff_id, record_type, record_id
