-- Undeclared contact with people marked for drugs, on no case the staff member was assigned
-- to. Contact explained only by a case of their unit is still a hit, weighted down by how much
-- of the force's marked caseload the unit holds (unit_case_weight).
SELECT pc.staff_id,
       pc.last_hour AS occurred_at,
       pc.first_at AS window_start,
       pc.last_at AS window_end,
       'person:' || pc.person_id AS subject,
       pc.messages || ' messages/calls on ' || pc.days || ' day(s) with a person ' || marker_phrase(f.markers)
           || ' (' || coalesce(pc.off_duty_messages, 0) || ' off duty); '
           || CASE WHEN pc.explained_by_case THEN unit_case_phrase(pc.unit_coverage, $unit_case_min_weight)
                   ELSE 'on no case of theirs or their unit' END
           || '; no declared association' AS reason,
       evidence_ids('device_messages', pc.row_ids) AS evidence,
       CASE WHEN list_contains(f.markers, 'drugs_supply') THEN $supply_weight ELSE 1.0 END
           * CASE WHEN pc.explained_by_case THEN unit_case_weight(pc.unit_coverage, $unit_case_min_weight) ELSE 1.0 END AS weight
FROM run_person_contact pc
JOIN ref_person_flags f USING (person_id)
WHERE f.is_drugs
  AND NOT pc.explained_by_assignment
  AND NOT pc.declared
  AND (pc.messages >= $min_messages OR coalesce(pc.off_duty_messages, 0) > 0)
