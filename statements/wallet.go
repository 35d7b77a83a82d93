package statements

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/ledger"
)

// KindWalletPayment is the ledger kind of a statement paid from the
// pupil's prepaid account (wallet → receivable).
const KindWalletPayment = "statement-wallet"

// ErrWalletShort is returned when the prepaid account cannot pay the
// amount without going below its floor.
var ErrWalletShort = errors.New("statements: the prepaid account does not hold enough")

// PayFromWallet pays what the guardian owes on a statement (the guardian's
// share when it is split, else the total, at most what is outstanding for
// the pupil) from the pupil's prepaid account, on the guardian's explicit
// choice: wallet:<pupil> → receivable:<pupil>, audited. The wallet must
// hold the amount: the grace below zero that lets a child eat is never
// used for fees. Paying the same
// statement version twice books nothing more. It returns ErrNotFound when
// the statement is not addressed to the guardian, ErrInvalid for a
// replaced version or nothing to pay, and ErrWalletShort when the wallet's
// available balance is below the amount.
func (s *Service) PayFromWallet(ctx context.Context, tenantID, statementID, guardianID int64, actor string) (ledger.Transfer, error) {
	st, amount, err := s.Owed(ctx, tenantID, statementID, guardianID)
	if err != nil {
		return ledger.Transfer{}, err
	}
	pu, err := s.school.Pupil(ctx, tenantID, st.PupilID)
	if err != nil {
		return ledger.Transfer{}, err
	}
	// The meal grace below zero is for meals, never for fees: the wallet
	// must hold the amount.
	bal, err := s.ledger.Balance(ctx, tenantID, pu.WalletAccountID)
	if err != nil {
		return ledger.Transfer{}, err
	}
	if bal.Available.LessThan(amount) {
		return ledger.Transfer{}, fmt.Errorf("%w: %s available, %s asked", ErrWalletShort, bal.Available.StringFixed(2), amount.StringFixed(2))
	}
	receivable, err := fees.ReceivableAccount(ctx, s.ledger, nil, tenantID, pu)
	if err != nil {
		return ledger.Transfer{}, err
	}
	t, err := s.ledger.Transfer(ctx, ledger.TransferRequest{TenantID: tenantID, IdempotencyKey: fmt.Sprintf("statement-wallet:%d:%d", st.ID, guardianID),
		Kind: KindWalletPayment, OccurredAt: s.now(), Actor: actor, Memo: st.Number,
		Metadata: map[string]string{"statement": st.Number, "version": fmt.Sprint(st.Version)},
		Postings: []ledger.Posting{{AccountID: pu.WalletAccountID, Amount: amount}, {AccountID: receivable, Amount: amount.Neg()}}})
	if errors.Is(err, ledger.ErrFloorBreach) {
		return ledger.Transfer{}, fmt.Errorf("%w: %v", ErrWalletShort, err)
	}
	if errors.Is(err, ledger.ErrIdempotencyConflict) {
		return ledger.Transfer{}, invalid("statement %s was already paid from the prepaid account", st.Number)
	}
	if err != nil {
		return ledger.Transfer{}, err
	}
	_ = s.school.Audit(ctx, tenantID, actor, "statements.pay_wallet", st.Number, map[string]any{"amount": amount.StringFixed(2), "transfer": t.ID, "guardian": guardianID})
	return t, nil
}

// Owed returns the statement and what the guardian may pay on it now: the
// guardian's share when it is split, else the total, at most what is
// outstanding for the pupil. It returns ErrNotFound when the statement is
// not addressed to the guardian, ErrInvalid for a replaced version or
// nothing to pay.
func (s *Service) Owed(ctx context.Context, tenantID, statementID, guardianID int64) (Statement, decimal.Decimal, error) {
	st, err := s.Get(ctx, tenantID, statementID)
	if err != nil {
		return st, decimal.Zero, err
	}
	if !st.Addressed(guardianID) {
		return st, decimal.Zero, fmt.Errorf("statement %d for guardian %d: %w", statementID, guardianID, ErrNotFound)
	}
	if !st.Latest {
		return st, decimal.Zero, invalid("statement %s v%d was replaced", st.Number, st.Version)
	}
	amount := st.TotalDue
	for _, py := range st.Content.Payers {
		if py.GuardianID == guardianID {
			amount = py.Amount
		}
	}
	owed, err := s.Outstanding(ctx, tenantID, st.PupilID, s.now())
	if err != nil {
		return st, decimal.Zero, err
	}
	amount = decimal.Min(amount, owed)
	if !amount.IsPositive() {
		return st, decimal.Zero, invalid("statement %s: nothing left to pay", st.Number)
	}
	return st, amount, nil
}
