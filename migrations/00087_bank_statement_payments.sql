-- +goose Up
-- A bank credit whose structured communication is a fee statement's is
-- booked on the pupil's fees receivable (status 'statement').
ALTER TABLE bank_movements DROP CONSTRAINT bank_movements_status_check;
ALTER TABLE bank_movements ADD CONSTRAINT bank_movements_status_check
    CHECK (status IN ('wallet', 'suspense', 'allocated', 'payout', 'remittance', 'refunded', 'statement'));
