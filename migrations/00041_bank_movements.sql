-- +goose Up
-- Bank movements imported from CODA statements and what they were booked to.
-- key identifies the movement (account, statement, sequence, detail) and is
-- also the ledger idempotency key: importing a file again books nothing twice.
CREATE TABLE bank_movements (
    tenant_id      bigint NOT NULL REFERENCES tenants (id),
    key            text NOT NULL,
    account        text NOT NULL,             -- the school's IBAN
    statement      int NOT NULL,              -- paper sequence of the statement
    sequence       int NOT NULL,
    detail         int NOT NULL,
    entry_date     date NOT NULL,
    amount         numeric(14, 2) NOT NULL CHECK (amount > 0),
    ogm            text NOT NULL DEFAULT '',
    communication  text NOT NULL DEFAULT '',
    counterparty_name    text NOT NULL DEFAULT '',
    counterparty_account text NOT NULL DEFAULT '',
    -- wallet: credited to pupil_id's wallet; suspense: waiting for manual
    -- allocation; allocated: moved from suspense to pupil_id's wallet.
    status         text NOT NULL CHECK (status IN ('wallet', 'suspense', 'allocated')),
    pupil_id       bigint,
    suggested_pupil_id bigint,
    transfer_id    bigint NOT NULL,
    allocation_transfer_id bigint,
    imported_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id),
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id),
    FOREIGN KEY (tenant_id, allocation_transfer_id) REFERENCES transfers (tenant_id, id)
);
CREATE INDEX bank_movements_suspense ON bank_movements (tenant_id, entry_date) WHERE status = 'suspense';
