// Package deviceapi is the contract of the device API between a bridge
// (firmware-bridge, cmd/tartine-bridge) and the server (terminal): the
// paths, the limits, the JSON bodies of POST /api/v1/taps and
// GET /api/v1/badges, and the Tartine-HMAC Authorization header with its
// signature (DESIGN.md, "Device API").
//
// Both sides use this package, so the contract cannot drift: a field or a
// limit changes here, once. It imports the standard library only — the
// bridge links it without the server, the database driver or the web
// framework (firmware-bridge's tests check its imports).
//
// What the server decides (the device's secret, its revocation, the clock
// skew it tolerates, a tap's verdict) stays in terminal; this package only
// says how requests and answers are written and signed.
package deviceapi

import "time"

// Device API paths.
const (
	PathTaps   = "/api/v1/taps"
	PathBadges = "/api/v1/badges"
)

// Limits of the device API.
const (
	// MaxBatch is the largest number of taps in one POST /api/v1/taps; the
	// server answers 400 to more, and a bridge's uplink.batch_size may not
	// exceed it.
	MaxBatch = 500
	// MaxBody is the largest request body the server reads (413 beyond).
	MaxBody = 1 << 20
	// MaxClockSkew is how far a request's timestamp (and a tap's read_at
	// into the future) may be from the server's clock, either way.
	MaxClockSkew = 300 * time.Second
)

// Verdicts of a Result.
const (
	VerdictAccepted  = "accepted"
	VerdictRefused   = "refused"
	VerdictDuplicate = "duplicate"
)

// Feedback patterns of a Result for the reader's LED and beeper (a bridge
// uses the same words for its offline decisions).
const (
	FeedbackOK   = "ok"
	FeedbackWarn = "warn"
	FeedbackDeny = "deny"
)

// Tap is one badge read in a POST /api/v1/taps request.
type Tap struct {
	ID      string    `json:"id"`      // chosen by the bridge (a UUID v7): the idempotency key
	Station string    `json:"station"` // station code configured on the server
	UID     string    `json:"uid"`     // canonical upper-case hex badge id, or a QR token
	Tech    string    `json:"tech"`    // em4100 | iso14443a | qr | wiegand | manual
	ReadAt  time.Time `json:"read_at"` // RFC 3339 with fraction and offset
	Offline bool      `json:"offline"` // the bridge decided locally first
}

// TapBatch is the body of POST /api/v1/taps.
type TapBatch struct {
	Taps []Tap `json:"taps"`
}

// Display is what a reader's small display and the staff screen may show.
type Display struct {
	Name  string   `json:"name"`
	Class string   `json:"class"`
	Flags []string `json:"flags"`
}

// Result is the server's answer for one tap. Action is an addition to the
// DESIGN.md contract (meal, check_in, check_out, lookup) that a bridge may
// ignore.
type Result struct {
	ID       string   `json:"id"`
	Verdict  string   `json:"verdict"`  // accepted | refused | duplicate
	Reason   string   `json:"reason"`   // machine code when refused or flagged
	Feedback string   `json:"feedback"` // ok | warn | deny
	Display  *Display `json:"display,omitempty"`
	Charged  string   `json:"charged"` // amount posted, decimal string, e.g. "3.70"
	Action   string   `json:"action,omitempty"`
}

// Results is the 200 answer of POST /api/v1/taps: one result per tap, in
// request order.
type Results struct {
	Results []Result `json:"results"`
}

// Badge statuses in a BadgeDelta.
const (
	BadgeActive  = "active"
	BadgeBlocked = "blocked"
	BadgeRemoved = "removed" // no longer known here: drop it from the cache
)

// Badge is one entry of GET /api/v1/badges.
type Badge struct {
	UID    string `json:"uid"`
	Status string `json:"status"` // active | blocked | removed
	Name   string `json:"name"`   // the pupil's display name, e.g. "Emma D."; empty when removed
}

// BadgeDelta is the 200 answer of GET /api/v1/badges?since=<cursor>: the
// badges changed since the cursor (every badge for an empty cursor), the
// cursor to pass next time, and More when another page follows at once.
type BadgeDelta struct {
	Badges []Badge `json:"badges"`
	Cursor string  `json:"cursor"`
	More   bool    `json:"more"`
}

// Error is the JSON body of a device API error answer (4xx, 5xx).
type Error struct {
	Error string `json:"error"`
}
