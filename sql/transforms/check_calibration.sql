-- Calibrate the checks to the force they run on, over the span the queue covers
-- (docs/scoring.md, "Calibrated to the force, over the span"). Runs after every check of the
-- night $as_of, over every check result of the nights $span_start .. $as_of (check_hits, kept
-- or not: the span's trips). Parameters: $as_of, $span_start, $max_share, $min_group,
-- $team_min_staff, $team_concentration, $habit_weight, $estimate_unseen_span, $span_days, $window_days.
--
-- An *item* is one piece of evidence: a check's finding about one subject (a person, a number,
-- a record, a channel) over the span, at its strongest night; a check whose subject is a kind of
-- look-up (a burst) gives one item per burst. A check's *strength* for a member of staff is the
-- sum of their items' weights over the span. Where a check trips more than $max_share of a peer
-- group over the span (a unit function, or the force for small functions), it is there a habit
-- of the function rather than evidence: only the members whose strength is above the group's
-- (1 - $max_share) quantile keep it. Unless it concentrates in one small team: at least
-- $team_min_staff members of one unit, at a share $team_concentration times the rest of the
-- group's, where the rest of the group has it no more than $max_share (a ring cannot hide in
-- numbers; a unit sharing its function's habit is not a ring). Rare on a night is not rare over two months: the
-- share and the line are measured over the span, not night by night.
--
-- A span not yet fully seen (the first nights of a history: a span of results ending on the first
-- night reviewed covers one 28-day window, not 90 nights of them) shows a check rarer than it is.
-- Its share is therefore estimated over the whole span: a member of staff who trips it with
-- probability p over the days seen trips it with 1 - (1 - p) ^ (span / seen) over the span
-- (span = $span_days + $window_days - 1 days of behaviour, seen = the days the span's results
-- cover so far), and where that is above $max_share only the top $max_share of the span's
-- expected trippers (scaled to the share seen) keep it. A full span is measured as it is.

CREATE OR REPLACE TEMP TABLE span_items AS
SELECT check_id, staff_id, item_key, max(weight) AS weight,
       -- the item's strongest observation, the latest night on a tie: the hit shown for it
       arg_max(hit_id, (weight, as_of)) AS hit_id, arg_max(as_of, (weight, as_of)) AS found_on,
       min(coalesce(window_start, occurred_at, window_end)) AS evidence_start,
       max(coalesce(window_end, occurred_at, window_start)) AS evidence_at,
       max(as_of) AS last_found
FROM (
    SELECT *, CASE WHEN subject LIKE '% look-ups' THEN hit_id ELSE coalesce(subject, '') END AS item_key
    FROM check_hits
    WHERE as_of BETWEEN $span_start AND $as_of AND route = 'leads'
)
GROUP BY check_id, staff_id, item_key;

CREATE OR REPLACE TEMP TABLE calib_maturity AS
SELECT CASE WHEN NOT $estimate_unseen_span THEN 1.0 ELSE greatest(1.0, ($span_days + $window_days - 1)
                     / greatest(1.0, date_diff('day', coalesce(min(as_of), $as_of::DATE), $as_of::DATE) + $window_days)) END AS factor
FROM check_hits WHERE as_of BETWEEN $span_start AND $as_of;

CREATE OR REPLACE TEMP TABLE calib_strength AS
-- Rounded: a sum's last bit depends on the order rows are added in, and the line is a quantile
-- of strengths, so ties must stay ties however the rows were stored.
SELECT check_id, staff_id, round(sum(weight), 9) AS strength, count(*) AS items
FROM span_items
GROUP BY check_id, staff_id;

-- Calibration groups: the peer group when it has at least $min_group members (a tail of a few
-- per cent cannot be measured in fewer), else the whole force.
CREATE OR REPLACE TEMP TABLE calib_staff AS
SELECT staff_id, unit, unit_function, peer_group,
       count(*) OVER (PARTITION BY peer_group) AS group_members,
       count(*) OVER (PARTITION BY unit) AS unit_members
FROM (
    SELECT staff_id, unit, unit_function,
           CASE WHEN count(*) OVER (PARTITION BY coalesce(peer_group, 'force')) >= $min_group
                THEN coalesce(peer_group, 'force') ELSE 'force' END AS peer_group
    FROM ref_staff
);

CREATE OR REPLACE TEMP TABLE calib_force AS
SELECT check_id, 1 - pow(1 - seen_share, (SELECT factor FROM calib_maturity)) AS force_share
FROM (SELECT c.check_id, count(DISTINCT c.staff_id) / greatest((SELECT count(*) FROM ref_staff), 1) AS seen_share
      FROM calib_strength c GROUP BY c.check_id);

-- share: over the span, estimated where it is not yet fully seen; seen_share: what was seen.
CREATE OR REPLACE TEMP TABLE calib_groups AS
SELECT *, 1 - pow(1 - seen_share, (SELECT factor FROM calib_maturity)) AS share
FROM (
    SELECT c.check_id, s.peer_group, any_value(s.group_members) AS members, count(*) AS tripped,
           count(*) / any_value(s.group_members) AS seen_share
    FROM calib_strength c JOIN calib_staff s USING (staff_id)
    GROUP BY c.check_id, s.peer_group
);

-- Small teams where a check's evidence concentrates.
CREATE OR REPLACE TEMP TABLE calib_teams AS
SELECT t.check_id, t.unit, t.tripped, t.members,
       (g.tripped - t.tripped) / greatest(g.members - t.members, 1) AS rest_share
FROM (
    SELECT c.check_id, s.unit, any_value(s.peer_group) AS peer_group, count(*) AS tripped, any_value(s.unit_members) AS members
    FROM calib_strength c JOIN calib_staff s USING (staff_id)
    GROUP BY c.check_id, s.unit
) t JOIN calib_groups g USING (check_id, peer_group)
WHERE t.tripped >= $team_min_staff
  AND t.tripped / t.members >= $team_concentration * greatest((g.tripped - t.tripped) / greatest(g.members - t.members, 1), 1.0 / g.members)
  -- a ring hides in numbers only where, without it, the check would be rare in the group; where the
  -- rest of the group has it too, the team shares a habit of its function
  AND (g.tripped - t.tripped) / greatest(g.members - t.members, 1) <= $max_share;

-- The line in each group where the check is common: the (1 - $max_share) quantile of strength
-- over every member (zero for those with none); on a span not yet fully seen, the quantile that
-- keeps the same part of those seen as $max_share is of those expected over the span.
CREATE OR REPLACE TEMP TABLE calib_lines AS
WITH strengths AS (
    SELECT g.check_id, g.peer_group, 1 - $max_share * any_value(g.seen_share) / any_value(g.share) AS q,
           list_sort(list(coalesce(c.strength, 0))) AS s
    FROM calib_groups g
    JOIN calib_staff s ON s.peer_group = g.peer_group
    LEFT JOIN calib_strength c ON c.check_id = g.check_id AND c.staff_id = s.staff_id
    WHERE g.share > $max_share AND g.members >= $min_group
    GROUP BY g.check_id, g.peer_group
), positions AS (  -- quantile_cont's interpolation, at a quantile that differs by group
    SELECT check_id, peer_group, s, q * (len(s) - 1) AS pos FROM strengths
)
SELECT check_id, peer_group,
       s[floor(pos)::BIGINT + 1] + (pos - floor(pos)) * (s[ceil(pos)::BIGINT + 1] - s[floor(pos)::BIGINT + 1]) AS line
FROM positions;

-- How rare *that much of that evidence* is. Two shares over the span, each the larger of the peer
-- group's and the force's: how many trip the check at all (is the behaviour a habit here?) and how
-- many have at least this member's strength of it (is this much of it unusual?). The rarity share
-- is their weighted geometric mean (trip share ^ $habit_weight x tail share ^ (1 - $habit_weight)):
-- the heaviest user of a habit a fifth of a function has is unusual but not specific; a single
-- instance of something nobody else does is both.
CREATE OR REPLACE TEMP TABLE calib_tails AS
SELECT c.check_id, c.staff_id,
       count(*) OVER (PARTITION BY c.check_id, s.peer_group ORDER BY c.strength DESC
                      RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) / s.group_members AS group_tail,
       count(*) OVER (PARTITION BY c.check_id ORDER BY c.strength DESC
                      RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) / greatest((SELECT count(*) FROM ref_staff), 1) AS force_tail
FROM calib_strength c JOIN calib_staff s USING (staff_id);

-- Tonight's decision per check and member of staff, kept for scoring (span_calibration) and
-- explaining (check_rates, the reasons of tonight's hits).
DELETE FROM span_calibration WHERE as_of = $as_of;
INSERT INTO span_calibration
SELECT $as_of, c.check_id, c.staff_id, c.strength, c.items, s.peer_group,
       pow(greatest(coalesce(g.share, 0), coalesce(f.force_share, 0)), $habit_weight)
            * pow(greatest(coalesce(r.group_tail, 0), coalesce(r.force_tail, 0)), 1 - $habit_weight) AS peer_share,
       g.share AS group_share, l.line,
       t.unit IS NOT NULL AS team_concentrated, t.tripped AS team_tripped, t.members AS team_members, t.rest_share,
       l.line IS NULL OR c.strength > l.line OR t.unit IS NOT NULL AS kept
FROM calib_strength c
LEFT JOIN calib_staff s USING (staff_id)
LEFT JOIN calib_tails r ON r.check_id = c.check_id AND r.staff_id = c.staff_id
LEFT JOIN calib_groups g ON g.check_id = c.check_id AND g.peer_group = s.peer_group
LEFT JOIN calib_force f ON f.check_id = c.check_id
LEFT JOIN calib_lines l ON l.check_id = c.check_id AND l.peer_group = s.peer_group
LEFT JOIN calib_teams t ON t.check_id = c.check_id AND t.unit = s.unit;

-- The span's shares per check and unit function, kept: what `acu-audit checks stats` and the
-- night summary show, and what the run warns about.
DELETE FROM check_rates WHERE as_of = $as_of;
INSERT INTO check_rates
SELECT $as_of, c.check_id, s.unit_function, any_value(s.peer_group), count(*),
       count(d.staff_id), count(d.staff_id) / count(*),
       count(d.staff_id) FILTER (WHERE d.kept), any_value(l.line)
FROM (SELECT DISTINCT check_id FROM calib_strength) c
CROSS JOIN calib_staff s
LEFT JOIN span_calibration d ON d.as_of = $as_of AND d.check_id = c.check_id AND d.staff_id = s.staff_id
LEFT JOIN calib_lines l ON l.check_id = c.check_id AND l.peer_group = s.peer_group
GROUP BY c.check_id, s.unit_function;

-- Tonight's hits: kept or not, with their measured share and, where the check is common, why
-- they were kept. Written again rather than updated in place: an UPDATE of rows appended by the
-- night's checks took 5-7 s at 40,000 staff; rewriting them takes under 0.2 s.
CREATE OR REPLACE TEMP TABLE calibrated_hits AS
SELECT h.* REPLACE (
    CASE WHEN d.staff_id IS NULL THEN h.kept ELSE d.kept END AS kept,
    CASE WHEN d.staff_id IS NULL THEN h.peer_share ELSE d.peer_share END AS peer_share,
    CASE WHEN d.staff_id IS NULL THEN h.team_concentrated ELSE d.team_concentrated END AS team_concentrated,
    h.reason || CASE
        WHEN d.staff_id IS NULL THEN ''
        WHEN NOT d.kept THEN ''
        WHEN d.team_concentrated AND d.line IS NOT NULL
            THEN '; concentrated in their unit: ' || d.team_tripped || ' of its ' || d.team_members || ' staff trip this check, against '
                 || CAST(round(100 * d.rest_share) AS INTEGER) || '% of the rest of ' || d.peer_group
        WHEN d.line IS NOT NULL
            THEN '; ' || CAST(round(100 * d.group_share) AS INTEGER) || '% of ' || d.peer_group
                 || ' trip this check over the span, so only the few with the most are reported: their evidence weighs '
                 || round(d.strength, 2) || ' against the group''s ' || CAST(round(100 * (1 - $max_share)) AS INTEGER)
                 || 'th percentile of ' || round(d.line, 2)
        ELSE '' END AS reason)
FROM check_hits h
LEFT JOIN span_calibration d ON d.as_of = $as_of AND d.check_id = h.check_id AND d.staff_id = h.staff_id
WHERE h.as_of = $as_of
ORDER BY h.rowid;

DELETE FROM check_hits WHERE as_of = $as_of;
INSERT INTO check_hits SELECT * FROM calibrated_hits;
DROP TABLE calibrated_hits;
