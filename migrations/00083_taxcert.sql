-- +goose Up
-- Childcare tax certificates (attestations fiscales 281.86), owned by
-- package taxcert (issue 15).

-- National numbers (NISS) of pupils and guardians, collected for the
-- certificates only, sealed with AES-256-GCM (key TARTINE_NISS_KEY); last2
-- is the check number shown in masked form. Never logged.
CREATE TABLE taxcert_niss (
    tenant_id  bigint NOT NULL REFERENCES tenants (id),
    subject    text NOT NULL CHECK (subject IN ('pupil', 'guardian')),
    subject_id bigint NOT NULL,
    sealed     bytea NOT NULL,
    last2      char(2) NOT NULL,
    actor      text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, subject, subject_id)
);

-- Who pays a child's care and in what share (separated parents): percent
-- per guardian; without rows the child's guardians share equally.
CREATE TABLE taxcert_payer_shares (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    pupil_id    bigint NOT NULL,
    guardian_id bigint NOT NULL,
    share_pct   numeric(5, 2) NOT NULL CHECK (share_pct > 0 AND share_pct <= 100),
    PRIMARY KEY (tenant_id, pupil_id, guardian_id)
);

-- Issued certificates: one row per version; append-only. A correction is a
-- new version with the same sequence number (numéro d'ordre).
CREATE TABLE taxcert_certificates (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    id          bigint GENERATED ALWAYS AS IDENTITY,
    year        int NOT NULL CHECK (year BETWEEN 2000 AND 2200),
    seq         int NOT NULL CHECK (seq > 0),
    version     int NOT NULL CHECK (version > 0),
    pupil_id    bigint NOT NULL,
    guardian_id bigint NOT NULL,
    total       numeric(14, 2) NOT NULL CHECK (total > 0),
    days        int NOT NULL CHECK (days > 0),
    -- the frozen content: issuer, payer, child, periods (JSON, NISS sealed)
    content     jsonb NOT NULL,
    actor       text NOT NULL,
    issued_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, year, seq, version),
    UNIQUE (tenant_id, year, pupil_id, guardian_id, version)
);

-- +goose StatementBegin
CREATE FUNCTION taxcert_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tartine:immutable: % on % is not allowed; issue a corrected version instead', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'P0001';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER taxcert_certificates_immutable BEFORE UPDATE OR DELETE ON taxcert_certificates FOR EACH ROW EXECUTE FUNCTION taxcert_immutable();
CREATE TRIGGER taxcert_certificates_no_truncate BEFORE TRUNCATE ON taxcert_certificates FOR EACH STATEMENT EXECUTE FUNCTION taxcert_immutable();
