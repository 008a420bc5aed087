-- No-purpose look-ups of victims and vulnerable people, one hit per staff member and subject.
-- OCG nominals are left to o_ocg_lookup_no_purpose; staff subjects to u_self_or_colleague.
WITH looked AS (
    SELECT l.staff_id, l.person_id, l.event_id, l.occurred_at, l.local_day, l.on_duty, l.action,
           f.markers, list_contains(f.case_roles, 'victim') AS case_victim
    FROM run_lookups l
    JOIN ref_person_flags f USING (person_id)
    WHERE NOT l.has_purpose
      AND l.subject_staff_id IS NULL
      AND NOT f.is_ocg
      AND (f.is_victim OR list_has_any(f.markers, $sensitive_markers))
)
SELECT staff_id,
       max(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       'person:' || person_id AS subject,
       count(*) || ' look-up(s) on ' || count(DISTINCT local_day) || ' day(s) of a '
           || CASE WHEN any_value(case_victim) THEN 'victim on a case, ' ELSE 'person ' END || marker_phrase(any_value(markers))
           || CASE WHEN bool_or(NOT on_duty) THEN ', ' || count(*) FILTER (WHERE NOT on_duty) || ' off duty' ELSE '' END
           || CASE WHEN bool_or(list_contains($capture_actions, action)) THEN ', including a print/export/screenshot' ELSE '' END
           || '; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       least($max_weight,
             1 + $repeat_weight * (count(DISTINCT local_day) - 1)
               + CASE WHEN bool_or(NOT on_duty) THEN $off_duty_weight ELSE 0 END) AS weight
FROM looked
GROUP BY staff_id, person_id
HAVING count(DISTINCT local_day) >= $min_days
    OR bool_or(NOT on_duty)
    OR bool_or(list_contains($capture_actions, action))
