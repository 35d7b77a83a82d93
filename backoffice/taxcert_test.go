package backoffice

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestTaxCertPage: the organising body's admin sees the year's
// certificates page; without a sealing key no national number is
// recorded; an unknown certificate is not found; the XML of a year
// without certificates is refused with a message.
func TestTaxCertPage(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	st, body := c.get("/admin/taxcert?year=2025")
	if st != http.StatusOK || !strings.Contains(body, "Attestations fiscales") || !strings.Contains(body, "Délivrer les attestations 2025") {
		t.Fatalf("GET taxcert: %d", st)
	}
	if st, _, _ := c.post("/admin/taxcert/niss", url.Values{"year": {"2025"}, "subject": {"guardian"}, "id": {"999999"}, "niss": {"85073003328"}}); st != http.StatusNotFound {
		t.Errorf("NISS of an unknown guardian: %d, want 404", st)
	}
	if st, _ := c.get("/admin/taxcert/999999/pdf"); st != http.StatusNotFound {
		t.Errorf("unknown certificate: %d, want 404", st)
	}
	if st, _ := c.get("/admin/taxcert/belcotax.xml?year=2025"); st != http.StatusSeeOther {
		t.Errorf("XML without certificates: %d, want a redirect with a message", st)
	}
	if _, body = c.get("/admin/taxcert?year=2025"); !strings.Contains(body, "Aucune attestation délivrée pour 2025") {
		t.Errorf("no message for the empty XML")
	}
}
