package backoffice

import (
	"fmt"
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

// TestTaxCertPupilPage: the organising body records separated parents'
// shares of a child's care; shares that do not sum to 100 are refused.
func TestTaxCertPupilPage(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	emma := f.demo.Pupils["Emma"]
	gs, err := f.store.GuardiansOfPupil(f.ctx, f.demo.TenantID, emma)
	if err != nil || len(gs) == 0 {
		t.Fatalf("guardians of Emma: %v %v", gs, err)
	}
	path := fmt.Sprintf("/admin/taxcert/pupils/%d", emma)
	st, body := c.get(path)
	if st != http.StatusOK || !strings.Contains(body, gs[0].FirstName) {
		t.Fatalf("GET %s: %d", path, st)
	}
	bad := url.Values{fmt.Sprint("share_", gs[0].ID): {"60"}}
	c.post(path, bad)
	if _, body = c.get(path); !strings.Contains(body, "Parts refusées") {
		t.Error("shares summing to 60 were not refused")
	}
	good := url.Values{fmt.Sprint("share_", gs[0].ID): {"100"}}
	c.post(path, good)
	if _, body = c.get(path); !strings.Contains(body, "Débiteurs et numéros nationaux enregistrés") || !strings.Contains(body, `value="100"`) {
		t.Error("the share was not recorded")
	}
	if st, _ := c.get("/admin/taxcert/pupils/999999"); st != http.StatusNotFound {
		t.Errorf("unknown pupil: %d, want 404", st)
	}
}
