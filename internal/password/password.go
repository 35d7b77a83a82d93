// Package password hashes and verifies passwords with argon2id, stored as
// PHC strings ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", base64 without
// padding). Staff users and guardians share it.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // iterations
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// Default follows the OWASP recommendation for argon2id (19 MiB, 2 passes,
// 1 thread): about 20–40 ms per hash on a small server.
var Default = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// ErrMismatch is returned by Verify when the password does not match.
var ErrMismatch = errors.New("password: mismatch")

// ErrMalformed is returned by Verify when the stored hash is not a valid
// argon2id PHC string.
var ErrMalformed = errors.New("password: malformed hash")

// maxMemory bounds the memory a stored hash may ask for (1 GiB) so a
// tampered row cannot exhaust the server.
const maxMemory = 1 << 20

// ErrBusy is returned when a hash could not start within the limiter's
// wait because every slot was taken: the web layer answers « trop de
// connexions, réessayez » (503 with Retry-After).
var ErrBusy = errors.New("password: too many password checks in progress")

// Limiter bounds how many argon2id hashes run at once: each takes
// Default.Memory (19 MiB) for its duration, so 200 simultaneous logins
// unbounded take 4 GB and every core. A hash waits for a slot at most the
// limiter's wait, then gives ErrBusy. It is safe for concurrent use.
type Limiter struct {
	slots chan struct{}
	wait  time.Duration
}

// NewLimiter returns a limiter of n concurrent hashes (n ≤ 0: one per two
// processors, at least one — each hash keeps a core busy, and a login rush
// must leave cores to everything else) that lets a hash wait up to wait
// for a slot.
func NewLimiter(n int, wait time.Duration) *Limiter {
	if n <= 0 {
		n = max(1, runtime.GOMAXPROCS(0)/2)
	}
	return &Limiter{slots: make(chan struct{}, n), wait: wait}
}

// shared bounds the package functions Hash and Verify, process-wide as the
// memory and the cores it protects: one hash per two processors, up to
// 4 s of wait, so that every login is answered within a few seconds and
// memory stays near n × 19 MiB whatever the number of simultaneous logins.
var shared = NewLimiter(0, 4*time.Second)

// Shared returns the process-wide limiter of Hash and Verify.
func Shared() *Limiter { return shared }

// acquire takes a slot, waiting up to l.wait or until ctx ends.
func (l *Limiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

func (l *Limiter) release() { <-l.slots }

// Hash is the package's Hash within the limiter; ErrBusy when no slot
// freed up in time.
func (l *Limiter) Hash(ctx context.Context, password string) (string, error) {
	if err := l.acquire(ctx); err != nil {
		return "", err
	}
	defer l.release()
	return HashWith(password, Default)
}

// Verify is the package's Verify within the limiter; ErrBusy when no slot
// freed up in time.
func (l *Limiter) Verify(ctx context.Context, password, phc string) error {
	if err := l.acquire(ctx); err != nil {
		return err
	}
	defer l.release()
	return verify(password, phc)
}

// Hash returns the PHC string of password with the Default parameters,
// within the shared limiter (ErrBusy when it is saturated).
func Hash(password string) (string, error) {
	return shared.Hash(context.Background(), password)
}

// HashWith returns the PHC string of password with the given parameters.
// It is not limited: use Hash or a Limiter for requests.
func HashWith(password string, p Params) (string, error) {
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 || p.KeyLen == 0 || p.SaltLen < 8 {
		return "", fmt.Errorf("password: invalid parameters %+v", p)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify checks password against a PHC string in constant time, within
// the shared limiter. It returns nil on a match, ErrMismatch when the
// password is wrong, ErrMalformed (wrapped) when the hash cannot be decoded
// and ErrBusy when too many checks are in progress.
func Verify(password, phc string) error {
	return shared.Verify(context.Background(), password, phc)
}

func verify(password, phc string) error {
	p, salt, key, err := decode(phc)
	if err != nil {
		return err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether phc was made with parameters other than
// Default (callers may rehash after a successful login).
func NeedsRehash(phc string) bool {
	p, salt, key, err := decode(phc)
	if err != nil {
		return true
	}
	return p.Memory != Default.Memory || p.Time != Default.Time || p.Threads != Default.Threads ||
		uint32(len(salt)) != Default.SaltLen || uint32(len(key)) != Default.KeyLen
}

func decode(phc string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: not an argon2id PHC string", ErrMalformed)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: version %q", ErrMalformed, parts[2])
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, fmt.Errorf("%w: parameter %q", ErrMalformed, kv)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, fmt.Errorf("%w: parameter %q", ErrMalformed, kv)
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, fmt.Errorf("%w: parameter %q", ErrMalformed, kv)
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, fmt.Errorf("%w: parameter %q", ErrMalformed, kv)
		}
	}
	if p.Memory == 0 || p.Memory > maxMemory || p.Time == 0 || p.Time > 100 || p.Threads == 0 {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformed)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("%w: salt", ErrMalformed)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, fmt.Errorf("%w: hash", ErrMalformed)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
