package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"tartine/internal/ledgerbench"
	"tartine/internal/pglocal"
)

// cmdBench runs benchmarks: `tartine bench ledger`.
func cmdBench(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "ledger" {
		fmt.Fprintln(e.stderr, "usage: tartine bench ledger [--duration 10s] [--concurrency 1,8,32] [--json] [--data-dir ./var/bench]")
		return exitCode(2)
	}
	fs := flag.NewFlagSet("bench ledger", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	duration := fs.Duration("duration", 10*time.Second, "duration of each measurement")
	levels := fs.String("concurrency", "1,8,32", "comma-separated concurrency levels")
	asJSON := fs.Bool("json", false, "print one JSON object per line and per measurement")
	dataDir := fs.String("data-dir", "./var/bench", "data directory of the embedded PostgreSQL (when DATABASE_URL is not set)")
	wallets := fs.Int("wallets", 10000, "pre-funded wallets")
	scale := fs.Int("pgbench-scale", 0, "pgbench -i -s (0: the largest concurrency)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitCode(2)
	}
	conc, err := parseLevels(*levels)
	if err != nil {
		fmt.Fprintf(e.stderr, "bench ledger: --concurrency: %v\n", err)
		return exitCode(2)
	}
	log := newLogger(e)
	cfg := ledgerbench.Config{Duration: *duration, Concurrency: conc, Wallets: *wallets, PgbenchScale: *scale,
		Logf: func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) }}

	var binDir string
	if cfg.DSN = e.getenv("DATABASE_URL"); cfg.DSN == "" {
		// The server may run as the postgres user (when we are root), who
		// must be able to reach the data directory: create its parent
		// world-traversable rather than let it be created private.
		if err := os.MkdirAll(filepath.Dir(*dataDir), 0o755); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		// Durable like production: fsync and synchronous commit on.
		c, err := pglocal.Start(ctx, pglocal.Options{DataDir: *dataDir, Database: "postgres", Durable: true, Logf: cfg.Logf})
		if err != nil {
			return fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		defer c.Stop()
		cfg.DSN, binDir = c.DSN("postgres"), c.BinDir()
	}
	cfg.Pgbench = findPgbench(binDir)
	if cfg.Pgbench == "" {
		log.Warn("pgbench not found next to postgres nor on PATH: measuring the ledger only")
	}

	var results []ledgerbench.Result
	_, err = ledgerbench.Run(ctx, cfg, func(r ledgerbench.Result) {
		if *asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintln(e.stdout, string(b))
		}
		results = append(results, r)
	})
	if err != nil {
		return fmt.Errorf("bench ledger: %w", err)
	}
	if !*asJSON {
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "scenario\tconcurrency\ttransfers/s\tp50 ms\tp99 ms\tratio to pgbench\t")
		for _, r := range results {
			ratio := "–"
			if r.RatioToPgbench > 0 {
				ratio = strconv.FormatFloat(r.RatioToPgbench, 'f', 3, 64)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%s\t\n", r.Scenario, r.Concurrency, r.TransfersPerS, r.P50Ms, r.P99Ms, ratio)
		}
		tw.Flush()
	}
	return nil
}

func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// findPgbench looks next to the server binaries in use, then on PATH, then
// next to any installed server.
func findPgbench(binDir string) string {
	if binDir != "" {
		if p := filepath.Join(binDir, "pgbench"); isFile(p) {
			return p
		}
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	if dir, err := pglocal.FindBinaries(); err == nil && isFile(filepath.Join(dir, "pgbench")) {
		return filepath.Join(dir, "pgbench")
	}
	return ""
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
