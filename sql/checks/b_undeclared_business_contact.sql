-- Organisations contacted by (almost) only this staff member, mostly off duty, undeclared.
WITH org_contact AS (
    SELECT staff_id, cp_organisation_id AS organisation_id, sum(message_count) AS messages,
           coalesce(sum(message_count) FILTER (WHERE NOT on_duty), 0) AS off_duty, list(row_id) AS ids,
           min(hour_start) AS first_at, max(hour_start) + INTERVAL 1 HOUR AS last_at
    FROM run_messages
    WHERE cp_kind = 'organisation'
    GROUP BY ALL
), reach AS (
    SELECT organisation_id, count(DISTINCT staff_id) AS staff FROM org_contact GROUP BY organisation_id
)
SELECT o.staff_id,
       o.last_at - INTERVAL 1 HOUR AS occurred_at,
       o.first_at AS window_start,
       o.last_at AS window_end,
       'organisation:' || o.organisation_id AS subject,
       o.messages || ' messages/calls with an organisation ' || (r.staff - 1) || ' other staff contacted ('
           || o.off_duty || ' off duty); no business interest declared' AS reason,
       evidence_ids('device_messages', o.ids) AS evidence,
       1.0 AS weight
FROM org_contact o
JOIN reach r USING (organisation_id)
WHERE r.staff - 1 <= $max_other_staff
  AND o.messages >= $min_messages
  AND o.off_duty >= $min_off_duty_share * o.messages
  AND NOT EXISTS (SELECT 1 FROM ref_declarations d
                  WHERE d.staff_id = o.staff_id AND d.kind = 'business_interest' AND d.organisation_id = o.organisation_id)
