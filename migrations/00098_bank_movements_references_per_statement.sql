-- +goose Up
-- A bank movement's tenant and transfers are checked once per statement
-- when movements are inserted (a CODA import copies 100,000 of them in one
-- COPY: 200,000 foreign-key queries and row locks), as the journal's own
-- references are since 00097; a change of them by UPDATE (allocation,
-- payout, remittance) is checked row by row, as before. Same guarantee:
-- a movement naming a tenant or transfer that does not exist is refused
-- with SQLSTATE 23503; transfers are append-only and tenants cannot be
-- deleted (00097). The pupil keeps its foreign key: pupils are school's
-- rows, with no such guard.

-- +goose StatementBegin
CREATE FUNCTION payments_check_movement_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.tenant_id INTO bad
      FROM (SELECT DISTINCT tenant_id FROM new_movements) n
     WHERE (SELECT true FROM tenants x WHERE x.id = n.tenant_id) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into bank_movements: tenant % does not exist', bad.tenant_id
            USING ERRCODE = '23503', TABLE = 'bank_movements', CONSTRAINT = 'bank_movements_tenant_exists';
    END IF;
    SELECT n.tenant_id, n.key, n.transfer_id INTO bad
      FROM new_movements n
     WHERE (SELECT true FROM transfers t WHERE t.tenant_id = n.tenant_id AND t.id = n.transfer_id) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into bank_movements: movement %: transfer % of tenant % does not exist', bad.key, bad.transfer_id, bad.tenant_id
            USING ERRCODE = '23503', TABLE = 'bank_movements', CONSTRAINT = 'bank_movements_transfer_exists';
    END IF;
    SELECT n.tenant_id, n.key, n.allocation_transfer_id INTO bad
      FROM new_movements n
     WHERE n.allocation_transfer_id IS NOT NULL
       AND (SELECT true FROM transfers t WHERE t.tenant_id = n.tenant_id AND t.id = n.allocation_transfer_id) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into bank_movements: movement %: transfer % of tenant % does not exist', bad.key, bad.allocation_transfer_id, bad.tenant_id
            USING ERRCODE = '23503', TABLE = 'bank_movements', CONSTRAINT = 'bank_movements_allocation_exists';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION payments_check_movement_ref_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tenants x WHERE x.id = NEW.tenant_id) THEN
        RAISE EXCEPTION 'update of bank_movements: tenant % does not exist', NEW.tenant_id
            USING ERRCODE = '23503', TABLE = 'bank_movements', CONSTRAINT = 'bank_movements_tenant_exists';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM transfers t WHERE t.tenant_id = NEW.tenant_id AND t.id = NEW.transfer_id) THEN
        RAISE EXCEPTION 'update of bank_movements: movement %: transfer % of tenant % does not exist', NEW.key, NEW.transfer_id, NEW.tenant_id
            USING ERRCODE = '23503', TABLE = 'bank_movements', CONSTRAINT = 'bank_movements_transfer_exists';
    END IF;
    IF NEW.allocation_transfer_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.tenant_id = NEW.tenant_id AND t.id = NEW.allocation_transfer_id) THEN
        RAISE EXCEPTION 'update of bank_movements: movement %: transfer % of tenant % does not exist', NEW.key, NEW.allocation_transfer_id, NEW.tenant_id
            USING ERRCODE = '23503', TABLE = 'bank_movements', CONSTRAINT = 'bank_movements_allocation_exists';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
ALTER TABLE bank_movements DROP CONSTRAINT bank_movements_tenant_id_fkey;
ALTER TABLE bank_movements DROP CONSTRAINT bank_movements_tenant_id_transfer_id_fkey;
ALTER TABLE bank_movements DROP CONSTRAINT bank_movements_tenant_id_allocation_transfer_id_fkey;
CREATE TRIGGER bank_movements_refs AFTER INSERT ON bank_movements REFERENCING NEW TABLE AS new_movements
    FOR EACH STATEMENT EXECUTE FUNCTION payments_check_movement_refs();
CREATE TRIGGER bank_movements_ref_update BEFORE UPDATE OF tenant_id, transfer_id, allocation_transfer_id ON bank_movements
    FOR EACH ROW EXECUTE FUNCTION payments_check_movement_ref_update();

-- +goose Down
DROP TRIGGER bank_movements_ref_update ON bank_movements;
DROP TRIGGER bank_movements_refs ON bank_movements;
DROP FUNCTION payments_check_movement_ref_update();
DROP FUNCTION payments_check_movement_refs();
ALTER TABLE bank_movements ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id);
ALTER TABLE bank_movements ADD FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id);
ALTER TABLE bank_movements ADD FOREIGN KEY (tenant_id, allocation_transfer_id) REFERENCES transfers (tenant_id, id);
