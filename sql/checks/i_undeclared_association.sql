-- Undeclared contact with a person on the nominal index whom the force would expect declared (a
-- suspect or offender, or marked for violence, weapons or drug use), on no case the staff member
-- was assigned to, and with nothing specific beside it. A compliance matter: its hits are the
-- declarations reminders (route: declarations), never the lead list. The same contact with a sign
-- beyond it (run_contact_signs) is evidence: i_undeclared_offender_contact, d_drug_nominal_contact.
-- Drug suppliers and OCG nominals are always evidence (d_drug_nominal_contact, o_ocg_contact).
SELECT pc.staff_id,
       pc.last_hour AS occurred_at,
       pc.first_at AS window_start,
       pc.last_at AS window_end,
       'person:' || pc.person_id AS subject,
       pc.messages || ' messages/calls on ' || pc.days || ' day(s) with a person '
           || CASE WHEN f.is_offender AND len(f.markers) = 0 THEN 'recorded as a suspect or offender'
                   WHEN f.is_offender THEN 'recorded as a suspect or offender, ' || marker_phrase(f.markers)
                   ELSE marker_phrase(f.markers) END
           || '; no declared association: a reminder to declare, nothing else is seen' AS reason,
       evidence_ids('device_messages', pc.row_ids) AS evidence,
       1.0 AS weight
FROM run_person_contact pc
JOIN ref_person_flags f USING (person_id)
LEFT JOIN run_contact_signs cs USING (staff_id, person_id)
WHERE (f.is_offender OR list_has_any(f.markers, $association_markers))
  AND NOT list_contains(f.markers, 'drugs_supply') AND NOT f.is_ocg
  AND f.person_staff_id IS NULL
  AND NOT pc.explained_by_assignment
  AND NOT pc.declared
  AND cs.person_id IS NULL
  AND pc.messages >= $min_messages
