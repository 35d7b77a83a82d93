package portal_test

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"tartine/payments"
	"tartine/portal"
)

// TestNoticesWithoutThePortal: the "top-up received" notices are built
// before the portal (payments and the kiosk cash desk take them at
// construction) and email the family the same as the portal would.
func TestNoticesWithoutThePortal(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	if _, err := portal.NewNotices(portal.Deps{Pool: f.app.Pool}); err == nil {
		t.Error("notices without booking or mail: no error")
	}
	n, err := portal.NewNotices(f.app.Deps)
	if err != nil {
		t.Fatal(err)
	}
	var _ payments.Notifier = n
	if err := n.TopUpReceived(t.Context(), payments.TopUpNotice{TenantID: f.tenant, PupilID: f.lucas.ID, Amount: decimal.RequireFromString("20")}); err != nil {
		t.Fatal(err)
	}
	m := f.smtp.Wait(t, 1)[0]
	if m.Subject != "Tartine : 20,00\u00a0€ reçus pour Lucas" || !strings.Contains(m.Text, "Solde : 30,00\u00a0€") {
		t.Errorf("card top-up email: %q\n%s", m.Subject, m.Text)
	}
	if err := n.TopUpReceivedBy(t.Context(), f.tenant, f.lucas.ID, decimal.RequireFromString("5"), "cash"); err != nil {
		t.Fatal(err)
	}
	m = f.smtp.Wait(t, 2)[1]
	if m.Subject != "Tartine : 5,00\u00a0€ reçus pour Lucas" || !strings.Contains(m.Text, "/portal/c/") {
		t.Errorf("cash top-up email: %q\n%s", m.Subject, m.Text)
	}
}
