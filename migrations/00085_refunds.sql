-- +goose Up
-- Refunds by SEPA credit transfer (issue 14): a leaving pupil's balance, or
-- a bank transfer waiting in suspense, is refunded to an IBAN. A request
-- moves the money at once to refunds-payable (wallet → payable, or
-- suspense → payable); the accountant approves requests as a batch, whose
-- pain.001 file the school uploads to its bank; the bank statement (CODA)
-- that shows the debit empties the payable into the bank and marks the
-- refund paid.
CREATE TABLE refund_batches (
    tenant_id      bigint NOT NULL REFERENCES tenants (id),
    id             bigint GENERATED ALWAYS AS IDENTITY,
    message_id     text NOT NULL,             -- pain.001 MsgId and PmtInfId
    debtor_iban    text NOT NULL,
    execution_date date NOT NULL,
    total          numeric(14,2) NOT NULL CHECK (total > 0),
    count          int NOT NULL CHECK (count > 0),
    approved_by    text NOT NULL,
    approved_at    timestamptz NOT NULL,
    file           bytea NOT NULL,            -- the pain.001 document as downloaded
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, message_id)
);

CREATE TABLE refunds (
    tenant_id          bigint NOT NULL REFERENCES tenants (id),
    id                 bigint GENERATED ALWAYS AS IDENTITY,
    source             text NOT NULL CHECK (source IN ('wallet', 'suspense')),
    pupil_id           bigint,                -- source wallet
    bank_movement_key  text,                  -- source suspense
    beneficiary        text NOT NULL CHECK (beneficiary <> ''),
    iban               text NOT NULL,
    amount             numeric(14,2) NOT NULL CHECK (amount > 0),
    reason             text NOT NULL DEFAULT '',
    status             text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'paid')),
    requested_by       text NOT NULL,
    requested_at       timestamptz NOT NULL,
    transfer_id        bigint NOT NULL,       -- source → refunds-payable
    batch_id           bigint,
    end_to_end_id      text,
    paid_movement_key  text,                  -- the CODA debit that showed it left
    paid_transfer_id   bigint,                -- refunds-payable → bank
    paid_at            timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, end_to_end_id),
    UNIQUE (tenant_id, paid_movement_key),
    CHECK ((source = 'wallet') = (pupil_id IS NOT NULL) AND (source = 'suspense') = (bank_movement_key IS NOT NULL)),
    CHECK ((status = 'requested') = (batch_id IS NULL)),
    CHECK ((status = 'paid') = (paid_transfer_id IS NOT NULL)),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id),
    FOREIGN KEY (tenant_id, bank_movement_key) REFERENCES bank_movements (tenant_id, key),
    FOREIGN KEY (tenant_id, batch_id) REFERENCES refund_batches (tenant_id, id),
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id),
    FOREIGN KEY (tenant_id, paid_transfer_id) REFERENCES transfers (tenant_id, id)
);
CREATE INDEX refunds_open ON refunds (tenant_id, status) WHERE status <> 'paid';
-- A suspense movement is refunded once.
CREATE UNIQUE INDEX refunds_movement ON refunds (tenant_id, bank_movement_key) WHERE bank_movement_key IS NOT NULL;

ALTER TABLE bank_movements DROP CONSTRAINT bank_movements_status_check;
ALTER TABLE bank_movements ADD CONSTRAINT bank_movements_status_check
    CHECK (status IN ('wallet', 'suspense', 'allocated', 'payout', 'remittance', 'refunded'));
