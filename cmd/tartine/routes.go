package main

import (
	"context"
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"tartine/ledger"
	"tartine/payments"
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
	return nil
}
