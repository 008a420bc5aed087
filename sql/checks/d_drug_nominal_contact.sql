-- Undeclared contact with people marked for drug supply, or for drug use with a sign beyond the
-- contact (run_contact_signs: they, or a case they are on, looked up with no purpose;
-- contact around an operation against them), on no case the staff member was assigned to.
-- Contact with a drug user and nothing else is a declarations matter (i_undeclared_association).
-- Contact explained only by a case of their unit is still a hit, weighted down by how much of the
-- force's marked caseload the unit holds (unit_case_weight).
SELECT pc.staff_id,
       greatest(pc.last_hour, cs.sign_last_at) AS occurred_at,  -- its latest evidence row
       pc.first_at AS window_start,
       pc.last_at AS window_end,
       'person:' || pc.person_id AS subject,
       pc.messages || ' messages/calls on ' || pc.days || ' day(s) with a person ' || marker_phrase(f.markers)
           || ' (' || coalesce(pc.off_duty_messages, 0) || ' off duty); '
           || CASE WHEN pc.explained_by_case THEN unit_case_phrase(pc.unit_coverage, $unit_case_min_weight)
                   ELSE 'on no case of theirs or their unit' END
           || '; no declared association'
           || CASE WHEN cs.signs IS NOT NULL THEN '; ' || array_to_string(cs.signs, '; ') ELSE '' END AS reason,
       list_concat(evidence_ids('device_messages', pc.row_ids), evidence_ids('access_events', coalesce(cs.sign_event_ids, []))) AS evidence,
       CASE WHEN list_contains(f.markers, 'drugs_supply') THEN $supply_weight ELSE 1.0 END
           * CASE WHEN cs.signs IS NOT NULL THEN $sign_weight ELSE 1.0 END
           * CASE WHEN pc.explained_by_case THEN unit_case_weight(pc.unit_coverage, $unit_case_min_weight) ELSE 1.0 END AS weight
FROM run_person_contact pc
JOIN ref_person_flags f USING (person_id)
LEFT JOIN run_contact_signs cs USING (staff_id, person_id)
WHERE f.is_drugs
  AND (list_contains(f.markers, 'drugs_supply') OR cs.signs IS NOT NULL)
  AND NOT pc.explained_by_assignment
  AND NOT pc.declared
  AND (pc.messages >= $min_messages OR coalesce(pc.off_duty_messages, 0) > 0)
