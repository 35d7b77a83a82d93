-- +goose Up
-- The school's world: schools, classes, pupils, guardians, badges, stations,
-- devices, staff and the audit log. Every row carries tenant_id (the
-- organising body) and every key starts with it.

ALTER TABLE tenants ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';

CREATE TABLE schools (
    tenant_id  bigint NOT NULL REFERENCES tenants (id),
    id         bigint GENERATED ALWAYS AS IDENTITY,
    code       text NOT NULL,
    name       text NOT NULL,
    address    text NOT NULL DEFAULT '',
    iban       text NOT NULL DEFAULT '',
    bic        text NOT NULL DEFAULT '',
    beneficiary text NOT NULL DEFAULT '',
    -- Policies (DESIGN.md "Policies"), with safe defaults; see school.Policy.
    settings   jsonb NOT NULL DEFAULT '{}',
    timezone   text NOT NULL DEFAULT 'Europe/Brussels',
    free_meals boolean NOT NULL DEFAULT false, -- listed in the FWB free-meal programme
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);

CREATE TABLE classes (
    tenant_id  bigint NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    school_id  bigint NOT NULL,
    code       text NOT NULL,              -- "P3A"
    level      text NOT NULL CHECK (level ~ '^(M[1-3]|P[1-6]|S[1-6])$'),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, school_id, code),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);

CREATE TABLE pupils (
    tenant_id        bigint NOT NULL,
    id               bigint GENERATED ALWAYS AS IDENTITY,
    school_id        bigint NOT NULL,
    class_id         bigint,
    external_ref     text,                 -- id in the school's own software (import key)
    first_name       text NOT NULL,
    last_name        text NOT NULL,
    birth_date       date,
    level            text NOT NULL CHECK (level ~ '^(M[1-3]|P[1-6]|S[1-6])$'),
    diet             text[] NOT NULL DEFAULT '{}',   -- "vegetarian", "no-pork", ...
    allergens        text[] NOT NULL DEFAULT '{}',   -- EU 14: gluten, crustaceans, eggs, fish, peanuts, soy, milk, nuts, celery, mustard, sesame, sulphites, lupin, molluscs
    allergy_notes    text NOT NULL DEFAULT '',
    photo            bytea,
    photo_consent    boolean NOT NULL DEFAULT false,
    free_meals       boolean NOT NULL DEFAULT false, -- in the FWB free-meal programme
    wallet_account_id     bigint,                    -- ledger account wallet:<pupil>
    receivable_account_id bigint,                    -- ledger account receivable:<pupil>
    wallet_ogm       text,                            -- structured communication for bank top-ups
    active           boolean NOT NULL DEFAULT true,
    left_at          date,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_ref),
    UNIQUE (tenant_id, wallet_ogm),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id),
    FOREIGN KEY (tenant_id, class_id) REFERENCES classes (tenant_id, id),
    FOREIGN KEY (tenant_id, wallet_account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, receivable_account_id) REFERENCES accounts (tenant_id, id)
);
CREATE INDEX pupils_class ON pupils (tenant_id, class_id);
CREATE INDEX pupils_name ON pupils (tenant_id, lower(last_name), lower(first_name));

CREATE TABLE guardians (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    id          bigint GENERATED ALWAYS AS IDENTITY,
    external_ref text,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    email       text,
    phone       text NOT NULL DEFAULT '',
    address     text NOT NULL DEFAULT '',
    language    text NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'en', 'nl')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_ref)
);
CREATE UNIQUE INDEX guardians_email ON guardians (tenant_id, lower(email)) WHERE email IS NOT NULL;

-- Several guardians per pupil, several pupils per guardian.
CREATE TABLE guardian_pupils (
    tenant_id   bigint NOT NULL,
    guardian_id bigint NOT NULL,
    pupil_id    bigint NOT NULL,
    relation    text NOT NULL DEFAULT '',  -- "mère", "père", "tuteur" ...
    PRIMARY KEY (tenant_id, guardian_id, pupil_id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id)
);
CREATE INDEX guardian_pupils_pupil ON guardian_pupils (tenant_id, pupil_id);

-- Badges: RFID (uid = canonical upper-case hex) or QR (uid = random token).
CREATE TABLE badges (
    tenant_id  bigint NOT NULL REFERENCES tenants (id),
    id         bigint GENERATED ALWAYS AS IDENTITY,
    uid        text NOT NULL,
    tech       text NOT NULL CHECK (tech IN ('em4100', 'iso14443a', 'qr', 'wiegand')),
    printed_number text NOT NULL DEFAULT '',   -- EM4100 printed 10-digit number
    pupil_id   bigint,
    status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'lost', 'blocked', 'returned')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    change_seq bigint NOT NULL DEFAULT 0,      -- cursor for GET /api/v1/badges?since=
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, uid),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id)
);
CREATE INDEX badges_printed ON badges (tenant_id, printed_number) WHERE printed_number <> '';
CREATE INDEX badges_changes ON badges (tenant_id, change_seq);
CREATE SEQUENCE badge_change_seq;

CREATE TABLE badge_assignments (
    tenant_id   bigint NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    badge_id    bigint NOT NULL,
    pupil_id    bigint,
    status      text NOT NULL,
    actor       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, badge_id) REFERENCES badges (tenant_id, id)
);

-- Stations: where taps happen.
CREATE TABLE stations (
    tenant_id  bigint NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    school_id  bigint NOT NULL,
    code       text NOT NULL,            -- "canteen-1", unique per tenant (device API)
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('canteen', 'daycare', 'kiosk', 'enrolment')),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);

-- Devices (bridges) authenticate with an HMAC secret shown once at enrolment.
-- device_id is global (it appears in the Authorization header before the
-- tenant is known).
CREATE TABLE devices (
    device_id  text PRIMARY KEY,
    tenant_id  bigint NOT NULL REFERENCES tenants (id),
    name       text NOT NULL,
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    last_seen_at timestamptz
);
CREATE INDEX devices_tenant ON devices (tenant_id);

-- Staff users of the back office and station screens.
CREATE TABLE staff_users (
    tenant_id     bigint NOT NULL REFERENCES tenants (id),
    id            bigint GENERATED ALWAYS AS IDENTITY,
    login         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL,           -- argon2id, PHC string
    roles         text[] NOT NULL,         -- admin, canteen, daycare, kiosk, accountant
    school_id     bigint,                  -- null: all schools of the tenant
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK (roles <@ ARRAY['admin', 'canteen', 'daycare', 'kiosk', 'accountant']::text[])
);
CREATE UNIQUE INDEX staff_users_login ON staff_users (lower(login));

-- Audit log of staff (and system) actions; append-only.
CREATE TABLE audit_log (
    tenant_id  bigint NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,              -- "staff:12", "guardian:5", "device:abc", "system"
    action     text NOT NULL,              -- "badge.assign", "pupil.view_allergies", ...
    subject    text NOT NULL DEFAULT '',   -- "pupil:42"
    detail     jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_at ON audit_log (tenant_id, at);
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
