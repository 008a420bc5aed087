-- Run-scoped tables every check reads. Built once per run, after
-- reference_as_of.sql and the policing-purpose labels. Parameters:
--   $tz, $as_of, $window_start, $window_start_utc, $window_end_utc,
--   $shift_margin_minutes, $night_start_hour, $night_end_hour,
--   $victim_markers, $victim_role_excluded_markers, $ocg_markers, $drug_markers, $minor_case_types

-- What the force knows about each person, as of the run date.
CREATE OR REPLACE TEMP TABLE ref_person_flags AS
WITH ids AS (
    SELECT person_id FROM ref_persons
    UNION SELECT person_id FROM ref_person_markers
    UNION SELECT person_id FROM ref_case_people
), roles AS (
    SELECT cp.person_id, list(DISTINCT cp.role ORDER BY cp.role) AS case_roles,
           bool_or(cp.role IN ('suspect', 'offender') AND NOT list_contains($minor_case_types, coalesce(c.case_type, ''))) AS is_offender
    FROM ref_case_people cp LEFT JOIN ref_cases c USING (case_id)
    GROUP BY cp.person_id
), ocg_cases AS (
    SELECT DISTINCT cp.case_id
    FROM ref_case_people cp JOIN ref_person_markers m USING (person_id)
    WHERE list_has_any(m.markers, $ocg_markers)
), ocg_linked AS (
    SELECT DISTINCT cp.person_id FROM ref_case_people cp JOIN ocg_cases USING (case_id)
)
SELECT ids.person_id, p.surname, p.postcode, p.address_id, p.staff_id AS person_staff_id,
       coalesce(m.markers, []) AS markers,
       coalesce(r.case_roles, []) AS case_roles,
       (list_contains(coalesce(r.case_roles, []), 'victim')
        AND NOT list_has_any(coalesce(m.markers, []), $victim_role_excluded_markers))
         OR list_has_any(coalesce(m.markers, []), $victim_markers) AS is_victim,
       coalesce(r.is_offender, false) AS is_offender,
       list_has_any(coalesce(m.markers, []), $ocg_markers) AS is_ocg,
       ol.person_id IS NOT NULL AS is_ocg_linked,
       list_has_any(coalesce(m.markers, []), $drug_markers) AS is_drugs
FROM ids
LEFT JOIN ref_persons p USING (person_id)
LEFT JOIN ref_person_markers m USING (person_id)
LEFT JOIN roles r USING (person_id)
LEFT JOIN ocg_linked ol USING (person_id);

-- Cases each member of staff has been assigned to, with the people on them:
-- contact with these people is explained by the work. A set: its readers ask whether, and
-- since and until when, not how many times (so no role or assignment row, which would only
-- repeat rows; at 40,000 staff the run tables are held in memory beside the night's data).
CREATE OR REPLACE TEMP TABLE staff_case_people AS
SELECT DISTINCT a.staff_id, cp.person_id, cp.case_id, a.assigned_at, a.unassigned_at, c.closed_at
FROM ref_assignments a
JOIN ref_case_people cp USING (case_id)
LEFT JOIN ref_cases c USING (case_id);

-- Declared associations and business interests that cover contact (approved or pending).
CREATE OR REPLACE TEMP TABLE declared_contacts AS
SELECT d.staff_id, d.declaration_id, d.kind, d.status, d.person_id, d.counterparty, d.organisation_id, d.decided_at
FROM ref_declarations d
WHERE d.status IN ('approved', 'pending');

-- Duty, overtime and training shifts around the window: "on duty" for messages.
-- One row per start: of two shifts starting together the longer counts (the latest shift below
-- would otherwise be either, and a re-run could find a message on duty that was not).
CREATE OR REPLACE TEMP TABLE duty_shifts AS
SELECT staff_id, shift_start, max(shift_end) AS shift_end
FROM duty_roster
WHERE list_contains($on_duty_types, duty_type)
  AND shift_end > $window_start_utc - INTERVAL 1 DAY AND shift_start < $window_end_utc + INTERVAL 1 DAY
GROUP BY staff_id, shift_start;

-- Device messages in the window with anyone who is not a colleague, plus every message on a
-- banned channel, with the counterparty resolved through the directory. (Colleague traffic is
-- most of the volume and no check needs it; totals for the outlier score come from
-- device_messages directly.) The largest run table (687 MB at 40,000 staff): only the columns
-- its readers use.
CREATE OR REPLACE TEMP TABLE run_messages AS
WITH duty_spans AS (
    -- On duty: the latest shift starting before the message hour ends (with the margin), when
    -- the hour also starts before that shift ends (with the margin). Put the other way, shift i
    -- is the latest for the hours after start_i - 1 h - margin up to and including
    -- start_(i+1) - 1 h - margin, and on duty for those of them before end_i + margin. The spans
    -- of one member of staff do not overlap, so a message hour falls in at most one.
    SELECT staff_id,
           shift_start - INTERVAL 1 HOUR - to_minutes($shift_margin_minutes) AS after,
           lead(shift_start) OVER (PARTITION BY staff_id ORDER BY shift_start)
               - INTERVAL 1 HOUR - to_minutes($shift_margin_minutes) AS up_to,
           shift_end + to_minutes($shift_margin_minutes) AS before
    FROM duty_shifts
), duty_span_days AS (
    -- Each span under every UTC day it touches, so the join is on the staff member and the day
    -- (an equality) with the bounds as its conditions: an as-of join sorted every message row
    -- with its columns (2.2 GB and 3-4.6 s at 40,000 staff).
    SELECT staff_id, after, up_to, before, day
    FROM (SELECT *, least(up_to, before) AS last_hour FROM duty_spans) s,  -- least() passes over a NULL up_to (the last shift)
         range(epoch_us(after) // 86400000000, epoch_us(last_hour) // 86400000000 + 1) AS t(day)
    WHERE last_hour > after
)
SELECT m.row_id, m.staff_id, m.channel, m.direction, m.counterparty, m.hour_start, m.message_count,
       CAST(m.local_hour_start AS DATE) AS local_day,
       m.on_duty,
       (hour(m.local_hour_start) >= $night_start_hour OR hour(m.local_hour_start) < $night_end_hour) AS at_night,
       d.person_id AS cp_person_id, d.organisation_id AS cp_organisation_id,
       CASE WHEN d.staff_id IS NOT NULL THEN 'colleague'
            WHEN d.person_id IS NOT NULL THEN 'person'
            WHEN d.organisation_id IS NOT NULL THEN 'organisation'
            WHEN d.counterparty IS NULL THEN 'unknown'
            ELSE 'other' END AS cp_kind,
       s.unit, s.peer_group
FROM (
    SELECT m.row_id, m.staff_id, m.channel, m.direction, m.counterparty, m.hour_start, m.message_count,
           timezone($tz, m.hour_start) AS local_hour_start, sd.staff_id IS NOT NULL AS on_duty
    FROM (
        SELECT row_id, staff_id, channel, direction, counterparty, hour_start, message_count,
               epoch_us(hour_start) // 86400000000 AS day
        FROM device_messages
        WHERE hour_start >= $window_start_utc AND hour_start < $window_end_utc
          AND (counterparty NOT IN (SELECT counterparty FROM ref_contact_directory WHERE staff_id IS NOT NULL)
               OR list_contains($banned_channels, channel))
    ) m
    LEFT JOIN duty_span_days sd
        ON sd.staff_id = m.staff_id AND sd.day = m.day
       AND m.hour_start > sd.after AND (sd.up_to IS NULL OR m.hour_start <= sd.up_to) AND m.hour_start < sd.before
) m
LEFT JOIN ref_contact_directory d USING (counterparty)
LEFT JOIN ref_staff s ON s.staff_id = m.staff_id;

-- Look-ups in the window with their policing-purpose labels (join ref_staff for the peer group).
-- The bounds are session variables: a view cannot hold parameters, and a join with a
-- one-row window table hides the bounds from the scan (a nested-loop join over every label
-- row, which also keeps the checks' own join filters from reaching the scan).
SET VARIABLE acu_window_start_day = CAST($window_start AS DATE);
SET VARIABLE acu_window_end_day = CAST($as_of AS DATE);
-- An instant's UTC clock hour as a whole number of hours since 1970 (as lookup_hours counts them),
-- and the window's first and last (hours_in_window below).
CREATE OR REPLACE TEMP MACRO epoch_hour_of(ts) AS epoch_us(ts) // 3600000000;
SET VARIABLE acu_window_first_hour = epoch_hour_of(CAST($window_start_utc AS TIMESTAMPTZ));
SET VARIABLE acu_window_last_hour = epoch_hour_of(CAST($window_end_utc AS TIMESTAMPTZ) - INTERVAL 1 MICROSECOND);
CREATE OR REPLACE TEMP VIEW run_lookups AS
SELECT a.*
FROM access_purpose a
WHERE a.local_day BETWEEN getvariable('acu_window_start_day') AND getvariable('acu_window_end_day');

-- Look-ups per member of staff, record type and UTC clock hour in the window (kept per day).
CREATE OR REPLACE TEMP VIEW run_lookup_hours AS
SELECT h.*
FROM lookup_hours h
WHERE h.local_day BETWEEN getvariable('acu_window_start_day') AND getvariable('acu_window_end_day');

-- Look-ups per member of staff in the window, and the look-ups with no purpose found (a
-- few per cent of all), which most look-up checks start from.
CREATE OR REPLACE TEMP TABLE run_lookup_totals AS
SELECT staff_id, count(*) AS lookups, count(*) FILTER (WHERE NOT has_purpose) AS unexplained
FROM run_lookups GROUP BY staff_id;

-- Only the columns its readers use (the checks, staff_features.sql, run_contact_signs below):
-- the other half of the labels' columns, markers lists among them, cost a third of the build
-- and memory every night at 40,000 staff. A check that needs another column adds it here.
CREATE OR REPLACE TEMP TABLE run_unexplained AS
SELECT l.event_id, l.staff_id, l.occurred_at, l.local_day, l.action, l.record_type, l.record_id,
       l.person_id, l.case_id, l.on_duty, l.subject_staff_id, s.peer_group
FROM run_lookups l LEFT JOIN ref_staff s USING (staff_id) WHERE NOT l.has_purpose;

-- Phrases shared by the checks' reasons.
-- Actions that read a record (the contract's others create, update or delete one).
CREATE OR REPLACE TEMP MACRO reads_record(action) AS
    action IN ('search', 'view', 'print', 'export', 'screenshot');
CREATE OR REPLACE TEMP MACRO no_purpose_phrase() AS
    'no policing purpose found (looked for: an assignment, a case of their unit, a function-wide purpose, an operation briefing, a reason code)';
CREATE OR REPLACE TEMP MACRO marker_phrase(markers) AS
    CASE WHEN len(coalesce(markers, [])) = 0 THEN 'no warning marker' ELSE 'marked ' || array_to_string(markers, ', ') END;
CREATE OR REPLACE TEMP MACRO evidence_ids(table_name, ids) AS
    list_transform(list_sort(list_distinct(ids)), lambda i: table_name || ':' || i);
-- count(DISTINCT value) for values from first to last as a plain aggregate, one bit per value (a
-- distinct aggregate groups every row a second time: 0.2-0.3 s in the larger checks at 40,000
-- staff). A value outside the range is an error, not a miscount. Used as the number of the window's
-- days among the rows' local days, and of its UTC clock hours (epoch_hour_of).
CREATE OR REPLACE TEMP MACRO distinct_in_range(value, first, last) AS
    coalesce(bit_count(bitstring_agg(CAST(value - first AS INTEGER), 0, CAST(last - first AS INTEGER))), 0);
CREATE OR REPLACE TEMP MACRO days_in_window(day) AS
    distinct_in_range(day, getvariable('acu_window_start_day'), getvariable('acu_window_end_day'));
CREATE OR REPLACE TEMP MACRO hours_in_window(epoch_hour) AS
    distinct_in_range(epoch_hour, getvariable('acu_window_first_hour'), getvariable('acu_window_last_hour'));
-- Graded explanation: contact explained only by a case of one's unit keeps this share of its
-- weight, the unit's coverage of the force's marked nominals (at least min_weight).
CREATE OR REPLACE TEMP MACRO unit_case_weight(coverage, min_weight) AS greatest(min_weight, coverage);
CREATE OR REPLACE TEMP MACRO unit_case_phrase(coverage, min_weight) AS
    'on a case of their unit only, whose open cases name ' || CAST(round(100 * coverage) AS INTEGER)
    || '% of the people on the force''s open cases: that explains little, so the hit is weighted x'
    || round(greatest(min_weight, coverage), 2);

-- Contact is explained by the work when the person is on a case the staff member was assigned
-- to, at the time (assignment_covered_messages, below), or on a case owned by their unit that was
-- open in the window (or closed within $unit_case_days_after_close days of its start). Kept per
-- unit, not per staff member, so it stays small.
CREATE OR REPLACE TEMP TABLE unit_case_people AS
SELECT DISTINCT c.owning_unit AS unit, cp.person_id
FROM ref_cases c JOIN ref_case_people cp USING (case_id)
WHERE c.owning_unit IS NOT NULL
  AND c.opened_at < $window_end_utc
  AND coalesce(c.closed_at, TIMESTAMPTZ 'infinity') + to_days($unit_case_days_after_close) >= $window_start_utc;

-- How much of the force's caseload each unit holds: the share of the people named on the
-- force's open cases in the window who are on one of the unit's. A case of one's unit explains
-- contact with, or a look-up of, such a person only weakly, and the more weakly the larger this
-- share (docs/scoring.md, "Graded explanations").
CREATE OR REPLACE TEMP TABLE unit_coverage AS
SELECT unit, count(DISTINCT person_id) / (SELECT greatest(count(DISTINCT person_id), 1) FROM unit_case_people) AS coverage
FROM unit_case_people GROUP BY unit;

-- Look-ups whose only purpose found is a case of the staff member's unit: the checks of
-- sensitive and OCG subjects and of captures grade them as weakly explained (unit_case_weight).
-- A view: each of those checks reads only its own subjects from it.
CREATE OR REPLACE TEMP VIEW run_unit_only AS
SELECT l.*, s.peer_group, coalesce(uc.coverage, 0) AS unit_coverage
FROM run_lookups l
LEFT JOIN ref_staff s USING (staff_id)
LEFT JOIN unit_coverage uc ON uc.unit = l.unit
WHERE l.via_unit_case AND NOT (l.via_assignment OR l.via_function OR l.via_operation OR l.via_reason_code);

-- Messages an assignment explains: with a person on a case the staff member was assigned to,
-- while assigned (from $assignment_grace_hours before, as for look-ups) and for $unit_case_days_after_close days
-- after the assignment or the case ended. An assignment a month ago does not explain evening
-- messages today.
CREATE OR REPLACE TEMP TABLE assignment_covered_messages AS
SELECT DISTINCT m.row_id
FROM run_messages m
JOIN staff_case_people p ON p.staff_id = m.staff_id AND p.person_id = m.cp_person_id
WHERE m.hour_start >= p.assigned_at - to_hours($assignment_grace_hours)
  AND m.hour_start < coalesce(p.unassigned_at, p.closed_at, TIMESTAMPTZ 'infinity') + to_days($unit_case_days_after_close);

-- Contact per member of staff and person on force systems, over the window.
CREATE OR REPLACE TEMP TABLE run_person_contact AS
SELECT m.staff_id, m.cp_person_id AS person_id, any_value(m.peer_group) AS peer_group,
       sum(m.message_count) AS messages,
       sum(m.message_count) FILTER (WHERE NOT m.on_duty) AS off_duty_messages,
       sum(m.message_count) FILTER (WHERE m.at_night) AS night_messages,
       days_in_window(m.local_day) AS days,
       min(m.hour_start) AS first_at,
       max(m.hour_start) + INTERVAL 1 HOUR AS last_at,  -- exclusive end of the last message hour
       max(m.hour_start) AS last_hour,                    -- the latest evidence row (a hit's occurred_at)
       list(m.row_id) AS row_ids,
       bool_and(am.row_id IS NOT NULL) OR bool_or(up.person_id IS NOT NULL) AS explained_by_case,
       bool_and(am.row_id IS NOT NULL) AS explained_by_assignment,  -- every message of it, not one long ago
       coalesce(any_value(uc.coverage), 0) AS unit_coverage,
       bool_or(dp.person_id IS NOT NULL OR dn.counterparty IS NOT NULL) AS declared
FROM run_messages m
LEFT JOIN assignment_covered_messages am ON am.row_id = m.row_id
LEFT JOIN unit_case_people up ON up.unit = m.unit AND up.person_id = m.cp_person_id
LEFT JOIN unit_coverage uc ON uc.unit = m.unit
-- Declared by person or by the number itself; DISTINCT so a second declaration cannot double the counts.
LEFT JOIN (SELECT DISTINCT staff_id, person_id FROM declared_contacts WHERE person_id IS NOT NULL) dp
       ON dp.staff_id = m.staff_id AND dp.person_id = m.cp_person_id
LEFT JOIN (SELECT DISTINCT staff_id, counterparty FROM declared_contacts WHERE counterparty IS NOT NULL) dn
       ON dn.staff_id = m.staff_id AND dn.counterparty = m.counterparty
WHERE m.cp_person_id IS NOT NULL
GROUP BY m.staff_id, m.cp_person_id;

-- What makes undeclared contact with a person on the nominal index more than a declarations
-- matter (docs/scoring.md, "Compliance is not misconduct"): the staff member looked the person,
-- or a case they are on, up with no policing purpose in the window; or was in contact with them
-- in the days around an operation against them. One row per staff member and person
-- with at least one such sign, the signs in words and the look-ups that show them.
CREATE OR REPLACE TEMP TABLE run_contact_signs AS
WITH contacts AS (
    SELECT staff_id, person_id FROM run_person_contact WHERE NOT declared AND NOT explained_by_assignment
), person_views AS (
    SELECT c.staff_id, c.person_id, list(u.event_id) AS ids, max(u.occurred_at) AS last_at
    FROM contacts c JOIN run_unexplained u ON u.staff_id = c.staff_id AND u.person_id = c.person_id
    GROUP BY c.staff_id, c.person_id
), case_views AS (
    SELECT c.staff_id, c.person_id, list(DISTINCT u.event_id) AS ids, max(u.occurred_at) AS last_at
    FROM contacts c
    JOIN ref_case_people mine ON mine.person_id = c.person_id
    JOIN run_unexplained u ON u.staff_id = c.staff_id AND u.case_id = mine.case_id
    GROUP BY c.staff_id, c.person_id
), around_operation AS (
    -- A tip-off needs knowledge of the operation: contact in the days before it is executed, by a
    -- member of staff briefed on it or who looked a target of it up in those days. Contact with a
    -- friend around a raid they could not have known of is coincidence, not a sign.
    SELECT DISTINCT m.staff_id, m.cp_person_id AS person_id, o.operation_id
    FROM run_messages m
    JOIN contacts c ON c.staff_id = m.staff_id AND c.person_id = m.cp_person_id
    JOIN ref_operation_targets t ON t.person_id = m.cp_person_id
    JOIN ref_operations o USING (operation_id)
    WHERE m.hour_start <= o.executed_at
      AND epoch(o.executed_at) - epoch(m.hour_start) <= $contact_operation_days * 86400
      AND (EXISTS (SELECT 1 FROM ref_operation_staff os WHERE os.operation_id = o.operation_id AND os.staff_id = m.staff_id)
           OR EXISTS (SELECT 1 FROM run_lookups l JOIN ref_operation_targets t2 ON t2.person_id = l.person_id
                      WHERE l.staff_id = m.staff_id AND t2.operation_id = o.operation_id
                        AND l.occurred_at <= o.executed_at
                        AND epoch(o.executed_at) - epoch(l.occurred_at) <= $contact_operation_days * 86400))
)
SELECT c.staff_id, c.person_id,
       list_filter([
           CASE WHEN pv.ids IS NOT NULL THEN 'looked them up ' || len(pv.ids) || ' time(s) with no policing purpose' END,
           CASE WHEN av.ids IS NOT NULL THEN 'looked up ' || len(av.ids) || ' record(s) of a case they are on with no policing purpose' END,
           CASE WHEN ao.operation_id IS NOT NULL THEN 'in contact in the ' || $contact_operation_days || ' days before operation ' || ao.operation_id || ' against them, which they knew of' END
       ], lambda x: x IS NOT NULL) AS signs,
       list_concat(coalesce(pv.ids, []), coalesce(av.ids, [])) AS sign_event_ids,
       greatest(pv.last_at, av.last_at) AS sign_last_at  -- the latest look-up it cites (NULL: none)
FROM contacts c
LEFT JOIN person_views pv USING (staff_id, person_id)
LEFT JOIN case_views av USING (staff_id, person_id)
LEFT JOIN (SELECT staff_id, person_id, min(operation_id) AS operation_id FROM around_operation GROUP BY ALL) ao USING (staff_id, person_id)
WHERE pv.ids IS NOT NULL OR av.ids IS NOT NULL OR ao.operation_id IS NOT NULL;

-- Records deleted or updated with no assignment and no case of the staff member's unit, and
-- whether the person on the record (or an offender or suspect on its case) is among their device
-- contacts. Read by t_record_altered_not_assigned (no such contact: a routine-looking disposal,
-- common where a central office tidies other units' records) and t_record_altered_for_contact
-- (the rare, specific case: a record disposed of for someone one is in touch with).
CREATE OR REPLACE TEMP TABLE run_altered_records AS
WITH altered AS (
    SELECT l.staff_id, l.event_id, l.occurred_at, l.action, l.record_type, l.record_id, l.case_id, l.person_id
    FROM run_lookups l
    WHERE ((l.action = 'delete' AND list_contains($altered_delete_record_types, l.record_type))
           OR (l.action = 'update' AND list_contains($altered_update_record_types, l.record_type)))
      AND NOT l.via_assignment AND NOT l.via_unit_case
), record_people AS (
    -- The record's own person, and the offenders and suspects on its case.
    SELECT a.event_id, a.person_id FROM altered a WHERE a.person_id IS NOT NULL
    UNION
    SELECT a.event_id, cp.person_id
    FROM altered a JOIN ref_case_people cp ON cp.case_id = a.case_id
    WHERE cp.role IN ('offender', 'suspect')
), in_contact AS (
    SELECT rp.event_id, list(DISTINCT pc.person_id) AS contacts, flatten(list(pc.row_ids)) AS message_ids,
           max(pc.last_hour) AS last_message
    FROM record_people rp
    JOIN altered a USING (event_id)
    JOIN run_person_contact pc ON pc.staff_id = a.staff_id AND pc.person_id = rp.person_id
    GROUP BY rp.event_id
)
SELECT a.*, c.contacts, coalesce(c.message_ids, []) AS message_ids, c.last_message, c.event_id IS NOT NULL AS for_contact
FROM altered a LEFT JOIN in_contact c USING (event_id);
