-- Unexplained, undeclared contact with OCG nominals; worse near an operation targeting them.
WITH near_operation AS (
    SELECT DISTINCT m.staff_id, m.cp_person_id AS person_id, o.operation_id
    FROM run_messages m
    JOIN ref_operation_targets t ON t.person_id = m.cp_person_id
    JOIN ref_operations o USING (operation_id)
    WHERE abs(epoch(m.hour_start) - epoch(o.executed_at)) <= $operation_days * 86400
)
SELECT pc.staff_id,
       pc.last_hour AS occurred_at,
       pc.first_at AS window_start,
       pc.last_at AS window_end,
       'person:' || pc.person_id AS subject,
       pc.messages || ' messages/calls on ' || pc.days || ' day(s) with a person ' || marker_phrase(f.markers)
           || CASE WHEN count(n.operation_id) > 0
                   THEN ', within ' || $operation_days || ' days of operation ' || string_agg(DISTINCT n.operation_id, ', ') || ' against them'
                   ELSE '' END
           || '; on no case they were assigned to and no declared association' AS reason,
       evidence_ids('device_messages', any_value(pc.row_ids)) AS evidence,
       CASE WHEN count(n.operation_id) > 0 THEN $operation_weight ELSE 1.0 END AS weight
FROM run_person_contact pc
JOIN ref_person_flags f USING (person_id)
LEFT JOIN near_operation n USING (staff_id, person_id)
-- Only an assignment explains contact with OCG nominals: being on a case the unit owns is not enough.
WHERE f.is_ocg AND NOT pc.explained_by_assignment AND NOT pc.declared
GROUP BY pc.staff_id, pc.person_id, pc.last_at, pc.last_hour, pc.first_at, pc.messages, pc.days, f.markers
