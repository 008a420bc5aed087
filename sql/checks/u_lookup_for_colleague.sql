-- Check requests relayed by a colleague: S messages colleague R, and within the hour R checks
-- a record (a registration, by default) that no case of R's explains. Hits S, the one asking.
-- Colleagues message each other all day and some checks are routine for a function, so the
-- rule asks that R's case-less checks cluster after S's messages: on $min_occasions separate
-- message hours, and $min_lift times more often than R's own hourly rate of such checks would
-- give by chance. Where case-less checks are routine for R, that rate is high and the lift
-- cannot be reached. S checking the same record with no case behind it adds weight.
WITH caseless AS (
    -- Checks with no case behind them: no assignment, unit case, operation briefing or
    -- reason code (a function-wide purpose alone does not say why this record).
    SELECT staff_id, event_id, occurred_at, record_type, record_id,
           date_trunc('hour', occurred_at) AS hour_start
    FROM run_lookups
    WHERE list_contains($record_types, record_type)
      AND reads_record(action)
      AND NOT (via_assignment OR via_unit_case OR via_operation OR via_reason_code)
), caseless_follows AS (
    -- The message hours each case-less check can follow: its own hour and the $follow_hours
    -- before it (an equality to join on, not a range).
    SELECT DISTINCT c.staff_id, c.hour_start - to_hours(k) AS message_hour
    FROM caseless c, range(0, $follow_hours + 1) AS t(k)
), staff_numbers AS (
    SELECT DISTINCT counterparty, staff_id FROM ref_contact_directory WHERE staff_id IS NOT NULL
), receiver_rate AS (
    -- R's share of active hours (any look-up) holding a case-less check.
    SELECT c.staff_id AS receiver, a.active_hours, c.caseless_hours
    FROM (SELECT staff_id, hours_in_window(epoch_hour_of(hour_start)) AS caseless_hours FROM caseless GROUP BY staff_id) c
    JOIN (SELECT staff_id, hours_in_window(epoch_hour) AS active_hours
          FROM run_lookup_hours WHERE staff_id IN (SELECT staff_id FROM caseless) GROUP BY staff_id) a USING (staff_id)
), receivers AS (
    -- Only those whose case-less checks are rare enough for a pair to reach the lift at all: the
    -- occasions cannot outnumber the message hours, so a rate over 1 / $min_lift rules R out
    -- (where case-less checks are routine, as for roads policing, most colleague traffic is set
    -- aside here).
    SELECT receiver AS staff_id FROM receiver_rate
    WHERE $min_lift * least(1.0, (1 + $follow_hours) * caseless_hours / active_hours) <= 1.0 + 1e-9
), receiver_numbers AS (
    SELECT n.counterparty, n.staff_id FROM staff_numbers n JOIN receivers USING (staff_id)
), asked AS (
    -- Message hours from S to R, from either device: S's outbound row or R's inbound row.
    SELECT m.staff_id AS sender, r.staff_id AS receiver, m.hour_start, m.row_id
    FROM device_messages m JOIN receiver_numbers r USING (counterparty)
    WHERE m.direction = 'out' AND m.staff_id <> r.staff_id
      AND m.hour_start >= $window_start_utc AND m.hour_start < $window_end_utc
    UNION ALL
    SELECT s.staff_id AS sender, m.staff_id AS receiver, m.hour_start, m.row_id
    FROM device_messages m JOIN receivers USING (staff_id) JOIN staff_numbers s USING (counterparty)
    WHERE m.direction = 'in' AND m.staff_id <> s.staff_id
      AND m.hour_start >= $window_start_utc AND m.hour_start < $window_end_utc
), followed_hours AS (
    -- The message hours some case-less check of R's follows (most colleague message hours are
    -- followed by none: they are set aside before anything is grouped).
    SELECT DISTINCT a.sender, a.receiver, a.hour_start
    FROM asked a SEMI JOIN caseless_follows cf ON cf.staff_id = a.receiver AND cf.message_hour = a.hour_start
), followed AS (
    -- R's case-less checks in the message hour or the $follow_hours after it.
    SELECT a.sender, a.receiver, a.hour_start, c.event_id, c.record_type, c.record_id, c.occurred_at
    FROM followed_hours a
    JOIN caseless c ON c.staff_id = a.receiver
     AND c.hour_start >= a.hour_start AND c.hour_start <= a.hour_start + to_hours($follow_hours)
), corroborated AS (
    -- The sender checked the same record himself, with no case behind it either.
    SELECT DISTINCT f.sender, f.receiver, f.record_type, f.record_id, c.event_id AS sender_event_id
    FROM (SELECT DISTINCT sender, receiver, record_type, record_id FROM followed) f
    JOIN caseless c ON c.staff_id = f.sender AND c.record_type = f.record_type AND c.record_id = f.record_id
), pairs AS (
    SELECT f.sender, f.receiver,
           hours_in_window(epoch_hour_of(f.hour_start)) AS occasions,
           count(DISTINCT f.record_type || ':' || f.record_id) AS records,
           min(f.occurred_at) AS first_at, max(f.occurred_at) AS last_at,
           list(f.event_id) AS receiver_events
    FROM followed f GROUP BY f.sender, f.receiver
    HAVING hours_in_window(epoch_hour_of(f.hour_start)) >= $min_occasions
), message_hours AS (
    -- All the hours S messaged R, counted only for the pairs with enough occasions to hit.
    SELECT a.sender, a.receiver, hours_in_window(epoch_hour_of(a.hour_start)) AS message_hours
    FROM asked a JOIN (SELECT sender, receiver FROM pairs) p USING (sender, receiver) GROUP BY ALL
), scored AS (
    SELECT p.*, h.message_hours, r.active_hours, r.caseless_hours,
           -- expected occasions if R's case-less checks fell at random in R's active hours
           h.message_hours * least(1.0, (1 + $follow_hours) * r.caseless_hours / r.active_hours) AS expected,
           coalesce(c.n, 0) AS corroborated, coalesce(c.events, []) AS sender_events
    FROM pairs p JOIN receiver_rate r USING (receiver)
    JOIN message_hours h USING (sender, receiver)
    LEFT JOIN (SELECT sender, receiver, count(DISTINCT record_type || ':' || record_id) AS n, list(sender_event_id) AS events
               FROM corroborated GROUP BY ALL) c USING (sender, receiver)
), hit AS (
    SELECT * FROM scored s
    WHERE s.occasions >= $min_occasions
      AND s.occasions >= $min_lift * s.expected
), message_rows AS (
    -- The messages of the hours a check followed, for the pairs that hit (few: they are picked
    -- out of the colleague traffic first).
    SELECT a.sender, a.receiver, list(a.row_id) AS message_rows
    FROM (SELECT * FROM asked SEMI JOIN hit USING (sender, receiver)) a
    SEMI JOIN followed_hours h USING (sender, receiver, hour_start)
    GROUP BY ALL
)
SELECT s.sender AS staff_id,
       s.last_at AS occurred_at,
       s.first_at AS window_start,
       s.last_at AS window_end,
       'counterparty:' || (SELECT min(counterparty) FROM receiver_numbers n WHERE n.staff_id = s.receiver) AS subject,
       'a colleague checked ' || s.records || ' record(s) (' || array_to_string($record_types, ', ')
           || ') that no case of theirs explains, in the same or the next clock hour after ' || s.occasions
           || ' of the ' || s.message_hours || ' hour(s) this staff member messaged them, '
           || round(s.occasions / s.expected, 1) || ' times their own rate'
           || CASE WHEN s.corroborated > 0
                   THEN '; this staff member checked ' || s.corroborated || ' of the same record(s) with no case either'
                   ELSE '' END AS reason,
       list_concat(evidence_ids('device_messages', message_rows.message_rows),
                   evidence_ids('access_events', list_concat(s.receiver_events, s.sender_events))) AS evidence,
       least(2.0, 1.0 + $corroboration_weight * s.corroborated) AS weight
FROM hit s JOIN message_rows USING (sender, receiver)
