-- +goose Up
-- The demo (cmd/tartine demo) seeds menus, bookings, fees and a month of
-- history once per organising body: a restart finds this row and leaves
-- what the user changed since (edited menus, cancelled meals) alone.
CREATE TABLE demo_seeds (
    tenant_id  bigint PRIMARY KEY REFERENCES tenants (id),
    demo_day   date NOT NULL,                 -- the demo clock's day at seeding
    seeded_at  timestamptz NOT NULL DEFAULT now()
);
