-- +goose Up
-- Wallet structured communications (sepa.WalletOGM): each tenant gets a
-- three-digit OGM prefix, chosen once, and a counter of wallet sequence
-- numbers, bumped under the tenant row lock when a pupil is created, never
-- reused.
ALTER TABLE tenants ADD COLUMN ogm_prefix integer UNIQUE CHECK (ogm_prefix BETWEEN 1 AND 999);
ALTER TABLE tenants ADD COLUMN wallet_seq bigint NOT NULL DEFAULT 0;

-- Kiosk stations book cash into their own drawer account cash:<code>.
ALTER TABLE stations ADD COLUMN cash_account_id bigint;
ALTER TABLE stations ADD FOREIGN KEY (tenant_id, cash_account_id) REFERENCES accounts (tenant_id, id);

-- Hot path of the terminal: a tap's badge is looked up by (tenant, uid),
-- covered by UNIQUE (tenant_id, uid). Name search at the kiosk uses
-- pupils_name. History of a badge:
CREATE INDEX badge_assignments_badge ON badge_assignments (tenant_id, badge_id, id);
-- Pupils of a guardian are covered by the primary key of guardian_pupils.
