-- Unexplained, undeclared contact with offenders and violence/weapons nominals (not drugs, not OCG).
SELECT pc.staff_id,
       pc.last_at AS occurred_at,
       pc.first_at AS window_start,
       pc.last_at AS window_end,
       'person:' || pc.person_id AS subject,
       pc.messages || ' messages/calls on ' || pc.days || ' day(s) with a person '
           || CASE WHEN f.is_offender THEN 'recorded as a suspect or offender' ELSE marker_phrase(f.markers) END
           || '; on no case of theirs or their unit and no declared association' AS reason,
       evidence_ids('device_messages', pc.row_ids) AS evidence,
       least(2.0, 0.5 + pc.messages / ($min_messages * 4.0)) AS weight
FROM run_person_contact pc
JOIN ref_person_flags f USING (person_id)
WHERE (f.is_offender OR list_has_any(f.markers, $association_markers))
  AND NOT f.is_drugs AND NOT f.is_ocg
  AND f.person_staff_id IS NULL
  AND NOT pc.explained_by_case
  AND NOT pc.declared
  AND pc.messages >= $min_messages
