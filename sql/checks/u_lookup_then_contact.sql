-- Outbound messages to risky, unexplained, undeclared contacts shortly after a look-up.
WITH risky AS (
    SELECT m.staff_id, m.row_id, m.hour_start, m.cp_person_id, f.markers, f.is_offender, f.is_ocg_linked
    FROM run_messages m
    JOIN ref_person_flags f ON f.person_id = m.cp_person_id
    JOIN run_person_contact pc ON pc.staff_id = m.staff_id AND pc.person_id = m.cp_person_id
    WHERE m.direction = 'out'
      AND NOT pc.explained_by_case AND NOT pc.declared
      AND (list_has_any(f.markers, $risk_markers) OR f.is_offender OR f.is_ocg_linked)
), pairs AS (
    SELECT l.staff_id, l.event_id, l.occurred_at, r.row_id, r.hour_start, r.cp_person_id, r.markers,
           r.is_offender, r.is_ocg_linked
    FROM run_lookups l
    JOIN risky r ON r.staff_id = l.staff_id
     AND r.hour_start >= date_trunc('hour', l.occurred_at)
     AND r.hour_start <= l.occurred_at + to_minutes($within_minutes)
    WHERE reads_record(l.action)
)
SELECT staff_id,
       greatest(max(hour_start), max(occurred_at)) AS occurred_at,
       min(occurred_at) AS window_start,
       max(hour_start) + INTERVAL 1 HOUR AS window_end,
       'person:' || cp_person_id AS subject,
       count(DISTINCT event_id) || ' look-up(s) followed within ' || $within_minutes || ' minutes by messages to a person '
           || CASE WHEN len(any_value(markers)) > 0 THEN marker_phrase(any_value(markers))
                   WHEN bool_or(is_offender) THEN 'recorded as a suspect or offender'
                   ELSE 'who shares a case with OCG nominals' END
           || ', on no case of theirs and not declared' AS reason,
       list_concat(evidence_ids('access_events', list(event_id)), evidence_ids('device_messages', list(row_id))) AS evidence,
       least(2.0, 1 + 0.25 * (count(DISTINCT event_id) - 1)) AS weight
FROM pairs
GROUP BY staff_id, cp_person_id
