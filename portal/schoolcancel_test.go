package portal_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/school"
)

// TestBookingsCancelledBySchool: the school stops soup; the bookings left
// are cancelled and each guardian gets one email over SMTP, in their
// language, listing their own children's days and the amount released.
func TestBookingsCancelledBySchool(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Anne reads the portal in English (her account's language wins over
	// the school's record); Chris, Zoé's other guardian, has no account
	// and English on record; Bruno has no account, French.
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	anne.get("/portal/settings")
	if code, _ := anne.post("/portal/settings", url.Values{"threshold": {"0"}, "language": {"en"}}); code != 200 {
		t.Fatalf("settings: %d", code)
	}
	chris, err := f.app.School.CreateGuardian(ctx, f.tenant, school.GuardianInput{FirstName: "Chris", LastName: "Martin", Email: "chris@example.be", Language: "en"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.app.School.LinkGuardian(ctx, f.tenant, chris.ID, f.zoe.ID, "père", "test"); err != nil {
		t.Fatal(err)
	}
	if err := f.bk.EnsureMealType(ctx, f.tenant, booking.MealType{Code: "potage", Name: "Potage", Position: 2}); err != nil {
		t.Fatal(err)
	}
	soup, err := f.bk.AddMealTariff(ctx, f.tenant, booking.MealTariff{SchoolID: f.school, MealType: "potage", Level: "*",
		BookedPrice: decimal.RequireFromString("0.60"), UnbookedPrice: decimal.RequireFromString("0.80"), ValidFrom: time.Date(2026, 8, 31, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	tue, thu := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	for _, b := range []struct {
		pupil school.Pupil
		day   time.Time
	}{{f.emma, tue}, {f.emma, thu}, {f.lucas, tue}, {f.zoe, thu}} {
		if _, err := f.bk.Book(ctx, booking.BookRequest{TenantID: f.tenant, PupilID: b.pupil.ID, Day: b.day, Service: "potage", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.bk.EndMealTariff(ctx, f.tenant, f.school, soup, tue); err != nil {
		t.Fatal(err)
	}
	cancelled, err := f.bk.CancelUnpriced(ctx, f.tenant, f.school, "potage", tue, "staff:1")
	if err != nil || len(cancelled) != 4 {
		t.Fatalf("CancelUnpriced = %d, %v; want 4", len(cancelled), err)
	}
	if err := f.app.BookingsCancelledBySchool(ctx, f.tenant, cancelled); err != nil {
		t.Fatal(err)
	}
	if n := len(f.smtp.Wait(t, 3)); n != 3 {
		t.Errorf("%d emails, want 3 (one per guardian)", n)
	}
	eur := func(s, lang string) string { return i18n.FormatEUR(decimal.RequireFromString(s), lang) }
	for _, tc := range []struct {
		to, subject string
		want, not   []string
	}{
		{"anne@example.be", "Tartine: bookings cancelled by the school",
			[]string{"Emma:", "Lucas:", "  - " + i18n.FormatDate(tue, "en") + ": Potage (" + eur("0.60", "en") + " released)",
				i18n.FormatDate(thu, "en"), "Amount released: " + eur("1.80", "en"), f.url + "/portal/"},
			[]string{"Zoé", "Bonjour"}},
		{"bruno@example.be", "Tartine : réservations annulées par l'école",
			[]string{"Bonjour,", "Zoé :", "  - " + i18n.FormatDate(thu, "fr") + " : Potage (" + eur("0.60", "fr") + " libéré)", "Montant libéré : " + eur("0.60", "fr")},
			[]string{"Emma", "Lucas", "Hello"}},
		{"chris@example.be", "Tartine: bookings cancelled by the school",
			[]string{"Zoé:", "Amount released: " + eur("0.60", "en")}, []string{"Emma"}},
	} {
		m := f.smtp.Last(t, tc.to)
		if m.Subject != tc.subject {
			t.Errorf("%s: subject %q, want %q", tc.to, m.Subject, tc.subject)
		}
		for _, w := range tc.want {
			if !strings.Contains(m.Text, w) {
				t.Errorf("%s: email lacks %q:\n%s", tc.to, w, m.Text)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(m.Text, w) {
				t.Errorf("%s: email shows %q:\n%s", tc.to, w, m.Text)
			}
		}
	}
	// Nothing cancelled, nothing sent.
	if err := f.app.BookingsCancelledBySchool(ctx, f.tenant, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(f.smtp.Messages()); n != 3 {
		t.Errorf("%d emails after an empty call, want 3", n)
	}
}
