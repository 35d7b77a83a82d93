package terminal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"tartine/internal/deviceapi"
	"tartine/school"
)

// AuthScheme is the scheme word of the device API Authorization header.
const AuthScheme = deviceapi.AuthScheme

// MaxClockSkew is how far a request's timestamp may be from the server's
// clock, either way.
const MaxClockSkew = deviceapi.MaxClockSkew

// Errors of device authentication. All of them are answered with 401.
// ErrAuthMissing and ErrAuthMalformed are deviceapi's (the header's syntax);
// the others are the server's decisions.
var (
	ErrAuthMissing   = deviceapi.ErrAuthMissing
	ErrAuthMalformed = deviceapi.ErrAuthMalformed
	ErrClockSkew     = errors.New("terminal: request timestamp too far from the server clock")
	ErrUnknownDevice = errors.New("terminal: unknown device")
	ErrRevokedDevice = errors.New("terminal: device revoked")
	ErrBadSignature  = errors.New("terminal: bad signature")
)

// Authorization returns the Authorization header value for a device request
// (deviceapi.Authorization, for the server's tests and load generators).
func Authorization(deviceID string, secret []byte, method, requestURI string, now time.Time, body []byte) string {
	return deviceapi.Authorization(deviceID, secret, method, requestURI, now, body)
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
// not read the devices table on every request (refreshed ahead: ttlCache).
// A revocation through the shared school.Store drops the device at once
// (school.Store.OnDeviceRevoked); one made by another server process takes
// effect within the TTL and one reload.
type deviceCache struct {
	store *school.Store
	now   func() time.Time
	rows  *ttlCache[string, cachedDevice]

	mu sync.Mutex
	// seen is when this process last recorded each device as seen
	// (school.Store.TouchDevices): at most once a minute per device, so
	// that the hot path writes nothing on almost every request.
	seen map[string]time.Time
	// pending is what the next write records; flushing, that it is
	// scheduled (seenDelay after the first device due).
	pending  map[string]time.Time
	flushing bool
}

// seenEvery is how often a device's last_seen_at is written at most.
const seenEvery = time.Minute

// seenDelay is how long a device's last-seen waits for the others due: the
// first requests of a server just started — every reader at once — make
// one write instead of one commit each among the first groups of taps
// (issue 17: 16 concurrent updates took up to 30 ms each there).
const seenDelay = time.Second

type cachedDevice struct {
	dev   Device
	found bool
}

func newDeviceCache(store *school.Store, ttl, stale time.Duration, now func() time.Time) *deviceCache {
	return &deviceCache{store: store, now: now, rows: newTTLCache[string, cachedDevice](ttl, stale, now),
		seen: map[string]time.Time{}, pending: map[string]time.Time{}}
}

// get returns the device or ErrUnknownDevice. An unknown id is cached too
// (briefly), so that a scanner sending made-up ids costs no query each.
func (c *deviceCache) get(ctx context.Context, id string) (Device, error) {
	e, err := c.rows.get(ctx, id, func(ctx context.Context) (cachedDevice, error) {
		sd, err := c.store.DeviceByID(ctx, id)
		switch {
		case errors.Is(err, school.ErrNotFound):
			return cachedDevice{}, nil
		case err != nil:
			return cachedDevice{}, fmt.Errorf("read device %q: %w", id, err)
		}
		return cachedDevice{dev: Device{ID: sd.ID, TenantID: sd.TenantID, SchoolID: sd.SchoolID, Name: sd.Name, secret: sd.Secret, Revoked: sd.Revoked()},
			found: true}, nil
	})
	if err != nil {
		return Device{}, err
	}
	if !e.found {
		return Device{}, fmt.Errorf("%w %q", ErrUnknownDevice, id)
	}
	return e.dev, nil
}

// forget drops a device from the cache (after revocation on this server).
func (c *deviceCache) forget(id string) { c.rows.drop(id) }

// authenticate checks a device request. It returns the device, or one of
// ErrAuthMissing, ErrAuthMalformed, ErrClockSkew, ErrUnknownDevice,
// ErrRevokedDevice, ErrBadSignature (wrapped), or a database error.
func (c *deviceCache) authenticate(ctx context.Context, header, method, requestURI string, body []byte) (Device, error) {
	a, err := deviceapi.ParseAuthorization(header)
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
	if !a.Verify(dev.secret, method, requestURI, body) {
		return Device{}, ErrBadSignature
	}
	// Checked after the signature so that a revoked id is not confirmed to
	// someone who does not hold its secret.
	if dev.Revoked {
		return Device{}, fmt.Errorf("%w: %q", ErrRevokedDevice, dev.ID)
	}
	c.touch(ctx, dev.ID, now)
	return dev, nil
}

// touch records that an authenticated device was seen at now, unless this
// process did so less than seenEvery before. The write runs beside the
// requests, which do not wait for it, for every device due within
// seenDelay; a failed one is tried again on the device's next request.
func (c *deviceCache) touch(ctx context.Context, id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	last, ok := c.seen[id]
	if ok && now.Sub(last) < seenEvery && !now.Before(last) {
		return
	}
	if len(c.seen) > 10000 {
		clear(c.seen)
	}
	c.seen[id] = now
	c.pending[id] = now
	if !c.flushing {
		c.flushing = true
		ctx := context.WithoutCancel(ctx)
		time.AfterFunc(seenDelay, func() { c.flushSeen(ctx) })
	}
}

// flushSeen writes the pending last-seen times in one statement.
func (c *deviceCache) flushSeen(ctx context.Context) {
	c.mu.Lock()
	batch := c.pending
	c.pending, c.flushing = map[string]time.Time{}, false
	c.mu.Unlock()
	ids, ats := make([]string, 0, len(batch)), make([]time.Time, 0, len(batch))
	for id, at := range batch {
		ids, ats = append(ids, id), append(ats, at)
	}
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	if err := c.store.TouchDevices(ctx, ids, ats); err != nil {
		c.mu.Lock()
		for id, at := range batch {
			if c.seen[id].Equal(at) {
				delete(c.seen, id)
			}
		}
		c.mu.Unlock()
	}
}
