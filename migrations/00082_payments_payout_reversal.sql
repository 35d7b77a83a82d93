-- +goose Up
-- A payout reported failed or canceled after it was reconciled with a bank
-- line is reversed in the ledger (bank → stripe-clearing), once: the
-- reversal's transfer id (issue 15).
ALTER TABLE stripe_payouts ADD COLUMN reversal_transfer_id bigint;
