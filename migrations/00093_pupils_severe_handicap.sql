-- +goose Up
-- A child with a severe handicap (issue 15): the childcare tax certificate
-- (281.86) counts its care until the day before its 21st birthday instead
-- of its 14th. Set in the back office on the pupil's page; package school
-- owns the column, taxcert reads it through school.
ALTER TABLE pupils ADD COLUMN severe_handicap boolean NOT NULL DEFAULT false;

