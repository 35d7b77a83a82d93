-- +goose Up
-- Parent portal (package portal): one login per person, linked to guardian
-- rows in one or more tenants by invitation codes.

-- A portal account is global: a parent with children in two organising
-- bodies has one login. Access to a pupil always goes through
-- portal_account_guardians → guardian_pupils in the pupil's tenant.
CREATE TABLE portal_accounts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,               -- argon2id PHC string
    language      text NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'en', 'nl')),
    low_balance_threshold numeric(14,2) NOT NULL DEFAULT 5.00 CHECK (low_balance_threshold >= 0),
    low_balance_alert     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX portal_accounts_email ON portal_accounts (lower(email));

CREATE TABLE portal_account_guardians (
    tenant_id   bigint NOT NULL,
    guardian_id bigint NOT NULL,
    account_id  bigint NOT NULL REFERENCES portal_accounts (id),
    linked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, guardian_id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians (tenant_id, id)
);
CREATE INDEX portal_account_guardians_account ON portal_account_guardians (account_id, tenant_id);

-- Invitation codes printed on letters. Only the SHA-256 of the code is kept;
-- printing a new letter replaces the guardian's unused code.
CREATE TABLE portal_invitations (
    tenant_id   bigint NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    guardian_id bigint NOT NULL,
    code_hash   bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    account_id  bigint REFERENCES portal_accounts (id),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians (tenant_id, id)
);
CREATE INDEX portal_invitations_guardian ON portal_invitations (tenant_id, guardian_id);

-- Password reset links: hashed token, expiry, single use.
CREATE TABLE portal_password_resets (
    token_hash bytea PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES portal_accounts (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX portal_password_resets_account ON portal_password_resets (account_id);

-- Low-balance alerts sent, so a family gets one email per dip, not one per meal.
CREATE TABLE portal_low_balance_alerts (
    tenant_id  bigint NOT NULL,
    pupil_id   bigint NOT NULL,
    account_id bigint NOT NULL REFERENCES portal_accounts (id),
    sent_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, pupil_id, account_id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id)
);
