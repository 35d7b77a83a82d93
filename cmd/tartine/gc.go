package main

import (
	"log/slog"
	"runtime/debug"
)

// The server's garbage collector, tuned for the device API's latency
// (issue 17). With Go's default (GOGC=100) the portal's pages — a bookings
// page allocates ≈ 130 kB — start a collection several times a second at
// the 8:00 rush; each takes a quarter of the processors for its marking
// and makes allocating goroutines, the taps' included, assist it. A
// collection when the heap has grown by four times what was live instead
// of once: a quarter as many, for a heap of some 100–200 MB at the rush;
// GOMEMLIMIT bounds it, the collector working harder near the limit, which
// keeps 200 simultaneous logins (a 19 MiB argon2id hash each, one at a
// time) under 300 MB. Either environment variable, when set, wins.
const (
	serverGCPercent   = 400
	serverMemoryLimit = 256 << 20
)

// tuneGC applies serverGCPercent and serverMemoryLimit unless GOGC or
// GOMEMLIMIT set them.
func tuneGC(e env, log *slog.Logger) {
	if e.getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if e.getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
	// SetMemoryLimit with a negative value reads the limit.
	log.Debug("garbage collector", "gogc_env", e.getenv("GOGC"), "memory_limit", debug.SetMemoryLimit(-1))
}
