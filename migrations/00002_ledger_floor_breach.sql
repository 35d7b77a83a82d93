-- +goose Up
-- Raised by a statement of ledger.QueueTransfers when a tracked account
-- ended below its floor: the error aborts the caller's transaction on the
-- server, before the COMMIT pipelined after it can run.
-- +goose StatementBegin
CREATE FUNCTION ledger_floor_breach(account_code text, available numeric, account_floor numeric) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tartine:floor: account % would go below its floor: available %, floor %', account_code, available, account_floor
        USING ERRCODE = 'P0001';
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ledger_floor_breach(text, numeric, numeric);
