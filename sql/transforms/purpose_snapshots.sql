-- The snapshot versions the days being labelled use (purpose_versions: a day and its version
-- per table, v_<table>), built once however many days: every stored version valid on one of
-- those dates, with its validity (_drop_date to _valid_to, exclusive). Each batch of days cuts
-- its own snapshots from these (transforms/policing_purpose.sql); built from the whole table per
-- batch instead, a first run's 28 days at 40,000 staff spent 27 s on it.
CREATE OR REPLACE TEMP TABLE pvi_staff AS
SELECT * FROM staff_during((SELECT min(v_staff) FROM purpose_versions), (SELECT max(v_staff) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pvi_persons AS
SELECT * FROM persons_during((SELECT min(v_persons) FROM purpose_versions), (SELECT max(v_persons) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pvi_person_markers AS
SELECT * FROM person_markers_during((SELECT min(v_person_markers) FROM purpose_versions), (SELECT max(v_person_markers) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pvi_cases AS
SELECT * FROM cases_during((SELECT min(v_cases) FROM purpose_versions), (SELECT max(v_cases) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pvi_case_people AS
SELECT * FROM case_people_during((SELECT min(v_case_people) FROM purpose_versions), (SELECT max(v_case_people) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pvi_assignments AS
SELECT * FROM assignments_during((SELECT min(v_assignments) FROM purpose_versions), (SELECT max(v_assignments) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pvi_operations AS
SELECT * FROM operations_during((SELECT min(v_operations) FROM purpose_versions), (SELECT max(v_operations) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pvi_operation_targets AS
SELECT * FROM operation_targets_during((SELECT min(v_operation_targets) FROM purpose_versions), (SELECT max(v_operation_targets) FROM purpose_versions));
CREATE OR REPLACE TEMP TABLE pvi_operation_staff AS
SELECT * FROM operation_staff_during((SELECT min(v_operation_staff) FROM purpose_versions), (SELECT max(v_operation_staff) FROM purpose_versions));
