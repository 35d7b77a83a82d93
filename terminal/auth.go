package terminal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AuthScheme is the scheme word of the device API Authorization header.
const AuthScheme = "Tartine-HMAC"

// MaxClockSkew is how far a request's timestamp may be from the server's
// clock, either way.
const MaxClockSkew = 300 * time.Second

// Errors of device authentication. All of them are answered with 401.
var (
	ErrAuthMissing   = errors.New("terminal: missing Tartine-HMAC authorization")
	ErrAuthMalformed = errors.New("terminal: malformed authorization header")
	ErrClockSkew     = errors.New("terminal: request timestamp too far from the server clock")
	ErrUnknownDevice = errors.New("terminal: unknown device")
	ErrRevokedDevice = errors.New("terminal: device revoked")
	ErrBadSignature  = errors.New("terminal: bad signature")
)

// Sign returns the device API signature, lower-case hex of
//
//	HMAC-SHA256(secret, method + "\n" + requestURI + "\n" + ts + "\n" + hex(SHA256(body)))
//
// where requestURI is the path plus "?" and the raw query when there is one.
// It matches the bridge's bridge.Sign.
func Sign(secret []byte, method, requestURI string, ts int64, body []byte) string {
	sum := sha256.Sum256(body)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(method + "\n" + requestURI + "\n" + strconv.FormatInt(ts, 10) + "\n" + hex.EncodeToString(sum[:])))
	return hex.EncodeToString(mac.Sum(nil))
}

// Authorization returns the Authorization header value for a device request.
func Authorization(deviceID string, secret []byte, method, requestURI string, now time.Time, body []byte) string {
	ts := now.Unix()
	return fmt.Sprintf("%s device=%s,ts=%d,sig=%s", AuthScheme, deviceID, ts, Sign(secret, method, requestURI, ts, body))
}

// authHeader is a parsed Authorization header.
type authHeader struct {
	Device string
	TS     int64
	Sig    []byte
}

// parseAuthorization reads `Tartine-HMAC device=<id>,ts=<unix>,sig=<hex>`.
// It returns ErrAuthMissing or an error wrapping ErrAuthMalformed that says
// which part is wrong.
func parseAuthorization(h string) (authHeader, error) {
	if h == "" {
		return authHeader{}, ErrAuthMissing
	}
	rest, ok := strings.CutPrefix(h, AuthScheme+" ")
	if !ok {
		return authHeader{}, fmt.Errorf("%w: scheme is not %s", ErrAuthMalformed, AuthScheme)
	}
	var a authHeader
	seen := map[string]bool{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || v == "" {
			return authHeader{}, fmt.Errorf("%w: field %q is not key=value", ErrAuthMalformed, kv)
		}
		if seen[k] {
			return authHeader{}, fmt.Errorf("%w: field %q given twice", ErrAuthMalformed, k)
		}
		seen[k] = true
		switch k {
		case "device":
			if len(v) > 128 {
				return authHeader{}, fmt.Errorf("%w: device id longer than 128 characters", ErrAuthMalformed)
			}
			a.Device = v
		case "ts":
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return authHeader{}, fmt.Errorf("%w: ts %q is not a Unix time", ErrAuthMalformed, v)
			}
			a.TS = ts
		case "sig":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return authHeader{}, fmt.Errorf("%w: sig is not 64 hex digits", ErrAuthMalformed)
			}
			a.Sig = sig
		default:
			return authHeader{}, fmt.Errorf("%w: unknown field %q", ErrAuthMalformed, k)
		}
	}
	if a.Device == "" || !seen["ts"] || a.Sig == nil {
		return authHeader{}, fmt.Errorf("%w: device, ts and sig are required", ErrAuthMalformed)
	}
	return a, nil
}

// Device is an enrolled bridge.
type Device struct {
	ID       string
	TenantID int64
	SchoolID int64 // 0: every school of the tenant; else its taps count only at this school's stations
	Name     string
	secret   []byte
	Revoked  bool
}

// deviceCache keeps device rows for a short time so that the hot path does
// not read the devices table on every request. A revocation through the
// shared school.Store drops the device at once (school.Store.OnDeviceRevoked);
// one made by another server process takes effect within the TTL.
type deviceCache struct {
	pool *pgxpool.Pool
	ttl  time.Duration
	now  func() time.Time

	mu sync.Mutex
	m  map[string]cachedDevice
}

type cachedDevice struct {
	dev     Device
	found   bool
	expires time.Time
}

func newDeviceCache(pool *pgxpool.Pool, ttl time.Duration, now func() time.Time) *deviceCache {
	return &deviceCache{pool: pool, ttl: ttl, now: now, m: map[string]cachedDevice{}}
}

// get returns the device or ErrUnknownDevice.
func (c *deviceCache) get(ctx context.Context, id string) (Device, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if !ok || now.After(e.expires) {
		var d Device
		var revokedAt *time.Time
		err := c.pool.QueryRow(ctx, `SELECT device_id, tenant_id, coalesce(school_id, 0), name, secret, revoked_at FROM devices WHERE device_id = $1`, id).
			Scan(&d.ID, &d.TenantID, &d.SchoolID, &d.Name, &d.secret, &revokedAt)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			e = cachedDevice{expires: now.Add(c.ttl)}
		case err != nil:
			return Device{}, fmt.Errorf("read device %q: %w", id, err)
		default:
			d.Revoked = revokedAt != nil
			e = cachedDevice{dev: d, found: true, expires: now.Add(c.ttl)}
		}
		c.mu.Lock()
		if len(c.m) > 10000 { // unknown ids sent by a scanner must not grow the map forever
			clear(c.m)
		}
		c.m[id] = e
		c.mu.Unlock()
	}
	if !e.found {
		return Device{}, fmt.Errorf("%w %q", ErrUnknownDevice, id)
	}
	return e.dev, nil
}

// forget drops a device from the cache (after revocation on this server).
func (c *deviceCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

// authenticate checks a device request. It returns the device, or one of
// ErrAuthMissing, ErrAuthMalformed, ErrClockSkew, ErrUnknownDevice,
// ErrRevokedDevice, ErrBadSignature (wrapped), or a database error.
func (c *deviceCache) authenticate(ctx context.Context, header, method, requestURI string, body []byte) (Device, error) {
	a, err := parseAuthorization(header)
	if err != nil {
		return Device{}, err
	}
	now := c.now()
	if d := now.Sub(time.Unix(a.TS, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		return Device{}, fmt.Errorf("%w: %d s off", ErrClockSkew, int64(d/time.Second))
	}
	dev, err := c.get(ctx, a.Device)
	if err != nil {
		return Device{}, err
	}
	want, _ := hex.DecodeString(Sign(dev.secret, method, requestURI, a.TS, body))
	if !hmac.Equal(want, a.Sig) {
		return Device{}, ErrBadSignature
	}
	// Checked after the signature so that a revoked id is not confirmed to
	// someone who does not hold its secret.
	if dev.Revoked {
		return Device{}, fmt.Errorf("%w: %q", ErrRevokedDevice, dev.ID)
	}
	return dev, nil
}
