-- No-purpose look-ups of OCG nominals, or of cases with OCG nominals on them.
WITH ocg_cases AS (
    SELECT DISTINCT cp.case_id
    FROM ref_case_people cp JOIN ref_person_flags f USING (person_id)
    WHERE f.is_ocg
), looked AS (
    SELECT l.staff_id, l.event_id, l.occurred_at, l.action, l.local_day,
           CASE WHEN f.is_ocg THEN 'person:' || l.person_id ELSE 'case:' || l.case_id END AS subject,
           f.is_ocg AS person_marked
    FROM run_lookups l
    LEFT JOIN ref_person_flags f ON f.person_id = l.person_id
    WHERE NOT l.has_purpose
      AND (coalesce(f.is_ocg, false) OR l.case_id IN (SELECT case_id FROM ocg_cases))
)
SELECT staff_id,
       max(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       subject,
       count(*) || ' look-up(s) on ' || count(DISTINCT local_day) || ' day(s) of '
           || CASE WHEN bool_or(person_marked) THEN 'an OCG nominal' ELSE 'a case with OCG nominals on it' END
           || CASE WHEN bool_or(list_contains($capture_actions, action)) THEN ', including a print/export/screenshot' ELSE '' END
           || '; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       least($max_weight, 1 + $repeat_weight * (count(*) - 1)
                            + CASE WHEN bool_or(list_contains($capture_actions, action)) THEN 0.5 ELSE 0 END) AS weight
FROM looked
GROUP BY staff_id, subject
