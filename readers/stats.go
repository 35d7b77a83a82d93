package readers

import (
	"io"
	"log/slog"
	"sync/atomic"
	"time"
)

// Stats counts what one reader saw. Every field is safe for concurrent use,
// so a status page may read while the reader runs.
type Stats struct {
	Frames      atomic.Uint64 // well-formed frames decoded, before debounce
	Taps        atomic.Uint64 // taps delivered after debounce (set by Reader)
	Duplicates  atomic.Uint64 // frames dropped by debounce (set by Reader)
	BadChecksum atomic.Uint64 // frames with a wrong checksum, LCS/DCS or Wiegand parity
	Torn        atomic.Uint64 // frames cut short, too long or with malformed content
	Garbage     atomic.Uint64 // stray bytes outside frames, unusable lines
	Protocol    atomic.Uint64 // PN532 NACK, error frames and unexpected answers
	Timeouts    atomic.Uint64 // PN532 commands left without answer in time
	Connects    atomic.Uint64 // successful port opens (set by Reader)
	Disconnects atomic.Uint64 // port sessions that ended (set by Reader)
}

// StatsSnapshot is a plain copy of Stats, for status pages and JSON.
type StatsSnapshot struct {
	Frames      uint64 `json:"frames"`
	Taps        uint64 `json:"taps"`
	Duplicates  uint64 `json:"duplicates"`
	BadChecksum uint64 `json:"bad_checksum"`
	Torn        uint64 `json:"torn"`
	Garbage     uint64 `json:"garbage"`
	Protocol    uint64 `json:"protocol"`
	Timeouts    uint64 `json:"timeouts"`
	Connects    uint64 `json:"connects"`
	Disconnects uint64 `json:"disconnects"`
}

// Snapshot returns the current counter values.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		Frames:      s.Frames.Load(),
		Taps:        s.Taps.Load(),
		Duplicates:  s.Duplicates.Load(),
		BadChecksum: s.BadChecksum.Load(),
		Torn:        s.Torn.Load(),
		Garbage:     s.Garbage.Load(),
		Protocol:    s.Protocol.Load(),
		Timeouts:    s.Timeouts.Load(),
		Connects:    s.Connects.Load(),
		Disconnects: s.Disconnects.Load(),
	}
}

// Observer is what a driver reports to: counters, a debug logger and the
// clock that stamps taps. Every driver of this package embeds one; a Reader
// fills it with its own Stats, logger and clock. The zero value is usable:
// counters go to a private Stats, logs are discarded, time.Now stamps taps.
//
// Protocol timing (PN532 timeouts, the line readers' resynchronisation)
// always uses the real clock.
type Observer struct {
	Stats  *Stats
	Logger *slog.Logger
	Now    func() time.Time
}

// observer gives Reader access to the embedded Observer of package drivers.
func (o *Observer) observer() *Observer { return o }

// withDefaults returns a copy with nil fields replaced by working defaults.
func (o Observer) withDefaults() Observer {
	if o.Stats == nil {
		o.Stats = new(Stats)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
