package deviceapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AuthScheme is the scheme word of the Authorization header.
const AuthScheme = "Tartine-HMAC"

// Errors of ParseAuthorization. The server answers both with 401.
var (
	ErrAuthMissing   = errors.New("deviceapi: missing Tartine-HMAC authorization")
	ErrAuthMalformed = errors.New("deviceapi: malformed authorization header")
)

// Sign returns the request signature of the device API, lower-case hex of
//
//	HMAC-SHA256(secret, method + "\n" + requestURI + "\n" + ts + "\n" + hex(SHA256(body)))
//
// where method is upper case ("POST"), requestURI is the request URI as
// sent — the path plus "?" and the raw query when there is one
// ("/api/v1/badges?since=42") —, ts is the decimal Unix time in seconds and
// hex is lower case. The secret's bytes are the key. An empty body hashes
// to SHA256("").
func Sign(secret []byte, method, requestURI string, ts int64, body []byte) string {
	sum := sha256.Sum256(body)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(method + "\n" + requestURI + "\n" + strconv.FormatInt(ts, 10) + "\n" + hex.EncodeToString(sum[:])))
	return hex.EncodeToString(mac.Sum(nil))
}

// Authorization returns the Authorization header value of a device
// request signed at now: `Tartine-HMAC device=<id>,ts=<unix>,sig=<hex>`.
func Authorization(deviceID string, secret []byte, method, requestURI string, now time.Time, body []byte) string {
	ts := now.Unix()
	return fmt.Sprintf("%s device=%s,ts=%d,sig=%s", AuthScheme, deviceID, ts, Sign(secret, method, requestURI, ts, body))
}

// Auth is a parsed Authorization header.
type Auth struct {
	Device string // the device id, at most 128 characters
	TS     int64  // Unix seconds
	Sig    []byte // the 32 bytes of the signature
}

// Verify reports whether a's signature is the one secret gives to the
// request, in constant time. It does not look at the timestamp: the caller
// compares a.TS with its clock (MaxClockSkew).
func (a Auth) Verify(secret []byte, method, requestURI string, body []byte) bool {
	want, _ := hex.DecodeString(Sign(secret, method, requestURI, a.TS, body))
	return hmac.Equal(want, a.Sig)
}

// ParseAuthorization reads `Tartine-HMAC device=<id>,ts=<unix>,sig=<hex>`.
// It returns ErrAuthMissing for an empty header, or an error wrapping
// ErrAuthMalformed that says which part is wrong.
func ParseAuthorization(h string) (Auth, error) {
	if h == "" {
		return Auth{}, ErrAuthMissing
	}
	rest, ok := strings.CutPrefix(h, AuthScheme+" ")
	if !ok {
		return Auth{}, fmt.Errorf("%w: scheme is not %s", ErrAuthMalformed, AuthScheme)
	}
	var a Auth
	seen := map[string]bool{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || v == "" {
			return Auth{}, fmt.Errorf("%w: field %q is not key=value", ErrAuthMalformed, kv)
		}
		if seen[k] {
			return Auth{}, fmt.Errorf("%w: field %q given twice", ErrAuthMalformed, k)
		}
		seen[k] = true
		switch k {
		case "device":
			if len(v) > 128 {
				return Auth{}, fmt.Errorf("%w: device id longer than 128 characters", ErrAuthMalformed)
			}
			a.Device = v
		case "ts":
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Auth{}, fmt.Errorf("%w: ts %q is not a Unix time", ErrAuthMalformed, v)
			}
			a.TS = ts
		case "sig":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return Auth{}, fmt.Errorf("%w: sig is not 64 hex digits", ErrAuthMalformed)
			}
			a.Sig = sig
		default:
			return Auth{}, fmt.Errorf("%w: unknown field %q", ErrAuthMalformed, k)
		}
	}
	if a.Device == "" || !seen["ts"] || a.Sig == nil {
		return Auth{}, fmt.Errorf("%w: device, ts and sig are required", ErrAuthMalformed)
	}
	return a, nil
}
