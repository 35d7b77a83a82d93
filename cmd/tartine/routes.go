package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/internal/websession"
	"tartine/ledger"
	"tartine/payments"
	"tartine/school"
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
// one block per package.
func mountApps(ctx context.Context, r *gin.Engine, deps appDeps) error {
	// payments: Stripe top-ups. STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET,
	// STRIPE_API_BASE (stripe-mock), STRIPE_TOPUP_MIN/MAX; without a secret
	// key online top-ups are off (stripeSvc nil). The webhook is a plain
	// handler: Stripe signs its body, no cookie or CSRF applies.
	var stripeSvc *payments.Stripe
	if stripeCfg, err := payments.StripeConfigFromEnv(deps.env.getenv); err != nil {
		return err
	} else if !stripeCfg.Enabled() {
		deps.log.Info("stripe top-ups disabled: STRIPE_SECRET_KEY is not set")
	} else {
		if stripeSvc, err = payments.NewStripe(stripeCfg, payments.Deps{Ledger: ledger.New(deps.db.Pool, nil), Log: deps.log}); err != nil {
			return err
		}
		r.POST("/stripe/webhook", gin.WrapF(stripeSvc.HandleWebhook))
	}
	_ = stripeSvc // used by the portal's top-up page

	// terminal: device API (HMAC, no session) and staff screens (own
	// session cookie, CSRF); the day-end job runs every 5 minutes and
	// closes each school's day once after 18:30 local time.
	{
		led := ledger.New(deps.db.Pool, nil)
		svc, err := terminal.New(terminal.Config{Pool: deps.db.Pool, Ledger: led, School: school.New(deps.db.Pool, led, nil),
			Booking: booking.New(deps.db.Pool, led, nil), Log: deps.log})
		if err != nil {
			return err
		}
		svc.MountDeviceAPI(r)
		sessions, err := websession.New(deps.db.Pool, websession.Config{BaseURL: deps.cfg.BaseURL, CookieName: "tartine_staff"})
		if err != nil {
			return err
		}
		cat, err := i18n.New()
		if err != nil {
			return err
		}
		web, err := terminal.NewWeb(svc, sessions, websession.NewThrottle(deps.db.Pool, websession.ThrottleConfig{Scope: "staff"}), cat)
		if err != nil {
			return err
		}
		web.Mount(r)
		tick := time.NewTicker(5 * time.Minute)
		go func() { defer tick.Stop(); svc.RunDayEnd(ctx, tick.C) }()
	}
	return nil
}
