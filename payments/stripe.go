package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"tartine/internal/i18n"
	"tartine/ledger"
	"tartine/school"
)

// Notifier is told about top-ups that reached a wallet (the portal's mailer
// implements it). It is called once per credited top-up, after the credit is
// booked, from the webhook request: it should return quickly (queue the
// email). Its error is logged and does not undo anything.
type Notifier interface {
	TopUpReceived(ctx context.Context, n TopUpNotice) error
}

// TopUpNotice describes a credited top-up.
type TopUpNotice struct {
	TenantID        int64
	TopUpID         uuid.UUID
	PupilID         int64
	GuardianID      int64 // the guardian who paid (0 when unknown)
	WalletAccountID int64
	Amount          decimal.Decimal
	Lang            string
	PaidAt          time.Time
}

// Deps are the Stripe service's dependencies.
type Deps struct {
	Ledger   *ledger.Ledger // required; its pool also holds the payments tables
	Log      *slog.Logger   // nil: slog.Default()
	Now      func() time.Time
	Notifier Notifier // optional
}

// Stripe is the online top-up service: Checkout Sessions and the webhook.
type Stripe struct {
	cfg      StripeConfig
	api      *client.API
	pool     *pgxpool.Pool
	ledger   *ledger.Ledger
	log      *slog.Logger
	now      func() time.Time
	notifier Notifier
	msgs     *i18n.Catalog
}

// NewStripe returns the service. It returns an error when cfg is invalid.
func NewStripe(cfg StripeConfig, deps Deps) (*Stripe, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Ledger == nil {
		return nil, fmt.Errorf("%w: ledger is nil", ErrInvalidRequest)
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = DefaultTolerance
	}
	cfg.MinTopUp, cfg.MaxTopUp = cfg.limits()
	msgs, err := i18n.New()
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	bc := &stripego.BackendConfig{
		HTTPClient:        hc,
		LeveledLogger:     slogStripe{deps.Log},
		MaxNetworkRetries: cfg.MaxNetworkRetries,
	}
	if cfg.APIBase != "" {
		bc.URL = stripego.String(strings.TrimRight(cfg.APIBase, "/"))
	}
	return &Stripe{
		cfg:      cfg,
		api:      client.New(cfg.SecretKey, stripego.NewBackendsWithConfig(bc)),
		pool:     deps.Ledger.Pool(),
		ledger:   deps.Ledger,
		log:      deps.Log,
		now:      deps.Now,
		notifier: deps.Notifier,
		msgs:     msgs,
	}, nil
}

// Limits returns the smallest and largest top-up accepted, in EUR.
func (s *Stripe) Limits() (min, max decimal.Decimal) { return s.cfg.MinTopUp, s.cfg.MaxTopUp }

// TopUpRequest asks for an online top-up of a pupil's wallet.
type TopUpRequest struct {
	TenantID        int64
	PupilID         int64
	WalletAccountID int64 // must be the pupil's wallet
	GuardianID      int64 // the paying guardian, linked to the pupil
	Amount          decimal.Decimal
	SuccessURL      string // Stripe appends nothing; put the top-up page here
	CancelURL       string
	Lang            string // fr (default), en or nl: Checkout's language
}

// TopUp is a started top-up: send the guardian to CheckoutURL.
type TopUp struct {
	ID          uuid.UUID
	CheckoutURL string
}

// StartTopUp records a pending top-up and opens its Stripe Checkout Session.
// It returns *AmountError (errors.Is ErrAmountOutOfRange) for an amount
// outside the limits, ErrInvalidRequest, ErrPupilNotFound,
// ErrWalletMismatch, ErrNotGuardian, and ErrCheckout when Stripe refused or
// could not be reached (the top-up is then kept with status "error").
func (s *Stripe) StartTopUp(ctx context.Context, req TopUpRequest) (TopUp, error) {
	if err := s.checkAmount(req.Amount); err != nil {
		return TopUp{}, err
	}
	if req.TenantID <= 0 || req.PupilID <= 0 || req.WalletAccountID <= 0 || req.GuardianID <= 0 {
		return TopUp{}, fmt.Errorf("%w: tenant, pupil, wallet and guardian are required", ErrInvalidRequest)
	}
	if req.SuccessURL == "" || req.CancelURL == "" {
		return TopUp{}, fmt.Errorf("%w: success and cancel URLs are required", ErrInvalidRequest)
	}
	lang := checkoutLang(req.Lang)

	p, err := school.ReadPupil(ctx, s.pool, req.TenantID, req.PupilID)
	if errors.Is(err, school.ErrNotFound) || (err == nil && !p.Active) {
		return TopUp{}, fmt.Errorf("%w: pupil %d", ErrPupilNotFound, req.PupilID)
	}
	if err != nil {
		return TopUp{}, fmt.Errorf("payments: read pupil %d: %w", req.PupilID, err)
	}
	firstName := p.FirstName
	if p.WalletAccountID == 0 || p.WalletAccountID != req.WalletAccountID {
		return TopUp{}, fmt.Errorf("%w: pupil %d, account %d", ErrWalletMismatch, req.PupilID, req.WalletAccountID)
	}
	email, err := school.GuardianEmail(ctx, s.pool, req.TenantID, req.GuardianID, req.PupilID)
	if errors.Is(err, school.ErrNotFound) {
		return TopUp{}, fmt.Errorf("%w: guardian %d, pupil %d", ErrNotGuardian, req.GuardianID, req.PupilID)
	}
	if err != nil {
		return TopUp{}, fmt.Errorf("payments: read guardian %d: %w", req.GuardianID, err)
	}

	id, err := uuid.NewV7()
	if err != nil {
		return TopUp{}, fmt.Errorf("payments: top-up id: %w", err)
	}
	amount := req.Amount.Round(2)
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO topups (tenant_id, id, pupil_id, wallet_account_id, guardian_id, amount, lang, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		req.TenantID, id, req.PupilID, req.WalletAccountID, req.GuardianID, amount, lang, s.now()); err != nil {
		return TopUp{}, fmt.Errorf("payments: record top-up: %w", err)
	}

	meta := map[string]string{
		metaTenant: strconv.FormatInt(req.TenantID, 10),
		metaPupil:  strconv.FormatInt(req.PupilID, 10),
		metaWallet: strconv.FormatInt(req.WalletAccountID, 10),
		metaTopUp:  id.String(),
	}
	label := s.msgs.T(lang, "payments.checkout.line_item", firstName)
	sess, err := s.checkout(ctx, req.TenantID, id, "top-up", amount, label, lang, email, meta, req.SuccessURL, req.CancelURL)
	if err != nil {
		return TopUp{}, err
	}
	s.log.InfoContext(ctx, "payments: checkout session opened", "tenant_id", req.TenantID, "topup_id", id,
		"pupil_id", req.PupilID, "amount", amount.StringFixed(2), "session", sess.ID)
	return TopUp{ID: id, CheckoutURL: sess.URL}, nil
}

// Metadata keys on the Checkout Session and its payment intent.
const (
	metaTenant = "tenant_id"
	metaPupil  = "pupil_id"
	metaWallet = "wallet_account_id"
	metaTopUp  = "topup_id"
)

func (s *Stripe) checkAmount(a decimal.Decimal) error {
	lo, hi := s.cfg.MinTopUp, s.cfg.MaxTopUp
	if !a.Equal(a.Round(2)) {
		return &AmountError{Amount: a, Min: lo, Max: hi, Decimals: true}
	}
	if a.LessThan(lo) || a.GreaterThan(hi) {
		return &AmountError{Amount: a, Min: lo, Max: hi}
	}
	return nil
}

// checkoutLang maps a language to a Checkout locale that Tartine speaks.
func checkoutLang(lang string) string {
	switch strings.ToLower(strings.TrimSpace(lang)) {
	case i18n.EN:
		return i18n.EN
	case i18n.NL:
		return i18n.NL
	default:
		return i18n.FR
	}
}

// cents converts an amount with at most two decimals to cents.
func cents(d decimal.Decimal) int64 { return d.Shift(2).IntPart() }

// fromCents converts Stripe's smallest unit to EUR.
func fromCents(c int64) decimal.Decimal { return decimal.New(c, -2) }

// TopUpStatus is the state of a top-up.
type TopUpStatus string

// Top-up states.
const (
	StatusPending    TopUpStatus = "pending"    // Checkout open, nothing paid yet
	StatusProcessing TopUpStatus = "processing" // paid by a method still being confirmed
	StatusPaid       TopUpStatus = "paid"       // wallet credited
	StatusFailed     TopUpStatus = "failed"     // payment failed or session expired
	StatusError      TopUpStatus = "error"      // Checkout could not be opened
)

// TopUpRecord is a recorded top-up.
type TopUpRecord struct {
	TenantID        int64
	ID              uuid.UUID
	PupilID         int64
	WalletAccountID int64
	GuardianID      int64
	Amount          decimal.Decimal
	Status          TopUpStatus
	PaidAmount      decimal.Decimal // what Stripe collected (when paid)
	Refunded        decimal.Decimal
	Disputed        decimal.Decimal
	CreatedAt       time.Time
	PaidAt          *time.Time
}

// Get returns a top-up of the tenant, or ErrNotFound. The portal checks
// that the guardian may see it (GuardianID).
func (s *Stripe) Get(ctx context.Context, tenantID int64, id uuid.UUID) (TopUpRecord, error) {
	t, err := getTopUp(ctx, s.pool, tenantID, id, false)
	if err != nil {
		return TopUpRecord{}, err
	}
	return t.record(), nil
}

// slogStripe adapts slog to stripe-go's logger; the client's own messages go
// to debug level except errors, which the service logs itself.
type slogStripe struct{ log *slog.Logger }

func (l slogStripe) Debugf(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}
func (l slogStripe) Infof(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}
func (l slogStripe) Warnf(format string, v ...any) {
	l.log.Warn("stripe: " + fmt.Sprintf(format, v...))
}
func (l slogStripe) Errorf(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}

// checkout opens the Checkout session of the topups row id (card and
// Bancontact, one line labelled label, meta on the session and its payment
// intent, the row's id as idempotency key and client reference) and stores
// its id on the row. When Stripe refuses, the row is marked as an error and
// ErrCheckout is returned; what names the payment in messages ("top-up",
// "statement payment").
func (s *Stripe) checkout(ctx context.Context, tenantID int64, id uuid.UUID, what string, amount decimal.Decimal, label, lang string,
	email string, meta map[string]string, successURL, cancelURL string) (*stripego.CheckoutSession, error) {
	params := &stripego.CheckoutSessionParams{
		Mode:               stripego.String(string(stripego.CheckoutSessionModePayment)),
		PaymentMethodTypes: stripego.StringSlice([]string{"card", "bancontact"}),
		Currency:           stripego.String(string(stripego.CurrencyEUR)),
		LineItems: []*stripego.CheckoutSessionLineItemParams{{
			Quantity: stripego.Int64(1),
			PriceData: &stripego.CheckoutSessionLineItemPriceDataParams{
				Currency:    stripego.String(string(stripego.CurrencyEUR)),
				UnitAmount:  stripego.Int64(cents(amount)),
				ProductData: &stripego.CheckoutSessionLineItemPriceDataProductDataParams{Name: stripego.String(label)},
			},
		}},
		PaymentIntentData: &stripego.CheckoutSessionPaymentIntentDataParams{
			Metadata:    meta,
			Description: stripego.String(label),
		},
		ClientReferenceID: stripego.String(id.String()),
		SuccessURL:        stripego.String(successURL),
		CancelURL:         stripego.String(cancelURL),
		Locale:            stripego.String(lang),
	}
	params.Metadata = meta
	if email != "" {
		params.CustomerEmail = stripego.String(email)
	}
	params.SetIdempotencyKey(id.String())
	params.Context = ctx
	sess, err := s.api.CheckoutSessions.New(params)
	if err != nil {
		if _, uerr := s.pool.Exec(context.WithoutCancel(ctx), `UPDATE topups SET status = 'error' WHERE tenant_id = $1 AND id = $2`, tenantID, id); uerr != nil {
			s.log.ErrorContext(ctx, "payments: mark "+what+" as error", "topup_id", id, "err", uerr)
		}
		return nil, fmt.Errorf("%w: %s %s: %w", ErrCheckout, what, id, err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE topups SET stripe_session_id = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, sess.ID); err != nil {
		return nil, fmt.Errorf("payments: store session of %s %s: %w", what, id, err)
	}
	return sess, nil
}
