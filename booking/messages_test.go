package booking

import (
	"strings"
	"testing"

	"tartine/internal/i18n"
)

// TestMessagesExist checks that every error and status of the package has
// a French and an English message.
func TestMessagesExist(t *testing.T) {
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for _, e := range []error{ErrClosedDay, ErrCutoffPassed, ErrInsufficientFunds, ErrNoTariff, ErrUnknownService, ErrNotFound,
		ErrNotCancellable, ErrAlreadyConsumed, ErrBookingEnded, ErrInactivePupil, ErrPupilLeaving, ErrNoWallet} {
		keys = append(keys, MessageKey(e))
	}
	for _, s := range []Status{StatusBooked, StatusCancelled, StatusConsumed, StatusNoShow} {
		keys = append(keys, "booking.status."+string(s))
	}
	for _, o := range []Outcome{OutcomeBooked, OutcomeAlreadyBooked, OutcomeClosed, OutcomeCutoffPassed, OutcomeInsufficientFunds, OutcomeFailed} {
		keys = append(keys, "booking.outcome."+string(o))
	}
	for _, s := range []Service{DaycareMorning, DaycareEvening} {
		keys = append(keys, "booking.service."+string(s))
	}
	for _, k := range []string{KindMealBooking, KindMeal, KindMealNoShow} {
		keys = append(keys, "booking.kind."+k)
	}
	for _, k := range keys {
		for _, lang := range []string{"fr", "en"} {
			if got := cat.T(lang, k); strings.Contains(got, "⟦") {
				t.Errorf("%s: no %s message for %q", lang, lang, k)
			}
		}
	}
	if got := cat.T("fr", MessageKey(ErrCutoffPassed)); !strings.Contains(got, "trop tard") {
		t.Errorf("French cut-off message = %q", got)
	}
}
