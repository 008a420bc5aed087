-- No-purpose look-ups of person records that belong to members of staff: one's own record
-- always; colleagues' when $min_colleagues or more different colleagues were looked up, each
-- weighing more the more colleagues were looked up.
WITH looked AS (
    SELECT *, count(DISTINCT subject_staff_id) FILTER (WHERE subject_staff_id <> staff_id) OVER (PARTITION BY staff_id) AS colleagues
    FROM run_unexplained
    WHERE subject_staff_id IS NOT NULL
)
SELECT staff_id,
       max(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       'person:' || person_id AS subject,
       count(*) || ' look-up(s) of ' || CASE WHEN bool_or(subject_staff_id = staff_id) THEN 'their own record'
                                             ELSE 'a colleague''s record (' || any_value(colleagues) || ' colleagues looked up in the window)' END
           || '; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       -- A colleague look-up weighs more the more colleagues were looked up (1 at two).
       CASE WHEN bool_or(subject_staff_id = staff_id) THEN $self_weight
            ELSE least($max_weight, 0.5 + 0.25 * any_value(colleagues)) END AS weight
FROM looked
GROUP BY staff_id, person_id
HAVING bool_or(subject_staff_id = staff_id) OR any_value(colleagues) >= $min_colleagues
