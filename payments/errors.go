package payments

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
)

// Errors returned by the payments services. Match them with errors.Is.
var (
	// ErrAmountOutOfRange: the top-up amount is outside the configured
	// limits or has more than two decimals (see *AmountError).
	ErrAmountOutOfRange = errors.New("payments: top-up amount out of range")
	// ErrInvalidRequest: a required field of a request is missing or wrong.
	ErrInvalidRequest = errors.New("payments: invalid request")
	// ErrPupilNotFound: no active pupil with this id in the tenant.
	ErrPupilNotFound = errors.New("payments: pupil not found")
	// ErrWalletMismatch: the wallet given is not the pupil's wallet.
	ErrWalletMismatch = errors.New("payments: wallet is not the pupil's wallet")
	// ErrNotGuardian: the guardian is not linked to the pupil.
	ErrNotGuardian = errors.New("payments: guardian not linked to pupil")
	// ErrCheckout: Stripe could not open the Checkout Session (network,
	// configuration or Stripe error); the top-up is recorded as "error".
	ErrCheckout = errors.New("payments: stripe checkout unavailable")
	// ErrNotFound: no such top-up in the tenant.
	ErrNotFound = errors.New("payments: not found")
	// ErrSignature: the webhook signature is missing, wrong or too old.
	ErrSignature = errors.New("payments: invalid webhook signature")
	// ErrAPIVersion: the webhook event was rendered with another Stripe API
	// version than the one stripe-go v76 decodes (2023-10-16).
	ErrAPIVersion = errors.New("payments: webhook event API version mismatch")
	// ErrNotCreditedYet: a refund or dispute arrived for a top-up whose
	// credit was not booked yet; Stripe should deliver it again later.
	ErrNotCreditedYet = errors.New("payments: top-up not credited yet")
	// ErrBadFile: an imported bank file could not be read.
	ErrBadFile = errors.New("payments: unreadable bank file")
)

// AmountError reports a top-up amount refused by the limits.
type AmountError struct {
	Amount   decimal.Decimal
	Min, Max decimal.Decimal
	// Decimals is true when the amount has more than two decimals.
	Decimals bool
}

func (e *AmountError) Error() string {
	if e.Decimals {
		return fmt.Sprintf("payments: top-up amount %s has more than two decimals", e.Amount)
	}
	return fmt.Sprintf("payments: top-up amount %s not within %s–%s EUR", e.Amount.StringFixed(2), e.Min.StringFixed(2), e.Max.StringFixed(2))
}

// Unwrap makes errors.Is(err, ErrAmountOutOfRange) true.
func (e *AmountError) Unwrap() error { return ErrAmountOutOfRange }

// Message says what is wrong in the guardian's language.
func (e *AmountError) Message(c *i18n.Catalog, lang string) string {
	if e.Decimals {
		return c.T(lang, "payments.error.amount_decimals")
	}
	return c.T(lang, "payments.error.amount_range", i18n.FormatEUR(e.Min, lang), i18n.FormatEUR(e.Max, lang))
}
