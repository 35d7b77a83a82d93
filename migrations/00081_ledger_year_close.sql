-- +goose Up
-- Year-end closes, owned by package ledger. A close books every income and
-- expense account's balance to the result account (one transfer just
-- before the year's end), closes the period up to the end and records the
-- opening balance of every balance-sheet account for the next year. Both
-- tables are append-only: a closed year is never reopened.
CREATE TABLE year_closes (
    tenant_id    bigint NOT NULL REFERENCES tenants (id),
    year_start   timestamptz NOT NULL,
    year_end     timestamptz NOT NULL CHECK (year_end > year_start),
    result       numeric(14, 2) NOT NULL,
    transfer_id  bigint,
    actor        text NOT NULL,
    closed_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, year_end),
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id)
);

CREATE TABLE year_opening_balances (
    tenant_id  bigint NOT NULL,
    year_end   timestamptz NOT NULL,
    account_id bigint NOT NULL,
    -- debit positive, as postings
    balance    numeric(14, 2) NOT NULL CHECK (balance <> 0),
    PRIMARY KEY (tenant_id, year_end, account_id),
    FOREIGN KEY (tenant_id, year_end) REFERENCES year_closes (tenant_id, year_end),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);

CREATE TRIGGER year_closes_immutable BEFORE UPDATE OR DELETE ON year_closes FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER year_closes_no_truncate BEFORE TRUNCATE ON year_closes FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER year_opening_balances_immutable BEFORE UPDATE OR DELETE ON year_opening_balances FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER year_opening_balances_no_truncate BEFORE TRUNCATE ON year_opening_balances FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
