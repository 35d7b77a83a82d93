-- +goose Up
-- Issue 13, "each table has one owner": the school's OGM counters leave the
-- ledger's tenants row (00011) for a table of their own, owned by school.
-- A tenant's three-digit OGM prefix (chosen once, unique) and its counter
-- of wallet sequence numbers (bumped under this row's lock, never reused).
-- A tenant without a prefix has no row.
CREATE TABLE ogm_counters (
    tenant_id  bigint PRIMARY KEY REFERENCES tenants (id),
    ogm_prefix integer NOT NULL UNIQUE CHECK (ogm_prefix BETWEEN 1 AND 999),
    wallet_seq bigint NOT NULL DEFAULT 0
);

INSERT INTO ogm_counters (tenant_id, ogm_prefix, wallet_seq)
SELECT id, ogm_prefix, wallet_seq FROM tenants WHERE ogm_prefix IS NOT NULL;

ALTER TABLE tenants DROP COLUMN ogm_prefix, DROP COLUMN wallet_seq;
