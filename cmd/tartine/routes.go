package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"tartine/backoffice"
	"tartine/booking"
	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/internal/jobs"
	"tartine/internal/mail"
	"tartine/internal/web"
	"tartine/internal/websession"
	"tartine/kiosk"
	"tartine/ledger"
	"tartine/payments"
	"tartine/portal"
	"tartine/school"
	"tartine/staff"
	"tartine/statements"
	"tartine/taxcert"
	"tartine/terminal"
)

// appDeps are the concrete dependencies handed to the web packages.
type appDeps struct {
	log     *slog.Logger
	db      *database
	cfg     serveConfig
	env     env
	metrics *prometheus.Registry
}

// mountApps registers the routes of the web packages (terminal, portal …),
// one block per package, on shared domain services.
//
// Route policies: every route names who may call it and within which
// scope, with one of websession.Public, Device, Webhook, Operator, Guardian,
// Staff, SchoolAdmin, Books or BackOffice among its handlers — on the
// route, or on its group (a route added to the back office's admin group
// inherits SchoolAdmin, to the portal's child group Guardian):
//
//	r.GET("/portal/login", websession.Public, a.loginForm)
//
// A route that names none answers 500 (websession.PolicyGuard, in
// newRouter), and TestRoutePolicies (security_test.go) fails: it requests
// every registered route as every role, from another school and another
// organising body. A new policy needs a line in that test. Routes that take
// a file upload add websession.Upload (bigger body limit).
func mountApps(ctx context.Context, r *gin.Engine, deps appDeps) error {
	// The portal yields to the canteen while taps are served (issue 17).
	canteen := &canteenGauge{}
	r.Use(canteen.middleware)
	pool := deps.db.Pool
	// The domain services run on the env's clock: the real one, or the
	// demo's (demo_clock.go); sessions and cookies keep the real clock.
	now := deps.env.now
	led := ledger.New(pool, now)
	bookings := booking.New(pool, led, now)
	// A pupil leaving cancels their bookings from the leaving day.
	schools := school.New(pool, led, now, school.WithBookingCanceller(bookings.CancelLeavingTx))
	cat, err := i18n.New()
	if err != nil {
		return err
	}
	if deps.cfg.Demo {
		r.Use(demoBanner(now, cat)) // « Démo : jeudi 3 décembre 2026 » on every page
	}
	shippedRules, err := fees.LoadShipped()
	if err != nil {
		return err
	}
	feeSvc := fees.New(pool, led, schools, fees.NewRules(shippedRules, now), now)
	// Childcare tax certificates (281.86): national numbers sealed with
	// TARTINE_NISS_KEY (the demo makes a key of its own).
	nissSealer, taxSettings, err := taxcert.ConfigFromEnv(deps.env.getenv, deps.cfg.Demo)
	if err != nil {
		return err
	}
	taxSvc := taxcert.New(pool, led, schools, nissSealer, taxSettings, now)

	// jobs: the durable queue for side work (internal/jobs). Emails are
	// enqueued (the request never waits on SMTP) and delivered by its
	// workers through SMTP_* or, without it, to the log; the day end and
	// the cleanup of expired sessions are its periodic jobs, added
	// (AddPeriodic) where the service they run is built below; the queue
	// starts once all are built.
	// Without SMTP the demo logs each email in full (its reset links are
	// how a newcomer tries them); a real server logs only who and what, so
	// that a reset link never lands in a log file.
	var direct jobs.Sender = mail.LogSender{Log: deps.log}
	if !deps.cfg.Demo {
		direct = briefLogSender{log: deps.log}
	}
	if mcfg, ok, err := mail.ConfigFromEnv(deps.env.getenv); err != nil {
		return err
	} else if ok {
		if direct, err = mail.NewSMTP(mcfg, time.Now); err != nil {
			return err
		}
	}
	var terminalSvc *terminal.Service
	queue, err := jobs.New(jobs.Config{Pool: pool, Mail: direct, Log: deps.log, Metrics: deps.metrics, Periodic: []jobs.Periodic{
		// Pupils reaching their leaving day, and leavers' personal data
		// pseudonymised after the retention period (school/retention.go).
		{Name: "pupil_retention", Every: time.Hour, Run: func(ctx context.Context) error {
			rep, err := schools.RetentionPass(ctx)
			if rep.Left+rep.Pupils+rep.Guardians > 0 {
				deps.log.Info("pupil retention", "left", rep.Left, "pupils_pseudonymised", rep.Pupils, "guardians_pseudonymised", rep.Guardians)
			}
			return err
		}},
	}})
	if err != nil {
		return err
	}

	// payments: Stripe top-ups. STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET,
	// STRIPE_API_BASE (stripe-mock), STRIPE_TOPUP_MIN/MAX; without a secret
	// key online top-ups are off and parents see the bank transfer only.
	// The webhook is a plain handler: Stripe signs its body, no cookie or
	// CSRF applies. Its "top-up received" emails go through the portal's
	// notices, built first (the portal needs payments to start top-ups).
	portalDeps := portal.Deps{Pool: pool, Ledger: led, School: schools, Booking: bookings,
		Catalog: cat, Mail: queue, Log: deps.log, BaseURL: deps.cfg.BaseURL,
		MaxInFlight: deps.cfg.PortalInFlight, CanteenBusy: canteen.busy, CanteenHeavy: canteen.heavy, Now: now}
	notices, err := portal.NewNotices(portalDeps)
	if err != nil {
		return fmt.Errorf("portal: %w", err)
	}
	var topups portal.TopUps
	var stripeSvc *payments.Stripe // the back office's balance check; nil without Stripe
	if stripeCfg, err := payments.StripeConfigFromEnv(deps.env.getenv); err != nil {
		return err
	} else if !stripeCfg.Enabled() {
		deps.log.Info("stripe top-ups disabled: STRIPE_SECRET_KEY is not set")
	} else {
		svc, err := payments.NewStripe(stripeCfg, payments.Deps{Ledger: led, Log: deps.log, Notifier: notices})
		if err != nil {
			return err
		}
		r.POST("/stripe/webhook", websession.Webhook, gin.WrapF(svc.HandleWebhook))
		topups = svc
		stripeSvc = svc
	}

	// statements: periodic statements and estimates, emailed through the
	// queue; shown by the portal and run from the back office.
	stmtSvc := statements.New(schools, cat, time.Now, statements.WithMail(queue), statements.WithLog(deps.log))

	var portalApp *portal.App
	// portal: parents (own session cookie, CSRF, throttled login); mail
	// through SMTP_* or, without it, to the log.
	{
		sessions, err := websession.New(pool, websession.Config{BaseURL: deps.cfg.BaseURL, CookieName: "tartine_portal"})
		if err != nil {
			return err
		}
		if err := queue.AddPeriodic(jobs.Periodic{Name: "session_cleanup", Every: time.Hour, Run: func(ctx context.Context) error {
			_, err := sessions.DeleteExpired(ctx)
			return err
		}}); err != nil {
			return err
		}
		portalDeps.Sessions, portalDeps.TopUps, portalDeps.Statements = sessions, topups, stmtSvc
		app, err := portal.New(portalDeps)
		if err != nil {
			return fmt.Errorf("portal: %w", err)
		}
		app.Routes(r)
		app.FeeRoutes(r, feeSvc) // facultatif fee opt-ins (package fees)
		app.TaxCertRoutes(r, taxSvc)
		portalApp = app
		r.GET("/", websession.Public, func(c *gin.Context) { c.Redirect(302, "/portal/") })
	}
	// terminal: device API (HMAC, no session); staff: the staff screens
	// and the kiosk cash desk (own session cookie, CSRF); the day-end job runs every 5 minutes and
	// closes each school's day once after 18:30 local time. It runs on the
	// device API's own pool, with its own ledger, school and booking
	// services over it, so that taps keep their connections whatever the
	// portal does (issue 17).
	{
		devPool := deps.db.devices()
		devLed, devSchools, devBookings := led, schools, bookings
		if devPool != pool {
			devLed = ledger.New(devPool, now)
			devSchools = school.New(devPool, devLed, now)
			devBookings = booking.New(devPool, devLed, now)
		}
		svc, err := terminal.New(terminal.Config{Pool: devPool, Ledger: devLed, School: devSchools, Booking: devBookings, Log: deps.log, Now: now})
		if err != nil {
			return err
		}
		svc.MountDeviceAPI(r)
		// The taps' caches filled beside the start (terminal.Warm); a
		// failure only leaves the first taps to fill them.
		go func() {
			if err := svc.Warm(ctx); err != nil && ctx.Err() == nil {
				deps.log.Warn("device API: cache warm-up", "err", err)
			}
		}()
		if err := queue.AddPeriodic(jobs.Periodic{Name: "day_end", Every: 5 * time.Minute, Run: svc.DayEndPass}); err != nil {
			return err
		}
		svc.WatchWallets(ctx, portalApp) // meals and daycare: low-balance alerts
		sessions, err := websession.New(pool, staffSessions(deps.cfg.BaseURL, web.StaffCookie))
		if err != nil {
			return err
		}
		desk, err := kiosk.New(kiosk.Config{Pool: devPool, Ledger: devLed, School: devSchools, Log: deps.log, Now: now})
		if err != nil {
			return err
		}
		web, err := staff.New(staff.Deps{Taps: svc, Kiosk: desk, School: devSchools, Ledger: devLed, Sessions: sessions,
			Throttle: websession.NewThrottle(pool, websession.ThrottleConfig{Scope: "staff"}), Catalog: cat, Log: deps.log, Now: now,
			TopUps: notices}) // kiosk cash top-ups: email the family
		if err != nil {
			return err
		}
		web.Mount(r)
		terminalSvc = svc
		go func() {
			<-ctx.Done()
			st := svc.GroupStats()
			deps.log.Info("tap groups", "committed", st.Groups, "failed", st.Failed, "taps_grouped", st.Grouped, "taps_alone", st.Alone, "largest", st.Largest)
		}()
		if deps.metrics != nil {
			counter := func(name, help string, v func(terminal.GroupStats) int64) prometheus.Collector {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(svc.GroupStats())) })
			}
			deps.metrics.MustRegister(
				counter("tartine_tap_groups_committed_total", "Groups of taps committed together.", func(g terminal.GroupStats) int64 { return g.Groups }),
				counter("tartine_tap_groups_failed_total", "Groups of taps rolled back (their taps applied one by one).", func(g terminal.GroupStats) int64 { return g.Failed }),
				counter("tartine_taps_grouped_total", "Taps applied in a group.", func(g terminal.GroupStats) int64 { return g.Grouped }),
				counter("tartine_taps_alone_total", "Taps applied one by one (left their group).", func(g terminal.GroupStats) int64 { return g.Alone }),
			)
		}
	}

	// backoffice: school admin and accountant pages under /admin. No login
	// of its own: it reads the staff screens' session (same cookie name,
	// same table), so staff log in at /staff/login.
	{
		sessions, err := websession.New(pool, staffSessions(deps.cfg.BaseURL, backoffice.StaffCookie))
		if err != nil {
			return err
		}
		bo, err := backoffice.New(backoffice.Deps{Pool: pool, School: schools, Booking: bookings,
			Ledger: led, Sessions: sessions, Catalog: cat, Log: deps.log, BaseURL: deps.cfg.BaseURL, Families: portalApp, Fees: feeSvc, Now: now,
			Statements: stmtSvc, Present: daycarePresent(terminalSvc), TaxCert: taxSvc, Stripe: stripeSvc})
		if err != nil {
			return err
		}
		bo.Mount(r)
		// Invitation letters (rendered by the portal) for staff admins.
		bo.MountLetters(r, portalApp.Letters)
	}
	// Every service is built: run the queue's workers until the server
	// stops, then let running jobs finish (10 s at most).
	if err := queue.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	deps.db.background.Add(1)
	go func() {
		defer deps.db.background.Done()
		<-ctx.Done()
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := queue.Stop(stop); err != nil {
			deps.log.Warn("jobs: stop", "err", err)
		}
	}()
	return nil
}

// staffSessions is the session configuration of the staff screens and the
// back office (one cookie, one table): shorter than a parent's, since staff
// reach health data and money — a working day at most, four hours idle.
// Changing a member's password ends their sessions (backoffice).
func staffSessions(baseURL, cookie string) websession.Config {
	return websession.Config{BaseURL: baseURL, CookieName: cookie, MaxAge: 12 * time.Hour, IdleTimeout: 4 * time.Hour}
}

// briefLogSender "sends" an email by logging its recipient and subject
// only (no SMTP configured, not the demo): its text may carry a password
// reset link or an invitation code.
type briefLogSender struct{ log *slog.Logger }

func (b briefLogSender) Send(ctx context.Context, msg mail.Message) error {
	b.log.WarnContext(ctx, "email not sent: set SMTP_ADDR", "to", msg.To, "subject", msg.Subject)
	return nil
}

// daycarePresent gives the back office's daycare list who is at a school's
// daycare now (the terminal owns the daycare sessions).
func daycarePresent(svc *terminal.Service) backoffice.DaycarePresent {
	return func(ctx context.Context, tenantID, schoolID int64) ([]backoffice.DaycarePresence, error) {
		ps, err := svc.PresentInSchool(ctx, tenantID, schoolID)
		if err != nil {
			return nil, err
		}
		out := make([]backoffice.DaycarePresence, len(ps))
		for i, p := range ps {
			out[i] = backoffice.DaycarePresence{PupilID: p.PupilID, Since: p.Since}
		}
		return out, nil
	}
}
