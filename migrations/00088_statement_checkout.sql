-- +goose Up
-- A fee statement paid online by Stripe Checkout (issue 10) is a top-up row
-- whose account is the pupil's fees receivable (fees:<pupil>) and that names
-- the statement; the webhook books stripe-clearing → fees receivable.
ALTER TABLE topups ADD COLUMN statement_number text;
