-- +goose Up
-- Stripe events Tartine cannot apply as they come. Owned by package payments.

-- Top-ups that need the accountant: what Stripe confirms was paid differs
-- from the top-up Tartine opened (amount, currency, a session not paid or
-- of another top-up), or a refund or dispute asked to take back more than
-- was paid. Nothing is credited for a mismatch until a person decides; the
-- webhook answers 200 (Stripe stops retrying) and lists it here once per
-- top-up and reason.
CREATE TABLE stripe_reviews (
    tenant_id     bigint NOT NULL REFERENCES tenants (id),
    id            bigint GENERATED ALWAYS AS IDENTITY,
    topup_id      uuid NOT NULL,
    reason        text NOT NULL CHECK (reason IN ('amount_mismatch', 'currency_mismatch', 'not_paid',
                      'session_mismatch', 'credit_conflict', 'refund_over_paid', 'dispute_over_paid')),
    event_id      text NOT NULL,              -- the first event that showed it
    session_id    text NOT NULL DEFAULT '',
    payment_intent text NOT NULL DEFAULT '',
    asked         numeric(14, 2) NOT NULL,    -- the top-up Tartine opened
    confirmed     numeric(14, 2),             -- what Stripe confirmed (retrieved, not the event's copy)
    event_amount  numeric(14, 2),             -- what the event said
    detail        text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    resolved_at   timestamptz,
    resolved_by   text,
    resolution    text CHECK (resolution IN ('credited', 'dismissed')),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, topup_id, reason),
    FOREIGN KEY (tenant_id, topup_id) REFERENCES topups (tenant_id, id)
);
CREATE INDEX stripe_reviews_open ON stripe_reviews (tenant_id, created_at) WHERE resolved_at IS NULL;

-- Refunds and disputes that arrived before the credit of their top-up (or
-- for a payment Tartine does not know yet): kept durably, with the event,
-- and applied once when the credit of their payment intent or charge is
-- booked. The event id is global (one Stripe account for the deployment);
-- so are the payment intent and charge ids.
CREATE TABLE stripe_deferred_events (
    event_id       text PRIMARY KEY,
    type           text NOT NULL,
    payment_intent text NOT NULL DEFAULT '',
    charge         text NOT NULL DEFAULT '',
    payload        jsonb NOT NULL,            -- the event's data.object
    received_at    timestamptz NOT NULL,
    applied_at     timestamptz,
    tenant_id      bigint REFERENCES tenants (id),
    topup_id       uuid,
    outcome        text
);
CREATE INDEX stripe_deferred_pi ON stripe_deferred_events (payment_intent) WHERE applied_at IS NULL AND payment_intent <> '';
CREATE INDEX stripe_deferred_charge ON stripe_deferred_events (charge) WHERE applied_at IS NULL AND charge <> '';
