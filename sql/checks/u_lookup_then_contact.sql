-- Outbound messages to risky, unexplained, undeclared contacts shortly after a look-up that is
-- connected to them. A look-up followed by a call to one's relative or friend who has a record is
-- what real forces see every day, with or without a purpose found for the look-up (a declarations
-- matter at most): the time alone links nothing. It counts when the record viewed is about the
-- person, a case they are on, or one of their criminal associates (a co-suspect or co-offender on a case),
-- whatever its purpose (an officer on the case has a purpose and still must not tell); or when
-- the contact messaged them in the hour before the look-up (a request, the look-up, the reply:
-- the shape of a question answered from force systems, whatever was looked up): 003 case 1
-- (an associate's arrest viewed, then the dealer texted), 003 case 4 (the group's investigation
-- log viewed, then the partner texted). Sharing only a kind of crime (a drugs matter, then a drug
-- user's call) is a response officer's ordinary day and not a link either.
WITH risky AS (
    SELECT m.staff_id, m.row_id, m.hour_start, m.cp_person_id, f.markers, f.is_offender, f.is_ocg_linked,
           f.is_drugs, f.is_ocg OR f.is_ocg_linked AS ocg
    FROM run_messages m
    JOIN ref_person_flags f ON f.person_id = m.cp_person_id
    JOIN run_person_contact pc ON pc.staff_id = m.staff_id AND pc.person_id = m.cp_person_id
    WHERE m.direction = 'out'
      AND NOT pc.explained_by_case AND NOT pc.declared
      AND (list_has_any(f.markers, $risk_markers) OR f.is_offender OR f.is_ocg_linked)
), risky_after AS (
    -- Each risky message under every clock hour whose look-ups it can follow: its own and the ones
    -- before it within $within_minutes (hour_start - the look-up's hour < 60 + $within_minutes
    -- minutes). Hours are whole UTC hours counted as integers, as in u_lookup_burst: an equality
    -- to join the window's 14 million reads on. (Joined on the staff member with date_trunc in a
    -- range, each read was truncated, 2 s of CPU a night at 40,000 staff, and compared with every
    -- risky message of theirs.)
    SELECT r.*, epoch_hour_of(r.hour_start) - k AS lookup_hour
    FROM risky r, range(0, $within_minutes // 60 + 2) AS t(k)
), candidates AS (
    SELECT l.staff_id, l.event_id, l.occurred_at, l.has_purpose, l.person_id AS looked_person, l.case_id AS looked_case,
           r.row_id, r.hour_start, r.cp_person_id, r.markers, r.is_offender, r.is_ocg_linked, r.is_drugs, r.ocg
    FROM run_lookups l
    JOIN risky_after r ON r.staff_id = l.staff_id
     AND r.lookup_hour = epoch_hour_of(l.occurred_at)
     AND r.hour_start <= l.occurred_at + to_minutes($within_minutes)
    WHERE reads_record(l.action)
), looked_people AS (  -- who the viewed record is about: its person and the people on its case
    SELECT DISTINCT c.event_id, c.looked_person AS person_id FROM candidates c WHERE c.looked_person IS NOT NULL
    UNION
    SELECT DISTINCT c.event_id, cp.person_id FROM candidates c JOIN ref_case_people cp ON cp.case_id = c.looked_case
), contact_circle AS (  -- the contact and their criminal associates (co-suspects, co-offenders)
    SELECT DISTINCT r.cp_person_id, r.cp_person_id AS person_id FROM risky r
    UNION
    SELECT DISTINCT r.cp_person_id, other.person_id
    FROM (SELECT DISTINCT cp_person_id FROM risky) r
    JOIN ref_case_people mine ON mine.person_id = r.cp_person_id AND mine.role IN ('suspect', 'offender')
    JOIN ref_case_people other ON other.case_id = mine.case_id AND other.role IN ('suspect', 'offender')
), asked AS (  -- the contact messaged them in the hour before the look-up: a request, then the reply
    SELECT DISTINCT c.event_id, c.cp_person_id, m.row_id AS asked_row_id
    FROM candidates c
    JOIN run_messages m ON m.staff_id = c.staff_id AND m.cp_person_id = c.cp_person_id AND m.direction = 'in'
     AND m.hour_start >= date_trunc('hour', c.occurred_at) - INTERVAL 1 HOUR
     AND m.hour_start <= c.occurred_at
     AND m.hour_start <= c.hour_start
), pairs AS (
    SELECT c.*, (SELECT list(a.asked_row_id) FROM asked a WHERE a.event_id = c.event_id AND a.cp_person_id = c.cp_person_id) AS asked_ids
    FROM candidates c
    WHERE EXISTS (SELECT 1 FROM looked_people lp JOIN contact_circle cc ON cc.person_id = lp.person_id
                  WHERE lp.event_id = c.event_id AND cc.cp_person_id = c.cp_person_id)
       OR EXISTS (SELECT 1 FROM asked a WHERE a.event_id = c.event_id AND a.cp_person_id = c.cp_person_id)
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
           || ', on no case of theirs and not declared'
           || CASE WHEN count(asked_ids) > 0 THEN '; they had messaged first, in the hour before the look-up' ELSE '' END AS reason,
       list_concat(evidence_ids('access_events', list(event_id)),
                   evidence_ids('device_messages', list_concat(list(row_id), flatten(list(asked_ids))))) AS evidence,
       least(2.0, 1 + 0.25 * (count(DISTINCT event_id) - 1)) AS weight
FROM pairs
GROUP BY staff_id, cp_person_id
