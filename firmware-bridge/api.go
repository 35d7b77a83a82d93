package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// This file is the bridge's half of the device API contract (DESIGN.md,
// "Device API"). The server implements the same contract with its own code.

// Device API paths.
const (
	PathTaps   = "/api/v1/taps"
	PathBadges = "/api/v1/badges"
)

// AuthScheme is the scheme word of the Authorization header.
const AuthScheme = "Tartine-HMAC"

// Sign returns the request signature of the device API: lower-case hex of
//
//	HMAC-SHA256(secret, method + "\n" + path + "\n" + ts + "\n" + hex(SHA256(body)))
//
// where method is upper case ("POST"), path is the request URI as sent —
// the path plus "?" and the raw query when there is one
// ("/api/v1/badges?since=42") —, ts is the decimal Unix time in seconds and
// hex is lower case. The secret is used as given (its bytes are the key). An
// empty body hashes to SHA256("").
func Sign(secret, method, path string, ts int64, body []byte) string {
	sum := sha256.Sum256(body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method + "\n" + path + "\n" + strconv.FormatInt(ts, 10) + "\n" + hex.EncodeToString(sum[:])))
	return hex.EncodeToString(mac.Sum(nil))
}

// Authorization returns the value of the Authorization header for a request:
// `Tartine-HMAC device=<id>,ts=<unix>,sig=<hex>`.
func Authorization(deviceID, secret, method, path string, now time.Time, body []byte) string {
	ts := now.Unix()
	return fmt.Sprintf("%s device=%s,ts=%d,sig=%s", AuthScheme, deviceID, ts, Sign(secret, method, path, ts, body))
}

// APITap is one tap in a POST /api/v1/taps request.
type APITap struct {
	ID      string    `json:"id"`      // UUID v7 chosen by the bridge: the idempotency key
	Station string    `json:"station"` // station code configured on the server
	UID     string    `json:"uid"`     // canonical upper-case hex badge id
	Tech    string    `json:"tech"`    // em4100 | iso14443a | qr | wiegand | manual
	ReadAt  time.Time `json:"read_at"` // RFC 3339 with fraction and offset
	Offline bool      `json:"offline"` // the bridge decided locally first
}

// TapBatch is the body of POST /api/v1/taps.
type TapBatch struct {
	Taps []APITap `json:"taps"`
}

// Verdicts of a TapResult.
const (
	VerdictAccepted  = "accepted"
	VerdictRefused   = "refused"
	VerdictDuplicate = "duplicate"
)

// Feedback words of a TapResult (and of offline decisions).
const (
	FeedbackOK   = "ok"
	FeedbackWarn = "warn"
	FeedbackDeny = "deny"
)

// TapDisplay is what the staff screen and a small reader display may show.
type TapDisplay struct {
	Name  string   `json:"name"`
	Class string   `json:"class"`
	Flags []string `json:"flags"`
}

// TapResult is the server's answer for one tap.
type TapResult struct {
	ID       string      `json:"id"`
	Verdict  string      `json:"verdict"`  // accepted | refused | duplicate
	Reason   string      `json:"reason"`   // machine code when refused or flagged
	Feedback string      `json:"feedback"` // ok | warn | deny
	Display  *TapDisplay `json:"display,omitempty"`
	Charged  string      `json:"charged"` // decimal string, e.g. "3.70"
}

// TapResults is the 200 response of POST /api/v1/taps: one result per tap,
// in request order.
type TapResults struct {
	Results []TapResult `json:"results"`
}

// Badge statuses in a badge delta.
const (
	BadgeActive  = "active"
	BadgeBlocked = "blocked"
	BadgeRemoved = "removed" // no longer known: drop from the cache
)

// Badge is one entry of GET /api/v1/badges.
type Badge struct {
	UID    string `json:"uid"`
	Status string `json:"status"` // active | blocked | removed
	Name   string `json:"name"`   // pupil's display name, e.g. "Emma D."
}

// BadgeDelta is the response of GET /api/v1/badges?since=<cursor>: badges
// changed since the cursor (all badges when since is empty), the cursor to
// pass next time, and More when the client should ask again at once.
type BadgeDelta struct {
	Badges []Badge `json:"badges"`
	Cursor string  `json:"cursor"`
	More   bool    `json:"more"`
}
