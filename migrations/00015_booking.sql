-- +goose Up
-- Services (meal types, daycare), effective-dated tariffs, the school
-- calendar, menus and bookings (package booking). Every key starts with
-- tenant_id.

-- Meal types of the organising body: "repas" (repas complet), "potage",
-- "sandwich"... The code is the booking service name.
CREATE TABLE meal_types (
    tenant_id  bigint NOT NULL REFERENCES tenants (id),
    code       text NOT NULL CHECK (code ~ '^[a-z][a-z0-9-]{0,31}$' AND code NOT LIKE 'daycare%'),
    name       text NOT NULL,
    -- Counted for the FWB free-meal programme: free-meal pupils pay 0 € and
    -- the meal is charged to subsidy:fwb-meals.
    subsidised boolean NOT NULL DEFAULT false,
    position   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, code)
);

-- Level patterns: '*' (every level), a cycle 'M' / 'P' / 'S', or an exact
-- level 'P3'. The most specific tariff effective on a day wins.
CREATE TABLE meal_tariffs (
    tenant_id      bigint NOT NULL,
    id             bigint GENERATED ALWAYS AS IDENTITY,
    school_id      bigint NOT NULL,
    meal_type      text NOT NULL,
    level          text NOT NULL DEFAULT '*' CHECK (level ~ '^(\*|[MPS]|M[1-3]|P[1-6]|S[1-6])$'),
    booked_price   numeric(14,2) NOT NULL CHECK (booked_price >= 0),
    unbooked_price numeric(14,2) NOT NULL CHECK (unbooked_price >= 0),
    valid_from     date NOT NULL,
    valid_to       date,                  -- inclusive; null: open-ended
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id),
    FOREIGN KEY (tenant_id, meal_type) REFERENCES meal_types (tenant_id, code)
);
CREATE INDEX meal_tariffs_lookup ON meal_tariffs (tenant_id, school_id, meal_type, valid_from);

-- Daycare tariff: price per started period outside the free windows,
-- capped per day, between opening and closing (see booking.DaycareCharge).
CREATE TABLE daycare_tariffs (
    tenant_id      bigint NOT NULL,
    id             bigint GENERATED ALWAYS AS IDENTITY,
    school_id      bigint NOT NULL,
    level          text NOT NULL DEFAULT '*' CHECK (level ~ '^(\*|[MPS]|M[1-3]|P[1-6]|S[1-6])$'),
    period_minutes integer NOT NULL DEFAULT 30 CHECK (period_minutes BETWEEN 1 AND 720),
    period_price   numeric(14,4) NOT NULL CHECK (period_price >= 0), -- a rate: may carry more than cents
    daily_cap      numeric(14,2) CHECK (daily_cap >= 0),              -- null: no cap
    opens_at       time NOT NULL DEFAULT '07:00',
    closes_at      time NOT NULL DEFAULT '18:00',
    free_windows   jsonb NOT NULL DEFAULT '[]', -- [{"from":"15:30","to":"15:45","label":"..."}]
    valid_from     date NOT NULL,
    valid_to       date,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK (closes_at > opens_at),
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);
CREATE INDEX daycare_tariffs_lookup ON daycare_tariffs (tenant_id, school_id, valid_from);

-- School calendar: a school year (first and last school day) and its closed
-- weekdays (breaks, holidays, one-off closures). Weekends are always closed
-- and not stored.
CREATE TABLE school_years (
    tenant_id  bigint NOT NULL,
    school_id  bigint NOT NULL,
    label      text NOT NULL,              -- "2026-27"
    starts_on  date NOT NULL,
    ends_on    date NOT NULL,
    PRIMARY KEY (tenant_id, school_id, starts_on),
    UNIQUE (tenant_id, school_id, label),
    CHECK (ends_on > starts_on),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);

CREATE TABLE school_closures (
    tenant_id  bigint NOT NULL,
    school_id  bigint NOT NULL,
    day        date NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('break', 'holiday', 'closure')),
    label      text NOT NULL,
    PRIMARY KEY (tenant_id, school_id, day),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);

-- Menus: dishes per day and meal type, with the 14 EU allergens.
CREATE TABLE menu_items (
    tenant_id  bigint NOT NULL,
    school_id  bigint NOT NULL,
    day        date NOT NULL,
    meal_type  text NOT NULL,
    position   integer NOT NULL,
    course     text NOT NULL DEFAULT '',   -- "potage", "plat", "dessert"
    dish       text NOT NULL,
    allergens  text[] NOT NULL DEFAULT '{}' CHECK (allergens <@ ARRAY['gluten', 'crustaceans', 'eggs', 'fish', 'peanuts',
        'soy', 'milk', 'nuts', 'celery', 'mustard', 'sesame', 'sulphites', 'lupin', 'molluscs']::text[]),
    PRIMARY KEY (tenant_id, school_id, day, meal_type, position),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id),
    FOREIGN KEY (tenant_id, meal_type) REFERENCES meal_types (tenant_id, code)
);

-- Bookings: one row per pupil, day and service while not cancelled. State
-- changes are UPDATEs (the money side is in the ledger: hold booking:<id>).
CREATE TABLE bookings (
    tenant_id    bigint NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    school_id    bigint NOT NULL,
    pupil_id     bigint NOT NULL,
    day          date NOT NULL,
    service      text NOT NULL,            -- meal type code, daycare-morning, daycare-evening
    status       text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled', 'consumed', 'noshow')),
    price        numeric(14,2) NOT NULL CHECK (price >= 0),      -- held on the wallet: what the family pays
    list_price   numeric(14,2) NOT NULL CHECK (list_price >= 0), -- tariff booked price (subsidy claim)
    free_meal    boolean NOT NULL DEFAULT false,
    hold_id      bigint,
    transfer_id  bigint,                   -- the posting (consumption or no-show)
    tap_id       text,
    booked_by    text NOT NULL,
    booked_at    timestamptz NOT NULL,
    cancelled_by text,
    cancelled_at timestamptz,
    consumed_at  timestamptz,
    ended_at     timestamptz,              -- day-end outcome (noshow)
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id),
    FOREIGN KEY (tenant_id, hold_id) REFERENCES holds (tenant_id, id),
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES transfers (tenant_id, id)
);
CREATE UNIQUE INDEX bookings_active ON bookings (tenant_id, pupil_id, day, service) WHERE status <> 'cancelled';
CREATE INDEX bookings_school_day ON bookings (tenant_id, school_id, day, status);
