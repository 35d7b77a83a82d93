-- +goose Up
-- The closed-period check of transfers runs once per statement over the
-- rows it inserted (a transition table), not once per row: a bulk insert
-- of 10,000 transfers (a CODA import's group, ledger.QueueTransfers) ran
-- the per-row function, and its query of period_closes, 10,000 times
-- (docs/PERFORMANCE.md, CODA import, third pass). Same guarantee: a
-- statement that inserts a transfer occurring before its tenant's latest
-- closed_until fails with the same message, so the transaction rolls back.
-- A row skipped by ON CONFLICT DO NOTHING (a replay) is not checked: it was
-- not inserted (the ledger returns the original transfer, as it already did
-- after a period_closed error on a used key).
-- +goose StatementBegin
CREATE FUNCTION ledger_check_period_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.occurred_at, c.closed_until INTO bad
      FROM (SELECT DISTINCT tenant_id FROM new_transfers) t
      CROSS JOIN LATERAL (SELECT closed_until FROM period_closes
                           WHERE tenant_id = t.tenant_id ORDER BY closed_until DESC LIMIT 1) c
      JOIN new_transfers n ON n.tenant_id = t.tenant_id AND n.occurred_at < c.closed_until
     ORDER BY n.occurred_at
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'tartine:period_closed: % is in a period closed until %', bad.occurred_at, bad.closed_until
            USING ERRCODE = 'P0001';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP TRIGGER transfers_period ON transfers;
DROP FUNCTION ledger_check_period();
CREATE TRIGGER transfers_period AFTER INSERT ON transfers REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_period_rows();
