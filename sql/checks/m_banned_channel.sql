-- Banned-channel traffic per staff member and channel.
SELECT staff_id,
       max(hour_start) AS occurred_at,
       min(hour_start) AS window_start,
       max(hour_start) + INTERVAL 1 HOUR AS window_end,
       'channel:' || channel AS subject,
       sum(message_count) || ' ' || channel || ' messages on a force device with ' || count(DISTINCT counterparty)
           || ' counterpart(ies): ' || coalesce(sum(message_count) FILTER (WHERE cp_kind <> 'colleague'), 0)
           || ' with members of the public (' || count(DISTINCT counterparty) FILTER (WHERE cp_kind = 'person')
           || ' on force systems, ' || count(DISTINCT counterparty) FILTER (WHERE cp_kind = 'unknown') || ' unknown), '
           || coalesce(sum(message_count) FILTER (WHERE cp_kind = 'colleague'), 0) || ' with colleagues' AS reason,
       evidence_ids('device_messages', list(row_id)) AS evidence,
       CASE WHEN bool_or(cp_kind <> 'colleague') THEN $public_weight ELSE $colleague_weight END AS weight
FROM run_messages
WHERE list_contains($banned_channels, channel)
GROUP BY staff_id, channel
HAVING sum(message_count) >= $min_messages
