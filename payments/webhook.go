package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"tartine/ledger"
)

// Outcome says what a webhook event did.
type Outcome string

// Webhook outcomes.
const (
	OutcomeCredited        Outcome = "credited"         // this delivery credited the wallet
	OutcomeAlreadyCredited Outcome = "already_credited" // the top-up was credited before: no effect
	OutcomeProcessing      Outcome = "processing"       // paid by an asynchronous method, waiting
	OutcomeFailed          Outcome = "failed"           // payment failed or session expired
	OutcomeRefunded        Outcome = "refunded"         // a refund was debited (or had been)
	OutcomeDisputed        Outcome = "disputed"         // a dispute was debited (or had been)
	OutcomeUnknownTopUp    Outcome = "unknown_topup"    // no top-up of ours: logged, no effect
	OutcomeRejected        Outcome = "rejected"         // inconsistent with the top-up: logged, no effect
	OutcomeIgnored         Outcome = "ignored"          // an event type Tartine does not act on
	OutcomeDuplicate       Outcome = "duplicate"        // this event id was handled before
	OutcomePayoutRecorded  Outcome = "payout_recorded"  // a Stripe payout was recorded or its status changed
	OutcomePayoutUnchanged Outcome = "payout_unchanged" // the payout was recorded in this state before: no effect
	OutcomeReview          Outcome = "review"           // Stripe's confirmation differs from the top-up: listed for the accountant, nothing credited
	OutcomeDeferred        Outcome = "deferred"         // a refund or dispute before its credit: kept, applied when the credit is booked
	OutcomeDisputeWon      Outcome = "dispute_won"      // a won dispute's reinstated funds were credited back (or had been)
)

// WebhookResult describes a handled event.
type WebhookResult struct {
	EventID  string
	Type     string
	Outcome  Outcome
	TenantID int64     // 0 when no top-up (or payout of a known tenant) was found
	TopUpID  uuid.UUID // zero when no top-up was found
	PayoutID string    // the Stripe payout of a payout.* event
}

// Stripe event types acted upon.
const (
	evSessionCompleted  = "checkout.session.completed"
	evAsyncSucceeded    = "checkout.session.async_payment_succeeded"
	evAsyncFailed       = "checkout.session.async_payment_failed"
	evSessionExpired    = "checkout.session.expired"
	evChargeRefunded    = "charge.refunded"
	evDisputeCreated    = "charge.dispute.created"
	evDisputeReinstated = "charge.dispute.funds_reinstated"
	evDisputeClosed     = "charge.dispute.closed"
)

// History lines (ledger memos) of the transfers booked from Stripe; French,
// the portal translates by kind (payments.kind.* in the catalogue).
const (
	memoTopUp      = "Rechargement en ligne (Stripe)"
	memoFee        = "Frais Stripe"
	memoRefund     = "Remboursement Stripe"
	memoDispute    = "Litige bancaire"
	memoDisputeWon = "Litige bancaire gagné : montant rétabli"
)

// Ledger transfer kinds.
const (
	KindTopUp      = "topup"
	KindFee        = "stripe-fee"
	KindRefund     = "topup-refund"
	KindDispute    = "topup-dispute"
	KindDisputeWon = "topup-dispute-won" // a won dispute's funds reinstated: the reverse of topup-dispute
)

// HandleWebhook is the http.HandlerFunc of POST /stripe/webhook. It answers
// 400 for a bad signature, a wrong API version (logged as an error: the
// endpoint must be configured with API version 2023-10-16) or an unreadable
// event, 413 for a body over 1 MiB, 500 when the event could not be handled
// (Stripe delivers it again), and 200 otherwise, including for events about
// top-ups that are not Tartine's and for event types it does not act on.
func (s *Stripe) HandleWebhook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "method not allowed"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.log.WarnContext(r.Context(), "payments: webhook body too large", "limit", tooBig.Limit)
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "body too large"})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unreadable body"})
		return
	}
	res, err := s.ProcessWebhook(r.Context(), body, r.Header.Get("Stripe-Signature"))
	switch {
	case errors.Is(err, ErrSignature):
		s.log.WarnContext(r.Context(), "payments: webhook refused", "reason", err.Error(), "remote", r.RemoteAddr)
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid signature"})
	case errors.Is(err, ErrAPIVersion):
		// Loud on purpose: every event is refused until the endpoint's API
		// version is fixed in the Stripe dashboard.
		s.log.ErrorContext(r.Context(), "payments: STRIPE WEBHOOK API VERSION MISMATCH — events refused; set the endpoint's API version to "+stripego.APIVersion,
			"err", err, "event_id", res.EventID, "type", res.Type)
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "api version mismatch", "expected": stripego.APIVersion})
	case errors.Is(err, ErrInvalidRequest):
		s.log.WarnContext(r.Context(), "payments: webhook event unreadable", "err", err)
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid event"})
	case err != nil:
		s.log.ErrorContext(r.Context(), "payments: webhook event not handled, Stripe will retry", "err", err,
			"event_id", res.EventID, "type", res.Type)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "temporary failure"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"received": true, "outcome": res.Outcome})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ProcessWebhook verifies and handles one webhook delivery: payload is the
// raw body, sigHeader the Stripe-Signature header. It returns an error
// matching ErrSignature (bad signature, or signed more than the tolerance
// ago or more than MaxClockSkew ahead of the service's clock), ErrAPIVersion
// (event of another API version), ErrInvalidRequest (unreadable event), or
// another error when the event could not be handled and should be delivered
// again (Stripe unreachable, database error) — never for an event that
// would fail the same way each time: a credit that Stripe's own record
// contradicts goes to the review queue (OutcomeReview), a refund or dispute
// that arrives before its credit is kept (OutcomeDeferred).
func (s *Stripe) ProcessWebhook(ctx context.Context, payload []byte, sigHeader string) (WebhookResult, error) {
	if err := webhook.ValidatePayloadIgnoringTolerance(payload, sigHeader, s.cfg.WebhookSecret); err != nil {
		return WebhookResult{}, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	if err := s.checkSignatureTime(sigHeader); err != nil {
		return WebhookResult{}, err
	}
	var head struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		APIVersion string `json:"api_version"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return WebhookResult{}, fmt.Errorf("%w: event JSON: %w", ErrInvalidRequest, err)
	}
	res := WebhookResult{EventID: head.ID, Type: head.Type}
	if head.APIVersion != stripego.APIVersion {
		return res, fmt.Errorf("%w: event %s has API version %q, expected %q", ErrAPIVersion, head.ID, head.APIVersion, stripego.APIVersion)
	}
	ev, err := webhook.ConstructEventWithOptions(payload, sigHeader, s.cfg.WebhookSecret,
		webhook.ConstructEventOptions{IgnoreTolerance: true}) // checked above against s.now
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if ev.ID == "" || ev.Data == nil {
		return res, fmt.Errorf("%w: event without id or data", ErrInvalidRequest)
	}

	var seen string
	err = s.pool.QueryRow(ctx, `SELECT outcome FROM stripe_events WHERE event_id = $1`, ev.ID).Scan(&seen)
	if err == nil {
		res.Outcome = OutcomeDuplicate
		s.log.InfoContext(ctx, "payments: stripe event already handled", "event_id", ev.ID, "type", ev.Type, "first_outcome", seen)
		return res, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return res, fmt.Errorf("payments: look up event %s: %w", ev.ID, err)
	}

	var t topup
	var payoutTenant int64
	switch ev.Type {
	case evSessionCompleted, evAsyncSucceeded, evAsyncFailed, evSessionExpired:
		var sess stripego.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &sess); err != nil {
			return res, fmt.Errorf("%w: checkout session of event %s: %w", ErrInvalidRequest, ev.ID, err)
		}
		t, res.Outcome, err = s.onSession(ctx, ev, &sess)
	case evChargeRefunded:
		var ch stripego.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
			return res, fmt.Errorf("%w: charge of event %s: %w", ErrInvalidRequest, ev.ID, err)
		}
		t, res.Outcome, err = s.onRefund(ctx, ev, &ch)
	case evDisputeCreated:
		var d stripego.Dispute
		if err := json.Unmarshal(ev.Data.Raw, &d); err != nil {
			return res, fmt.Errorf("%w: dispute of event %s: %w", ErrInvalidRequest, ev.ID, err)
		}
		t, res.Outcome, err = s.onDispute(ctx, ev, &d)
	case evDisputeReinstated, evDisputeClosed:
		var d stripego.Dispute
		if err := json.Unmarshal(ev.Data.Raw, &d); err != nil {
			return res, fmt.Errorf("%w: dispute of event %s: %w", ErrInvalidRequest, ev.ID, err)
		}
		t, res.Outcome, err = s.onDisputeWon(ctx, ev, &d)
	case evPayoutPaid, evPayoutFailed, evPayoutCanceled:
		var po stripego.Payout
		if err := json.Unmarshal(ev.Data.Raw, &po); err != nil {
			return res, fmt.Errorf("%w: payout of event %s: %w", ErrInvalidRequest, ev.ID, err)
		}
		res.PayoutID = po.ID
		payoutTenant, res.Outcome, err = s.onPayout(ctx, ev, &po)
	default:
		res.Outcome = OutcomeIgnored
		s.log.DebugContext(ctx, "payments: stripe event type not handled", "event_id", ev.ID, "type", ev.Type)
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.TenantID, res.TopUpID = t.TenantID, t.ID
	var tenant *int64
	var topupID *uuid.UUID
	if t.TenantID != 0 {
		tenant, topupID = &t.TenantID, &t.ID
	} else if payoutTenant != 0 {
		res.TenantID, tenant = payoutTenant, &payoutTenant
	}
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO stripe_events (event_id, type, tenant_id, topup_id, outcome, created_at, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING`,
		ev.ID, string(ev.Type), tenant, topupID, string(res.Outcome), time.Unix(ev.Created, 0), s.now()); err != nil {
		// The effect is booked and idempotent; only the shortcut is lost.
		s.log.WarnContext(ctx, "payments: record stripe event", "event_id", ev.ID, "err", err)
	}
	return res, nil
}

// topUpFromMetadata finds the top-up named by Stripe metadata, or returns
// ErrNotFound.
func (s *Stripe) topUpFromMetadata(ctx context.Context, meta map[string]string) (topup, error) {
	return topUpFromMetadata(ctx, s.pool, meta)
}

// topUpFromMetadata reads with q the top-up named by Stripe metadata, or
// returns ErrNotFound.
func topUpFromMetadata(ctx context.Context, q querier, meta map[string]string) (topup, error) {
	tenant, err1 := strconv.ParseInt(meta[metaTenant], 10, 64)
	id, err2 := uuid.Parse(meta[metaTopUp])
	if err1 != nil || err2 != nil {
		return topup{}, ErrNotFound
	}
	return getTopUp(ctx, q, tenant, id, false)
}

// unknown logs an event that concerns no top-up of Tartine's.
func (s *Stripe) unknown(ctx context.Context, ev stripego.Event, object string, meta map[string]string) (topup, Outcome, error) {
	s.log.WarnContext(ctx, "payments: stripe event for an unknown top-up, acknowledged without effect",
		"event_id", ev.ID, "type", ev.Type, "object", object, "metadata", meta)
	return topup{}, OutcomeUnknownTopUp, nil
}

// onSession handles the checkout.session.* events.
func (s *Stripe) onSession(ctx context.Context, ev stripego.Event, sess *stripego.CheckoutSession) (topup, Outcome, error) {
	t, err := s.topUpFromMetadata(ctx, sess.Metadata)
	if errors.Is(err, ErrNotFound) {
		t, err = findTopUp(ctx, s.pool, "stripe_session_id", sess.ID)
	}
	if errors.Is(err, ErrNotFound) {
		return s.unknown(ctx, ev, sess.ID, sess.Metadata)
	}
	if err != nil {
		return topup{}, "", err
	}
	if t.SessionID != nil && *t.SessionID != sess.ID {
		s.log.ErrorContext(ctx, "payments: checkout session does not match the top-up's session, ignored",
			"event_id", ev.ID, "topup_id", t.ID, "session", sess.ID, "expected_session", *t.SessionID)
		return t, OutcomeRejected, nil
	}
	switch ev.Type {
	case evSessionCompleted:
		switch sess.PaymentStatus {
		case stripego.CheckoutSessionPaymentStatusPaid:
			return s.credit(ctx, ev, t, sess)
		case stripego.CheckoutSessionPaymentStatusUnpaid:
			_, err := s.pool.Exec(ctx, `UPDATE topups SET status = 'processing', stripe_session_id = COALESCE(stripe_session_id, $3)
				WHERE tenant_id = $1 AND id = $2 AND status = 'pending'`, t.TenantID, t.ID, sess.ID)
			if err != nil {
				return t, "", fmt.Errorf("payments: mark top-up %s processing: %w", t.ID, err)
			}
			return t, OutcomeProcessing, nil
		default:
			s.log.WarnContext(ctx, "payments: completed session without payment", "topup_id", t.ID, "payment_status", sess.PaymentStatus)
			return t, OutcomeIgnored, nil
		}
	case evAsyncSucceeded:
		return s.credit(ctx, ev, t, sess)
	default: // failed, expired
		tag, err := s.pool.Exec(ctx, `UPDATE topups SET status = 'failed', failed_at = $3
			WHERE tenant_id = $1 AND id = $2 AND status IN ('pending', 'processing')`, t.TenantID, t.ID, s.now())
		if err != nil {
			return t, "", fmt.Errorf("payments: mark top-up %s failed: %w", t.ID, err)
		}
		if tag.RowsAffected() == 0 && t.Status == StatusPaid {
			s.log.ErrorContext(ctx, "payments: failure event for a credited top-up, ignored", "event_id", ev.ID, "type", ev.Type, "topup_id", t.ID)
			return t, OutcomeRejected, nil
		}
		s.log.InfoContext(ctx, "payments: top-up failed", "event_id", ev.ID, "type", ev.Type, "topup_id", t.ID)
		return t, OutcomeFailed, nil
	}
}

// credit books the top-up into the wallet, once: the ledger key
// stripe-topup:<id> makes every later or concurrent attempt a replay of the
// same transfer. The delivery that moves the top-up to "paid" notifies.
func (s *Stripe) credit(ctx context.Context, ev stripego.Event, t topup, sess *stripego.CheckoutSession) (topup, Outcome, error) {
	if sess.Currency != "" && sess.Currency != stripego.CurrencyEUR {
		s.log.ErrorContext(ctx, "payments: checkout session not in EUR, not credited", "event_id", ev.ID, "topup_id", t.ID, "currency", sess.Currency)
		return t, OutcomeRejected, nil
	}
	// What the event says is a copy: Stripe's own record of the session
	// decides what is credited. A mismatch never credits and never fails
	// again and again: it waits for the accountant.
	conf, err := s.confirmSession(ctx, t, sess)
	if err != nil {
		return t, "", err
	}
	if conf.review != nil {
		return t, OutcomeReview, s.recordReview(ctx, ev, t, *conf.review)
	}
	paid := t.Amount
	sess = conf.session
	clearing, err := account(ctx, s.ledger, t.TenantID, CodeStripeClearing)
	if err != nil {
		return t, "", err
	}
	// Every field below comes from the top-up row or the session, never from
	// the event, so all deliveries build the same request (and OccurredAt is
	// left zero, "now", which the ledger keeps out of the request hash).
	kind, memo, meta := KindTopUp, memoTopUp, map[string]string{
		"topup_id": t.ID.String(),
		"pupil_id": strconv.FormatInt(t.PupilID, 10),
		"session":  sess.ID,
		"method":   "stripe",
	}
	if t.Statement != nil { // a fee statement: stripe-clearing → fees receivable
		kind, memo, meta["statement"] = KindStatementStripe, *t.Statement, *t.Statement
	}
	tr, err := s.ledger.Transfer(ctx, ledger.TransferRequest{
		TenantID:       t.TenantID,
		IdempotencyKey: "stripe-topup:" + t.ID.String(),
		Kind:           kind,
		Actor:          "stripe",
		Memo:           memo,
		Metadata:       meta,
		Postings: []ledger.Posting{
			{AccountID: clearing, Amount: paid},
			{AccountID: t.Wallet, Amount: paid.Neg()},
		},
	})
	if errors.Is(err, ledger.ErrIdempotencyConflict) {
		// Booked before with other fields (an older version credited the
		// event's amount): the booking stands, a person looks at it.
		return t, OutcomeReview, s.recordReview(ctx, ev, t, review{reason: reasonCreditConflict, session: sess.ID,
			confirmed: &paid, detail: err.Error()})
	}
	if err != nil {
		return t, "", fmt.Errorf("payments: credit top-up %s: %w", t.ID, err)
	}
	var pi *string
	if sess.PaymentIntent != nil && sess.PaymentIntent.ID != "" {
		pi = &sess.PaymentIntent.ID
	}
	now := s.now()
	tag, err := s.pool.Exec(ctx, `
		UPDATE topups SET status = 'paid', paid_amount = $3, paid_at = $4, credit_transfer_id = $5,
			stripe_payment_intent = COALESCE(stripe_payment_intent, $6), stripe_session_id = COALESCE(stripe_session_id, $7)
		WHERE tenant_id = $1 AND id = $2 AND status <> 'paid'`,
		t.TenantID, t.ID, paid, now, tr.ID, pi, sess.ID)
	if err != nil {
		return t, "", fmt.Errorf("payments: mark top-up %s paid: %w", t.ID, err)
	}
	outcome := OutcomeAlreadyCredited
	if tag.RowsAffected() == 1 {
		outcome = OutcomeCredited
		s.log.InfoContext(ctx, "payments: top-up credited", "event_id", ev.ID, "type", ev.Type, "tenant_id", t.TenantID,
			"topup_id", t.ID, "pupil_id", t.PupilID, "amount", paid.StringFixed(2), "transfer_id", tr.ID)
		if s.notifier != nil && t.Statement == nil {
			n := TopUpNotice{TenantID: t.TenantID, TopUpID: t.ID, PupilID: t.PupilID, WalletAccountID: t.Wallet,
				Amount: paid, Lang: t.Lang, PaidAt: now}
			if t.GuardianID != nil {
				n.GuardianID = *t.GuardianID
			}
			if err := s.notifier.TopUpReceived(ctx, n); err != nil {
				s.log.ErrorContext(ctx, "payments: top-up notification failed", "topup_id", t.ID, "err", err)
			}
		}
	}
	var charge string
	if pi != nil {
		if charge, err = s.bookFee(ctx, t, *pi, clearing); err != nil {
			return t, "", err
		}
		if err := s.applyDeferred(ctx, *pi, charge); err != nil {
			return t, "", err
		}
	}
	return t, outcome, nil
}

// bookFee reads the fee of the payment's charge from its balance transaction
// and books it expense:stripe-fees / stripe-clearing under the key
// stripe-fee:<charge id>. Missing data (no charge yet, no balance
// transaction, a currency other than EUR, a zero fee as in stripe-mock's
// fixtures) is logged and skipped; a failing Stripe call is an error so that
// the event is delivered again.
//
// It returns the payment's charge id ("" when it has none yet).
func (s *Stripe) bookFee(ctx context.Context, t topup, paymentIntent string, clearing int64) (string, error) {
	params := &stripego.PaymentIntentParams{}
	params.Context = ctx
	params.AddExpand("latest_charge.balance_transaction")
	pi, err := s.api.PaymentIntents.Get(paymentIntent, params)
	if err != nil {
		return "", fmt.Errorf("payments: read payment intent %s for the Stripe fee: %w", paymentIntent, err)
	}
	ch := pi.LatestCharge
	if ch == nil || ch.ID == "" {
		s.log.WarnContext(ctx, "payments: payment intent has no charge yet; fee not booked", "topup_id", t.ID, "payment_intent", paymentIntent)
		return "", nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE topups SET stripe_charge = $3 WHERE tenant_id = $1 AND id = $2 AND stripe_charge IS NULL`,
		t.TenantID, t.ID, ch.ID); err != nil {
		return "", fmt.Errorf("payments: store charge of top-up %s: %w", t.ID, err)
	}
	bt := ch.BalanceTransaction
	switch {
	case bt == nil || bt.ID == "":
		s.log.WarnContext(ctx, "payments: charge has no balance transaction yet; fee not booked", "topup_id", t.ID, "charge", ch.ID)
		return ch.ID, nil
	case bt.Currency != stripego.CurrencyEUR:
		s.log.WarnContext(ctx, "payments: balance transaction not in EUR; fee not booked", "topup_id", t.ID, "charge", ch.ID,
			"balance_transaction", bt.ID, "currency", bt.Currency, "fee", bt.Fee)
		return ch.ID, nil
	case bt.Fee <= 0:
		return ch.ID, nil
	}
	fees, err := account(ctx, s.ledger, t.TenantID, CodeStripeFees)
	if err != nil {
		return "", err
	}
	fee := fromCents(bt.Fee)
	_, err = s.ledger.Transfer(ctx, ledger.TransferRequest{
		TenantID:       t.TenantID,
		IdempotencyKey: "stripe-fee:" + ch.ID,
		Kind:           KindFee,
		Actor:          "stripe",
		Memo:           memoFee,
		Metadata:       map[string]string{"charge": ch.ID, "balance_transaction": bt.ID},
		Postings: []ledger.Posting{
			{AccountID: fees, Amount: fee},
			{AccountID: clearing, Amount: fee.Neg()},
		},
	})
	if err != nil {
		return "", fmt.Errorf("payments: book Stripe fee of charge %s: %w", ch.ID, err)
	}
	return ch.ID, nil
}

// topUpForCharge finds with q the top-up of a charge by its metadata
// (copied from the payment intent), its payment intent, or its id.
func topUpForCharge(ctx context.Context, q querier, meta map[string]string, paymentIntent, charge string) (topup, error) {
	t, err := topUpFromMetadata(ctx, q, meta)
	if errors.Is(err, ErrNotFound) {
		t, err = findTopUp(ctx, q, "stripe_payment_intent", paymentIntent)
	}
	if errors.Is(err, ErrNotFound) {
		t, err = findTopUp(ctx, q, "stripe_charge", charge)
	}
	return t, err
}

// onRefund debits the wallet for what was refunded since the last refund
// event: amount_refunded is cumulative, each step is booked once, and the
// total taken back (refunds and disputes) never exceeds what was paid: the
// excess is not booked and goes to the review queue. A refund of a top-up
// not credited yet (or not known yet) is kept and applied when the credit
// is booked.
func (s *Stripe) onRefund(ctx context.Context, ev stripego.Event, ch *stripego.Charge) (topup, Outcome, error) {
	var pi string
	if ch.PaymentIntent != nil {
		pi = ch.PaymentIntent.ID
	}
	t, ready, err := s.paidTopUp(ctx, ev, ch.Metadata, pi, ch.ID)
	if err != nil {
		return topup{}, "", err
	}
	if !ready {
		return t, OutcomeDeferred, nil
	}
	if ch.Currency != stripego.CurrencyEUR {
		s.log.ErrorContext(ctx, "payments: refund not in EUR, not booked", "event_id", ev.ID, "topup_id", t.ID, "currency", ch.Currency)
		return t, OutcomeRejected, nil
	}
	cumulative := fromCents(ch.AmountRefunded)
	var over *review
	err = s.claim(ctx, t, func(tx pgx.Tx, cur topup) error {
		if !cumulative.GreaterThan(cur.Refunded) {
			return nil // an older or repeated refund step
		}
		room := cur.paid().Sub(cur.Disputed)
		target := decimal.Min(cumulative, room)
		if cumulative.GreaterThan(room) {
			paid := cur.paid()
			over = &review{reason: reasonRefundOverPaid, pi: pi, confirmed: &paid, eventAmount: &cumulative,
				detail: fmt.Sprintf("charge %s: %s refunded in all, %s disputed, %s paid", ch.ID,
					cumulative.StringFixed(2), cur.Disputed.StringFixed(2), paid.StringFixed(2))}
		}
		if !target.GreaterThan(cur.Refunded) {
			return nil
		}
		step := target.Sub(cur.Refunded)
		ref := ch.ID + ":" + strconv.FormatInt(cents(target), 10)
		if _, err := tx.Exec(ctx, `INSERT INTO topup_adjustments (tenant_id, topup_id, kind, ref, amount, created_at)
			VALUES ($1, $2, 'refund', $3, $4, $5)`, t.TenantID, t.ID, ref, step, s.now()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE topups SET refunded_amount = $3 WHERE tenant_id = $1 AND id = $2`, t.TenantID, t.ID, target)
		return err
	})
	if err != nil {
		return t, "", err
	}
	if over != nil {
		if err := s.recordReview(ctx, ev, t, *over); err != nil {
			return t, "", err
		}
	}
	return t, OutcomeRefunded, nil
}

// onDispute debits the wallet for the disputed amount, once per dispute,
// capped at what was paid and not already refunded or disputed (the excess
// goes to the review queue). A dispute of a top-up not credited yet (or not
// known yet) is kept and applied when the credit is booked.
func (s *Stripe) onDispute(ctx context.Context, ev stripego.Event, d *stripego.Dispute) (topup, Outcome, error) {
	var pi, charge string
	var meta map[string]string
	if d.PaymentIntent != nil {
		pi = d.PaymentIntent.ID
	}
	if d.Charge != nil {
		charge = d.Charge.ID
		meta = d.Charge.Metadata
	}
	t, ready, err := s.paidTopUp(ctx, ev, meta, pi, charge)
	if err != nil {
		return topup{}, "", err
	}
	if !ready {
		return t, OutcomeDeferred, nil
	}
	if d.Currency != stripego.CurrencyEUR || d.Amount <= 0 {
		s.log.ErrorContext(ctx, "payments: dispute not in EUR or without amount, not booked", "event_id", ev.ID, "topup_id", t.ID,
			"currency", d.Currency, "amount", d.Amount)
		return t, OutcomeRejected, nil
	}
	amount := fromCents(d.Amount)
	var over *review
	err = s.claim(ctx, t, func(tx pgx.Tx, cur topup) error {
		var seen bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM topup_adjustments
			WHERE tenant_id = $1 AND topup_id = $2 AND kind = 'dispute' AND ref = $3)`, t.TenantID, t.ID, d.ID).Scan(&seen); err != nil || seen {
			return err
		}
		room := cur.paid().Sub(cur.Refunded).Sub(cur.Disputed)
		take := decimal.Min(amount, room)
		if amount.GreaterThan(room) {
			paid := cur.paid()
			over = &review{reason: reasonDisputeOverPaid, pi: pi, confirmed: &paid, eventAmount: &amount,
				detail: fmt.Sprintf("dispute %s: %s disputed, %s refunded and %s disputed before, %s paid", d.ID,
					amount.StringFixed(2), cur.Refunded.StringFixed(2), cur.Disputed.StringFixed(2), paid.StringFixed(2))}
		}
		if !take.IsPositive() {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO topup_adjustments (tenant_id, topup_id, kind, ref, amount, created_at)
			VALUES ($1, $2, 'dispute', $3, $4, $5)`, t.TenantID, t.ID, d.ID, take, s.now()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE topups SET disputed_amount = disputed_amount + $3 WHERE tenant_id = $1 AND id = $2`, t.TenantID, t.ID, take)
		return err
	})
	if err != nil {
		return t, "", err
	}
	if over != nil {
		if err := s.recordReview(ctx, ev, t, *over); err != nil {
			return t, "", err
		}
	}
	return t, OutcomeDisputed, nil
}

// claim runs fn under the top-up's row lock to record adjustments (never a
// ledger call inside: the lock is short and holds one connection), then
// books every adjustment of the top-up not booked yet, including ones left
// by an earlier delivery that failed half-way.
func (s *Stripe) claim(ctx context.Context, t topup, fn func(tx pgx.Tx, cur topup) error) error {
	if t.Status != StatusPaid {
		return fmt.Errorf("%w: top-up %s is %s", ErrNotCreditedYet, t.ID, t.Status)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := getTopUp(ctx, tx, t.TenantID, t.ID, true)
		if err != nil {
			return err
		}
		return fn(tx, cur)
	})
	if err != nil {
		return fmt.Errorf("payments: record adjustment of top-up %s: %w", t.ID, err)
	}
	type adj struct {
		kind, ref string
		amount    decimal.Decimal
	}
	rows, err := s.pool.Query(ctx, `SELECT kind, ref, amount FROM topup_adjustments
		WHERE tenant_id = $1 AND topup_id = $2 AND transfer_id IS NULL ORDER BY created_at, ref`, t.TenantID, t.ID)
	if err != nil {
		return fmt.Errorf("payments: adjustments of top-up %s: %w", t.ID, err)
	}
	todo, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (adj, error) {
		var a adj
		err := r.Scan(&a.kind, &a.ref, &a.amount)
		return a, err
	})
	if err != nil {
		return fmt.Errorf("payments: adjustments of top-up %s: %w", t.ID, err)
	}
	for _, a := range todo {
		id, err := s.debitWallet(ctx, t, a.kind, a.ref, a.amount)
		if err != nil {
			return err
		}
		if _, err := s.pool.Exec(ctx, `UPDATE topup_adjustments SET transfer_id = $5
			WHERE tenant_id = $1 AND topup_id = $2 AND kind = $3 AND ref = $4`, t.TenantID, t.ID, a.kind, a.ref, id); err != nil {
			return fmt.Errorf("payments: link adjustment %s %s: %w", a.kind, a.ref, err)
		}
	}
	return nil
}

// debitWallet takes amount back from the top-up's wallet into
// stripe-clearing: as much as the wallet holds above its floor (or above
// zero when the floor is a negative grace), the rest on the
// pupil's receivable (the family owes it). The ledger key is
// stripe-<kind>:<ref>; it returns the transfer id.
func (s *Stripe) debitWallet(ctx context.Context, t topup, kind, ref string, amount decimal.Decimal) (int64, error) {
	key := "stripe-" + kind + ":" + ref
	memo, trKind := memoRefund, KindRefund
	if kind == "dispute" {
		memo, trKind = memoDispute, KindDispute
	}
	clearing, err := account(ctx, s.ledger, t.TenantID, CodeStripeClearing)
	if err != nil {
		return 0, err
	}
	wallet, err := s.ledger.Account(ctx, t.TenantID, t.Wallet)
	if err != nil {
		return 0, fmt.Errorf("payments: wallet of top-up %s: %w", t.ID, err)
	}
	// Down to the floor, but never into a grace below zero: a grace is
	// there for meals, and what a refund takes beyond the balance is owed
	// on the receivable, which never blocks a meal.
	floor := decimal.Zero
	if wallet.Floor != nil && wallet.Floor.IsPositive() {
		floor = *wallet.Floor
	}
	var receivable int64
	for attempt := 0; attempt < 5; attempt++ {
		bal, err := s.ledger.Balance(ctx, t.TenantID, t.Wallet)
		if err != nil {
			return 0, fmt.Errorf("payments: balance of wallet %d: %w", t.Wallet, err)
		}
		fromWallet := decimal.Min(amount, decimal.Max(bal.Available.Sub(floor), decimal.Zero))
		if t.Statement != nil { // a statement payment taken back: the fees are owed again, on the fees receivable
			fromWallet = amount
		}
		rest := amount.Sub(fromWallet)
		postings := []ledger.Posting{{AccountID: clearing, Amount: amount.Neg()}}
		if fromWallet.IsPositive() {
			postings = append(postings, ledger.Posting{AccountID: t.Wallet, Amount: fromWallet})
		}
		if rest.IsPositive() {
			if receivable == 0 {
				if receivable, err = receivableAccount(ctx, s.ledger, t.TenantID, t.PupilID); err != nil {
					return 0, err
				}
			}
			postings = append(postings, ledger.Posting{AccountID: receivable, Amount: rest})
		}
		tr, err := s.ledger.Transfer(ctx, ledger.TransferRequest{
			TenantID:       t.TenantID,
			IdempotencyKey: key,
			Kind:           trKind,
			Actor:          "stripe",
			Memo:           memo,
			Metadata: map[string]string{
				"topup_id":    t.ID.String(),
				"pupil_id":    strconv.FormatInt(t.PupilID, 10),
				"ref":         ref,
				"from_wallet": fromWallet.StringFixed(2),
				"owed":        rest.StringFixed(2),
			},
			Postings: postings,
		})
		var floorErr *ledger.FloorError
		switch {
		case err == nil:
			s.log.InfoContext(ctx, "payments: wallet debited for "+kind, "tenant_id", t.TenantID, "topup_id", t.ID, "ref", ref,
				"amount", amount.StringFixed(2), "from_wallet", fromWallet.StringFixed(2), "owed", rest.StringFixed(2), "transfer_id", tr.ID)
			return tr.ID, nil
		case errors.As(err, &floorErr):
			continue // the wallet moved meanwhile: measure again
		case errors.Is(err, ledger.ErrIdempotencyConflict):
			// Booked before with another split (the balance moved since):
			// the first booking stands.
			ids, err := s.ledger.TransferIDsByKey(ctx, t.TenantID, []string{key})
			if err != nil {
				return 0, fmt.Errorf("payments: find transfer %s: %w", key, err)
			}
			id, ok := ids[key]
			if !ok {
				return 0, fmt.Errorf("payments: find transfer %s: %w", key, pgx.ErrNoRows)
			}
			return id, nil
		default:
			return 0, fmt.Errorf("payments: debit wallet for %s %s: %w", kind, ref, err)
		}
	}
	return 0, fmt.Errorf("payments: debit wallet for %s %s: wallet %d kept moving", kind, ref, t.Wallet)
}
