package ledger

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

// Errors returned by the ledger. Match them with errors.Is; a floor breach
// is a *FloorError (errors.As), which also matches ErrFloorBreach.
var (
	ErrInvalidRequest      = errors.New("ledger: invalid request")
	ErrInvalidAmount       = errors.New("ledger: invalid amount")
	ErrTooFewPostings      = errors.New("ledger: a transfer needs at least two postings")
	ErrUnbalanced          = errors.New("ledger: postings do not sum to zero")
	ErrCurrencyMismatch    = errors.New("ledger: currency mismatch")
	ErrUnknownAccount      = errors.New("ledger: unknown account")
	ErrUnknownTenant       = errors.New("ledger: unknown tenant")
	ErrAccountMismatch     = errors.New("ledger: account exists with other properties")
	ErrPeriodClosed        = errors.New("ledger: period is closed")
	ErrFloorBreach         = errors.New("ledger: balance would go below the account's floor")
	ErrIdempotencyConflict = errors.New("ledger: idempotency key reused with another request")
	ErrAlreadyReversed     = errors.New("ledger: transfer already reversed")
	ErrHoldEnded           = errors.New("ledger: hold already ended")
	ErrOverPost            = errors.New("ledger: posting more than the hold")
	ErrNotFound            = errors.New("ledger: not found")
	ErrImmutable           = errors.New("ledger: journal rows cannot be changed")
)

// FloorError reports a transfer or hold refused because a tracked account
// (a wallet) would fall below its floor.
type FloorError struct {
	AccountID int64
	Code      string
	Available decimal.Decimal // available balance before the refused operation
	Shortfall decimal.Decimal // how much is missing to stay at the floor
}

func (e *FloorError) Error() string {
	return fmt.Sprintf("ledger: account %s would go below its floor: available %s, short of %s",
		e.Code, e.Available.StringFixed(2), e.Shortfall.StringFixed(2))
}

// Is makes errors.Is(err, ErrFloorBreach) true for a *FloorError.
func (e *FloorError) Is(target error) bool { return target == ErrFloorBreach }
