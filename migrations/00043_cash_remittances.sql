-- +goose Up
-- Cash remittances (dépôts d'espèces): cash taken from a kiosk drawer to the
-- bank. Recording one books cash:<kiosk> → cash-in-transit (key
-- kiosk-remit:<form token>); the bank line of a CODA statement that carries
-- the reference books bank ← cash-in-transit (key cash-remittance:<reference>),
-- or a person allocates a line waiting in suspense to it (suspense ←
-- cash-in-transit, same key). Owned by package payments; the kiosk screens
-- (package terminal) record them under the drawer's lock.
CREATE TABLE cash_remittances (
    tenant_id    bigint NOT NULL REFERENCES tenants (id),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    reference    text NOT NULL,              -- DEP-2026-7KQ4XM, printed on the slip and the bag
    form_token   text NOT NULL,              -- one-time token of the form: a double submit records one remittance
    station_id   bigint NOT NULL,            -- the kiosk whose drawer the cash left
    cash_account_id bigint NOT NULL,
    amount       numeric(14, 2) NOT NULL CHECK (amount > 0),
    carrier      text NOT NULL DEFAULT '',   -- who takes the cash to the bank
    remitted_on  date NOT NULL,              -- school-local day the cash left the drawer
    transfer_id  bigint NOT NULL,            -- cash:<kiosk> → cash-in-transit
    actor        text NOT NULL,
    created_at   timestamptz NOT NULL,
    -- arrival: the bank movement claims the remittance, then the transfer
    -- bank (or suspense) ← cash-in-transit is linked.
    bank_movement_key   text,
    arrival_transfer_id bigint,
    arrived_at   timestamptz,
    arrived_by   text,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, reference),
    UNIQUE (tenant_id, form_token),
    FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id),
    FOREIGN KEY (tenant_id, cash_account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id),
    FOREIGN KEY (tenant_id, arrival_transfer_id) REFERENCES transfers (tenant_id, id)
);
CREATE INDEX cash_remittances_open ON cash_remittances (tenant_id, amount, remitted_on) WHERE arrival_transfer_id IS NULL;
CREATE INDEX cash_remittances_station ON cash_remittances (tenant_id, station_id, created_at);
CREATE UNIQUE INDEX cash_remittances_movement ON cash_remittances (tenant_id, bank_movement_key) WHERE bank_movement_key IS NOT NULL;

-- A bank movement may now be a cash remittance booked from cash-in-transit.
ALTER TABLE bank_movements DROP CONSTRAINT bank_movements_status_check;
ALTER TABLE bank_movements ADD CONSTRAINT bank_movements_status_check
    CHECK (status IN ('wallet', 'suspense', 'allocated', 'payout', 'remittance'));
