-- No-purpose look-ups of an operation's targets from $days_before days before execution
-- to $hours_after hours after, by staff not on the operation's briefing list. A record with
-- no person on it (a custody record, a case) counts for the people on its case.
-- Measured against peers: when at least $routine_peer_share of the staff member's own peer
-- group also looked the target up without a purpose in the window, the target is a nominal
-- that function routinely checks (a prolific local offender a control room hears about
-- daily), so the hit is kept but weighted down by $routine_weight.
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
), peer_sizes AS (
    SELECT peer_group, count(*) AS members FROM ref_staff GROUP BY peer_group
), peer_lookers AS (
    -- Staff of each peer group who looked each target up without a purpose in the window.
    SELECT u.peer_group, u.person_id, list(DISTINCT u.staff_id) AS lookers
    FROM run_unexplained u WHERE u.person_id IN (SELECT person_id FROM targets)
    GROUP BY ALL
), per_operation AS (
    SELECT lk.staff_id, lk.operation_id, any_value(lk.executed_at) AS executed_at,
           list(DISTINCT lk.person_id) AS people, list(lk.event_id) AS events,
           min(lk.occurred_at) AS first_at, max(lk.occurred_at) AS last_at,
           -- The share of the peer group, other than this member, who looked these targets up
           -- without a purpose: the least routine target decides.
           min(coalesce(len(list_filter(pl.lookers, lambda x: x <> lk.staff_id)), 0) / greatest(ps.members - 1, 1)) AS peer_share,
           any_value(coalesce(s.peer_group, 'force')) AS peer_group
    FROM looked lk
    LEFT JOIN ref_staff s ON s.staff_id = lk.staff_id
    LEFT JOIN peer_sizes ps ON ps.peer_group = s.peer_group
    LEFT JOIN peer_lookers pl ON pl.peer_group = s.peer_group AND pl.person_id = lk.person_id
    GROUP BY lk.staff_id, lk.operation_id
    HAVING count(DISTINCT lk.event_id) >= $min_lookups
)
SELECT staff_id,
       last_at AS occurred_at,
       first_at AS window_start,
       last_at AS window_end,
       'operation:' || operation_id AS subject,
       len(people) || ' target(s) of operation ' || operation_id || ' looked up ' || len(list_distinct(events))
           || ' time(s), from ' || local_stamp(first_at, $tz)
           || ' (execution ' || local_stamp(executed_at, $tz)
           || '); not briefed; ' || no_purpose_phrase()
           || CASE WHEN peer_share >= $routine_peer_share
                   THEN '; weighted down: ' || CAST(round(100 * peer_share) AS INTEGER) || '% of ' || peer_group
                        || ' peers also looked this target up without a purpose in the window'
                   ELSE '' END AS reason,
       evidence_ids('access_events', events) AS evidence,
       least(2.0, 1 + 0.25 * (len(people) - 1))
           * CASE WHEN peer_share >= $routine_peer_share THEN $routine_weight ELSE 1.0 END AS weight
FROM per_operation
