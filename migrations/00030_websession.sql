-- +goose Up
-- Server-side web sessions (package internal/websession), shared by the
-- parent portal and the staff screens. The cookie holds a random 256-bit id;
-- only its SHA-256 is stored, so a database leak gives no usable cookie.
-- The table is keyed by that hash and not by tenant: a session is found
-- before the tenant is known (like devices). Anonymous sessions (no
-- principal) carry the CSRF token of the login and registration forms.
CREATE TABLE web_sessions (
    id_hash        bytea PRIMARY KEY,
    tenant_id      bigint REFERENCES tenants (id),   -- staff sessions; null for guardians' accounts and anonymous
    principal_kind text CHECK (principal_kind IN ('guardian', 'staff')),
    principal_id   bigint,
    csrf_token     text NOT NULL,
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    user_agent     text NOT NULL DEFAULT '',
    CHECK ((principal_kind IS NULL) = (principal_id IS NULL))
);
CREATE INDEX web_sessions_principal ON web_sessions (principal_kind, principal_id) WHERE principal_kind IS NOT NULL;
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- Failed logins, for throttling per account and per client address. Rows
-- older than the window are deleted opportunistically.
CREATE TABLE login_failures (
    scope   text NOT NULL,     -- "guardian", "staff"
    key     text NOT NULL,     -- "account:<lower email>" or "ip:<address>"
    at      timestamptz NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (scope, key, at);
