-- No-purpose look-ups of an operation's targets from $days_before days before execution
-- to $hours_after hours after, by staff not on the operation's briefing list. A record with
-- no person on it (a custody record, a case) counts for the people on its case.
WITH targets AS (
    SELECT t.operation_id, t.person_id, o.executed_at
    FROM ref_operation_targets t JOIN ref_operations o USING (operation_id)
), target_cases AS (
    SELECT DISTINCT cp.case_id, cp.person_id
    FROM ref_case_people cp WHERE cp.person_id IN (SELECT person_id FROM targets)
), subjects AS (
    SELECT l.staff_id, l.event_id, l.occurred_at, l.person_id
    FROM run_unexplained l WHERE l.person_id IN (SELECT person_id FROM targets)
    UNION ALL
    SELECT l.staff_id, l.event_id, l.occurred_at, tc.person_id
    FROM run_unexplained l JOIN target_cases tc ON tc.case_id = l.case_id
    WHERE l.person_id IS NULL
), looked AS (
    SELECT DISTINCT s.staff_id, s.event_id, s.occurred_at, s.person_id, t.operation_id, t.executed_at
    FROM subjects s
    JOIN targets t USING (person_id)
    WHERE s.occurred_at >= t.executed_at - to_days($days_before)
      AND s.occurred_at <= t.executed_at + to_hours($hours_after)
      AND NOT EXISTS (SELECT 1 FROM ref_operation_staff os
                      WHERE os.operation_id = t.operation_id AND os.staff_id = s.staff_id)
)
SELECT staff_id,
       min(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       'operation:' || operation_id AS subject,
       count(DISTINCT person_id) || ' target(s) of operation ' || operation_id || ' looked up ' || count(DISTINCT event_id)
           || ' time(s), from ' || strftime(timezone($tz, min(occurred_at)), '%d %b %H:%M')
           || ' (execution ' || strftime(timezone($tz, any_value(executed_at)), '%d %b %H:%M')
           || '); not briefed; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       least(2.0, 1 + 0.25 * (count(DISTINCT person_id) - 1)) AS weight
FROM looked
GROUP BY staff_id, operation_id
HAVING count(DISTINCT event_id) >= $min_lookups
