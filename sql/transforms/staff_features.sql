-- Behaviour features per member of staff over the review window, for the outlier score.
-- Built after run_tables.sql. One row per member of staff in post during the window
-- (no activity at all is a row of zeros). Raw values: normalisation within the peer
-- group happens in acu_audit.outliers.

CREATE OR REPLACE TEMP TABLE staff_features AS
WITH staff AS (
    SELECT staff_id, unit_function, peer_group
    FROM ref_staff
    WHERE end_date IS NULL OR end_date >= $window_start
), lookups AS (
    -- One pass over every look-up in the window: cheap counts only (the distinct count is
    -- approximate, HyperLogLog; a feature does not need it exact).
    SELECT staff_id,
           count(*) AS lookups,
           approx_count_distinct(person_id) AS persons_looked_up,
           count(*) FILTER (WHERE NOT has_purpose) AS unexplained_lookups,
           count(*) FILTER (WHERE NOT has_purpose) / count(*) AS unexplained_share,
           count(*) FILTER (WHERE NOT on_duty) / count(*) AS off_duty_lookup_share,
           count(*) FILTER (WHERE action IN ('delete', 'update') AND NOT via_assignment AND NOT via_unit_case)
               AS alterations_unassigned
    FROM run_lookups
    GROUP BY staff_id
), unexplained AS (
    -- Who and what was looked up without purpose: from the small table of unexplained look-ups.
    SELECT l.staff_id,
           count(DISTINCT l.person_id) FILTER (WHERE f.is_victim OR list_has_any(f.markers, $sensitive_markers))
               AS sensitive_subjects_unexplained,
           count(DISTINCT l.person_id) FILTER (WHERE f.is_ocg) AS ocg_subjects_unexplained,
           count(*) FILTER (WHERE list_contains($capture_actions, l.action)) AS captures_unexplained
    FROM run_unexplained l
    LEFT JOIN ref_person_flags f USING (person_id)
    GROUP BY l.staff_id
), busiest_hour AS (
    SELECT staff_id, max(n) AS max_lookups_in_an_hour
    FROM (SELECT staff_id, epoch_hour, CAST(sum(lookups) AS BIGINT) AS n FROM run_lookup_hours GROUP BY ALL)
    GROUP BY staff_id
), all_messages AS (
    -- Every message, colleagues included (run_messages leaves colleague traffic out). Summed per
    -- counterparty first, then the pairs counted: a distinct count over every message row cost
    -- 2.3 s more CPU at 40,000 staff for the same figures (sums of whole numbers: order-free).
    SELECT staff_id, sum(messages) AS messages, count(counterparty) AS counterparties,
           sum(night_messages) / sum(messages) AS night_message_share
    FROM (SELECT staff_id, counterparty, sum(message_count) AS messages,
                 sum(message_count) FILTER (WHERE hour(timezone($tz, hour_start)) >= $night_start_hour
                                               OR hour(timezone($tz, hour_start)) < $night_end_hour) AS night_messages
          FROM device_messages
          WHERE hour_start >= $window_start_utc AND hour_start < $window_end_utc
          GROUP BY staff_id, counterparty)
    GROUP BY staff_id
), messages AS (
    -- Messages with anyone who is not a colleague.
    SELECT m.staff_id,
           sum(m.message_count) FILTER (WHERE NOT m.on_duty) / sum(m.message_count) AS off_duty_message_share,
           coalesce(sum(m.message_count) FILTER (WHERE f.is_victim), 0) AS victim_messages,
           count(DISTINCT m.cp_person_id) FILTER (WHERE f.is_victim) AS victims_contacted,
           coalesce(sum(m.message_count) FILTER (WHERE f.is_victim AND (NOT m.on_duty OR m.at_night)), 0) AS victim_messages_off_hours,
           coalesce(sum(m.message_count) FILTER (WHERE m.cp_kind = 'unknown'), 0) AS unknown_messages,
           count(DISTINCT m.counterparty) FILTER (WHERE m.cp_kind = 'unknown') AS unknown_counterparties,
           coalesce(sum(m.message_count) FILTER (WHERE list_contains($banned_channels, m.channel)), 0) AS banned_channel_messages
    FROM run_messages m
    LEFT JOIN ref_person_flags f ON f.person_id = m.cp_person_id
    GROUP BY m.staff_id
), risky_contact AS (
    SELECT pc.staff_id,
           sum(pc.messages) FILTER (WHERE f.is_drugs OR f.is_ocg OR f.is_offender) AS risky_contact_messages
    FROM run_person_contact pc JOIN ref_person_flags f USING (person_id)
    WHERE NOT pc.explained_by_case AND NOT pc.declared
    GROUP BY pc.staff_id
), declarations AS (
    SELECT staff_id,
           count(*) FILTER (WHERE kind = 'association' AND status IN ('approved', 'pending')) AS declared_associations,
           count(*) FILTER (WHERE kind = 'business_interest' AND status = 'declined') AS declined_business_interests
    FROM ref_declarations GROUP BY staff_id
)
SELECT s.staff_id, s.unit_function, s.peer_group,
       coalesce(l.lookups, 0) AS lookups,
       coalesce(l.persons_looked_up, 0) AS persons_looked_up,
       coalesce(l.unexplained_lookups, 0) AS unexplained_lookups,
       coalesce(l.unexplained_share, 0) AS unexplained_share,
       coalesce(l.off_duty_lookup_share, 0) AS off_duty_lookup_share,
       coalesce(u.sensitive_subjects_unexplained, 0) AS sensitive_subjects_unexplained,
       coalesce(u.ocg_subjects_unexplained, 0) AS ocg_subjects_unexplained,
       coalesce(u.captures_unexplained, 0) AS captures_unexplained,
       coalesce(l.alterations_unassigned, 0) AS alterations_unassigned,
       coalesce(b.max_lookups_in_an_hour, 0) AS max_lookups_in_an_hour,
       coalesce(am.messages, 0) AS messages,
       coalesce(am.counterparties, 0) AS counterparties,
       coalesce(am.night_message_share, 0) AS night_message_share,
       coalesce(m.off_duty_message_share, 0) AS off_duty_message_share,
       coalesce(m.victim_messages, 0) AS victim_messages,
       coalesce(m.victims_contacted, 0) AS victims_contacted,
       coalesce(m.victim_messages_off_hours, 0) AS victim_messages_off_hours,
       coalesce(m.unknown_messages, 0) AS unknown_messages,
       coalesce(m.unknown_counterparties, 0) AS unknown_counterparties,
       coalesce(m.banned_channel_messages, 0) AS banned_channel_messages,
       coalesce(r.risky_contact_messages, 0) AS risky_contact_messages,
       coalesce(d.declared_associations, 0) AS declared_associations,
       coalesce(d.declined_business_interests, 0) AS declined_business_interests
FROM staff s
LEFT JOIN lookups l USING (staff_id)
LEFT JOIN unexplained u USING (staff_id)
LEFT JOIN busiest_hour b USING (staff_id)
LEFT JOIN all_messages am USING (staff_id)
LEFT JOIN messages m USING (staff_id)
LEFT JOIN risky_contact r USING (staff_id)
LEFT JOIN declarations d USING (staff_id)
ORDER BY s.staff_id;
