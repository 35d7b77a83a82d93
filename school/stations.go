package school

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

// StationKind is what happens at a station.
type StationKind string

// Station kinds.
const (
	Canteen       StationKind = "canteen"
	Daycare       StationKind = "daycare"
	Kiosk         StationKind = "kiosk"
	EnrolmentDesk StationKind = "enrolment"
)

// Station is a place where badges are tapped (a canteen line, a daycare
// door, a kiosk, an enrolment desk).
type Station struct {
	TenantID      int64
	ID            int64
	SchoolID      int64
	Code          string // "canteen-1", unique per tenant (device API)
	Name          string
	Kind          StationKind
	CashAccountID int64 // kiosk: its cash drawer account cash:<code>; else 0
}

// StationInput creates or updates a station (matched by Code).
type StationInput struct {
	SchoolID int64
	Code     string
	Name     string
	Kind     StationKind
}

// EnsureStation creates the station with in.Code or updates its name and
// school (not its kind). A kiosk station gets its cash drawer account
// cash:<code> (asset). It returns ErrInvalid for a bad code or kind and
// ErrNotFound for a school not in the tenant.
func (s *Store) EnsureStation(ctx context.Context, tenantID int64, in StationInput, actor string) (Station, error) {
	if !codeRE.MatchString(in.Code) {
		return Station{}, invalid("station code %q: letters, digits, '-', '_' or '.', at most 40", in.Code)
	}
	switch in.Kind {
	case Canteen, Daycare, Kiosk, EnrolmentDesk:
	default:
		return Station{}, invalid("station kind %q: want canteen, daycare, kiosk or enrolment", in.Kind)
	}
	if strings.TrimSpace(in.Name) == "" {
		in.Name = in.Code
	}
	var cash *int64
	if in.Kind == Kiosk {
		a, err := s.ledger.EnsureAccount(ctx, tenantID, ledger.AccountSpec{Code: CashAccountCode(in.Code), Name: "Caisse " + in.Name + " (570)", Type: ledger.Asset})
		if err != nil {
			return Station{}, fmt.Errorf("station %s: cash account: %w", in.Code, err)
		}
		cash = &a.ID
	}
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var kind string
		err := tx.QueryRow(ctx, `INSERT INTO stations (tenant_id, school_id, code, name, kind, cash_account_id)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, code) DO UPDATE SET school_id = $2, name = $4, cash_account_id = coalesce(stations.cash_account_id, $6)
			RETURNING id, kind`, tenantID, in.SchoolID, in.Code, in.Name, string(in.Kind), cash).Scan(&id, &kind)
		if err != nil {
			return mapErr(err, "station "+in.Code)
		}
		if kind != string(in.Kind) {
			return fmt.Errorf("station %s is a %s station: %w", in.Code, kind, ErrConflict)
		}
		return audit(ctx, tx, tenantID, actor, "station.save", fmt.Sprint("station:", id), map[string]any{"code": in.Code, "kind": in.Kind}, s.now())
	})
	if err != nil {
		return Station{}, err
	}
	return s.station(ctx, `tenant_id = $1 AND id = $2`, tenantID, id)
}

func (s *Store) station(ctx context.Context, where string, args ...any) (Station, error) {
	var st Station
	err := s.pool.QueryRow(ctx, `SELECT tenant_id, id, school_id, code, name, kind, coalesce(cash_account_id, 0) FROM stations WHERE `+where, args...).
		Scan(&st.TenantID, &st.ID, &st.SchoolID, &st.Code, &st.Name, &st.Kind, &st.CashAccountID)
	return st, mapErr(err, fmt.Sprint("station ", args[len(args)-1]))
}

// StationByCode returns the tenant's station with this code, or ErrNotFound.
func (s *Store) StationByCode(ctx context.Context, tenantID int64, code string) (Station, error) {
	return s.station(ctx, `tenant_id = $1 AND code = $2`, tenantID, code)
}

// Station returns the tenant's station with this id, or ErrNotFound.
func (s *Store) Station(ctx context.Context, tenantID, id int64) (Station, error) {
	return s.station(ctx, `tenant_id = $1 AND id = $2`, tenantID, id)
}

// Stations returns the tenant's stations by code.
func (s *Store) Stations(ctx context.Context, tenantID int64) ([]Station, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, id, school_id, code, name, kind, coalesce(cash_account_id, 0) FROM stations
		WHERE tenant_id = $1 ORDER BY code`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("stations: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Station, error) {
		var st Station
		err := r.Scan(&st.TenantID, &st.ID, &st.SchoolID, &st.Code, &st.Name, &st.Kind, &st.CashAccountID)
		return st, err
	})
}

// Device is an enrolled bridge.
type Device struct {
	ID       string
	TenantID int64
	SchoolID int64 // 0: every school of the tenant (enrolled before devices were bound)
	Name     string
	// Secret is the HMAC key exactly as the bridge uses it (bridge.Sign
	// takes the secret string's bytes): the bytes of the hex string shown
	// once at enrolment.
	Secret     []byte
	CreatedAt  time.Time
	RevokedAt  time.Time // zero while valid
	LastSeenAt time.Time // zero when never seen
}

// Revoked reports whether the device was revoked.
func (d Device) Revoked() bool { return !d.RevokedAt.IsZero() }

// Enrolment is the result of EnrolDevice: show Secret once, it is not
// retrievable later in this form by people.
type Enrolment struct {
	DeviceID string
	Secret   string // 64 lower-case hex characters (32 random bytes)
}

// EnrolDevice creates a device with a fresh id ("dev-" + 16 hex) and a
// secret of 32 random bytes written in hex, and audits it.
func (s *Store) EnrolDevice(ctx context.Context, tenantID int64, name, actor string) (Enrolment, error) {
	return s.EnrolDeviceAt(ctx, tenantID, 0, name, actor)
}

// EnrolDeviceAt is EnrolDevice for a device bound to one school (0: every
// school): its taps are refused at other schools' stations. It returns
// ErrNotFound when the school is not the tenant's.
func (s *Store) EnrolDeviceAt(ctx context.Context, tenantID, schoolID int64, name, actor string) (Enrolment, error) {
	idb := make([]byte, 8)
	sec := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return Enrolment{}, fmt.Errorf("device id: %w", err)
	}
	if _, err := rand.Read(sec); err != nil {
		return Enrolment{}, fmt.Errorf("device secret: %w", err)
	}
	e := Enrolment{DeviceID: "dev-" + hex.EncodeToString(idb), Secret: hex.EncodeToString(sec)}
	if err := s.enrolDevice(ctx, tenantID, schoolID, e.DeviceID, name, e.Secret, actor); err != nil {
		return Enrolment{}, err
	}
	return e, nil
}

// EnrolDeviceWithSecret creates the device with a given id and secret, or
// leaves an existing device of the same tenant as it is (so it is
// idempotent). It exists for the demo and tests, which need a known secret;
// production enrolment uses EnrolDevice. It returns ErrConflict when the id
// belongs to another tenant.
func (s *Store) EnrolDeviceWithSecret(ctx context.Context, tenantID int64, deviceID, name, secret, actor string) error {
	return s.enrolDevice(ctx, tenantID, 0, deviceID, name, secret, actor)
}

func (s *Store) enrolDevice(ctx context.Context, tenantID, schoolID int64, deviceID, name, secret, actor string) error {
	if deviceID == "" || len(deviceID) > 64 || strings.ContainsAny(deviceID, ", =\t\n\"") {
		return invalid("device id %q: 1 to 64 characters, no spaces, commas, quotes or '='", deviceID)
	}
	if len(secret) < 32 {
		return invalid("device secret too short (want at least 32 characters)")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var owner int64
		err := tx.QueryRow(ctx, `INSERT INTO devices (device_id, tenant_id, name, secret, created_at, school_id) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (device_id) DO UPDATE SET name = devices.name RETURNING tenant_id`,
			deviceID, tenantID, name, []byte(secret), s.now(), nullID(schoolID)).Scan(&owner)
		if err != nil {
			return mapErr(err, "device "+deviceID)
		}
		if owner != tenantID {
			return fmt.Errorf("device %s: %w", deviceID, ErrConflict)
		}
		return audit(ctx, tx, tenantID, actor, "device.enrol", "device:"+deviceID, map[string]any{"name": name}, s.now())
	})
}

// RevokeDevice revokes the device (idempotent); it returns ErrNotFound when
// the device is not the tenant's.
func (s *Store) RevokeDevice(ctx context.Context, tenantID int64, deviceID, actor string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE devices SET revoked_at = coalesce(revoked_at, $3) WHERE device_id = $1 AND tenant_id = $2`,
			deviceID, tenantID, s.now())
		if err != nil {
			return mapErr(err, "device "+deviceID)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
		}
		return audit(ctx, tx, tenantID, actor, "device.revoke", "device:"+deviceID, nil, s.now())
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	hooks := slices.Clone(s.onRevoke)
	s.mu.Unlock()
	for _, f := range hooks {
		f(deviceID)
	}
	return nil
}

// OnDeviceRevoked registers f, called with the device id after each
// RevokeDevice on this store, so that caches of device rows (the terminal's)
// drop the device at once. Another server process sharing the database
// learns of the revocation only when its cache expires.
func (s *Store) OnDeviceRevoked(f func(deviceID string)) {
	s.mu.Lock()
	s.onRevoke = append(s.onRevoke, f)
	s.mu.Unlock()
}

const deviceCols = `device_id, tenant_id, coalesce(school_id, 0), name, secret, created_at, revoked_at, last_seen_at`

func scanDevice(row pgx.Row) (Device, error) {
	var d Device
	var revoked, seen *time.Time
	if err := row.Scan(&d.ID, &d.TenantID, &d.SchoolID, &d.Name, &d.Secret, &d.CreatedAt, &revoked, &seen); err != nil {
		return Device{}, err
	}
	d.RevokedAt, d.LastSeenAt = deref(revoked), deref(seen)
	return d, nil
}

// DeviceByID returns the device with this id (any tenant: the id comes
// before the tenant is known), revoked or not, or ErrNotFound.
func (s *Store) DeviceByID(ctx context.Context, deviceID string) (Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE device_id = $1`, deviceID))
	return d, mapErr(err, "device "+deviceID)
}

// Devices returns the tenant's devices by id.
func (s *Store) Devices(ctx context.Context, tenantID int64) ([]Device, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deviceCols+` FROM devices WHERE tenant_id = $1 ORDER BY device_id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) { return scanDevice(r) })
}

// TouchDevices records that each device of ids was seen at the time of the
// same index in ats, in one statement (cheap: a device already recorded
// less than a minute before its time is skipped).
func (s *Store) TouchDevices(ctx context.Context, ids []string, ats []time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE devices d SET last_seen_at = x.at
		FROM unnest($1::text[], $2::timestamptz[]) AS x(id, at)
		WHERE d.device_id = x.id AND (d.last_seen_at IS NULL OR d.last_seen_at < x.at - interval '1 minute')`, ids, ats)
	return mapErr(err, "devices last seen")
}
