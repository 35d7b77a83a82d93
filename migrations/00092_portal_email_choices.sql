-- +goose Up
-- Which emails a parent gets (issue 14), chosen on the portal's settings
-- page. The low-balance alert already has its column (low_balance_alert).
-- Statements, estimates and their reminders are not here: the organising
-- body must send them (FEES.md §6–7), whatever the parent prefers; nor are
-- the security emails (password reset, password changed).
ALTER TABLE portal_accounts
    ADD COLUMN email_topups   boolean NOT NULL DEFAULT true, -- a top-up reached a child's wallet
    ADD COLUMN email_bookings boolean NOT NULL DEFAULT true; -- confirmation of what was booked or cancelled
