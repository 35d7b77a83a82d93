package main

import (
	"context"
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
)

func mapEnv(vars map[string]string) env {
	return env{getenv: getenvFrom(vars), stdout: io.Discard, stderr: io.Discard}
}

func TestTuneGC(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(1<<40)
	defer func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) }()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	tuneGC(mapEnv(nil), log)
	if got := debug.SetGCPercent(100); got != serverGCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, serverGCPercent)
	}
	if got := debug.SetMemoryLimit(1 << 40); got != serverMemoryLimit {
		t.Errorf("without GOMEMLIMIT: memory limit %d, want %d", got, serverMemoryLimit)
	}

	// The environment's settings win (the runtime read them at start; here
	// they stand as set before tuneGC).
	tuneGC(mapEnv(map[string]string{"GOGC": "100", "GOMEMLIMIT": "1TiB"}), log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC: GC percent %d, want it untouched (100)", got)
	}
	if got := debug.SetMemoryLimit(1 << 40); got != 1<<40 {
		t.Errorf("with GOMEMLIMIT: memory limit %d, want it untouched", got)
	}
}

func TestOpenCanteenFirstSetting(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, bad := range []string{"x", "-1", "20"} {
		if _, err := openCanteenFirst(context.Background(), mapEnv(map[string]string{"TARTINE_YIELD_NICE": bad}), log, &database{}, 4); err == nil {
			t.Errorf("TARTINE_YIELD_NICE=%s accepted", bad)
		}
	}
	// Without the embedded cluster (DATABASE_URL, or a pool handed by a
	// test), nothing is reniced and no pool of its own is opened here.
	d := &database{}
	closeFn, err := openCanteenFirst(context.Background(), mapEnv(map[string]string{"TARTINE_YIELD_NICE": "5"}), log, d, 4)
	if err != nil {
		t.Fatal(err)
	}
	closeFn()
	if d.Devices != nil {
		t.Error("a device pool was opened without a DSN")
	}
}
