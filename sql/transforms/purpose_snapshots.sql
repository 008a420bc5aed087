-- The snapshot versions the days being labelled use (purpose_versions: a day and its version
-- per table, v_<table>), built once however many days: every stored version valid on one of
-- those dates, with its validity (_drop_date to _valid_to, exclusive), so a look-up joins the
-- version of its day. Built per day instead, a first run's 28 days built every snapshot 28
-- times (1.3 s a day for assignments alone at 40,000 staff).
CREATE OR REPLACE TEMP TABLE pv_staff AS
SELECT * FROM staff_during((SELECT min(v_staff) FROM purpose_versions), (SELECT max(v_staff) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pv_persons AS
SELECT * FROM persons_during((SELECT min(v_persons) FROM purpose_versions), (SELECT max(v_persons) FROM purpose_versions));
-- A person's markers as one list per version date (the list is what a function rule reads).
CREATE OR REPLACE TEMP TABLE pv_markers AS
SELECT _drop_date, person_id, list(DISTINCT marker ORDER BY marker) AS markers
FROM person_markers_at((SELECT list(DISTINCT v_person_markers) FROM purpose_versions)) GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE pv_cases AS
SELECT * FROM cases_during((SELECT min(v_cases) FROM purpose_versions), (SELECT max(v_cases) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pv_case_people AS
SELECT * FROM case_people_during((SELECT min(v_case_people) FROM purpose_versions), (SELECT max(v_case_people) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pv_assignments AS
SELECT * FROM assignments_during((SELECT min(v_assignments) FROM purpose_versions), (SELECT max(v_assignments) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pv_operations AS
SELECT * FROM operations_during((SELECT min(v_operations) FROM purpose_versions), (SELECT max(v_operations) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pv_operation_targets AS
SELECT * FROM operation_targets_during((SELECT min(v_operation_targets) FROM purpose_versions),
                                       (SELECT max(v_operation_targets) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pv_operation_staff AS
SELECT * FROM operation_staff_during((SELECT min(v_operation_staff) FROM purpose_versions),
                                     (SELECT max(v_operation_staff) FROM purpose_versions));
