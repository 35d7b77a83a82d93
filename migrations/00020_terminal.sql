-- +goose Up
-- Point of service (package terminal): taps received from devices, daycare
-- sessions, kiosk receipts and cash drawer closings.

-- Every tap a device sent, with the result answered the first time: the
-- device API is idempotent per tap id (replays return result as stored).
CREATE TABLE taps (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    tap_id      text NOT NULL CHECK (tap_id <> '' AND length(tap_id) <= 64),
    device_id   text NOT NULL,
    station_id  bigint,
    badge_uid   text NOT NULL DEFAULT '',
    pupil_id    bigint,
    read_at     timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    offline     boolean NOT NULL DEFAULT false,
    verdict     text NOT NULL CHECK (verdict IN ('accepted', 'refused', 'duplicate')),
    reason      text NOT NULL DEFAULT '',
    charged     numeric(14,2) NOT NULL DEFAULT 0,
    transfer_id bigint,
    result      jsonb NOT NULL,
    PRIMARY KEY (tenant_id, tap_id),
    FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id)
);
-- Duplicate window: the last accepted tap of a badge at a station.
CREATE INDEX taps_badge_station ON taps (tenant_id, badge_uid, station_id, read_at DESC) WHERE verdict = 'accepted';
-- Station screens: recent taps of a station.
CREATE INDEX taps_station_time ON taps (tenant_id, station_id, received_at DESC);

-- Daycare presence: one row per check-in, closed by a check-out tap or by
-- the day-end job at closing time. At most one open session per pupil.
CREATE TABLE daycare_sessions (
    tenant_id     bigint NOT NULL,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    school_id     bigint NOT NULL,
    station_id    bigint NOT NULL,
    pupil_id      bigint NOT NULL,
    day           date NOT NULL,             -- school-local date of the check-in
    check_in_at   timestamptz NOT NULL,
    check_in_tap  text NOT NULL,
    check_out_at  timestamptz,
    check_out_tap text,                      -- null when closed by the day-end job
    closed_by     text CHECK (closed_by IN ('tap', 'dayend')),
    charged       numeric(14,2),
    transfer_id   bigint,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id),
    FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id),
    CHECK ((check_out_at IS NULL) = (closed_by IS NULL))
);
CREATE UNIQUE INDEX daycare_sessions_open ON daycare_sessions (tenant_id, pupil_id) WHERE check_out_at IS NULL;
CREATE INDEX daycare_sessions_day ON daycare_sessions (tenant_id, school_id, day);

-- Cash top-ups recorded at a kiosk; the reference is printed on the receipt.
CREATE TABLE kiosk_receipts (
    tenant_id   bigint NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    reference   text NOT NULL,
    form_token  text NOT NULL,
    station_id  bigint NOT NULL,
    pupil_id    bigint NOT NULL,
    amount      numeric(14,2) NOT NULL CHECK (amount > 0),
    transfer_id bigint NOT NULL,
    actor       text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, reference),
    UNIQUE (tenant_id, form_token),
    FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id)
);
CREATE INDEX kiosk_receipts_station ON kiosk_receipts (tenant_id, station_id, created_at);

-- Cash drawer closings: counted against expected (the drawer's postings
-- since the previous closing); the difference is posted to
-- expense:cash-over-short.
CREATE TABLE drawer_closings (
    tenant_id   bigint NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    station_id  bigint NOT NULL,
    closed_at   timestamptz NOT NULL,
    since       timestamptz,                 -- previous closing, null for the first
    expected    numeric(14,2) NOT NULL,
    counted     numeric(14,2) NOT NULL CHECK (counted >= 0),
    difference  numeric(14,2) NOT NULL,      -- counted − expected
    transfer_id bigint,                      -- over/short posting, null when exact
    actor       text NOT NULL,
    form_token  text NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, form_token),
    FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id)
);
CREATE INDEX drawer_closings_station ON drawer_closings (tenant_id, station_id, closed_at DESC);
