-- +goose Up
-- Decimal badge readers send the number printed on the badge (the decimal
-- of the last four bytes of its uid, ten digits), and the device API finds
-- a badge by its uid or its printed number. Badges registered without a
-- printed number (enrolled at a terminal) get the one their uid gives, as
-- school.CreateBadge now does (derivedNumber): 3- to 5-byte hex uids of
-- EM4100, ISO 14443-A and Wiegand badges.
UPDATE badges
SET printed_number = lpad((('x' || lpad(right(uid, 8), 8, '0'))::bit(32)::bigint)::text, 10, '0')
WHERE printed_number = ''
  AND tech IN ('em4100', 'iso14443a', 'wiegand')
  AND uid ~ '^([0-9A-F]{6}|[0-9A-F]{8}|[0-9A-F]{10})$';

