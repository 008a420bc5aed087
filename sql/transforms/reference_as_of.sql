-- Reference data for one run, as of its as-of date ($as_of): one temp table per
-- snapshot, read by the checks as ref_<table>. Plus the staff member's peer
-- group: their unit function, or the whole force when the function has fewer
-- than $min_peer_group members.

CREATE OR REPLACE TEMP TABLE ref_staff AS
SELECT s.staff_id, s.surname, s.forenames, s.role, s.unit, s.unit_function, s.start_date, s.end_date,
       s.home_postcode, s.home_address_id,
       CASE WHEN count(*) OVER (PARTITION BY s.unit_function) >= $min_peer_group THEN s.unit_function ELSE 'force' END AS peer_group
FROM staff_as_of($as_of) s;

CREATE OR REPLACE TEMP TABLE ref_persons AS
SELECT person_id, surname, forenames, birth_year, postcode, address_id, staff_id FROM persons_as_of($as_of);

-- Markers as a list per person, as of the run date.
CREATE OR REPLACE TEMP TABLE ref_person_markers AS
SELECT person_id, list(DISTINCT marker ORDER BY marker) AS markers FROM person_markers_as_of($as_of) GROUP BY person_id;

CREATE OR REPLACE TEMP TABLE ref_cases AS
SELECT case_id, case_type, opened_at, closed_at, owning_unit FROM cases_as_of($as_of);

CREATE OR REPLACE TEMP TABLE ref_case_people AS
SELECT row_id, case_id, person_id, role FROM case_people_as_of($as_of);

CREATE OR REPLACE TEMP TABLE ref_assignments AS
SELECT row_id, case_id, staff_id, assigned_at, unassigned_at, assignment_role FROM assignments_as_of($as_of);

CREATE OR REPLACE TEMP TABLE ref_operations AS
SELECT operation_id, executed_at, owning_unit FROM operations_as_of($as_of);

CREATE OR REPLACE TEMP TABLE ref_operation_targets AS
SELECT row_id, operation_id, person_id FROM operation_targets_as_of($as_of);

CREATE OR REPLACE TEMP TABLE ref_operation_staff AS
SELECT row_id, operation_id, staff_id FROM operation_staff_as_of($as_of);

CREATE OR REPLACE TEMP TABLE ref_contact_directory AS
SELECT row_id, counterparty, person_id, staff_id, organisation_id, source FROM contact_directory_as_of($as_of);

CREATE OR REPLACE TEMP TABLE ref_declarations AS
SELECT declaration_id, staff_id, kind, person_id, counterparty, organisation_id, relationship, status,
       declared_at, decided_at, conditions
FROM declarations_as_of($as_of);
