-- Views of a victim's record within $days days of contact with her, with heavy contact overall.
WITH victim_pairs AS (
    SELECT pc.*
    FROM run_person_contact pc JOIN ref_person_flags f USING (person_id)
    WHERE f.is_victim AND f.person_staff_id IS NULL
), peers AS (
    SELECT peer_group, quantile_cont(messages, $peer_quantile) AS peer_q FROM victim_pairs GROUP BY peer_group
), open_case AS (
    SELECT DISTINCT staff_id, person_id FROM staff_case_people
    WHERE coalesce(unassigned_at, TIMESTAMPTZ 'infinity') > $window_start_utc
      AND coalesce(closed_at, TIMESTAMPTZ 'infinity') > $window_start_utc
), heavy_pairs AS (
    -- Only pairs whose contact could qualify: the rest cannot hit, whatever the views.
    SELECT vp.* FROM victim_pairs vp JOIN peers p USING (peer_group)
    WHERE vp.messages >= greatest($min_messages, least($peer_multiple, $open_case_multiple) * p.peer_q)
), views AS (
    SELECT l.staff_id, l.person_id, l.event_id, l.occurred_at, l.local_day
    FROM run_lookups l
    JOIN heavy_pairs vp USING (staff_id, person_id)
    WHERE reads_record(l.action)
), near_contact AS (
    SELECT DISTINCT v.staff_id, v.person_id, v.event_id, v.occurred_at, v.local_day
    FROM views v
    JOIN run_messages m ON m.staff_id = v.staff_id AND m.cp_person_id = v.person_id
     AND m.hour_start BETWEEN v.occurred_at - to_days($days) AND v.occurred_at + to_days($days)
)
SELECT n.staff_id,
       greatest(max(n.occurred_at), any_value(vp.last_hour)) AS occurred_at,  -- views and messages are its evidence
       min(n.occurred_at) AS window_start,
       max(n.occurred_at) AS window_end,
       'person:' || n.person_id AS subject,
       count(*) || ' views of the record of a victim or vulnerable person on ' || days_in_window(n.local_day)
           || ' days, each within ' || $days || ' days of contact with her; ' || any_value(vp.messages)
           || ' messages/calls with her in the window (' || any_value(vp.peer_group) || ' peers'' '
           || CAST(round($peer_quantile * 100) AS INTEGER) || 'th percentile per victim: ' || round(any_value(p.peer_q)) || ')' AS reason,
       list_concat(evidence_ids('access_events', list(n.event_id)), evidence_ids('device_messages', any_value(vp.row_ids))) AS evidence,
       least(2.0, count(*) / $min_views) AS weight
FROM near_contact n
JOIN victim_pairs vp USING (staff_id, person_id)
JOIN peers p ON p.peer_group = vp.peer_group
LEFT JOIN open_case oc ON oc.staff_id = n.staff_id AND oc.person_id = n.person_id
GROUP BY n.staff_id, n.person_id
HAVING count(*) >= $min_views
   AND days_in_window(n.local_day) >= $min_view_days
   AND any_value(vp.messages) >= greatest($min_messages,
           CASE WHEN bool_or(oc.person_id IS NOT NULL) THEN $open_case_multiple ELSE $peer_multiple END * any_value(p.peer_q))
