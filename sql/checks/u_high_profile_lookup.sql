-- No-purpose look-ups of high-profile people, one hit per staff member and subject. Split from
-- u_no_purpose_sensitive_subject: a celebrity, a politician or a footballer looked up out of
-- curiosity is a rarer and more specific thing than a look-up of any victim or vulnerable
-- person, which control rooms and response make by habit; each is weighed by its own rarity.
WITH looked AS (
    SELECT l.staff_id, l.person_id, l.event_id, l.occurred_at, l.local_day, l.on_duty, l.action
    FROM run_unexplained l
    JOIN ref_person_flags f USING (person_id)
    WHERE l.subject_staff_id IS NULL
      AND list_has_any(f.markers, $high_profile_markers)
      AND reads_record(l.action)
)
SELECT staff_id,
       max(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       'person:' || person_id AS subject,
       count(*) || ' look-up(s) on ' || days_in_window(local_day) || ' day(s) of a high-profile person'
           || CASE WHEN bool_or(list_contains($capture_actions, action))
                   THEN ', ' || count(*) FILTER (WHERE list_contains($capture_actions, action)) || ' printed, exported or screenshotted'
                   ELSE '' END
           || CASE WHEN bool_or(NOT on_duty) THEN ', ' || count(*) FILTER (WHERE NOT on_duty) || ' off duty' ELSE '' END
           || '; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       least($max_weight, 1 + $repeat_weight * (days_in_window(local_day) - 1)
                          + CASE WHEN bool_or(list_contains($capture_actions, action)) THEN $capture_weight ELSE 0 END) AS weight
FROM looked
GROUP BY staff_id, person_id
