// Package readers turns the byte streams of serial RFID readers into badge taps.
//
// One Driver exists per reader family: EM4100 modules (NewEM4100), PN532
// over UART (NewPN532) and line readers (NewLine). A Driver only decodes;
// finding, opening and re-finding the serial port, debouncing and the
// status shown to people are done by Reader (NewReader). Noise is counted
// in Stats. See README.md for wiring. The package imports no other Tartine
// package.
package readers

import (
	"context"
	"io"
	"time"
)

// Tech is the badge technology reported with a tap, as in the device API.
type Tech string

// Technologies known to the device API.
const (
	TechEM4100    Tech = "em4100"
	TechISO14443A Tech = "iso14443a"
	TechWiegand   Tech = "wiegand"
	TechQR        Tech = "qr"
	TechManual    Tech = "manual"
)

// Tap is one badge read by one reader.
type Tap struct {
	UID    string    // canonical badge id, upper-case hex (e.g. "0100CDA4EC")
	Tech   Tech      // technology of the badge
	ReadAt time.Time // when the reader delivered the frame
	// Number is the number printed on the badge: for EM4100 fobs the
	// decimal of the last four bytes, ten digits (e.g. "0013477100"); for
	// a decimal line reader (LineDecimal) the digits it printed. Empty
	// otherwise.
	Number string
}

// Driver decodes one reader family's serial protocol.
//
// Run reads from (and, for command/response readers, writes to) port until
// ctx is cancelled or the port fails, calling emit for each valid tap. It
// returns the port's error (or ctx.Err()). Malformed input never ends Run and
// never produces a tap.
type Driver interface {
	Run(ctx context.Context, port io.ReadWriter, emit func(Tap)) error
}
