-- Look-ups of declared associates' person records or of cases they are on.
WITH associates AS (
    SELECT staff_id, person_id AS associate_id, declaration_id, relationship, status
    FROM ref_declarations
    WHERE kind = 'association' AND person_id IS NOT NULL
), declarants_lookups AS MATERIALIZED (
    -- One pass over the window's look-ups, kept to staff who declared an association.
    SELECT l.staff_id, l.event_id, l.occurred_at, l.has_purpose, l.person_id, l.case_id
    FROM run_lookups l WHERE l.staff_id IN (SELECT staff_id FROM associates)
), looked AS (
    SELECT l.staff_id, l.event_id, l.occurred_at, l.has_purpose, a.associate_id, a.relationship, 'the record' AS what
    FROM declarants_lookups l JOIN associates a ON a.staff_id = l.staff_id AND a.associate_id = l.person_id
    UNION ALL
    SELECT l.staff_id, l.event_id, l.occurred_at, l.has_purpose, a.associate_id, a.relationship, 'a case they are on'
    FROM (SELECT DISTINCT a.staff_id, a.associate_id, a.relationship, cp.case_id
          FROM associates a JOIN ref_case_people cp ON cp.person_id = a.associate_id) a
    JOIN declarants_lookups l ON l.staff_id = a.staff_id AND l.case_id = a.case_id
    WHERE l.person_id IS DISTINCT FROM a.associate_id
)
SELECT staff_id,
       max(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       'person:' || associate_id AS subject,
       count(DISTINCT event_id) || ' look-up(s) of ' || array_to_string(list(DISTINCT what ORDER BY what), ' and ')
           || ' of a person they declared as an association (' || coalesce(any_value(relationship), 'relationship not stated') || ')'
           || CASE WHEN bool_and(has_purpose) THEN '; each with a policing purpose on record' ELSE '' END AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       CASE WHEN bool_and(has_purpose) THEN $with_purpose_weight ELSE 1.0 END AS weight
FROM looked
GROUP BY staff_id, associate_id
