-- +goose Up
-- Periodic statements (décomptes périodiques) and annual estimates, owned by
-- package statements. Every row carries tenant_id and every key starts with
-- it. Issued statements, their payers and their sends are append-only
-- (triggers below): a correction is a new version of the statement.

-- Periods of a school year, set by the organising body before the year
-- starts (FEES.md §7: each 1 to 4 months, announced before the year).
CREATE TABLE statement_periods (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    id          bigint GENERATED ALWAYS AS IDENTITY,
    school_year text NOT NULL CHECK (school_year ~ '^[0-9]{4}-[0-9]{2}$'),
    seq         integer NOT NULL CHECK (seq BETWEEN 1 AND 12),
    starts_on   date NOT NULL,
    ends_on     date NOT NULL CHECK (ends_on >= starts_on), -- inclusive
    due_days    integer NOT NULL DEFAULT 30 CHECK (due_days BETWEEN 1 AND 120),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, school_year, seq)
);

-- Per-school statement settings: who families contact, where they pay.
CREATE TABLE statement_settings (
    tenant_id   bigint NOT NULL,
    school_id   bigint NOT NULL,
    contact     text NOT NULL DEFAULT '',
    portal_url  text NOT NULL DEFAULT '',
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, school_id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);

-- How a pupil's statement is split between guardians: none (one amount,
-- one communication, sent to every guardian), equal (each guardian pays an
-- equal share) or lines (each fee category to a named guardian; '*' is the
-- default guardian).
CREATE TABLE statement_splits (
    tenant_id   bigint NOT NULL,
    pupil_id    bigint NOT NULL,
    mode        text NOT NULL CHECK (mode IN ('none', 'equal', 'lines')),
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, pupil_id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id)
);
CREATE TABLE statement_split_lines (
    tenant_id   bigint NOT NULL,
    pupil_id    bigint NOT NULL,
    category    text NOT NULL,
    guardian_id bigint NOT NULL,
    PRIMARY KEY (tenant_id, pupil_id, category),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES statement_splits (tenant_id, pupil_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians (tenant_id, id)
);

-- A statement run: preview → issue → send, one per period at a time.
CREATE TABLE statement_runs (
    tenant_id   bigint NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    period_id   bigint NOT NULL,
    status      text NOT NULL CHECK (status IN ('issued', 'sent')),
    statements  integer NOT NULL DEFAULT 0,
    total       numeric(14,2) NOT NULL DEFAULT 0,
    issued_by   text NOT NULL,
    issued_at   timestamptz NOT NULL,
    sent_by     text,
    sent_at     timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, period_id) REFERENCES statement_periods (tenant_id, id)
);

-- Issued statements: numbered, immutable. A re-issue is a new row with the
-- same number and the next version, saying what changed.
CREATE TABLE statements (
    tenant_id    bigint NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    number       text NOT NULL,
    version      integer NOT NULL CHECK (version >= 1),
    period_id    bigint NOT NULL,
    run_id       bigint,
    school_id    bigint NOT NULL,
    pupil_id     bigint NOT NULL,
    total_due    numeric(14,2) NOT NULL,
    due_on       date NOT NULL,
    content      jsonb NOT NULL,         -- the snapshot every rendering reads
    content_hash bytea NOT NULL,         -- SHA-256 of content as stored
    changes      text NOT NULL DEFAULT '', -- what a re-issue changed
    issued_by    text NOT NULL,
    issued_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number, version),
    FOREIGN KEY (tenant_id, period_id) REFERENCES statement_periods (tenant_id, id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES statement_runs (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id)
);
CREATE INDEX statements_pupil ON statements (tenant_id, pupil_id, period_id);
CREATE INDEX statements_period ON statements (tenant_id, period_id);

-- Who pays what of a statement, each with a structured communication.
-- guardian_id is null when the statement is not split (any guardian pays).
CREATE TABLE statement_payers (
    tenant_id    bigint NOT NULL,
    statement_id bigint NOT NULL,
    payer        integer NOT NULL,
    guardian_id  bigint,
    amount       numeric(14,2) NOT NULL,
    ogm          text NOT NULL CHECK (ogm ~ '^[0-9]{12}$'),
    PRIMARY KEY (tenant_id, statement_id, payer),
    UNIQUE (tenant_id, ogm),
    FOREIGN KEY (tenant_id, statement_id) REFERENCES statements (tenant_id, id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians (tenant_id, id)
);

-- Fee lines put on a statement (the proof that a fee may be claimed).
CREATE TABLE statement_fee_lines (
    tenant_id    bigint NOT NULL,
    statement_id bigint NOT NULL,
    line_id      bigint NOT NULL,        -- fees line id
    PRIMARY KEY (tenant_id, statement_id, line_id),
    FOREIGN KEY (tenant_id, statement_id) REFERENCES statements (tenant_id, id)
);
CREATE INDEX statement_fee_lines_line ON statement_fee_lines (tenant_id, line_id);

-- Emails sent for a statement (link, never an attachment), and reminders.
CREATE TABLE statement_sends (
    tenant_id    bigint NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    statement_id bigint NOT NULL,
    guardian_id  bigint NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('statement', 'reminder')),
    email        text NOT NULL,
    sent_by      text NOT NULL,
    sent_at      timestamptz NOT NULL,
    error        text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, statement_id) REFERENCES statements (tenant_id, id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians (tenant_id, id)
);
CREATE INDEX statement_sends_statement ON statement_sends (tenant_id, statement_id);

-- Annual estimates (estimation des frais), per school year, school and
-- level or class; each change is a new version.
CREATE TABLE estimates (
    tenant_id    bigint NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    school_year  text NOT NULL CHECK (school_year ~ '^[0-9]{4}-[0-9]{2}$'),
    school_id    bigint NOT NULL,
    scope        text NOT NULL,          -- a level (P3) or a class code (P3A)
    version      integer NOT NULL CHECK (version >= 1),
    content      jsonb NOT NULL,
    content_hash bytea NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, school_year, school_id, scope, version),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);

-- Proof of sending of an estimate: who, when, which version.
CREATE TABLE estimate_sends (
    tenant_id    bigint NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    estimate_id  bigint NOT NULL,
    guardian_id  bigint NOT NULL,
    email        text NOT NULL,
    sent_by      text NOT NULL,
    sent_at      timestamptz NOT NULL,
    error        text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, estimate_id) REFERENCES estimates (tenant_id, id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians (tenant_id, id)
);
CREATE INDEX estimate_sends_estimate ON estimate_sends (tenant_id, estimate_id);

-- An admin's override of the "estimate sent" rule for a school year.
CREATE TABLE estimate_overrides (
    tenant_id    bigint NOT NULL REFERENCES tenants (id),
    school_year  text NOT NULL,
    reason       text NOT NULL CHECK (length(trim(reason)) >= 5),
    actor        text NOT NULL,
    at           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, school_year)
);

-- +goose StatementBegin
CREATE FUNCTION statements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'statements: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'check_violation';
END $$;
-- +goose StatementEnd
CREATE TRIGGER statements_immutable BEFORE UPDATE OR DELETE ON statements
    FOR EACH ROW EXECUTE FUNCTION statements_append_only();
CREATE TRIGGER statement_payers_immutable BEFORE UPDATE OR DELETE ON statement_payers
    FOR EACH ROW EXECUTE FUNCTION statements_append_only();
CREATE TRIGGER statement_fee_lines_immutable BEFORE UPDATE OR DELETE ON statement_fee_lines
    FOR EACH ROW EXECUTE FUNCTION statements_append_only();
CREATE TRIGGER statement_sends_immutable BEFORE UPDATE OR DELETE ON statement_sends
    FOR EACH ROW EXECUTE FUNCTION statements_append_only();
CREATE TRIGGER estimates_immutable BEFORE UPDATE OR DELETE ON estimates
    FOR EACH ROW EXECUTE FUNCTION statements_append_only();
CREATE TRIGGER estimate_sends_immutable BEFORE UPDATE OR DELETE ON estimate_sends
    FOR EACH ROW EXECUTE FUNCTION statements_append_only();
