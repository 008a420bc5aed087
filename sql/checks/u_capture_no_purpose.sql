-- Prints, exports and screenshots with no purpose, one hit per staff member and record.
SELECT staff_id,
       max(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       record_type || ':' || record_id AS subject,
       array_to_string(list(DISTINCT action ORDER BY action), '/') || ' of ' || record_type || ' record '
           || record_id || ' (' || count(*) || ' time(s))'
           || CASE WHEN any_value(person_id) IS NOT NULL THEN ' about person ' || any_value(person_id) ELSE '' END
           || '; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       CASE WHEN bool_or(action = 'screenshot') THEN $screenshot_weight ELSE 1.0 END AS weight
FROM run_lookups
WHERE NOT has_purpose AND list_contains($capture_actions, action)
GROUP BY staff_id, record_type, record_id
