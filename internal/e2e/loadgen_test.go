package e2e

import (
	"context"
	"testing"
	"time"

	"tartine/terminal/loadgen"
)

// TestLoadgen drives the real server with `tartine loadgen taps`' engine,
// closed loop then open loop, and checks that what it reports is what the
// server recorded: every answered tap stored once, no errors, the ledger
// whole.
func TestLoadgen(t *testing.T) {
	f := newFixture(t, 4, 200)
	ctx := context.Background()
	url := "http://" + f.srv.addr
	var total int64
	for _, cfg := range []loadgen.Config{
		{Duration: time.Second, Batch: 1},
		{Duration: time.Second, Batch: 5, Warmup: 300 * time.Millisecond},
		{Duration: 2 * time.Second, Rate: 200, Warmup: 300 * time.Millisecond},
	} {
		cfg.URL, cfg.Setup = url, f.setup
		rep, err := loadgen.Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", rep)
		if rep.Errors != 0 || rep.Taps == 0 || rep.Requests == 0 || rep.P99ms <= 0 {
			t.Fatalf("batch %d rate %.0f: %+v, want taps and no errors", cfg.Batch, cfg.Rate, rep)
		}
		n := 0
		for _, v := range rep.Verdicts {
			n += v
		}
		if int64(n) != rep.Taps {
			t.Errorf("verdicts count %d taps, report says %d", n, rep.Taps)
		}
		if rep.Verdicts["refused/unknown_badge"] == 0 || rep.Verdicts["accepted/"]+rep.Verdicts["accepted/not_booked"] == 0 {
			t.Errorf("verdicts %v: want unknown badges and accepted meals in the mix", rep.Verdicts)
		}
		switch {
		case cfg.Rate > 0:
			// Open loop: the offered rate is met (Poisson arrivals: ±25 %
			// covers 400 taps many times over), the latency is per tap.
			if rep.Latency != "tap" || rep.TapsPerS < 150 || rep.TapsPerS > 250 {
				t.Errorf("open loop at 200 taps/s: %+v", rep)
			}
			if rep.Batch != 500 || rep.Taps > rep.Requests*int64(rep.Batch) || rep.Requests > rep.Taps {
				t.Errorf("open loop: %d taps in %d requests", rep.Taps, rep.Requests)
			}
		default:
			if rep.Latency != "request" || rep.Taps < rep.Requests*int64(cfg.Batch) {
				t.Errorf("closed loop, batch %d: %d taps in %d requests", cfg.Batch, rep.Taps, rep.Requests)
			}
		}
		total += rep.Taps
	}
	// The server stored at least every measured tap (warm-ups and the
	// requests cut by the end of a run come on top), each once.
	rows, ids, _ := f.tapCounts(t)
	if rows != ids || int64(rows) < total {
		t.Errorf("server stored %d tap rows (%d distinct ids), the load generator counted %d answers", rows, ids, total)
	}
	f.verifyLedger(t)
}
