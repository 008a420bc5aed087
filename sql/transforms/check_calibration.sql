-- Calibrate tonight's hits to the force they run on (docs/scoring.md, "Calibrated to the force").
-- Runs after every check, over check_hits of $as_of. Parameters: $as_of, $max_share, $min_group,
-- $team_min_staff, $team_concentration.
--
-- A check's evidence for one member of staff is the sum of their hits' weights ("strength").
-- Where a check trips more than $max_share of a peer group (a unit function, or the force for
-- small functions) it is, there, a habit of the function rather than evidence: only the members
-- whose strength is above the group's (1 - $max_share) quantile keep their hits. Unless the hits
-- are concentrated in one small team: at least $team_min_staff members of one unit, at a share
-- at least $team_concentration times the rest of the group's (a ring cannot hide in numbers).
-- Every kept hit carries the share of its peer group (or of the force, if larger) that tripped
-- the check tonight, which scoring turns into the hit's rarity.

CREATE OR REPLACE TEMP TABLE calib_strength AS
SELECT check_id, staff_id, sum(weight) AS strength, count(*) AS hits
FROM check_hits WHERE as_of = $as_of
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
SELECT c.check_id, count(DISTINCT c.staff_id) / greatest((SELECT count(*) FROM ref_staff), 1) AS force_share
FROM calib_strength c GROUP BY c.check_id;

CREATE OR REPLACE TEMP TABLE calib_groups AS
SELECT c.check_id, s.peer_group, any_value(s.group_members) AS members, count(*) AS tripped,
       count(*) / any_value(s.group_members) AS share
FROM calib_strength c JOIN calib_staff s USING (staff_id)
GROUP BY c.check_id, s.peer_group;

-- Small teams where a check's hits concentrate.
CREATE OR REPLACE TEMP TABLE calib_teams AS
SELECT t.check_id, t.unit, t.tripped, t.members,
       (g.tripped - t.tripped) / greatest(g.members - t.members, 1) AS rest_share
FROM (
    SELECT c.check_id, s.unit, any_value(s.peer_group) AS peer_group, count(*) AS tripped, any_value(s.unit_members) AS members
    FROM calib_strength c JOIN calib_staff s USING (staff_id)
    GROUP BY c.check_id, s.unit
) t JOIN calib_groups g USING (check_id, peer_group)
WHERE t.tripped >= $team_min_staff
  AND t.tripped / t.members >= $team_concentration * greatest((g.tripped - t.tripped) / greatest(g.members - t.members, 1), 1.0 / g.members);

-- The line in each group where the check is common: the (1 - $max_share) quantile of strength
-- over every member (zero for those with no hit).
CREATE OR REPLACE TEMP TABLE calib_lines AS
SELECT g.check_id, g.peer_group, quantile_cont(coalesce(c.strength, 0), 1 - $max_share) AS line
FROM calib_groups g
JOIN calib_staff s ON s.peer_group = g.peer_group
LEFT JOIN calib_strength c ON c.check_id = g.check_id AND c.staff_id = s.staff_id
WHERE g.share > $max_share AND g.members >= $min_group
GROUP BY g.check_id, g.peer_group;

CREATE OR REPLACE TEMP TABLE calib_decisions AS
SELECT c.check_id, c.staff_id, c.strength, s.peer_group, s.unit, s.unit_function,
       greatest(coalesce(g.share, 0), coalesce(f.force_share, 0)) AS peer_share,
       g.share AS group_share, l.line,
       t.unit IS NOT NULL AS team_concentrated, t.tripped AS team_tripped, t.members AS team_members, t.rest_share,
       l.line IS NULL OR c.strength > l.line OR t.unit IS NOT NULL AS kept
FROM calib_strength c
LEFT JOIN calib_staff s USING (staff_id)
LEFT JOIN calib_groups g ON g.check_id = c.check_id AND g.peer_group = s.peer_group
LEFT JOIN calib_force f ON f.check_id = c.check_id
LEFT JOIN calib_lines l ON l.check_id = c.check_id AND l.peer_group = s.peer_group
LEFT JOIN calib_teams t ON t.check_id = c.check_id AND t.unit = s.unit;

-- Tonight's shares per check and unit function, kept: what `acu-audit checks stats` and the
-- night summary show, and what the run warns about.
DELETE FROM check_rates WHERE as_of = $as_of;
INSERT INTO check_rates
SELECT $as_of, c.check_id, s.unit_function, any_value(s.peer_group), count(*),
       count(d.staff_id), count(d.staff_id) / count(*),
       count(d.staff_id) FILTER (WHERE d.kept), any_value(l.line)
FROM (SELECT DISTINCT check_id FROM calib_strength) c
CROSS JOIN calib_staff s
LEFT JOIN calib_decisions d ON d.check_id = c.check_id AND d.staff_id = s.staff_id
LEFT JOIN calib_lines l ON l.check_id = c.check_id AND l.peer_group = s.peer_group
GROUP BY c.check_id, s.unit_function;

UPDATE check_hits h
SET peer_share = d.peer_share,
    team_concentrated = d.team_concentrated,
    reason = h.reason || CASE
        WHEN d.team_concentrated AND d.line IS NOT NULL
            THEN '; concentrated in their unit: ' || d.team_tripped || ' of its ' || d.team_members || ' staff trip this check, against '
                 || CAST(round(100 * d.rest_share) AS INTEGER) || '% of the rest of ' || d.peer_group
        WHEN d.line IS NOT NULL
            THEN '; ' || CAST(round(100 * d.group_share) AS INTEGER) || '% of ' || d.peer_group
                 || ' trip this check tonight, so only the few with the most are reported: their evidence weighs '
                 || round(d.strength, 2) || ' against the group''s ' || CAST(round(100 * (1 - $max_share)) AS INTEGER)
                 || 'th percentile of ' || round(d.line, 2)
        ELSE '' END
FROM calib_decisions d
WHERE h.as_of = $as_of AND h.check_id = d.check_id AND h.staff_id = d.staff_id AND d.kept;

DELETE FROM check_hits h
USING calib_decisions d
WHERE h.as_of = $as_of AND h.check_id = d.check_id AND h.staff_id = d.staff_id AND NOT d.kept;
