package payments

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/ledger"
	"tartine/school"
)

// KindStatementStripe is the ledger kind of a fee statement paid online:
// stripe-clearing → the pupil's fees receivable (fees:<pupil>).
const KindStatementStripe = "statement-stripe"

// StatementPaymentRequest asks to pay a fee statement by card or
// Bancontact. The caller (the portal, through statements) has checked that
// the statement is addressed to the guardian and computed what is owed.
type StatementPaymentRequest struct {
	TenantID   int64
	PupilID    int64
	GuardianID int64 // the paying guardian, linked to the pupil
	Statement  string
	Amount     decimal.Decimal // what the guardian owes on the statement
	SuccessURL string
	CancelURL  string
	Lang       string
}

// StartStatementPayment records a pending payment of a statement (a top-up
// row whose account is the pupil's fees receivable) and opens its Stripe
// Checkout Session; the webhook confirms it with Stripe and books it as it
// books a top-up. The top-up limits do not apply: a statement is paid in
// full. Errors are those of StartTopUp.
func (s *Stripe) StartStatementPayment(ctx context.Context, req StatementPaymentRequest) (TopUp, error) {
	if req.TenantID <= 0 || req.PupilID <= 0 || req.GuardianID <= 0 || req.Statement == "" {
		return TopUp{}, fmt.Errorf("%w: tenant, pupil, guardian and statement are required", ErrInvalidRequest)
	}
	if !req.Amount.IsPositive() || !req.Amount.Equal(req.Amount.Round(2)) {
		return TopUp{}, &AmountError{Amount: req.Amount, Min: decimal.New(1, -2), Max: req.Amount, Decimals: !req.Amount.Equal(req.Amount.Round(2))}
	}
	if req.SuccessURL == "" || req.CancelURL == "" {
		return TopUp{}, fmt.Errorf("%w: success and cancel URLs are required", ErrInvalidRequest)
	}
	lang := checkoutLang(req.Lang)
	email, err := school.GuardianEmail(ctx, s.pool, req.TenantID, req.GuardianID, req.PupilID)
	if errors.Is(err, school.ErrNotFound) {
		return TopUp{}, fmt.Errorf("%w: guardian %d, pupil %d", ErrNotGuardian, req.GuardianID, req.PupilID)
	}
	if err != nil {
		return TopUp{}, fmt.Errorf("payments: read guardian %d: %w", req.GuardianID, err)
	}
	recv, err := s.ledger.AccountByCode(ctx, req.TenantID, fees.ReceivableAccountCode(req.PupilID))
	if errors.Is(err, ledger.ErrNotFound) {
		return TopUp{}, fmt.Errorf("%w: pupil %d has no fees receivable", ErrInvalidRequest, req.PupilID)
	}
	if err != nil {
		return TopUp{}, fmt.Errorf("payments: fees receivable of pupil %d: %w", req.PupilID, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return TopUp{}, fmt.Errorf("payments: statement payment id: %w", err)
	}
	amount := req.Amount.Round(2)
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO topups (tenant_id, id, pupil_id, wallet_account_id, guardian_id, amount, lang, created_at, statement_number)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		req.TenantID, id, req.PupilID, recv.ID, req.GuardianID, amount, lang, s.now(), req.Statement); err != nil {
		return TopUp{}, fmt.Errorf("payments: record statement payment: %w", err)
	}
	meta := map[string]string{
		metaTenant:  strconv.FormatInt(req.TenantID, 10),
		metaPupil:   strconv.FormatInt(req.PupilID, 10),
		metaWallet:  strconv.FormatInt(recv.ID, 10),
		metaTopUp:   id.String(),
		"statement": req.Statement,
	}
	label := s.msgs.T(lang, "payments.checkout.statement_item", req.Statement)
	sess, err := s.checkout(ctx, req.TenantID, id, "statement payment", amount, label, lang, email, meta, req.SuccessURL, req.CancelURL)
	if err != nil {
		return TopUp{}, err
	}
	s.log.InfoContext(ctx, "payments: statement checkout session opened", "tenant_id", req.TenantID, "topup_id", id,
		"pupil_id", req.PupilID, "statement", req.Statement, "amount", amount.StringFixed(2), "session", sess.ID)
	return TopUp{ID: id, CheckoutURL: sess.URL}, nil
}
