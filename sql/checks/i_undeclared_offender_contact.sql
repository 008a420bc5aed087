-- Undeclared contact with offenders and violence/weapons nominals (not drugs, not OCG), on no case
-- the staff member was assigned to, WITH a sign beyond the contact (run_contact_signs: they, or
-- people on a case with them, looked up with no policing purpose; contact around an operation
-- against them). The contact alone is a declarations matter (i_undeclared_association).
-- Explained only by a case of their unit: weighted down.
SELECT pc.staff_id,
       greatest(pc.last_hour, cs.sign_last_at) AS occurred_at,  -- its latest evidence row
       pc.first_at AS window_start,
       pc.last_at AS window_end,
       'person:' || pc.person_id AS subject,
       pc.messages || ' messages/calls on ' || pc.days || ' day(s) with a person '
           || CASE WHEN f.is_offender THEN 'recorded as a suspect or offender' ELSE marker_phrase(f.markers) END
           || '; ' || CASE WHEN pc.explained_by_case THEN unit_case_phrase(pc.unit_coverage, $unit_case_min_weight)
                           ELSE 'on no case of theirs or their unit' END
           || '; no declared association; ' || array_to_string(cs.signs, '; ') AS reason,
       list_concat(evidence_ids('device_messages', pc.row_ids), evidence_ids('access_events', cs.sign_event_ids)) AS evidence,
       least(2.0, 0.5 + pc.messages / ($min_messages * 4.0))
           * CASE WHEN pc.explained_by_case THEN unit_case_weight(pc.unit_coverage, $unit_case_min_weight) ELSE 1.0 END AS weight
FROM run_person_contact pc
JOIN ref_person_flags f USING (person_id)
JOIN run_contact_signs cs USING (staff_id, person_id)
WHERE (f.is_offender OR list_has_any(f.markers, $association_markers))
  AND NOT f.is_drugs AND NOT f.is_ocg
  AND f.person_staff_id IS NULL
  AND NOT pc.explained_by_assignment
  AND NOT pc.declared
  AND pc.messages >= $min_messages
