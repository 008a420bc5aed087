-- No-purpose look-ups of people living at or near the staff member's home.
WITH looked AS (
    SELECT l.staff_id, l.person_id, l.event_id, l.occurred_at, l.local_day,
           f.address_id IS NOT NULL AND f.address_id = s.home_address_id AS same_address,
           upper(trim(f.surname)) = upper(trim(s.surname)) AS same_surname
    FROM run_unexplained l
    JOIN ref_staff s USING (staff_id)
    JOIN ref_person_flags f USING (person_id)
    WHERE l.subject_staff_id IS NULL
      AND ((f.address_id IS NOT NULL AND f.address_id = s.home_address_id)
           OR replace(upper(f.postcode), ' ', '') = replace(upper(s.home_postcode), ' ', ''))
)
SELECT staff_id,
       max(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       'person:' || person_id AS subject,
       count(*) || ' look-up(s) of '
           || CASE WHEN bool_or(same_surname) THEN 'a probable relative (same surname, '
                       || CASE WHEN bool_or(same_address) THEN 'same address' ELSE 'same postcode' END || ')'
                   WHEN bool_or(same_address) THEN 'someone at their home address'
                   ELSE 'a neighbour (same postcode as their home)' END
           || '; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       CASE WHEN bool_or(same_surname OR same_address) THEN $relative_weight ELSE 1.0 END AS weight
FROM looked
GROUP BY staff_id, person_id
HAVING bool_or(same_surname OR same_address) OR count(*) >= $min_neighbour_lookups
