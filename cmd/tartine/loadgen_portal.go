package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	portalgen "tartine/portal/loadgen"
	"tartine/terminal/loadgen"
)

// cmdLoadgenPortal is `tartine loadgen portal`:
//
//	tartine loadgen portal --setup [--parents 200] [--file ./var/portalgen.json]
//	    creates the "portalgen" tenant (FWB calendar, meal tariffs, parents
//	    with a portal account and a child) and writes the parents to --file;
//	tartine loadgen portal --url http://127.0.0.1:8080 [--parents 200] [--duration 30s] [--pid PID] [--json]
//	    logs every parent in at once, then loops each through home →
//	    bookings → book or cancel → history for --duration, and reports
//	    per request type (and the server's peak memory with --pid);
//	tartine loadgen portal --login-only …
//	    only the simultaneous logins;
//	tartine loadgen portal … --taps-rate 1000 [--taps-file ./var/loadgen.json]
//	    runs `loadgen taps --rate` at the same time, in this process.
func cmdLoadgenPortal(ctx context.Context, e env, args []string) error {
	fs, df := dbFlagSet(e, "loadgen portal", "./var/pg")
	setup := fs.Bool("setup", false, "create the portalgen tenant and parents, write --file, and exit")
	file := fs.String("file", "./var/portalgen.json", "parents (written by --setup)")
	url := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	parents := fs.Int("parents", 200, "parents at once (and created by --setup)")
	duration := fs.Duration("duration", 30*time.Second, "measured loop time, after the logins")
	loginOnly := fs.Bool("login-only", false, "only log every parent in at once")
	pid := fs.Int("pid", 0, "server process id: sample its resident memory")
	tapsRate := fs.Float64("taps-rate", 0, "also send taps at this rate (open loop, as loadgen taps --rate)")
	tapsFile := fs.String("taps-file", "./var/loadgen.json", "device credentials for --taps-rate (loadgen taps --setup)")
	tapsDevices := fs.Int("taps-devices", 16, "devices for --taps-rate")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	if *parents < 1 || *duration <= 0 || *tapsRate < 0 {
		return errors.New("loadgen portal: --parents and --duration must be positive, --taps-rate zero or more")
	}
	if *setup {
		log := newLogger(e)
		d, err := openCurrent(ctx, e, *df, log, true)
		if err != nil {
			return err
		}
		defer d.Close()
		s, err := portalgen.Prepare(ctx, d.Pool, *parents, e.now())
		if err != nil {
			return fmt.Errorf("loadgen portal setup: %w", err)
		}
		if err := writeSetup(*file, s); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "portalgen tenant ready: %d parents with a child; logins in %s\n", len(s.Parents), *file)
		return nil
	}
	s, err := readSetup[portalgen.Setup](*file, "loadgen portal", "loadgen portal")
	if err != nil {
		return err
	}
	// As loadgen taps: one processor for the generator's scheduler, the
	// rest for the server it measures on the same machine.
	runtime.GOMAXPROCS(1)
	var taps *loadgen.Report
	var tapsErr error
	var wg sync.WaitGroup
	if *tapsRate > 0 {
		ts, err := readTaps(*tapsFile, *tapsDevices, "loadgen portal")
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := loadgen.Run(ctx, loadgen.Config{URL: *url, Setup: ts, Duration: *duration + 5*time.Second, Rate: *tapsRate})
			taps, tapsErr = &r, err
		}()
	}
	rep, err := portalgen.Run(ctx, portalgen.Config{URL: *url, Setup: s, Parents: *parents, Duration: *duration, LoginOnly: *loginOnly, ServerPID: *pid})
	wg.Wait()
	if err != nil {
		return err
	}
	if tapsErr != nil {
		return fmt.Errorf("taps: %w", tapsErr)
	}
	if *asJSON {
		out := struct {
			Portal portalgen.Report `json:"portal"`
			Taps   *loadgen.Report  `json:"taps,omitempty"`
		}{rep, taps}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	fmt.Fprintf(e.stdout, "parents %d, %.1f s: %d requests, %.0f/s, %d failures; slowest login %.2f s", rep.Parents, rep.Duration, rep.Requests, rep.PerS, rep.Failures, rep.LoginMaxs)
	if rep.PeakRSSMB > 0 {
		fmt.Fprintf(e.stdout, "; server peak RSS %.0f MB (lifetime %.0f MB)", rep.PeakRSSMB, rep.HWMMB)
	}
	fmt.Fprintln(e.stdout)
	fmt.Fprintf(e.stdout, "  %-9s %7s %7s %9s %9s %9s %8s %5s %7s\n", "request", "count", "/s", "p50 ms", "p99 ms", "max ms", "failures", "shed", "refused")
	for _, t := range []string{portalgen.ReqLogin, portalgen.ReqHome, portalgen.ReqBookings, portalgen.ReqBook, portalgen.ReqCancel, portalgen.ReqHistory} {
		st, ok := rep.Types[t]
		if !ok {
			continue
		}
		fmt.Fprintf(e.stdout, "  %-9s %7d %7.1f %9.1f %9.1f %9.1f %8d %5d %7d\n", t, st.Count, st.PerS, st.P50ms, st.P99ms, st.Maxms, st.Failures, st.Shed, st.Refused)
	}
	if lp := rep.LoginPhase; lp != nil {
		fmt.Fprintf(e.stdout, "  logins before the loops: %d attempts, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d told to retry; all in after %.1f s\n",
			lp.Count, lp.P50ms, lp.P99ms, lp.Maxms, lp.Shed, rep.LoginMaxs)
	}
	if rep.LastError != "" {
		fmt.Fprintf(e.stdout, "  last error: %s\n", rep.LastError)
	}
	if taps != nil {
		fmt.Fprintf(e.stdout, "taps at %.0f/s: %d taps, %.0f taps/s; p50 %.2f ms, p99 %.2f ms, max %.2f ms; errors %d\n",
			taps.Rate, taps.Taps, taps.TapsPerS, taps.P50ms, taps.P99ms, taps.Maxms, taps.Errors)
	}
	return nil
}
