-- +goose Up
-- Online top-ups by Stripe Checkout and the Stripe events already handled.

CREATE TABLE topups (
    tenant_id          bigint NOT NULL REFERENCES tenants (id),
    id                 uuid NOT NULL,            -- also the Stripe idempotency key and metadata topup_id
    pupil_id           bigint NOT NULL,
    wallet_account_id  bigint NOT NULL,
    guardian_id        bigint,
    amount             numeric(14, 2) NOT NULL CHECK (amount > 0),
    currency           char(3) NOT NULL DEFAULT 'EUR',
    -- pending: session being created or open; processing: paid by an
    -- asynchronous method not yet confirmed; paid: wallet credited;
    -- failed: payment failed; error: the session could not be created.
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'processing', 'paid', 'failed', 'error')),
    stripe_session_id  text,
    stripe_payment_intent text,
    stripe_charge      text,
    paid_amount        numeric(14, 2),
    refunded_amount    numeric(14, 2) NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    disputed_amount    numeric(14, 2) NOT NULL DEFAULT 0 CHECK (disputed_amount >= 0),
    credit_transfer_id bigint,
    lang               text NOT NULL DEFAULT 'fr',
    created_at         timestamptz NOT NULL DEFAULT now(),
    paid_at            timestamptz,
    failed_at          timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id),
    FOREIGN KEY (tenant_id, wallet_account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians (tenant_id, id),
    FOREIGN KEY (tenant_id, credit_transfer_id) REFERENCES transfers (tenant_id, id)
);
CREATE INDEX topups_pupil ON topups (tenant_id, pupil_id, created_at);
-- Stripe webhooks arrive for the whole deployment (one Stripe account), before
-- the tenant is known: refunds and disputes name only the payment intent or
-- the charge. These global lookups are the documented exception to "tenant
-- first" (Stripe ids are globally unique).
CREATE UNIQUE INDEX topups_session ON topups (stripe_session_id) WHERE stripe_session_id IS NOT NULL;
CREATE INDEX topups_payment_intent ON topups (stripe_payment_intent) WHERE stripe_payment_intent IS NOT NULL;
CREATE INDEX topups_charge ON topups (stripe_charge) WHERE stripe_charge IS NOT NULL;

-- Stripe events handled to the end (a re-delivered event is acknowledged
-- without effect). The event id is global, so is the key; tenant_id is known
-- only when the event concerned a top-up.
CREATE TABLE stripe_events (
    event_id    text PRIMARY KEY,
    type        text NOT NULL,
    tenant_id   bigint REFERENCES tenants (id),
    topup_id    uuid,
    outcome     text NOT NULL,   -- credited, replayed, failed, refunded, disputed, ignored, unknown_topup …
    created_at  timestamptz NOT NULL,   -- event creation time at Stripe
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_topup ON stripe_events (tenant_id, topup_id);

-- Refund steps and disputes booked against a top-up. A row is claimed (under
-- the top-up's row lock) before its ledger transfer and linked to it after,
-- so a crash in between is finished by the next delivery. ref is
-- "<charge id>:<cumulative refunded cents>" for a refund step and the
-- dispute id for a dispute; the ledger key is "stripe-<kind>:<ref>".
CREATE TABLE topup_adjustments (
    tenant_id   bigint NOT NULL,
    topup_id    uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('refund', 'dispute')),
    ref         text NOT NULL,
    amount      numeric(14, 2) NOT NULL CHECK (amount > 0),
    transfer_id bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, topup_id, kind, ref),
    FOREIGN KEY (tenant_id, topup_id) REFERENCES topups (tenant_id, id),
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id)
);
