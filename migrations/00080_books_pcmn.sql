-- +goose Up
-- The organising body's mapping of ledger accounts to the Belgian chart of
-- accounts (PCMN / MAR), owned by package books. A rule maps a ledger
-- account code ("bank") or a code prefix ending in ':' ("wallet:",
-- "revenue:fees:") to a PCMN number; rules here override the defaults
-- built into books (docs/ACCOUNTING.md). Every change is kept: the rule in
-- force is the latest row per pattern.
CREATE TABLE books_pcmn_rules (
    tenant_id  bigint NOT NULL REFERENCES tenants (id),
    id         bigint GENERATED ALWAYS AS IDENTITY,
    pattern    text NOT NULL CHECK (pattern ~ '^[a-z0-9:_-]+$'),
    pcmn       text NOT NULL CHECK (pcmn ~ '^[1-7][0-9]{2,9}$'),
    label      text NOT NULL DEFAULT '',
    actor      text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX books_pcmn_rules_pattern ON books_pcmn_rules (tenant_id, pattern, id DESC);

-- No placeholder remains in account names: the PCMN number comes from the
-- mapping, not from the name.
UPDATE accounts SET name = regexp_replace(name, ' \((6xx|70x)\)$', '') WHERE name ~ ' \((6xx|70x)\)$';
