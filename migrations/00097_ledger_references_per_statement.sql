-- +goose Up
-- The journal's references are checked once per statement, not once per
-- row (docs/PERFORMANCE.md, CODA import, fourth pass). PostgreSQL checks a
-- foreign key with one query and one row lock per inserted row: a CODA
-- import of 100,000 lines ran 200,000 of them for postings → accounts,
-- 200,000 for postings → transfers and 300,000 more for the transfers'
-- tenant, reversal and hold — over half of the server's work for the file.
--
-- Same guarantee, whoever connects:
-- * a statement inserting a posting whose transfer or account, or a
--   transfer whose tenant, reversed transfer or hold, does not exist fails
--   with SQLSTATE 23503 (foreign_key_violation), as the foreign key did,
--   so the transaction rolls back;
-- * the rows referred to cannot go away: transfers, postings and holds are
--   append-only already (00001); accounts and tenants now refuse DELETE,
--   TRUNCATE and a change of their key (which nothing in Tartine does), so
--   the row lock each foreign-key check took against a concurrent delete
--   has nothing left to guard against.
-- `tartine verify` also looks for dangling references (ledger/verify.go).
--
-- The lookups are correlated subqueries (one index probe per distinct key),
-- never a join the planner could turn into a scan of the whole transfers
-- table: plpgsql keeps the first plan of a query without parameters.

-- +goose StatementBegin
CREATE FUNCTION ledger_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF TG_TABLE_NAME = 'tenants' AND NEW.id = OLD.id THEN
            RETURN NEW;
        END IF;
        IF TG_TABLE_NAME = 'accounts' AND NEW.id = OLD.id AND NEW.tenant_id = OLD.tenant_id THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'tartine:immutable: % of % keys is not allowed; the journal refers to them', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'P0001';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER accounts_keep_keys BEFORE UPDATE OF tenant_id, id OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_keep_referenced();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_keep_referenced();
CREATE TRIGGER tenants_keep_keys BEFORE UPDATE OF id OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION ledger_keep_referenced();
CREATE TRIGGER tenants_no_truncate BEFORE TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_keep_referenced();

-- +goose StatementBegin
CREATE FUNCTION ledger_check_posting_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.tenant_id, n.transfer_id INTO bad
      FROM (SELECT DISTINCT tenant_id, transfer_id FROM new_postings) n
     WHERE (SELECT true FROM transfers t WHERE t.tenant_id = n.tenant_id AND t.id = n.transfer_id) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into postings: transfer % of tenant % does not exist', bad.transfer_id, bad.tenant_id
            USING ERRCODE = '23503', TABLE = 'postings', CONSTRAINT = 'postings_transfer_exists';
    END IF;
    SELECT n.tenant_id, n.account_id INTO bad
      FROM (SELECT DISTINCT tenant_id, account_id FROM new_postings) n
     WHERE (SELECT true FROM accounts a WHERE a.tenant_id = n.tenant_id AND a.id = n.account_id) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into postings: account % of tenant % does not exist', bad.account_id, bad.tenant_id
            USING ERRCODE = '23503', TABLE = 'postings', CONSTRAINT = 'postings_account_exists';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
ALTER TABLE postings DROP CONSTRAINT postings_tenant_id_transfer_id_fkey;
ALTER TABLE postings DROP CONSTRAINT postings_tenant_id_account_id_fkey;
CREATE TRIGGER postings_refs AFTER INSERT ON postings REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_posting_refs();

-- +goose StatementBegin
CREATE FUNCTION ledger_check_transfer_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.tenant_id INTO bad
      FROM (SELECT DISTINCT tenant_id FROM new_transfers) n
     WHERE (SELECT true FROM tenants x WHERE x.id = n.tenant_id) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into transfers: tenant % does not exist', bad.tenant_id
            USING ERRCODE = '23503', TABLE = 'transfers', CONSTRAINT = 'transfers_tenant_exists';
    END IF;
    SELECT n.tenant_id, n.reverses_id INTO bad
      FROM new_transfers n
     WHERE n.reverses_id IS NOT NULL
       AND (SELECT true FROM transfers t WHERE t.tenant_id = n.tenant_id AND t.id = n.reverses_id) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into transfers: reversed transfer % of tenant % does not exist', bad.reverses_id, bad.tenant_id
            USING ERRCODE = '23503', TABLE = 'transfers', CONSTRAINT = 'transfers_reverses_exists';
    END IF;
    SELECT n.tenant_id, n.hold_id INTO bad
      FROM new_transfers n
     WHERE n.hold_id IS NOT NULL
       AND (SELECT true FROM holds h WHERE h.tenant_id = n.tenant_id AND h.id = n.hold_id) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into transfers: hold % of tenant % does not exist', bad.hold_id, bad.tenant_id
            USING ERRCODE = '23503', TABLE = 'transfers', CONSTRAINT = 'transfers_hold_exists';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
ALTER TABLE transfers DROP CONSTRAINT transfers_tenant_id_fkey;
ALTER TABLE transfers DROP CONSTRAINT transfers_tenant_id_reverses_id_fkey;
ALTER TABLE transfers DROP CONSTRAINT transfers_tenant_id_hold_id_fkey;
CREATE TRIGGER transfers_refs AFTER INSERT ON transfers REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_transfer_refs();

-- +goose Down
DROP TRIGGER transfers_refs ON transfers;
DROP FUNCTION ledger_check_transfer_refs();
ALTER TABLE transfers ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id);
ALTER TABLE transfers ADD FOREIGN KEY (tenant_id, reverses_id) REFERENCES transfers (tenant_id, id);
ALTER TABLE transfers ADD FOREIGN KEY (tenant_id, hold_id) REFERENCES holds (tenant_id, id);
DROP TRIGGER postings_refs ON postings;
DROP FUNCTION ledger_check_posting_refs();
ALTER TABLE postings ADD FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id);
ALTER TABLE postings ADD FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id);
DROP TRIGGER tenants_no_truncate ON tenants;
DROP TRIGGER tenants_keep_keys ON tenants;
DROP TRIGGER accounts_no_truncate ON accounts;
DROP TRIGGER accounts_keep_keys ON accounts;
DROP FUNCTION ledger_keep_referenced();
