-- Label every look-up of the days in purpose_todo with the policing purpose the
-- data shows. Each day uses the reference data of that day (purpose_todo holds
-- the snapshot version per table), so a re-run for an old date sees what was
-- known then. Purposes looked for:
--   assignment   assigned to the event's case, or to a case the person is on
--                (from assigned_at - grace to unassigned_at + grace)
--   unit_case    the case, or a case the person is on, is owned by the staff
--                member's unit and was open (or closed within $unit_case_days_after_close)
--   function     a function-wide rule from configs/ (temp table function_rules)
--   operation    briefed on an operation targeting the person, near execution
--   reason_code  a reason code was entered
-- Parameters: $tz, $todo_start_utc, $todo_end_utc, $assignment_grace_hours,
-- $unit_case_days_after_close, $operation_days_before, $operation_days_after, $reason_code_counts,
-- $shift_margin_minutes.

-- The snapshots as of the versions these days use, each row under its version date
-- (_drop_date), so an event joins the reference data of its day: pv_<table>, cut for the batch
-- from the versions of every day being labelled (purpose.py builds both). A person's markers
-- are read as one list per version:
CREATE OR REPLACE TEMP TABLE pv_markers AS
SELECT _drop_date, person_id, list(DISTINCT marker ORDER BY marker) AS markers
FROM pv_person_markers GROUP BY ALL;

-- The look-ups to label: every one of a day labelled in full; of a day only topped up
-- (purpose_todo.partial: its snapshots unchanged), those not labelled yet and those of staff
-- whose roster around the day changed (purpose_changed_staff). Labels are per look-up.
CREATE OR REPLACE TEMP TABLE purpose_events AS
SELECT e.event_id, e.occurred_at, e.staff_id, e.system, e.action, e.record_type, e.record_id,
       e.person_id, e.case_id, e.reason_code, t.*
FROM access_events e
JOIN purpose_todo t ON t.local_day = CAST(timezone($tz, e.occurred_at) AS DATE)
LEFT JOIN purpose_changed_staff c ON c.local_day = t.local_day AND c.staff_id = e.staff_id
LEFT JOIN (SELECT local_day, event_id FROM access_purpose
           WHERE local_day IN (SELECT local_day FROM purpose_todo WHERE partial)) done
       ON done.local_day = t.local_day AND done.event_id = e.event_id
WHERE e.occurred_at >= $todo_start_utc AND e.occurred_at < $todo_end_utc
  AND (NOT t.partial OR c.staff_id IS NOT NULL OR done.event_id IS NULL);

CREATE OR REPLACE TEMP TABLE purpose_labels AS
WITH who AS (
    SELECT ev.event_id, s.unit, s.unit_function
    FROM purpose_events ev JOIN pv_staff s ON s._drop_date = ev.v_staff AND s.staff_id = ev.staff_id
), subject AS (
    SELECT ev.event_id, p.staff_id AS subject_staff_id, m.markers
    FROM purpose_events ev
    LEFT JOIN pv_persons p ON p._drop_date = ev.v_persons AND p.person_id = ev.person_id
    LEFT JOIN pv_markers m ON m._drop_date = ev.v_person_markers AND m.person_id = ev.person_id
    WHERE ev.person_id IS NOT NULL
), by_assignment AS (
    SELECT ev.event_id
    FROM purpose_events ev
    JOIN pv_assignments a ON a._drop_date = ev.v_assignments AND a.case_id = ev.case_id AND a.staff_id = ev.staff_id
    WHERE ev.occurred_at BETWEEN a.assigned_at - to_hours($assignment_grace_hours)
                             AND coalesce(a.unassigned_at, TIMESTAMPTZ 'infinity') + to_hours($assignment_grace_hours)
    UNION
    SELECT ev.event_id
    FROM purpose_events ev
    JOIN pv_case_people cp ON cp._drop_date = ev.v_case_people AND cp.person_id = ev.person_id
    JOIN pv_assignments a ON a._drop_date = ev.v_assignments AND a.case_id = cp.case_id AND a.staff_id = ev.staff_id
    WHERE ev.occurred_at BETWEEN a.assigned_at - to_hours($assignment_grace_hours)
                             AND coalesce(a.unassigned_at, TIMESTAMPTZ 'infinity') + to_hours($assignment_grace_hours)
), by_unit_case AS (
    SELECT ev.event_id
    FROM purpose_events ev JOIN who USING (event_id)
    JOIN pv_cases c ON c._drop_date = ev.v_cases AND c.case_id = ev.case_id AND c.owning_unit = who.unit
    WHERE ev.occurred_at BETWEEN c.opened_at - to_hours($assignment_grace_hours)
                             AND coalesce(c.closed_at, TIMESTAMPTZ 'infinity') + to_days($unit_case_days_after_close)
    UNION
    SELECT ev.event_id
    FROM purpose_events ev JOIN who USING (event_id)
    JOIN pv_case_people cp ON cp._drop_date = ev.v_case_people AND cp.person_id = ev.person_id
    JOIN pv_cases c ON c._drop_date = ev.v_cases AND c.case_id = cp.case_id AND c.owning_unit = who.unit
    WHERE ev.occurred_at BETWEEN c.opened_at - to_hours($assignment_grace_hours)
                             AND coalesce(c.closed_at, TIMESTAMPTZ 'infinity') + to_days($unit_case_days_after_close)
), by_function AS (
    SELECT DISTINCT ev.event_id
    FROM purpose_events ev JOIN who USING (event_id)
    LEFT JOIN subject USING (event_id)
    JOIN function_rules r ON r.unit_function = who.unit_function
    WHERE (r.systems IS NULL OR list_contains(r.systems, ev.system))
      AND (r.record_types IS NULL OR list_contains(r.record_types, ev.record_type))
      AND (r.actions IS NULL OR list_contains(r.actions, ev.action))
      AND (r.subject_markers IS NULL OR list_has_any(r.subject_markers, coalesce(subject.markers, [])))
      AND (NOT r.subject_is_staff OR subject.subject_staff_id IS NOT NULL)
), by_operation AS (
    SELECT DISTINCT ev.event_id
    FROM purpose_events ev
    JOIN pv_operation_targets ot ON ot._drop_date = ev.v_operation_targets AND ot.person_id = ev.person_id
    JOIN pv_operations o ON o._drop_date = ev.v_operations AND o.operation_id = ot.operation_id
    JOIN pv_operation_staff os ON os._drop_date = ev.v_operation_staff AND os.operation_id = ot.operation_id
                           AND os.staff_id = ev.staff_id
    WHERE ev.occurred_at BETWEEN o.executed_at - to_days($operation_days_before) AND o.executed_at + to_days($operation_days_after)
), rostered AS (
    SELECT ev.event_id,
           bool_or(list_contains($on_duty_types, r.duty_type)
                   AND ev.occurred_at >= r.shift_start - to_minutes($shift_margin_minutes)
                   AND ev.occurred_at < r.shift_end + to_minutes($shift_margin_minutes)) AS on_duty,
           min(CASE WHEN r.duty_type IN ('leave', 'sick', 'rest')
                     AND ev.occurred_at >= r.shift_start AND ev.occurred_at < r.shift_end THEN r.duty_type END) AS absence
    FROM purpose_events ev
    JOIN duty_roster r ON r.staff_id = ev.staff_id
     AND r.shift_start < ev.occurred_at + to_minutes($shift_margin_minutes)
     AND r.shift_end > ev.occurred_at - to_minutes($shift_margin_minutes)
    GROUP BY ev.event_id
)
SELECT ev.event_id, ev.staff_id, ev.occurred_at, ev.local_day,
       CAST(hour(timezone($tz, ev.occurred_at)) AS INTEGER) AS local_hour,
       ev.system, ev.action, ev.record_type, ev.record_id, ev.person_id, ev.case_id, ev.reason_code,
       who.unit, who.unit_function,
       ba.event_id IS NOT NULL AS via_assignment,
       bu.event_id IS NOT NULL AS via_unit_case,
       bf.event_id IS NOT NULL AS via_function,
       bo.event_id IS NOT NULL AS via_operation,
       ($reason_code_counts AND ev.reason_code IS NOT NULL) AS via_reason_code,
       (ba.event_id IS NOT NULL OR bu.event_id IS NOT NULL OR bf.event_id IS NOT NULL OR bo.event_id IS NOT NULL
        OR ($reason_code_counts AND ev.reason_code IS NOT NULL)) AS has_purpose,
       coalesce(ro.on_duty, false) AS on_duty,
       CASE WHEN coalesce(ro.on_duty, false) THEN NULL ELSE ro.absence END AS absence,
       subject.markers AS subject_markers,
       subject.subject_staff_id
FROM purpose_events ev
LEFT JOIN who USING (event_id)
LEFT JOIN subject USING (event_id)
LEFT JOIN (SELECT DISTINCT event_id FROM by_assignment) ba USING (event_id)
LEFT JOIN (SELECT DISTINCT event_id FROM by_unit_case) bu USING (event_id)
LEFT JOIN by_function bf USING (event_id)
LEFT JOIN by_operation bo USING (event_id)
LEFT JOIN rostered ro USING (event_id);

DELETE FROM access_purpose WHERE local_day IN (SELECT local_day FROM purpose_todo WHERE NOT partial);
DELETE FROM access_purpose WHERE local_day IN (SELECT local_day FROM purpose_todo WHERE partial)
                             AND event_id IN (SELECT event_id FROM purpose_labels);

-- Stored in the order most readers filter by: within a batch of days, the look-ups with no purpose
-- found first, then by record type (and staff member). A day's rows then sit in runs, so a scan for
-- the unexplained look-ups, or for one record type, skips most of the day (DuckDB's min/max per row
-- group): at 40,000 staff the night's run tables took 7.0 s against 8.0-8.4 s. A day topped up later
-- has its new rows appended in their own run, at the end.
INSERT INTO access_purpose BY NAME
SELECT * FROM purpose_labels ORDER BY local_day, has_purpose, record_type, staff_id;
