-- +goose Up
-- Pupils leaving and the retention of their personal data (issue 14).
-- Package school owns these columns and the table.

-- Which guardians of a pupil receive its statements (and estimates):
-- every guardian by default; at least one always does.
ALTER TABLE guardian_pupils ADD COLUMN statements boolean NOT NULL DEFAULT true;

-- A pupil leaves on left_at (the first day they are no longer at school):
-- it may be set ahead, the pupil stays active until that day. After the
-- organising body's retention period the scheduled job pseudonymises the
-- pupil (and the guardians who have no other child kept):
-- pseudonymised_at says when.
ALTER TABLE pupils ADD COLUMN pseudonymised_at timestamptz;
ALTER TABLE guardians ADD COLUMN pseudonymised_at timestamptz;

-- Pupils already inactive without a date (imported inactive) left, for
-- the retention clock, the day they were created.
UPDATE pupils SET left_at = created_at::date WHERE NOT active AND left_at IS NULL;
CREATE INDEX pupils_leaving ON pupils (tenant_id, left_at) WHERE left_at IS NOT NULL AND pseudonymised_at IS NULL;

-- The retention period each organising body sets, in months after the
-- leaving date (no row: school.DefaultRetentionMonths).
CREATE TABLE retention_settings (
    tenant_id  bigint PRIMARY KEY REFERENCES tenants (id),
    months     int NOT NULL CHECK (months BETWEEN 1 AND 120),
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL
);
