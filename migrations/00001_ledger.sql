-- +goose Up
-- Tenants are organising bodies (pouvoirs organisateurs). Every other row
-- carries tenant_id, and every key and index starts with it.
CREATE TABLE tenants (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text NOT NULL UNIQUE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Accounts of the double-entry ledger. Amounts in postings are signed, debit
-- positive; balances shown and stored here are in the account's normal
-- orientation (debit-normal for asset/expense, credit-normal otherwise).
-- Tracked accounts (those with a floor, i.e. wallets) keep a materialised
-- balance and pending amount updated under a row lock; untracked (hot)
-- accounts derive their balance from postings and are never locked.
CREATE TABLE accounts (
    tenant_id  bigint NOT NULL REFERENCES tenants (id),
    id         bigint GENERATED ALWAYS AS IDENTITY,
    code       text NOT NULL,
    name       text NOT NULL DEFAULT '',
    type       text NOT NULL CHECK (type IN ('asset', 'liability', 'income', 'expense')),
    currency   char(3) NOT NULL DEFAULT 'EUR',
    tracked    boolean NOT NULL,
    floor      numeric(14, 2),
    balance    numeric(14, 2) NOT NULL DEFAULT 0,
    pending    numeric(14, 2) NOT NULL DEFAULT 0 CHECK (pending >= 0),
    version    bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    CHECK (tracked = (floor IS NOT NULL)),
    CHECK (tracked OR (balance = 0 AND pending = 0 AND version = 0))
);

-- Period closes: no transfer may occur before the latest closed_until.
CREATE TABLE period_closes (
    tenant_id    bigint NOT NULL REFERENCES tenants (id),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    closed_until timestamptz NOT NULL,
    actor        text NOT NULL,
    closed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX period_closes_latest ON period_closes (tenant_id, closed_until DESC);

CREATE TABLE transfers (
    tenant_id       bigint NOT NULL REFERENCES tenants (id),
    id              bigint GENERATED ALWAYS AS IDENTITY,
    idempotency_key text NOT NULL CHECK (idempotency_key <> ''),
    request_hash    bytea NOT NULL,
    kind            text NOT NULL CHECK (kind <> ''),
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    actor           text NOT NULL,
    memo            text NOT NULL DEFAULT '',
    metadata        jsonb NOT NULL DEFAULT '{}',
    currency        char(3) NOT NULL DEFAULT 'EUR',
    reverses_id     bigint,
    hold_id         bigint,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    UNIQUE (tenant_id, reverses_id),
    FOREIGN KEY (tenant_id, reverses_id) REFERENCES transfers (tenant_id, id)
);
CREATE INDEX transfers_occurred ON transfers (tenant_id, occurred_at);

CREATE TABLE postings (
    tenant_id       bigint NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    transfer_id     bigint NOT NULL,
    account_id      bigint NOT NULL,
    amount          numeric(14, 2) NOT NULL CHECK (amount <> 0),
    occurred_at     timestamptz NOT NULL,
    -- Set on tracked accounts only: the account's balance around this
    -- posting and the account version it produced (drift is checkable).
    balance_before  numeric(14, 2),
    balance_after   numeric(14, 2),
    account_version bigint,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    CHECK ((balance_before IS NULL) = (account_version IS NULL) AND (balance_after IS NULL) = (account_version IS NULL))
);
CREATE INDEX postings_account ON postings (tenant_id, account_id, occurred_at, id);
CREATE INDEX postings_transfer ON postings (tenant_id, transfer_id);
CREATE UNIQUE INDEX postings_account_version ON postings (tenant_id, account_id, account_version) WHERE account_version IS NOT NULL;

-- Holds (two-phase): placed on a tracked account, ended exactly once by a
-- row in hold_endings (the primary key makes a second ending impossible).
CREATE TABLE holds (
    tenant_id       bigint NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    account_id      bigint NOT NULL,
    amount          numeric(14, 2) NOT NULL CHECK (amount > 0),
    idempotency_key text NOT NULL CHECK (idempotency_key <> ''),
    request_hash    bytea NOT NULL,
    kind            text NOT NULL,
    actor           text NOT NULL,
    memo            text NOT NULL DEFAULT '',
    metadata        jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE INDEX holds_account ON holds (tenant_id, account_id);

CREATE TABLE hold_endings (
    tenant_id     bigint NOT NULL,
    hold_id       bigint NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('posted', 'voided', 'expired')),
    posted_amount numeric(14, 2) NOT NULL DEFAULT 0 CHECK (posted_amount >= 0),
    transfer_id   bigint,
    actor         text NOT NULL,
    ended_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, hold_id),
    FOREIGN KEY (tenant_id, hold_id) REFERENCES holds (tenant_id, id),
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id),
    CHECK ((outcome = 'posted') = (transfer_id IS NOT NULL))
);

ALTER TABLE transfers ADD FOREIGN KEY (tenant_id, hold_id) REFERENCES holds (tenant_id, id);

-- Immutability: the journal is append-only, whoever connects.
-- +goose StatementBegin
CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tartine:immutable: % on % is not allowed; the ledger is append-only (post a reversal instead)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'P0001';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER transfers_immutable BEFORE UPDATE OR DELETE ON transfers FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER postings_immutable BEFORE UPDATE OR DELETE ON postings FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER holds_immutable BEFORE UPDATE OR DELETE ON holds FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER holds_no_truncate BEFORE TRUNCATE ON holds FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER hold_endings_immutable BEFORE UPDATE OR DELETE ON hold_endings FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER hold_endings_no_truncate BEFORE TRUNCATE ON hold_endings FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER period_closes_immutable BEFORE UPDATE OR DELETE ON period_closes FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

-- Closed periods accept no transfers (checked in the database, so no code
-- path can bypass it).
-- +goose StatementBegin
CREATE FUNCTION ledger_check_period() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    until timestamptz;
BEGIN
    SELECT closed_until INTO until FROM period_closes
     WHERE tenant_id = NEW.tenant_id ORDER BY closed_until DESC LIMIT 1;
    IF until IS NOT NULL AND NEW.occurred_at < until THEN
        RAISE EXCEPTION 'tartine:period_closed: % is in a period closed until %', NEW.occurred_at, until
            USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER transfers_period BEFORE INSERT ON transfers FOR EACH ROW EXECUTE FUNCTION ledger_check_period();
