-- +goose Up
-- Stripe payouts (money leaving the Stripe balance for the bank) recorded
-- from payout.* webhooks, and their reconciliation with the bank line of a
-- CODA statement. A payout id is global (one Stripe account per deployment),
-- so it is the key, like stripe_events.event_id: the documented exception to
-- "tenant first". tenant_id is known from the payout's metadata or from its
-- balance transactions (charges of the tenant's top-ups), else it is claimed
-- by the tenant whose bank statement shows the payout.
CREATE TABLE stripe_payouts (
    payout_id            text PRIMARY KEY,
    tenant_id            bigint REFERENCES tenants (id),
    -- the balance transactions name top-ups of several tenants: never
    -- matched automatically (one bank line cannot be split by the import).
    mixed_tenants        boolean NOT NULL DEFAULT false,
    amount               numeric(14, 2) NOT NULL CHECK (amount > 0),
    currency             char(3) NOT NULL DEFAULT 'EUR',
    arrival_date         date NOT NULL,
    statement_descriptor text NOT NULL DEFAULT '',
    status               text NOT NULL CHECK (status IN ('paid', 'failed', 'canceled')),
    -- sum (EUR) and count of the payout's balance transactions other than
    -- the payout itself, when Stripe could list them.
    balance_total        numeric(14, 2),
    balance_count        int,
    last_event_at        timestamptz NOT NULL,   -- creation time of the last event applied
    recorded_at          timestamptz NOT NULL DEFAULT now(),
    -- reconciliation: the bank movement claims the payout, then the ledger
    -- transfer bank ← stripe-clearing (key stripe-payout:<payout id>) is linked.
    bank_movement_key    text,
    transfer_id          bigint,
    reconciled_at        timestamptz,
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id)
);
CREATE INDEX stripe_payouts_open ON stripe_payouts (tenant_id, arrival_date) WHERE transfer_id IS NULL;
CREATE UNIQUE INDEX stripe_payouts_movement ON stripe_payouts (tenant_id, bank_movement_key) WHERE bank_movement_key IS NOT NULL;

-- A bank movement may now be a Stripe payout booked to stripe-clearing.
ALTER TABLE bank_movements DROP CONSTRAINT bank_movements_status_check;
ALTER TABLE bank_movements ADD CONSTRAINT bank_movements_status_check
    CHECK (status IN ('wallet', 'suspense', 'allocated', 'payout'));
