-- +goose Up
-- Instalment plans (issue 10): for a statement whose total is over 50 €, a
-- guardian asks in the portal to pay in parts; the school accepts or
-- refuses in the back office. An accepted plan's parts (one a month from
-- the statement's due date) are listed on the statements of the periods
-- they fall in.
CREATE TABLE instalment_plans (
    tenant_id    bigint NOT NULL REFERENCES tenants (id),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    statement_id bigint NOT NULL,
    number       text NOT NULL,                -- the statement's number
    pupil_id     bigint NOT NULL,
    guardian_id  bigint NOT NULL,
    total        numeric(14, 2) NOT NULL CHECK (total > 50),
    parts        int NOT NULL CHECK (parts BETWEEN 2 AND 10),
    note         text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'accepted', 'refused')),
    requested_at timestamptz NOT NULL,
    decided_by   text,
    decided_at   timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, statement_id, guardian_id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians (tenant_id, id)
);

CREATE TABLE instalment_parts (
    tenant_id bigint NOT NULL,
    plan_id   bigint NOT NULL,
    seq       int NOT NULL CHECK (seq >= 1),
    due_on    date NOT NULL,
    amount    numeric(14, 2) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (tenant_id, plan_id, seq),
    FOREIGN KEY (tenant_id, plan_id) REFERENCES instalment_plans (tenant_id, id)
);
CREATE INDEX instalment_parts_due ON instalment_parts (tenant_id, due_on);
