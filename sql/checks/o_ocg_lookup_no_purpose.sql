-- No-purpose look-ups of OCG nominals, or of cases with OCG nominals on them. Captures and
-- off-duty views are always reported; repeated views when the staff member has more repeated
-- subjects than nearly all peers of the same function (in some functions, e.g. call handling,
-- searching prolific nominals with no linked record is routine). Look-ups explained only by a
-- case of their unit are graded as weakly explained when the unit's cases name at least
-- $unit_case_min_weight of the force's caseload: reported, weighted by that share.
WITH ocg_cases AS (
    SELECT DISTINCT cp.case_id
    FROM ref_case_people cp JOIN ref_person_flags f USING (person_id)
    WHERE f.is_ocg
), candidates AS (
    SELECT staff_id, event_id, occurred_at, action, local_day, on_duty, person_id, case_id, false AS unit_only, 1.0 AS unit_coverage
    FROM run_unexplained
    UNION ALL
    SELECT staff_id, event_id, occurred_at, action, local_day, on_duty, person_id, case_id, true, unit_coverage
    FROM run_unit_only
    -- A unit whose cases name under this share of the force's caseload explains the look-up.
    WHERE unit_coverage >= $unit_case_min_weight
), looked AS (
    SELECT l.staff_id, l.event_id, l.occurred_at, l.action, l.local_day, l.on_duty, l.unit_only, l.unit_coverage,
           CASE WHEN f.is_ocg THEN 'person:' || l.person_id ELSE 'case:' || l.case_id END AS subject,
           f.is_ocg AS person_marked
    FROM candidates l
    LEFT JOIN ref_person_flags f ON f.person_id = l.person_id
    WHERE coalesce(f.is_ocg, false) OR l.case_id IN (SELECT case_id FROM ocg_cases)
), pairs AS (
    SELECT staff_id, subject, count(*) AS views, days_in_window(local_day) AS days,
           bool_and(unit_only) AS unit_only, max(unit_coverage) AS unit_coverage,
           bool_or(person_marked) AS person_marked,
           bool_or(list_contains($capture_actions, action)) AS captured,
           bool_or(NOT on_duty) AS off_duty,
           min(occurred_at) AS first_at, max(occurred_at) AS last_at, list(event_id) AS ids
    FROM looked GROUP BY staff_id, subject
), repeated AS (
    SELECT staff_id, count(*) FILTER (WHERE views >= $min_views) AS repeated_subjects FROM pairs GROUP BY staff_id
), peers AS (
    SELECT s.peer_group, quantile_cont(coalesce(r.repeated_subjects, 0), $peer_quantile) AS peer_q
    FROM ref_staff s LEFT JOIN repeated r USING (staff_id) GROUP BY s.peer_group
)
SELECT p.staff_id,
       p.last_at AS occurred_at,
       p.first_at AS window_start,
       p.last_at AS window_end,
       p.subject,
       p.views || ' look-up(s) on ' || p.days || ' day(s) of '
           || CASE WHEN p.person_marked THEN 'an OCG nominal' ELSE 'a case with OCG nominals on it' END
           || CASE WHEN p.captured THEN ', including a print/export/screenshot' ELSE '' END
           || CASE WHEN p.off_duty THEN ', off duty' ELSE '' END
           || '; ' || CASE WHEN p.unit_only THEN unit_case_phrase(p.unit_coverage, $unit_case_min_weight) ELSE no_purpose_phrase() END
           || CASE WHEN p.views >= $min_views THEN '; ' || r.repeated_subjects || ' OCG subject(s) viewed repeatedly (peers'' '
                   || CAST(round($peer_quantile * 100) AS INTEGER) || 'th percentile: ' || round(pe.peer_q, 1) || ')' ELSE '' END AS reason,
       evidence_ids('access_events', p.ids) AS evidence,
       least($max_weight, 1 + $repeat_weight * (p.views - 1) + CASE WHEN p.captured THEN 0.5 ELSE 0 END)
           * CASE WHEN p.unit_only THEN unit_case_weight(p.unit_coverage, $unit_case_min_weight) ELSE 1.0 END AS weight
FROM pairs p
JOIN repeated r USING (staff_id)
LEFT JOIN ref_staff s USING (staff_id)
LEFT JOIN peers pe ON pe.peer_group = coalesce(s.peer_group, 'force')
WHERE p.captured OR p.off_duty
   OR (p.views >= $min_views AND r.repeated_subjects > coalesce(pe.peer_q, 0)
        AND r.repeated_subjects >= $peer_multiple * coalesce(pe.peer_q, 0))
