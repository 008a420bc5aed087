-- Reference data as of a date: the snapshot version from the latest drop on or
-- before it (data contract). A late older snapshot never overrides a newer one,
-- and a re-run for an old date sees the reference data of that date.
-- Usage: SELECT * FROM staff_as_of(DATE '2026-03-04')  (or a bound parameter).

CREATE OR REPLACE MACRO staff_as_of(as_of) AS TABLE
    SELECT * FROM staff WHERE _drop_date = (SELECT max(_drop_date) FROM staff WHERE _drop_date <= as_of);
CREATE OR REPLACE MACRO persons_as_of(as_of) AS TABLE
    SELECT * FROM persons WHERE _drop_date = (SELECT max(_drop_date) FROM persons WHERE _drop_date <= as_of);
CREATE OR REPLACE MACRO person_markers_as_of(as_of) AS TABLE
    SELECT * FROM person_markers WHERE _drop_date = (SELECT max(_drop_date) FROM person_markers WHERE _drop_date <= as_of);
CREATE OR REPLACE MACRO cases_as_of(as_of) AS TABLE
    SELECT * FROM cases WHERE _drop_date = (SELECT max(_drop_date) FROM cases WHERE _drop_date <= as_of);
CREATE OR REPLACE MACRO case_people_as_of(as_of) AS TABLE
    SELECT * FROM case_people WHERE _drop_date = (SELECT max(_drop_date) FROM case_people WHERE _drop_date <= as_of);
CREATE OR REPLACE MACRO assignments_as_of(as_of) AS TABLE
    SELECT * FROM assignments WHERE _drop_date = (SELECT max(_drop_date) FROM assignments WHERE _drop_date <= as_of);
CREATE OR REPLACE MACRO operations_as_of(as_of) AS TABLE
    SELECT * FROM operations WHERE _drop_date = (SELECT max(_drop_date) FROM operations WHERE _drop_date <= as_of);
CREATE OR REPLACE MACRO operation_targets_as_of(as_of) AS TABLE
    SELECT * FROM operation_targets WHERE _drop_date = (SELECT max(_drop_date) FROM operation_targets WHERE _drop_date <= as_of);
CREATE OR REPLACE MACRO operation_staff_as_of(as_of) AS TABLE
    SELECT * FROM operation_staff WHERE _drop_date = (SELECT max(_drop_date) FROM operation_staff WHERE _drop_date <= as_of);
CREATE OR REPLACE MACRO contact_directory_as_of(as_of) AS TABLE
    SELECT * FROM contact_directory WHERE _drop_date = (SELECT max(_drop_date) FROM contact_directory WHERE _drop_date <= as_of);
CREATE OR REPLACE MACRO declarations_as_of(as_of) AS TABLE
    SELECT * FROM declarations WHERE _drop_date = (SELECT max(_drop_date) FROM declarations WHERE _drop_date <= as_of);
