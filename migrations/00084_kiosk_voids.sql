-- +goose Up
-- Kiosk corrections (issue 14): a cash receipt can be voided once, with a
-- reason, by a ledger reversal of its top-up (the cashier on the same
-- school day; the accountant later, as a correcting entry). The receipt
-- itself stays: it records who voided it, when, why and the reversal.
ALTER TABLE kiosk_receipts
    ADD COLUMN voided_at        timestamptz,
    ADD COLUMN voided_by        text,
    ADD COLUMN void_reason      text,
    ADD COLUMN void_transfer_id bigint,
    ADD CONSTRAINT kiosk_receipts_void CHECK (
        (voided_at IS NULL AND voided_by IS NULL AND void_reason IS NULL AND void_transfer_id IS NULL)
        OR (voided_at IS NOT NULL AND voided_by <> '' AND length(btrim(void_reason)) >= 3 AND void_transfer_id IS NOT NULL));
CREATE INDEX kiosk_receipts_voided ON kiosk_receipts (tenant_id, station_id, voided_at) WHERE voided_at IS NOT NULL;
