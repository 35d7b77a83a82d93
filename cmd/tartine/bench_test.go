package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"tartine/internal/dbtest"
)

// TestBenchLedgerJSON checks the --json contract: one object per line and
// per measurement, with exactly the documented keys.
func TestBenchLedgerJSON(t *testing.T) {
	dsn := dbtest.NewDSN(t)
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return dsn
		}
		return ""
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"bench", "ledger", "--duration", "200ms", "--concurrency", "1,2", "--wallets", "20",
		"--pgbench-scale", "1", "--json"}, getenv, &out, io.Discard)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 8 (4 scenarios × 2 levels):\n%s", len(lines), out.String())
	}
	wantKeys := []string{"concurrency", "p50_ms", "p99_ms", "ratio_to_pgbench", "scenario", "transfers_per_s"}
	for _, ln := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("line %q: %v", ln, err)
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantKeys) {
			t.Fatalf("line %q has keys %v, want %v", ln, keys, wantKeys)
		}
		if s := m["scenario"].(string); !slices.Contains([]string{"purchase", "topup", "hold-post", "pgbench-tpcb-like"}, s) {
			t.Fatalf("scenario %q", s)
		}
	}
	if err := run(context.Background(), []string{"bench", "ledger", "--concurrency", "0"}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("concurrency 0 accepted")
	}
}
