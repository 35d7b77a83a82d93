package terminal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"tartine/internal/deviceapi"
)

// Limits of the device API.
const (
	// MaxBatch is the largest number of taps in one POST /api/v1/taps.
	MaxBatch = deviceapi.MaxBatch
	// MaxBody is the largest request body the device API reads.
	MaxBody = deviceapi.MaxBody
	// maxTapID is the longest tap id accepted (a UUID is 36).
	maxTapID = 64
	// maxUID is the longest badge uid or QR token accepted.
	maxUID = 128
)

// Verdicts of a tap.
const (
	VerdictAccepted  = deviceapi.VerdictAccepted
	VerdictRefused   = deviceapi.VerdictRefused
	VerdictDuplicate = deviceapi.VerdictDuplicate
)

// Feedback patterns for the reader's LED and beeper.
const (
	FeedbackOK   = deviceapi.FeedbackOK
	FeedbackWarn = deviceapi.FeedbackWarn
	FeedbackDeny = deviceapi.FeedbackDeny
)

// Reasons: machine codes of a refused or flagged tap.
const (
	ReasonInvalid           = "invalid"
	ReasonUnknownStation    = "unknown_station"
	ReasonUnknownBadge      = "unknown_badge"
	ReasonOtherSchool       = "other_school" // the badge's pupil belongs to another school than the station's
	ReasonBlockedBadge      = "blocked_badge"
	ReasonInactivePupil     = "inactive_pupil"
	ReasonClosedDay         = "closed_day"
	ReasonNotBooked         = "not_booked"
	ReasonInsufficientFunds = "insufficient_funds"
	ReasonLowBalance        = "low_balance"
	ReasonNoTariff          = "no_tariff"
	ReasonNoWallet          = "no_wallet"
)

// Actions of an accepted tap, in Result.Action.
const (
	ActionMeal     = "meal"
	ActionCheckIn  = "check_in"
	ActionCheckOut = "check_out"
	ActionLookup   = "lookup" // kiosk and enrolment stations: the pupil is shown, nothing is charged
)

// Techs are the badge technologies of the device API.
var techs = map[string]bool{"em4100": true, "iso14443a": true, "qr": true, "wiegand": true, "manual": true}

// Tap is one badge read sent by a device (the wire type is deviceapi's).
type Tap = deviceapi.Tap

// Display is what a reader's small display and the staff screen may show.
type Display = deviceapi.Display

// Result is the answer for one tap (DESIGN.md "Device API"). Action is an
// addition to the contract that clients may ignore.
type Result = deviceapi.Result

func refused(id, reason string) Result {
	return Result{ID: id, Verdict: VerdictRefused, Reason: reason, Feedback: FeedbackDeny, Charged: "0.00"}
}

// errInvalidTap is wrapped by parseTap errors.
var errInvalidTap = errors.New("invalid tap")

// parseTap decodes one element of a batch. It always returns the tap id it
// could read (possibly ""), so that the caller can answer for it, and an
// error wrapping errInvalidTap when the tap is malformed.
func parseTap(raw json.RawMessage, now time.Time) (Tap, error) {
	var w struct {
		ID      *string `json:"id"`
		Station *string `json:"station"`
		UID     *string `json:"uid"`
		Tech    *string `json:"tech"`
		ReadAt  *string `json:"read_at"`
		Offline *bool   `json:"offline"`
	}
	var t Tap
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&w); err != nil {
		// Try to save the id so the device can drop the tap from its outbox.
		var idOnly struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &idOnly) == nil && validID(idOnly.ID) {
			t.ID = idOnly.ID
		}
		return t, fmt.Errorf("%w: %v", errInvalidTap, err)
	}
	if w.ID == nil || !validID(*w.ID) {
		return t, fmt.Errorf("%w: id must be 1 to %d printable characters", errInvalidTap, maxTapID)
	}
	t.ID = *w.ID
	if w.Station == nil || *w.Station == "" || len(*w.Station) > 64 {
		return t, fmt.Errorf("%w: station is required", errInvalidTap)
	}
	t.Station = *w.Station
	if w.UID == nil || *w.UID == "" || len(*w.UID) > maxUID || !printable(*w.UID) {
		return t, fmt.Errorf("%w: uid must be 1 to %d printable characters", errInvalidTap, maxUID)
	}
	t.UID = *w.UID
	if w.Tech == nil || !techs[*w.Tech] {
		return t, fmt.Errorf("%w: tech must be em4100, iso14443a, qr, wiegand or manual", errInvalidTap)
	}
	t.Tech = *w.Tech
	if t.Tech != "qr" {
		t.UID = strings.ToUpper(t.UID)
	}
	if w.ReadAt == nil {
		return t, fmt.Errorf("%w: read_at is required", errInvalidTap)
	}
	at, err := time.Parse(time.RFC3339Nano, *w.ReadAt)
	if err != nil {
		return t, fmt.Errorf("%w: read_at %q is not RFC 3339", errInvalidTap, *w.ReadAt)
	}
	if at.After(now.Add(MaxClockSkew)) {
		return t, fmt.Errorf("%w: read_at %s is in the future", errInvalidTap, *w.ReadAt)
	}
	t.ReadAt = at
	if w.Offline != nil {
		t.Offline = *w.Offline
	}
	return t, nil
}

func validID(s string) bool {
	return s != "" && len(s) <= maxTapID && printable(s)
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// ErrBadBatch is returned by parseBatch when the body is not a tap batch at
// all (the whole request is answered 400).
var ErrBadBatch = errors.New("terminal: malformed batch")

// parseBatch reads {"taps": [...]} keeping each tap raw, so that one bad tap
// does not fail the batch.
func parseBatch(body []byte) ([]json.RawMessage, error) {
	var b struct {
		Taps []json.RawMessage `json:"taps"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBatch, err)
	}
	if b.Taps == nil {
		return nil, fmt.Errorf("%w: no \"taps\" array", ErrBadBatch)
	}
	if len(b.Taps) > MaxBatch {
		return nil, fmt.Errorf("%w: %d taps, at most %d per request", ErrBadBatch, len(b.Taps), MaxBatch)
	}
	return b.Taps, nil
}
