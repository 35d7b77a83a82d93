package payments

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Default top-up limits in EUR.
var (
	DefaultMinTopUp = decimal.RequireFromString("5.00")
	DefaultMaxTopUp = decimal.RequireFromString("500.00")
)

// DefaultTolerance is how old a webhook signature may be.
const DefaultTolerance = 5 * time.Minute

// maxWebhookBody bounds the webhook request body (Stripe events are a few KiB).
const maxWebhookBody = 1 << 20

// StripeConfig configures the Stripe service.
type StripeConfig struct {
	// SecretKey is the Stripe secret API key (sk_live_…, sk_test_…).
	SecretKey string
	// WebhookSecret is the signing secret of the webhook endpoint (whsec_…).
	WebhookSecret string
	// APIBase overrides Stripe's API URL (e.g. http://127.0.0.1:12111 for
	// stripe-mock); empty means https://api.stripe.com.
	APIBase string
	// MinTopUp and MaxTopUp bound a top-up (zero: DefaultMinTopUp, DefaultMaxTopUp).
	MinTopUp, MaxTopUp decimal.Decimal
	// Tolerance is how old a webhook signature may be (zero: DefaultTolerance).
	Tolerance time.Duration
	// HTTPClient is used for Stripe API calls (nil: 30 s timeout client).
	HTTPClient *http.Client
	// MaxNetworkRetries bounds stripe-go's retries of failed requests (nil:
	// its default, 2, with the same idempotency key).
	MaxNetworkRetries *int64
}

// StripeConfigFromEnv reads STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET,
// STRIPE_API_BASE and the optional limits STRIPE_TOPUP_MIN and
// STRIPE_TOPUP_MAX (EUR, dot decimal). Call Validate on the result.
func StripeConfigFromEnv(getenv func(string) string) (StripeConfig, error) {
	c := StripeConfig{
		SecretKey:     strings.TrimSpace(getenv("STRIPE_SECRET_KEY")),
		WebhookSecret: strings.TrimSpace(getenv("STRIPE_WEBHOOK_SECRET")),
		APIBase:       strings.TrimSpace(getenv("STRIPE_API_BASE")),
	}
	for _, v := range []struct {
		name string
		dst  *decimal.Decimal
	}{{"STRIPE_TOPUP_MIN", &c.MinTopUp}, {"STRIPE_TOPUP_MAX", &c.MaxTopUp}} {
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			continue
		}
		d, err := decimal.NewFromString(s)
		if err != nil {
			return c, fmt.Errorf("payments: %s=%q is not an amount in EUR like 5.00", v.name, s)
		}
		*v.dst = d
	}
	return c, nil
}

// Enabled reports whether a secret key is configured.
func (c StripeConfig) Enabled() bool { return c.SecretKey != "" }

// Validate checks the configuration.
func (c StripeConfig) Validate() error {
	var errs []error
	if c.SecretKey == "" {
		errs = append(errs, errors.New("STRIPE_SECRET_KEY is empty"))
	}
	if c.WebhookSecret == "" {
		errs = append(errs, errors.New("STRIPE_WEBHOOK_SECRET is empty (the webhook cannot verify signatures)"))
	}
	if c.APIBase != "" {
		u, err := url.Parse(c.APIBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("STRIPE_API_BASE=%q is not an http(s) URL", c.APIBase))
		}
	}
	lo, hi := c.limits()
	if !lo.IsPositive() || hi.LessThan(lo) || lo.Exponent() < -2 || hi.Exponent() < -2 {
		errs = append(errs, fmt.Errorf("top-up limits %s–%s are not positive amounts with min ≤ max", lo, hi))
	}
	if c.Tolerance < 0 {
		errs = append(errs, errors.New("webhook tolerance is negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("payments: stripe configuration: %w", errors.Join(errs...))
	}
	return nil
}

func (c StripeConfig) limits() (decimal.Decimal, decimal.Decimal) {
	lo, hi := c.MinTopUp, c.MaxTopUp
	if lo.IsZero() {
		lo = DefaultMinTopUp
	}
	if hi.IsZero() {
		hi = DefaultMaxTopUp
	}
	return lo, hi
}
