-- +goose Up
-- An account's tenant is checked once per inserting statement, like the
-- journal's references (00097), not by a foreign key: PostgreSQL runs a
-- foreign key's check again on every UPDATE of a row that the same
-- transaction wrote before, keys unchanged or not — a CODA import updates
-- each wallet's balance once per group of 10,000 lines, and from the
-- second group on every update paid a check of the tenant (11 ms a group;
-- docs/PERFORMANCE.md, CODA import, sixth pass). Same guarantee: an account
-- of a tenant that does not exist is refused with SQLSTATE 23503; tenants
-- cannot be deleted, truncated or re-keyed (00097), nor accounts re-keyed.
-- `tartine verify` looks for dangling ones all the same.

-- +goose StatementBegin
CREATE FUNCTION ledger_check_account_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.tenant_id INTO bad
      FROM (SELECT DISTINCT tenant_id FROM new_accounts) n
     WHERE (SELECT true FROM tenants x WHERE x.id = n.tenant_id) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into accounts: tenant % does not exist', bad.tenant_id
            USING ERRCODE = '23503', TABLE = 'accounts', CONSTRAINT = 'accounts_tenant_exists';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
ALTER TABLE accounts DROP CONSTRAINT accounts_tenant_id_fkey;
CREATE TRIGGER accounts_refs AFTER INSERT ON accounts REFERENCING NEW TABLE AS new_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_account_refs();

-- +goose Down
DROP TRIGGER accounts_refs ON accounts;
DROP FUNCTION ledger_check_account_refs();
ALTER TABLE accounts ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id);
