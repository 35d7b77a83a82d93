-- +goose Up
-- The bank movement's pupil is checked once per statement too (00098 left
-- it to its foreign key): the foreign key's row lock on the pupil, taken
-- 95,000 times by a CODA import's COPY of 100,000 movements (one lock per
-- credited line, each written to the pupil's heap page), was two thirds of
-- the COPY's time (1.5 s of 2.3). Same guarantee: a movement naming a pupil
-- that does not exist is refused with SQLSTATE 23503, on insert (per
-- statement) and on update (per row, an allocation); pupils are never
-- deleted in Tartine (a pupil who left is pseudonymised, school/retention.go)
-- and now cannot be, nor re-keyed, whoever connects.
--
-- And the reversal's uniqueness is a partial index: a unique index over
-- (tenant_id, reverses_id) held an entry for every transfer, reversal or
-- not (100,000 for that import) though only reversals can collide. Same
-- name, so the ledger's error mapping still recognises a second reversal.

-- +goose StatementBegin
CREATE FUNCTION school_keep_pupils() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.tenant_id = OLD.tenant_id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'tartine:immutable: % of pupils is not allowed; a pupil who leaves is pseudonymised, never deleted', TG_OP
        USING ERRCODE = 'P0001';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER pupils_keep_keys BEFORE UPDATE OF tenant_id, id OR DELETE ON pupils
    FOR EACH ROW EXECUTE FUNCTION school_keep_pupils();
CREATE TRIGGER pupils_no_truncate BEFORE TRUNCATE ON pupils
    FOR EACH STATEMENT EXECUTE FUNCTION school_keep_pupils();

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION payments_check_movement_refs() RETURNS trigger LANGUAGE plpgsql AS $$
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
    SELECT n.tenant_id, n.pupil_id INTO bad
      FROM (SELECT DISTINCT tenant_id, pupil_id FROM new_movements WHERE pupil_id IS NOT NULL) n
     WHERE (SELECT true FROM pupils p WHERE p.tenant_id = n.tenant_id AND p.id = n.pupil_id) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into bank_movements: pupil % of tenant % does not exist', bad.pupil_id, bad.tenant_id
            USING ERRCODE = '23503', TABLE = 'bank_movements', CONSTRAINT = 'bank_movements_pupil_exists';
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
CREATE OR REPLACE FUNCTION payments_check_movement_ref_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tenants x WHERE x.id = NEW.tenant_id) THEN
        RAISE EXCEPTION 'update of bank_movements: tenant % does not exist', NEW.tenant_id
            USING ERRCODE = '23503', TABLE = 'bank_movements', CONSTRAINT = 'bank_movements_tenant_exists';
    END IF;
    IF NEW.pupil_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pupils p WHERE p.tenant_id = NEW.tenant_id AND p.id = NEW.pupil_id) THEN
        RAISE EXCEPTION 'update of bank_movements: movement %: pupil % of tenant % does not exist', NEW.key, NEW.pupil_id, NEW.tenant_id
            USING ERRCODE = '23503', TABLE = 'bank_movements', CONSTRAINT = 'bank_movements_pupil_exists';
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
DROP TRIGGER bank_movements_ref_update ON bank_movements;
CREATE TRIGGER bank_movements_ref_update BEFORE UPDATE OF tenant_id, pupil_id, transfer_id, allocation_transfer_id ON bank_movements
    FOR EACH ROW EXECUTE FUNCTION payments_check_movement_ref_update();
ALTER TABLE bank_movements DROP CONSTRAINT bank_movements_tenant_id_pupil_id_fkey;

ALTER TABLE transfers DROP CONSTRAINT transfers_tenant_id_reverses_id_key;
CREATE UNIQUE INDEX transfers_tenant_id_reverses_id_key ON transfers (tenant_id, reverses_id) WHERE reverses_id IS NOT NULL;

-- +goose Down
DROP INDEX transfers_tenant_id_reverses_id_key;
ALTER TABLE transfers ADD CONSTRAINT transfers_tenant_id_reverses_id_key UNIQUE (tenant_id, reverses_id);
ALTER TABLE bank_movements ADD FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id);
DROP TRIGGER bank_movements_ref_update ON bank_movements;
CREATE TRIGGER bank_movements_ref_update BEFORE UPDATE OF tenant_id, transfer_id, allocation_transfer_id ON bank_movements
    FOR EACH ROW EXECUTE FUNCTION payments_check_movement_ref_update();
DROP TRIGGER pupils_no_truncate ON pupils;
DROP TRIGGER pupils_keep_keys ON pupils;
DROP FUNCTION school_keep_pupils();
