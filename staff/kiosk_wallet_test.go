package staff

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/school"
)

// TestKioskShowsTheWalletAsThePortal: with meals booked and not yet
// served, the cash desk shows the child's two figures (booking.WalletBalance)
// with the portal's and the emails' words: « Solde » and « Disponible après
// les repas réservés » — not one figure under « solde » (issue 14: the kiosk
// showed the available amount as the balance).
func TestKioskShowsTheWalletAsThePortal(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(time.Date(2026, 11, 30, 17, 2, 0, 0, brussels))
	f.topUp(uidEmma, "4.20")
	for _, day := range []int{3, 4} {
		if _, err := f.book.Book(f.ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.emma.ID,
			Day: time.Date(2026, 12, day, 0, 0, 0, 0, brussels), Service: "repas", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := f.book.Wallet(f.ctx, f.tenant, f.emma.WalletAccountID)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Balance.Sub(w.Available).Equal(dec("7.40")) {
		t.Fatalf("wallet %+v: want 7,40 € booked", w)
	}
	srv := f.webServer(t)
	cashier := f.staff(t, srv.URL, "caisse", school.RoleKiosk)
	st, page := cashier.get("/staff/kiosk/kiosk-1?pupil=" + itoa(f.emma.ID))
	if st != http.StatusOK {
		t.Fatalf("kiosk: %d", st)
	}
	want := `<dt>Solde</dt><dd id="balance">` + i18n.FormatEUR(w.Balance, "fr") + `</dd><dt>Disponible après les repas réservés</dt><dd id="available">` +
		i18n.FormatEUR(w.Available, "fr") + `</dd>`
	if !strings.Contains(page, want) {
		t.Errorf("kiosk page lacks %s", want)
	}
}
