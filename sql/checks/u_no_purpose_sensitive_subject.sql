-- No-purpose look-ups of victims and vulnerable people, one hit per staff member and subject.
-- Off-duty views are always reported; views on several days when the staff member has more
-- such subjects than nearly all peers of the same function.
-- OCG nominals are left to o_ocg_lookup_no_purpose; high-profile people to u_high_profile_lookup;
-- staff subjects to u_self_or_colleague.
WITH looked AS (
    SELECT l.staff_id, l.person_id, l.event_id, l.occurred_at, l.local_day, l.on_duty,
           f.markers, list_contains(f.case_roles, 'victim') AS case_victim
    FROM run_unexplained l
    JOIN ref_person_flags f USING (person_id)
    WHERE l.subject_staff_id IS NULL
      AND NOT f.is_ocg
      AND NOT list_has_any(f.markers, $high_profile_markers)  -- u_high_profile_lookup weighs those by their own rarity
      AND (f.is_victim OR list_has_any(f.markers, $sensitive_markers))
), pairs AS (
    SELECT staff_id, person_id, any_value(markers) AS markers, bool_or(case_victim) AS case_victim,
           count(*) AS views, days_in_window(local_day) AS days,
           count(*) FILTER (WHERE NOT on_duty) AS off_duty_views,
           min(occurred_at) AS first_at, max(occurred_at) AS last_at, list(event_id) AS ids
    FROM looked GROUP BY staff_id, person_id
), repeated AS (
    SELECT staff_id, count(*) FILTER (WHERE days >= $min_days) AS repeated_subjects FROM pairs GROUP BY staff_id
), peers AS (
    SELECT s.peer_group, quantile_cont(coalesce(r.repeated_subjects, 0), $peer_quantile) AS peer_q
    FROM ref_staff s LEFT JOIN repeated r USING (staff_id) GROUP BY s.peer_group
)
SELECT p.staff_id,
       p.last_at AS occurred_at,
       p.first_at AS window_start,
       p.last_at AS window_end,
       'person:' || p.person_id AS subject,
       p.views || ' look-up(s) on ' || p.days || ' day(s) of a '
           || CASE WHEN p.case_victim THEN 'victim on a case, ' ELSE 'person ' END || marker_phrase(p.markers)
           || CASE WHEN p.off_duty_views > 0 THEN ', ' || p.off_duty_views || ' off duty' ELSE '' END
           || '; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', p.ids) AS evidence,
       least($max_weight,
             1 + $repeat_weight * (p.days - 1) + CASE WHEN p.off_duty_views > 0 THEN $off_duty_weight ELSE 0 END) AS weight
FROM pairs p
JOIN repeated r USING (staff_id)
LEFT JOIN ref_staff s USING (staff_id)
LEFT JOIN peers pe ON pe.peer_group = coalesce(s.peer_group, 'force')
WHERE p.off_duty_views > 0
   OR (p.days >= $min_days AND r.repeated_subjects > coalesce(pe.peer_q, 0)
        AND r.repeated_subjects >= $peer_multiple * coalesce(pe.peer_q, 0))
