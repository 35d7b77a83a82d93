-- +goose Up
-- Security (issue 12): a device (bridge) is bound to one school; its taps
-- are refused at another school's stations, and only admins of that school
-- (or of every school) see and revoke it. Null: enrolled before binding,
-- for the whole organising body (only admins of every school manage it).
ALTER TABLE devices ADD COLUMN school_id bigint;
ALTER TABLE devices ADD FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id);

-- Logins are throttled before the password is hashed: each attempt is a
-- row (in_flight until it fails or succeeds), counted under an advisory
-- lock per key, so parallel attempts cannot slip past the count.
ALTER TABLE login_failures ADD COLUMN in_flight boolean NOT NULL DEFAULT false;
