-- +goose Up
-- Called by the statement of ledger.QueueTransfers on every tracked
-- account it changed: raises when the account ended below its floor, so
-- that the error aborts the caller's transaction on the server, before the
-- COMMIT pipelined after it can run. Returns false otherwise.
-- +goose StatementBegin
CREATE FUNCTION ledger_floor_breach(breach boolean, account_code text, available numeric, account_floor numeric) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF breach THEN
        RAISE EXCEPTION 'tartine:floor: account % would go below its floor: available %, floor %', account_code, available, account_floor
            USING ERRCODE = 'P0001';
    END IF;
    RETURN false;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ledger_floor_breach(boolean, text, numeric, numeric);
