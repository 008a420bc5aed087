-- No-purpose look-ups of person records that belong to members of staff.
SELECT staff_id,
       max(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       'person:' || person_id AS subject,
       count(*) || ' look-up(s) of ' || CASE WHEN bool_or(subject_staff_id = staff_id) THEN 'their own record'
                                             ELSE 'a colleague''s record' END
           || '; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       CASE WHEN bool_or(subject_staff_id = staff_id) THEN $self_weight ELSE 1.0 END AS weight
FROM run_lookups
WHERE NOT has_purpose AND subject_staff_id IS NOT NULL
GROUP BY staff_id, person_id
