-- +goose Up
-- Sick days (issue 14): a guardian reports a child absent (sick) for a day
-- in the portal; the school's policy (schools.settings
-- "sick_day_after_cutoff") decides what happens to that day's bookings.
-- The kitchen and daycare lists show the absence. Package booking owns it.
CREATE TABLE pupil_absences (
    tenant_id   bigint NOT NULL,
    school_id   bigint NOT NULL,
    pupil_id    bigint NOT NULL,
    day         date NOT NULL,
    reason      text NOT NULL DEFAULT 'sick' CHECK (reason IN ('sick')),
    reported_by text NOT NULL,
    reported_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, pupil_id, day),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id)
);

CREATE INDEX pupil_absences_school_day ON pupil_absences (tenant_id, school_id, day);

