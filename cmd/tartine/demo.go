package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"tartine/booking"
	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/internal/tz"
	"tartine/ledger"
	"tartine/portal"
	"tartine/school"
	"tartine/statements"
	"tartine/taxcert"
)

func cmdDemo(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfg := serveConfig{Demo: true}
	var df dbFlags
	fs.StringVar(&cfg.Addr, "addr", envOr(e, "TARTINE_ADDR", "127.0.0.1:8080"), "listen address")
	registerDeviceConns(fs, &cfg)
	df.register(fs, "./var/demo")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	d, log, err := openForServing(ctx, e, cfg, df, true)
	if err != nil {
		return err
	}
	defer d.Close()
	// The demo shows a school day: on a weekend or a holiday its services
	// run on the latest open school day (demo_clock.go).
	e.now = demoClock(e.now)
	info, err := seedDemo(ctx, d, e.now)
	if err != nil {
		return fmt.Errorf("demo data: %w", err)
	}
	if info.firstSeed {
		// A month of meals, daycare and top-ups before the demo day
		// (demo_history.go), on the first start only.
		if err := seedHistory(ctx, d.Pool, e.now, info.school); err != nil {
			return fmt.Errorf("demo history: %w", err)
		}
	}
	return serve(ctx, e, log, d, cfg, func(addr string) {
		base := "http://" + displayAddr(addr)
		readersLine := ""
		if readers, err := startDemoReaders(ctx, log, base, info.deviceID, info.deviceSecret, df.dataDir, e.now); err != nil {
			log.Error("simulated readers unavailable", "err", err)
		} else {
			go readers.tapDemoBadges(ctx, log, info.badges)
			readersLine = fmt.Sprintf("  %-10s %s (simulated canteen and daycare readers tap a badge every few seconds)\n", "bridge", readers.StatusURL)
		}
		fmt.Fprintf(e.stdout, "\nTartine demo is running, on %s. Open:\n", i18n.FormatDate(e.now().In(tz.Brussels), "en"))
		fmt.Fprintf(e.stdout, "  health     %s/healthz\n", base)
		fmt.Fprintf(e.stdout, "  metrics    %s/metrics\n", base)
		for _, l := range info.links {
			fmt.Fprintf(e.stdout, "  %-10s %s%s\n", l[0], base, l[1])
		}
		fmt.Fprint(e.stdout, readersLine)
		if d.Cluster != nil {
			fmt.Fprintf(e.stdout, "  %-10s %s (PostgreSQL data)\n", "data", d.Cluster.DataDir())
		}
		for _, l := range info.logins {
			fmt.Fprintf(e.stdout, "  login      %s\n", l)
		}
		fmt.Fprintf(e.stdout, "Press Ctrl-C to stop.\n")
	})
}

// demoInfo is what the demo prints for a newcomer.
type demoInfo struct {
	links  [][2]string // label, path
	logins []string

	deviceID, deviceSecret string            // the demo bridge's credentials
	badges                 map[string]string // demo pupils' badge uids by first name

	firstSeed bool            // first start: the demo's history is still to play
	school    school.DemoInfo // what the school seed made
}

// seedDemo creates (idempotently) the demo organising body and school.
func seedDemo(ctx context.Context, d *database, now func() time.Time) (demoInfo, error) {
	led := ledger.New(d.Pool, now)
	sd, err := school.SeedDemo(ctx, school.New(d.Pool, led, now))
	if err != nil {
		return demoInfo{}, fmt.Errorf("school demo: %w", err)
	}
	info := demoInfo{logins: sd.Logins, deviceID: sd.DeviceID, deviceSecret: sd.DeviceSecret, badges: sd.Badges}
	info.logins = append(info.logins, fmt.Sprintf("bridge    device %s, secret %s (demo only)", sd.DeviceID, sd.DeviceSecret))
	tenantID := sd.TenantID
	// Tariffs, calendar, menus and bookings; after the school seed (it
	// books for the pupils the school seed created).
	// Seeded once (demo_history.go): a restart keeps what the user changed.
	first, err := claimDemoSeed(ctx, d.Pool, tenantID, now)
	if err != nil {
		return demoInfo{}, err
	}
	if first {
		if err := booking.SeedDemo(ctx, d.Pool, led, tenantID, now); err != nil {
			return demoInfo{}, fmt.Errorf("booking demo: %w", err)
		}
	}
	// School fees of the current school year (a pool fee, a maternel
	// activity, a P5 magazine with one opt-in), dated by the clock.
	shippedRules, err := fees.LoadShipped()
	if err != nil {
		return demoInfo{}, err
	}
	feeSvc := fees.New(d.Pool, led, school.New(d.Pool, led, now), fees.NewRules(shippedRules, now), now)
	if first {
		if err := fees.SeedDemo(ctx, feeSvc, tenantID, sd.SchoolID, sd.Pupils); err != nil {
			return demoInfo{}, fmt.Errorf("fees demo: %w", err)
		}
		// Statements: the year's periods, an estimate per level sent, the
		// period of those fees issued and sent (emails not shown).
		cat, err := i18n.New()
		if err != nil {
			return demoInfo{}, err
		}
		stmts := statements.New(school.New(d.Pool, led, now), cat, now, statements.WithLog(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err := seedDemoStay(ctx, feeSvc, tenantID, sd.SchoolID, sd.Pupils, now()); err != nil { // demo_plan.go
			return demoInfo{}, err
		}
		if err := statements.SeedDemo(ctx, stmts, tenantID, sd.SchoolID, "/portal"); err != nil {
			return demoInfo{}, err
		}
		// An instalment plan, accepted, its first part paid by transfer.
		if err := seedDemoPlan(ctx, stmts, school.New(d.Pool, led, now), led, tenantID, sd, now(), stmts.Log); err != nil {
			return demoInfo{}, err
		}
		info.school, info.firstSeed = sd, true
	}
	// Childcare tax certificates: last year's, issued for Emma and Lucas
	// (their mother's portal login sees them).
	taxSvc := taxcert.New(d.Pool, led, school.New(d.Pool, led, now), taxcert.DemoSealer(), taxcert.Settings{}, now)
	if err := taxcert.SeedDemo(ctx, taxSvc, tenantID, sd.Pupils, "Emma", "Lucas"); err != nil {
		return demoInfo{}, err
	}
	// terminal: station screens (log in with a staff login above). Taps
	// come from a bridge (tartine-bridge simulate) with the device above.
	info.links = append(info.links, [2]string{"staff", "/staff/"}, [2]string{"canteen", "/staff/stations/canteen-1"},
		[2]string{"daycare", "/staff/stations/daycare-1"}, [2]string{"enrolment", "/staff/stations/enrolment-1"},
		[2]string{"kiosk", "/staff/kiosk/kiosk-1"}, [2]string{"admin", "/admin/"}, [2]string{"books", "/admin/books"})
	// Parent portal: a login for Sophie Dubois (Emma and Lucas).
	portalLogins, err := portal.SeedDemo(ctx, d.Pool, school.New(d.Pool, led, now), tenantID)
	if err != nil {
		return demoInfo{}, err
	}
	info.logins = append(info.logins, portalLogins...)
	info.links = append(info.links, [2]string{"portal", "/portal/login"})
	return info, nil
}
