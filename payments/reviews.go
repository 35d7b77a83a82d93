package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	stripego "github.com/stripe/stripe-go/v76"
)

// MaxClockSkew is how far in the future a webhook signature's timestamp may
// be, by the service's clock, before the delivery is refused: Stripe signs
// just before sending, so a signature from the future is a replay prepared
// in advance or a clock gone wrong.
const MaxClockSkew = time.Minute

// checkSignatureTime refuses (ErrSignature) a Stripe-Signature whose
// timestamp is older than the tolerance or more than MaxClockSkew ahead of
// s.now. The signature itself is checked by the caller.
func (s *Stripe) checkSignatureTime(header string) error {
	var ts int64
	found := false
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == "t" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%w: timestamp %q", ErrSignature, v)
			}
			ts, found = n, true
		}
	}
	if !found {
		return fmt.Errorf("%w: no timestamp", ErrSignature)
	}
	now := s.now()
	signed := time.Unix(ts, 0)
	if age := now.Sub(signed); age > s.cfg.Tolerance {
		return fmt.Errorf("%w: signed %s ago, more than the %s tolerance", ErrSignature, age.Round(time.Second), s.cfg.Tolerance)
	}
	if ahead := signed.Sub(now); ahead > MaxClockSkew {
		return fmt.Errorf("%w: signed %s in the future, more than %s ahead", ErrSignature, ahead.Round(time.Second), MaxClockSkew)
	}
	return nil
}

// paid is what Stripe collected for the top-up (the amount asked until the
// credit recorded it).
func (t topup) paid() decimal.Decimal {
	if t.PaidAmount != nil {
		return *t.PaidAmount
	}
	return t.Amount
}

// Reasons for a review (stripe_reviews.reason).
const (
	reasonAmountMismatch   = "amount_mismatch"   // Stripe confirms another amount than the top-up's
	reasonCurrencyMismatch = "currency_mismatch" // Stripe confirms another currency than EUR
	reasonNotPaid          = "not_paid"          // a credit event, but Stripe says the session is not paid
	reasonSessionMismatch  = "session_mismatch"  // Stripe's session is of another top-up, or unknown to Stripe
	reasonCreditConflict   = "credit_conflict"   // a credit was booked before with other fields
	reasonRefundOverPaid   = "refund_over_paid"  // refunds asked beyond what was paid
	reasonDisputeOverPaid  = "dispute_over_paid" // a dispute asked beyond what was paid and not refunded
)

// review is a case for the accountant, before it is stored.
type review struct {
	reason                 string
	session, pi            string
	confirmed, eventAmount *decimal.Decimal
	detail                 string
}

// recordReview lists a top-up for the accountant, once per top-up and
// reason, and logs it as an error.
func (s *Stripe) recordReview(ctx context.Context, ev stripego.Event, t topup, r review) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO stripe_reviews (tenant_id, topup_id, reason, event_id, session_id, payment_intent, asked, confirmed,
			event_amount, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (tenant_id, topup_id, reason) DO NOTHING`,
		t.TenantID, t.ID, r.reason, ev.ID, r.session, r.pi, t.Amount, r.confirmed, r.eventAmount, r.detail, s.now())
	if err != nil {
		return fmt.Errorf("payments: record review of top-up %s: %w", t.ID, err)
	}
	s.log.ErrorContext(ctx, "payments: stripe payment needs the accountant's review, nothing booked for it",
		"event_id", ev.ID, "type", ev.Type, "tenant_id", t.TenantID, "topup_id", t.ID, "reason", r.reason,
		"asked", t.Amount.StringFixed(2), "confirmed", amountString(r.confirmed), "event_amount", amountString(r.eventAmount),
		"detail", r.detail)
	return nil
}

func amountString(d *decimal.Decimal) string {
	if d == nil {
		return ""
	}
	return d.StringFixed(2)
}

// confirmation is Stripe's own record of a session about to be credited:
// the session, or the review it calls for.
type confirmation struct {
	session *stripego.CheckoutSession
	review  *review
}

// confirmSession retrieves the session (with its payment intent) from
// Stripe and checks it against the top-up: of this top-up, paid, in EUR, of
// the amount asked, its payment intent succeeded with that amount received.
// Whatever differs makes a review. A session Stripe does not know (404)
// makes a review too; any other failure to ask Stripe is an error (the
// event is delivered again).
func (s *Stripe) confirmSession(ctx context.Context, t topup, ev *stripego.CheckoutSession) (confirmation, error) {
	r := review{session: ev.ID}
	if ev.AmountTotal > 0 {
		a := fromCents(ev.AmountTotal)
		r.eventAmount = &a
	}
	params := &stripego.CheckoutSessionParams{}
	params.Context = ctx
	params.AddExpand("payment_intent")
	got, err := s.api.CheckoutSessions.Get(ev.ID, params)
	var se *stripego.Error
	if errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
		r.reason, r.detail = reasonSessionMismatch, "Stripe does not know session "+ev.ID
		return confirmation{review: &r}, nil
	}
	if err != nil {
		return confirmation{}, fmt.Errorf("payments: confirm checkout session %s of top-up %s with Stripe: %w", ev.ID, t.ID, err)
	}
	if got.PaymentIntent != nil {
		r.pi = got.PaymentIntent.ID
	}
	if got.AmountTotal > 0 || got.Currency != "" {
		a := fromCents(got.AmountTotal)
		r.confirmed = &a
	}
	pi := got.PaymentIntent
	switch {
	case got.ID != ev.ID || (got.Metadata[metaTopUp] != "" && got.Metadata[metaTopUp] != t.ID.String()):
		r.reason = reasonSessionMismatch
		r.detail = fmt.Sprintf("Stripe's session %s belongs to top-up %q", got.ID, got.Metadata[metaTopUp])
	case got.PaymentStatus != stripego.CheckoutSessionPaymentStatusPaid:
		r.reason, r.detail = reasonNotPaid, fmt.Sprintf("Stripe's session is %s, payment %s", got.Status, got.PaymentStatus)
	case got.Currency != stripego.CurrencyEUR:
		r.reason, r.detail = reasonCurrencyMismatch, fmt.Sprintf("Stripe's session is in %q", got.Currency)
	case got.AmountTotal != cents(t.Amount):
		r.reason = reasonAmountMismatch
		r.detail = fmt.Sprintf("Stripe's session is of %s EUR", fromCents(got.AmountTotal).StringFixed(2))
	case pi != nil && pi.Status != "" && pi.Status != stripego.PaymentIntentStatusSucceeded:
		r.reason, r.detail = reasonNotPaid, fmt.Sprintf("payment intent %s is %s", pi.ID, pi.Status)
	case pi != nil && pi.Status != "" && (pi.AmountReceived != got.AmountTotal || pi.Currency != stripego.CurrencyEUR):
		r.reason = reasonAmountMismatch
		r.detail = fmt.Sprintf("payment intent %s received %s %s", pi.ID, fromCents(pi.AmountReceived).StringFixed(2), pi.Currency)
	default:
		return confirmation{session: got}, nil
	}
	return confirmation{review: &r}, nil
}

// paidTopUp finds the credited top-up of a refund or dispute. When there
// is none yet (its credit has not been booked, or the payment is not known
// yet), it keeps the event in stripe_deferred_events and reports false; the
// credit applies it (applyDeferred). The check and the keeping run under
// the payment's lock, which the credit takes after it is booked, so that an
// event is either seen by the credit or sees the credit.
func (s *Stripe) paidTopUp(ctx context.Context, ev stripego.Event, meta map[string]string, pi, charge string) (topup, bool, error) {
	t, err := topUpForCharge(ctx, s.pool, meta, pi, charge)
	if err == nil && t.Status == StatusPaid {
		return t, true, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return topup{}, false, err
	}
	var raw []byte
	if ev.Data != nil {
		raw = ev.Data.Raw
	}
	ready := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockPayment(ctx, tx, pi, charge); err != nil {
			return err
		}
		var ferr error
		t, ferr = topUpForCharge(ctx, tx, meta, pi, charge)
		if ferr == nil && t.Status == StatusPaid {
			ready = true
			return nil
		}
		if ferr != nil && !errors.Is(ferr, ErrNotFound) {
			return ferr
		}
		if ferr != nil {
			t = topup{}
		}
		_, err := tx.Exec(ctx, `INSERT INTO stripe_deferred_events (event_id, type, payment_intent, charge, payload, received_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`,
			ev.ID, string(ev.Type), pi, charge, json.RawMessage(raw), s.now())
		return err
	})
	if err != nil {
		return topup{}, false, fmt.Errorf("payments: keep event %s until its credit: %w", ev.ID, err)
	}
	if !ready {
		s.log.InfoContext(ctx, "payments: stripe event before the credit of its payment, kept until it is booked",
			"event_id", ev.ID, "type", ev.Type, "payment_intent", pi, "charge", charge, "topup_id", t.ID)
	}
	return t, ready, nil
}

// lockPayment takes the transaction-scoped advisory locks of a payment
// intent and a charge (those given), in a fixed order.
func lockPayment(ctx context.Context, tx pgx.Tx, ids ...string) error {
	keys := slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return s == "" })
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('stripe-payment:' || $1, 0))`, k); err != nil {
			return fmt.Errorf("payments: lock payment %s: %w", k, err)
		}
	}
	return nil
}

// applyDeferred applies, once each, the refunds and disputes kept for a
// payment intent or charge whose credit is now booked, and records what
// they did on their events.
func (s *Stripe) applyDeferred(ctx context.Context, pi, charge string) error {
	type item struct {
		id, typ string
		payload []byte
	}
	var items []item
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockPayment(ctx, tx, pi, charge); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT event_id, type, payload FROM stripe_deferred_events
			WHERE applied_at IS NULL AND ((payment_intent <> '' AND payment_intent = $1) OR (charge <> '' AND charge = $2))
			ORDER BY received_at, event_id`, pi, charge)
		if err != nil {
			return err
		}
		items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (item, error) {
			var it item
			err := r.Scan(&it.id, &it.typ, &it.payload)
			return it, err
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("payments: events kept for payment %s: %w", pi, err)
	}
	for _, it := range items {
		ev := stripego.Event{ID: it.id, Type: stripego.EventType(it.typ), Data: &stripego.EventData{Raw: it.payload}}
		var t topup
		var out Outcome
		switch it.typ {
		case evChargeRefunded:
			var ch stripego.Charge
			if err = json.Unmarshal(it.payload, &ch); err == nil {
				t, out, err = s.onRefund(ctx, ev, &ch)
			}
		case evDisputeCreated:
			var d stripego.Dispute
			if err = json.Unmarshal(it.payload, &d); err == nil {
				t, out, err = s.onDispute(ctx, ev, &d)
			}
		case evDisputeReinstated, evDisputeClosed:
			var d stripego.Dispute
			if err = json.Unmarshal(it.payload, &d); err == nil {
				t, out, err = s.onDisputeWon(ctx, ev, &d)
			}
		default:
			err = fmt.Errorf("event type %q cannot be kept", it.typ)
		}
		if err != nil {
			return fmt.Errorf("payments: apply kept event %s: %w", it.id, err)
		}
		if out == OutcomeDeferred {
			continue
		}
		var tenant *int64
		var topupID *uuid.UUID
		if t.TenantID != 0 {
			tenant, topupID = &t.TenantID, &t.ID
		}
		tag, err := s.pool.Exec(ctx, `UPDATE stripe_deferred_events SET applied_at = $2, tenant_id = $3, topup_id = $4, outcome = $5
			WHERE event_id = $1 AND applied_at IS NULL`, it.id, s.now(), tenant, topupID, string(out))
		if err != nil {
			return fmt.Errorf("payments: mark kept event %s applied: %w", it.id, err)
		}
		if _, err := s.pool.Exec(ctx, `UPDATE stripe_events SET outcome = $2, tenant_id = $3, topup_id = $4 WHERE event_id = $1`,
			it.id, string(out), tenant, topupID); err != nil {
			return fmt.Errorf("payments: record outcome of kept event %s: %w", it.id, err)
		}
		if tag.RowsAffected() == 1 {
			s.log.InfoContext(ctx, "payments: kept stripe event applied after its credit", "event_id", it.id, "type", it.typ,
				"topup_id", t.ID, "outcome", out)
		}
	}
	return nil
}

// StripeReview is a Stripe payment the accountant must look at: Stripe's
// own record differs from the top-up Tartine opened, or a refund or dispute
// asked to take back more than was paid. Nothing was booked for the
// difference.
type StripeReview struct {
	ID            int64
	TopUpID       uuid.UUID
	PupilID       int64
	Reason        string // amount_mismatch, currency_mismatch, not_paid, session_mismatch, credit_conflict, refund_over_paid, dispute_over_paid
	EventID       string
	SessionID     string
	PaymentIntent string
	Asked         decimal.Decimal  // the top-up Tartine opened
	Confirmed     *decimal.Decimal // what Stripe confirmed (nil when unknown)
	EventAmount   *decimal.Decimal // what the event said
	Detail        string
	CreatedAt     time.Time
}

// StripeReviews returns the tenant's open reviews, oldest first.
func (b *Bank) StripeReviews(ctx context.Context, tenantID int64) ([]StripeReview, error) {
	rows, err := b.pool.Query(ctx, `
		SELECT r.id, r.topup_id, t.pupil_id, r.reason, r.event_id, r.session_id, r.payment_intent, r.asked, r.confirmed,
			r.event_amount, r.detail, r.created_at
		FROM stripe_reviews r JOIN topups t ON t.tenant_id = r.tenant_id AND t.id = r.topup_id
		WHERE r.tenant_id = $1 AND r.resolved_at IS NULL ORDER BY r.created_at, r.id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("payments: stripe reviews: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StripeReview, error) {
		var v StripeReview
		err := r.Scan(&v.ID, &v.TopUpID, &v.PupilID, &v.Reason, &v.EventID, &v.SessionID, &v.PaymentIntent, &v.Asked,
			&v.Confirmed, &v.EventAmount, &v.Detail, &v.CreatedAt)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("payments: stripe reviews: %w", err)
	}
	return out, nil
}

// DismissStripeReview closes an open review once the accountant has dealt
// with it (with Stripe, or by a manual entry); it returns ErrNotFound when
// the review is not open in the tenant.
func (b *Bank) DismissStripeReview(ctx context.Context, tenantID, id int64, actor string, now time.Time) error {
	tag, err := b.pool.Exec(ctx, `UPDATE stripe_reviews SET resolved_at = $3, resolved_by = $4, resolution = 'dismissed'
		WHERE tenant_id = $1 AND id = $2 AND resolved_at IS NULL`, tenantID, id, now, actor)
	if err != nil {
		return fmt.Errorf("payments: dismiss stripe review %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: open stripe review %d", ErrNotFound, id)
	}
	return nil
}
