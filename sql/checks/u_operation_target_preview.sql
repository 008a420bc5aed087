-- No-purpose look-ups of an operation's targets from $days_before days before execution
-- to $hours_after hours after, by staff not on the operation's briefing list.
WITH targets AS (
    SELECT t.operation_id, t.person_id, o.executed_at
    FROM ref_operation_targets t JOIN ref_operations o USING (operation_id)
), looked AS (
    SELECT l.staff_id, l.event_id, l.occurred_at, l.person_id, t.operation_id, t.executed_at
    FROM run_lookups l
    JOIN targets t USING (person_id)
    WHERE NOT l.has_purpose
      AND l.occurred_at >= t.executed_at - to_days($days_before)
      AND l.occurred_at <= t.executed_at + to_hours($hours_after)
      AND NOT EXISTS (SELECT 1 FROM ref_operation_staff os
                      WHERE os.operation_id = t.operation_id AND os.staff_id = l.staff_id)
)
SELECT staff_id,
       min(occurred_at) AS occurred_at,
       min(occurred_at) AS window_start,
       max(occurred_at) AS window_end,
       'operation:' || operation_id AS subject,
       count(DISTINCT person_id) || ' target(s) of operation ' || operation_id || ' looked up ' || count(*)
           || ' time(s), from ' || strftime(timezone($tz, min(occurred_at)), '%d %b %H:%M')
           || ' (execution ' || strftime(timezone($tz, any_value(executed_at)), '%d %b %H:%M')
           || '); not briefed; ' || no_purpose_phrase() AS reason,
       evidence_ids('access_events', list(event_id)) AS evidence,
       least(2.0, 1 + 0.25 * (count(DISTINCT person_id) - 1)) AS weight
FROM looked
GROUP BY staff_id, operation_id
