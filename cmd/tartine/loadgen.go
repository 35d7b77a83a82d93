package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"tartine/terminal/loadgen"
)

// cmdLoadgen is `tartine loadgen taps`:
//
//	tartine loadgen taps --setup [--devices 8] [--pupils 2000] [--file ./var/loadgen.json]
//	    creates the "loadgen" tenant in the database (DATABASE_URL or the
//	    embedded --data-dir) and writes the device credentials to --file;
//	tartine loadgen taps --url http://127.0.0.1:8080 [--devices 8] [--duration 30s] [--batch 1] [--json]
//	    drives the server's device API with the devices of --file, each
//	    sending --batch taps and waiting for the answer (closed loop);
//	tartine loadgen taps --url … --rate 2000 [--devices 16] [--batch 500]
//	    lets taps arrive at --rate per second whatever the answers, each
//	    device sending what arrived meanwhile, like firmware-bridge (open
//	    loop; latency per tap, arrival to answer).
func cmdLoadgen(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "portal" {
		return cmdLoadgenPortal(ctx, e, args[1:])
	}
	if len(args) == 0 || args[0] != "taps" {
		fmt.Fprintln(e.stderr, "usage: tartine loadgen taps [--setup] --url URL [--devices N] [--duration D] [--warmup D] [--batch N] [--rate R] [--json]")
		fmt.Fprintln(e.stderr, "       tartine loadgen portal [--setup] --url URL [--parents N] [--duration D] [--login-only] [--pid PID] [--taps-rate R] [--json]")
		return exitCode(2)
	}
	fs, df := dbFlagSet(e, "loadgen taps", "./var/pg")
	setup := fs.Bool("setup", false, "create the loadgen tenant, devices and pupils, write --file, and exit")
	file := fs.String("file", "./var/loadgen.json", "device credentials and badges (written by --setup)")
	url := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	devices := fs.Int("devices", 8, "simulated devices (parallel connections)")
	pupils := fs.Int("pupils", 2000, "pupils with badges (--setup)")
	duration := fs.Duration("duration", 30*time.Second, "measured run time")
	warmup := fs.Duration("warmup", 0, "load sent before --duration, not measured")
	batch := fs.Int("batch", 0, "taps per request (default 1: online taps; more: offline replays); with --rate, the most per request (default 500)")
	rate := fs.Float64("rate", 0, "open loop: taps arriving per second in all, sent by each device as they wait (0: closed loop)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	reqLog := fs.String("requests", "", "open loop: write one line per measured request to this file (device, sent µs, round trip µs, taps, oldest tap's wait µs)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitCode(2)
	}
	if *devices < 1 || *pupils < 1 || *batch < 0 || *batch > 500 || *duration <= 0 || *rate < 0 || *warmup < 0 {
		return errors.New("loadgen: --devices, --pupils, --duration must be positive, --rate zero or more and --batch 1 to 500")
	}
	if *setup {
		log := newLogger(e)
		d, err := openCurrent(ctx, e, *df, log, true)
		if err != nil {
			return err
		}
		defer d.Close()
		s, err := loadgen.Prepare(ctx, d.Pool, *devices, *pupils)
		if err != nil {
			return fmt.Errorf("loadgen setup: %w", err)
		}
		if err := loadgen.SeedHistory(ctx, d.Pool, s); err != nil {
			return fmt.Errorf("loadgen setup: %w", err)
		}
		if err := writeSetup(*file, s); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "loadgen tenant ready: %d devices, %d badges; credentials in %s\n", len(s.Devices), len(s.Badges), *file)
		return nil
	}
	s, err := readTaps(*file, *devices, "loadgen")
	if err != nil {
		return err
	}
	// The load generator shares the machine with the server it measures
	// (readers are other machines in a school): one processor for its Go
	// scheduler keeps it from waking threads on every core for each
	// request. Measured on 2 cores: 0.2 instead of 0.25 cores of its own,
	// and 12–25 % more taps/s for the server.
	runtime.GOMAXPROCS(1)
	cfg := loadgen.Config{URL: *url, Setup: s, Duration: *duration, Batch: *batch, Rate: *rate, Warmup: *warmup}
	if *reqLog != "" {
		f, err := os.Create(*reqLog)
		if err != nil {
			return err
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		defer w.Flush()
		cfg.Requests = w
	}
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	mode := fmt.Sprintf("batch %d", rep.Batch)
	if rep.Rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f taps/s, up to %d per request, %d taps sent after the run", rep.Rate, rep.Batch, rep.Backlog)
	}
	fmt.Fprintf(e.stdout, "devices %d, %s, %.1f s: %d taps in %d requests, %.0f taps/s; latency per %s p50 %.2f ms, p99 %.2f ms, max %.2f ms; errors %d\n",
		rep.Devices, mode, rep.Duration, rep.Taps, rep.Requests, rep.TapsPerS, rep.Latency, rep.P50ms, rep.P99ms, rep.Maxms, rep.Errors)
	if rep.Rate > 0 {
		fmt.Fprintf(e.stdout, "  requests' round trips (sent to answered): p50 %.2f ms, p99 %.2f ms, max %.2f ms; the generator's own delay in sending: p99 %.2f ms, max %.2f ms\n",
			rep.RequestP50ms, rep.RequestP99ms, rep.RequestMaxms, rep.SendLateP99ms, rep.SendLateMaxms)
	}
	keys := make([]string, 0, len(rep.Verdicts))
	for k := range rep.Verdicts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(e.stdout, "  %-32s %d\n", k, rep.Verdicts[k])
	}
	if rep.LastError != "" {
		fmt.Fprintf(e.stdout, "  last error: %s\n", rep.LastError)
	}
	return nil
}

// writeSetup writes what a load generator's --setup prepared (credentials,
// logins) to file as JSON, readable by its owner only.
func writeSetup(file string, setup any) error {
	b, _ := json.MarshalIndent(setup, "", "  ")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// readSetup reads what `tartine <setupCmd> --setup` wrote to file; cmd
// prefixes the errors.
func readSetup[T any](file, cmd, setupCmd string) (T, error) {
	var s T
	raw, err := os.ReadFile(file)
	if err != nil {
		return s, fmt.Errorf("%s: %w (run `tartine %s --setup` first)", cmd, err, setupCmd)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("%s: %s: %w", cmd, file, err)
	}
	return s, nil
}

// readTaps reads the devices and badges `loadgen taps --setup` wrote to
// file, keeping the first devices; cmd prefixes the errors.
func readTaps(file string, devices int, cmd string) (loadgen.Setup, error) {
	s, err := readSetup[loadgen.Setup](file, cmd, "loadgen taps")
	if devices < len(s.Devices) {
		s.Devices = s.Devices[:devices]
	}
	return s, err
}
