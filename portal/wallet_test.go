package portal_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/ledger"
	"tartine/school"
)

// walletFigures reads the two figures of a page: « Solde » and
// « Disponible après les repas réservés », each beside its words.
var walletFiguresRe = regexp.MustCompile(`(?s)<dt>Solde</dt><dd[^>]*>([^<]+)</dd>\s*<dt>Disponible après les repas réservés</dt><dd><strong[^>]*>([^<]+)</strong>`)

// emmaWithBookedMeals gives Emma (8,00 € paid in) a served potage (0,60 €)
// and a full meal (3,70 €), a cash top-up at the kiosk, and two booked
// meals not yet served (2 × 3,70 €): balance 8,70 €, available 1,30 €.
func emmaWithBookedMeals(t *testing.T, f *fixture) {
	t.Helper()
	ctx := t.Context()
	brussels, _ := time.LoadLocation("Europe/Brussels")
	if err := f.bk.EnsureMealType(ctx, f.tenant, booking.MealType{Code: "potage", Name: "Potage", Position: 2}); err != nil {
		t.Fatal(err)
	}
	rev, err := f.led.AccountByCode(ctx, f.tenant, school.AccountRevenueMeals)
	if err != nil {
		t.Fatal(err)
	}
	cash, err := f.led.AccountByCode(ctx, f.tenant, "bank")
	if err != nil {
		t.Fatal(err)
	}
	post := func(key, kind, memo, amount string, meta map[string]string, from, to int64, at time.Time) {
		t.Helper()
		a := decimal.RequireFromString(amount)
		if _, err := f.led.Transfer(ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: kind, Actor: "test",
			Memo: memo, Metadata: meta, OccurredAt: at,
			Postings: []ledger.Posting{{AccountID: from, Amount: a}, {AccountID: to, Amount: a.Neg()}}}); err != nil {
			t.Fatal(err)
		}
	}
	// As the terminal writes them: codes in the memo, for the books.
	post("tap:p", booking.KindMeal, "Repas non réservé (potage) du 2026-11-24", "0.60",
		map[string]string{"meal_type": "potage", "station": "canteen-1"}, f.emma.WalletAccountID, rev.ID, time.Date(2026, 11, 24, 12, 5, 0, 0, brussels))
	post("tap:r", booking.KindMeal, "Repas (repas) du 2026-11-25", "3.70",
		map[string]string{"service": "repas", "day": "2026-11-25", "booking": "1"}, f.emma.WalletAccountID, rev.ID, time.Date(2026, 11, 25, 12, 5, 0, 0, brussels))
	post("kiosk-topup:x", "kiosk-topup", "Rechargement en espèces (kiosk-1)", "5.00",
		map[string]string{"station": "kiosk-1"}, cash.ID, f.emma.WalletAccountID, time.Date(2026, 11, 25, 16, 0, 0, 0, brussels))
	for _, day := range []int{1, 3} {
		if _, err := f.bk.Book(ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.emma.ID, Day: time.Date(2026, 12, day, 0, 0, 0, 0, brussels),
			Service: "repas", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOneBalanceEverywhere: the home page, the history and the low-balance
// email show a child's two figures with the same words: the balance
// (« solde ») and what is available after the booked meals.
func TestOneBalanceEverywhere(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	emmaWithBookedMeals(t, f)
	const balance, available = "8,70\u00a0€", "1,30\u00a0€"
	for _, path := range []string{"/portal/", childPath(f.tenant, f.emma) + "/history?month=2026-11", childPath(f.tenant, f.emma) + "/topup"} {
		_, body := anne.get(path)
		m := walletFiguresRe.FindAllStringSubmatch(body, -1)
		if len(m) == 0 || m[0][1] != balance || m[0][2] != available {
			t.Errorf("%s: figures %q, want solde %s and disponible %s", path, m, balance, available)
		}
	}
	// Under the default threshold (5,00 €): the email says both, in the
	// same words.
	f.app.LowBalanceCheck(t.Context(), f.tenant, f.emma.ID)
	m := f.smtp.Last(t, "anne@example.be")
	for _, want := range []string{"Solde : " + balance, "Disponible après les repas réservés : " + available} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("email lacks %q:\n%s", want, m.Text)
		}
	}
}

// TestHistoryInWords: the history names services and kinds in words (the
// meal type's name and the day), never the codes the books keep: no
// station code, no meal type code in brackets.
func TestHistoryInWords(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	emmaWithBookedMeals(t, f)
	_, body := anne.get(childPath(f.tenant, f.emma) + "/history?month=2026-11")
	table := regexp.MustCompile(`(?s)<tbody>.*</tbody>`).FindString(body)
	for _, want := range []string{"<td>Repas<br><small class=\"muted\">Potage</small>", "<td>Repas</td>", "<td>Rechargement en espèces (accueil)</td>"} {
		if !strings.Contains(table, want) {
			t.Errorf("history lacks %q:\n%s", want, table)
		}
	}
	for _, code := range []string{"kiosk-1", "canteen-1", "(potage)", "(repas)", "2026-11-2"} {
		if strings.Contains(body, code) {
			t.Errorf("history shows the code %q:\n%s", code, table)
		}
	}
}

// TestHomeNamesServices: the home page's « today » names a booked service
// by its meal type's name (« Potage »), never by its code.
func TestHomeNamesServices(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	brussels, _ := time.LoadLocation("Europe/Brussels")
	if err := f.bk.EnsureMealType(ctx, f.tenant, booking.MealType{Code: "potage", Name: "Potage du jour", Position: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.bk.AddMealTariff(ctx, f.tenant, booking.MealTariff{SchoolID: f.school, MealType: "potage", Level: "*",
		BookedPrice: decimal.RequireFromString("0.60"), UnbookedPrice: decimal.RequireFromString("0.60"), ValidFrom: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []booking.Service{"potage", "repas"} {
		if _, err := f.bk.Book(ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.lucas.ID, Day: time.Date(2026, 11, 30, 0, 0, 0, 0, brussels), Service: s, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	f.clk.Add(4 * 24 * time.Hour) // Monday 30 November, 20:00
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	_, body := anne.get("/portal/")
	for _, want := range []string{"<li>Potage du jour — Réservé</li>", "<li>Repas — Réservé</li>"} {
		if !strings.Contains(body, want) {
			t.Errorf("home lacks %s", want)
		}
	}
	if strings.Contains(body, "<li>potage") {
		t.Error("home shows the meal type's code")
	}
}
