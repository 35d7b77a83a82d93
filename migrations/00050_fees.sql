-- +goose Up
-- School fees (package fees): rule sets per school year and level group,
-- fees, the lines they charge to each pupil, and the guardians' opt-ins to
-- facultatif fees. See fees/doc.go.

-- Rule sets: the shipped data (fees/rules/*.toml) is copied here as version
-- 1 the first time a tenant reads a year; an organising-body admin's edit
-- adds a version. Versions are append-only; the highest one is in force.
CREATE TABLE fee_rule_sets (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    school_year text NOT NULL CHECK (school_year ~ '^[0-9]{4}-[0-9]{2}$'),
    level_group text NOT NULL CHECK (level_group IN ('M1-M3', 'P1-P3', 'P4-P6', 'S1-S6')),
    version     integer NOT NULL CHECK (version > 0),
    rules       jsonb NOT NULL,
    actor       text NOT NULL,            -- "system:shipped", "staff:12"
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, school_year, level_group, version)
);
CREATE TRIGGER fee_rule_sets_immutable BEFORE UPDATE OR DELETE ON fee_rule_sets FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

-- A fee: one activity or purchase, real cost per pupil.
CREATE TABLE fees (
    tenant_id    bigint NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    school_id    bigint NOT NULL,
    school_year  text NOT NULL CHECK (school_year ~ '^[0-9]{4}-[0-9]{2}$'),
    object       text NOT NULL CHECK (object <> ''),
    category     text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('obligatoire', 'facultatif')),
    dates        date[] NOT NULL CHECK (cardinality(dates) > 0),
    amount       numeric(14,2) NOT NULL CHECK (amount > 0),   -- real cost per pupil
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    cancel_reason text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);
CREATE INDEX fees_school_year ON fees (tenant_id, school_id, school_year);

-- A fee's line for one pupil. A facultatif fee's line waits for the
-- opt-in; a charged line is booked in the ledger (transfer_id, the last
-- booking of its amount); a credit line (credit = true) corrects an issued
-- line (credits_line_id) on the next statement. issued_ref is set by the
-- statements package once the line is on an issued statement: the line is
-- then frozen.
CREATE TABLE fee_lines (
    tenant_id       bigint NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    fee_id          bigint NOT NULL,
    pupil_id        bigint NOT NULL,
    level           text NOT NULL CHECK (level ~ '^(M[1-3]|P[1-6]|S[1-6])$'), -- the pupil's level when charged
    on_date         date NOT NULL,
    amount          numeric(14,2) NOT NULL CHECK (amount > 0),
    credit          boolean NOT NULL DEFAULT false,
    credits_line_id bigint,
    status          text NOT NULL CHECK (status IN ('awaiting_opt_in', 'charged', 'cancelled')),
    transfer_id     bigint,
    bookings        integer NOT NULL DEFAULT 0,  -- ledger bookings made for this line (idempotency keys)
    note            text NOT NULL DEFAULT '',
    issued_ref      text,
    issued_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, fee_id) REFERENCES fees (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id),
    FOREIGN KEY (tenant_id, credits_line_id) REFERENCES fee_lines (tenant_id, id),
    CHECK (credit = (credits_line_id IS NOT NULL)),
    CHECK (issued_ref IS NULL OR status = 'charged')
);
CREATE UNIQUE INDEX fee_lines_one_per_pupil ON fee_lines (tenant_id, fee_id, pupil_id) WHERE NOT credit;
CREATE INDEX fee_lines_pupil_date ON fee_lines (tenant_id, pupil_id, on_date);

-- Opt-ins (and refusals) of a facultatif fee, append-only: the latest row
-- of a (fee, pupil) is the family's answer; every row is kept as proof.
CREATE TABLE fee_opt_ins (
    tenant_id   bigint NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    fee_id      bigint NOT NULL,
    pupil_id    bigint NOT NULL,
    accepted    boolean NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('portal', 'staff')),
    guardian_id bigint,                       -- the guardian who answered
    actor       text NOT NULL,                -- "guardian:5" or "staff:12" (who recorded it)
    note        text NOT NULL DEFAULT '',     -- staff: how the answer was given (paper slip, phone…)
    at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, fee_id) REFERENCES fees (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians (tenant_id, id)
);
CREATE INDEX fee_opt_ins_fee ON fee_opt_ins (tenant_id, fee_id, pupil_id, id);
CREATE TRIGGER fee_opt_ins_immutable BEFORE UPDATE OR DELETE ON fee_opt_ins FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
