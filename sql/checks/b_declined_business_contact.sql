-- Contact with a declined business's numbers after the decision.
WITH declined AS (
    SELECT staff_id, declaration_id, organisation_id, counterparty, coalesce(decided_at, declared_at) AS decided_on
    FROM ref_declarations
    WHERE kind = 'business_interest' AND status = 'declined'
), numbers AS (
    SELECT staff_id, declaration_id, organisation_id, decided_on, counterparty FROM declined WHERE counterparty IS NOT NULL
    UNION
    SELECT d.staff_id, d.declaration_id, d.organisation_id, d.decided_on, cd.counterparty
    FROM declined d JOIN ref_contact_directory cd ON cd.organisation_id = d.organisation_id
)
SELECT m.staff_id,
       max(m.hour_start) AS occurred_at,
       min(m.hour_start) AS window_start,
       max(m.hour_start) + INTERVAL 1 HOUR AS window_end,
       'organisation:' || coalesce(any_value(n.organisation_id), 'unknown') AS subject,
       sum(m.message_count) || ' messages/calls with a business after the staff member''s interest in it was declined on '
           || strftime(any_value(n.decided_on), '%d %b %Y') || ' (declaration ' || n.declaration_id || '; '
           || coalesce(sum(m.message_count) FILTER (WHERE NOT m.on_duty), 0) || ' off duty)' AS reason,
       list_concat(['declarations:' || n.declaration_id], evidence_ids('device_messages', list(m.row_id))) AS evidence,
       least(2.0, 1 + sum(m.message_count) / ($min_messages * 10.0)) AS weight
FROM run_messages m
JOIN numbers n ON n.staff_id = m.staff_id AND n.counterparty = m.counterparty
WHERE m.hour_start >= CAST(n.decided_on AS TIMESTAMPTZ) + to_days($grace_days)
GROUP BY m.staff_id, n.declaration_id
HAVING sum(m.message_count) >= $min_messages
