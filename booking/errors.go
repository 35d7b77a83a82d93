package booking

import (
	"errors"
	"fmt"
)

// Errors returned by the package; match them with errors.Is. Each has a
// French/English message in internal/i18n under MessageKey.
var (
	// ErrClosedDay: the school (or the service) is closed that day.
	ErrClosedDay = errors.New("booking: closed day")
	// ErrCutoffPassed: the booking cut-off of that day is over.
	ErrCutoffPassed = errors.New("booking: cut-off passed")
	// ErrInsufficientFunds: the wallet cannot cover the booking; it also
	// wraps ledger.ErrFloorBreach when the ledger refused the hold.
	ErrInsufficientFunds = errors.New("booking: insufficient funds")
	// ErrNoTariff: no tariff is effective for that school, service, level and day.
	ErrNoTariff = errors.New("booking: no tariff")
	// ErrUnknownService: not a meal type of the tenant nor a daycare service.
	ErrUnknownService = errors.New("booking: unknown service")
	// ErrNotFound: no such booking, pupil, school or meal type in the tenant.
	ErrNotFound = errors.New("booking: not found")
	// ErrNotCancellable: the booking was already consumed, charged as a
	// no-show or cancelled.
	ErrNotCancellable = errors.New("booking: cannot be cancelled")
	// ErrAlreadyConsumed: the booking was consumed by another tap.
	ErrAlreadyConsumed = errors.New("booking: already consumed")
	// ErrBookingEnded: the booking was cancelled or closed by the day-end job.
	ErrBookingEnded = errors.New("booking: booking ended")
	// ErrInactivePupil: the pupil has left or is inactive.
	ErrInactivePupil = errors.New("booking: pupil inactive")
	// ErrPupilLeaving: the day is on or after the pupil's leaving day (the
	// first day they are no longer at school, set ahead in the back office).
	ErrPupilLeaving = errors.New("booking: day on or after the pupil's leaving day")
	// ErrNoWallet: the pupil has no wallet account yet.
	ErrNoWallet = errors.New("booking: pupil has no wallet")
	// ErrInvalid: bad input (a field out of range, malformed settings).
	ErrInvalid = errors.New("booking: invalid")
)

// MessageKey returns the i18n catalogue key ("booking.error.cutoff") that
// explains err to a family or to staff, or "error.internal" for an error of
// no booking kind.
func MessageKey(err error) string {
	switch {
	case errors.Is(err, ErrClosedDay):
		return "booking.error.closed_day"
	case errors.Is(err, ErrCutoffPassed):
		return "booking.error.cutoff"
	case errors.Is(err, ErrInsufficientFunds):
		return "booking.error.insufficient_funds"
	case errors.Is(err, ErrNoTariff):
		return "booking.error.no_tariff"
	case errors.Is(err, ErrUnknownService):
		return "booking.error.unknown_service"
	case errors.Is(err, ErrNotFound):
		return "booking.error.not_found"
	case errors.Is(err, ErrNotCancellable):
		return "booking.error.not_cancellable"
	case errors.Is(err, ErrAlreadyConsumed):
		return "booking.error.already_consumed"
	case errors.Is(err, ErrBookingEnded):
		return "booking.error.ended"
	case errors.Is(err, ErrInactivePupil):
		return "booking.error.inactive_pupil"
	case errors.Is(err, ErrPupilLeaving):
		return "booking.error.pupil_leaving"
	case errors.Is(err, ErrNoWallet):
		return "booking.error.no_wallet"
	case errors.Is(err, ErrInvalid):
		return "booking.error.invalid"
	}
	return "error.internal"
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
