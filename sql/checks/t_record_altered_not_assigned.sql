-- Deletes and updates of records with no assignment and no case of their unit, where the person
-- on the record is not among the staff member's device contacts (those are
-- t_record_altered_for_contact, weighed by their own rarity); one hit per record.
SELECT staff_id,
       max(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       record_type || ':' || record_id AS subject,
       array_to_string(list(DISTINCT action ORDER BY action), '/') || ' of ' || record_type || ' ' || record_id
           || ' with no assignment and not owned by their unit' AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       CASE WHEN bool_or(action = 'delete') THEN 1.0 ELSE $update_weight END AS weight
FROM run_altered_records
WHERE NOT for_contact
GROUP BY staff_id, record_type, record_id
