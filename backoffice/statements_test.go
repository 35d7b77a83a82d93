package backoffice

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/statements"
)

// TestStatementRunPages walks a statement run as the organising body's
// admin would — periods refused once the year started (rule named with
// its source), preview, issue refused without a sent estimate, the
// override with a reason, issue, the statement page and its PDF, send to
// both separated parents — and the accountant's receivables page; a
// canteen user gets 403.
func TestStatementRunPages(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	// The periods of 2026-27 were set in June 2026, before the year.
	june := func() time.Time { return time.Date(2026, time.June, 10, 10, 0, 0, 0, time.UTC) }
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	early := statements.New(f.store, cat, june)
	ps, err := early.SetPeriods(ctx, f.demo.TenantID, "2026-27", []statements.PeriodInput{{From: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := fees.LoadShipped()
	if err != nil {
		t.Fatal(err)
	}
	noah := f.pupil("Noah") // P5B, two guardians (Marc and An)
	fs := fees.New(f.pool, f.led, f.store, fees.NewRules(shipped, june), june)
	if _, err := fs.Create(ctx, f.demo.TenantID, fees.CreateInput{SchoolID: f.demo.SchoolID, Object: "Classe de dépaysement à Érezée", Category: "sejours",
		Kind: fees.Obligatoire, Dates: []time.Time{time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC)}, Amount: decimal.RequireFromString("85.00"), PupilIDs: []int64{noah.ID}}, "test"); err != nil {
		t.Fatal(err)
	}

	c := f.login("admin", "demo-admin")
	if st, body := c.get("/admin/statements?year=2026-27"); st != http.StatusOK || !strings.Contains(body, `action="/admin/statements/periods"`) {
		t.Fatalf("GET /admin/statements: %d\n%.400s", st, body)
	}
	// The year has started: changing its periods is refused, rule and source named.
	if _, body := c.follow("/admin/statements/periods", url.Values{"year": {"2026-27"}, "periods": {"01/09/2026 - 31/12/2026"}}); !strings.Contains(body, "avant son début") || !strings.Contains(body, "FEES.md §7") {
		t.Errorf("periods after the start of the year: want the refusal with its source\n%.600s", body)
	}
	period := "/admin/statements/periods/" + itoa(ps[0].ID)
	st, body := c.get(period)
	if st != http.StatusOK || !strings.Contains(body, "Noah") || !strings.Contains(body, "envoyée à aucun parent") {
		i := strings.Index(body, "<main")
		t.Fatalf("preview: %d\n%.1500s", st, body[i:])
	}
	if _, body := c.follow(period+"/issue", nil); !strings.Contains(body, "estimation des frais") || !strings.Contains(body, "JP Namur") {
		t.Errorf("issue without estimate: want the refusal naming the rule\n%.600s", body)
	}
	if st, _, _ := c.post("/admin/statements/override", url.Values{"year": {"2026-27"}, "reason": {"estimation remise sur papier en juin"}}); st != http.StatusSeeOther {
		t.Fatalf("override: %d", st)
	}
	// Separated parents pay half each; the school's contact is printed.
	split := "/admin/statements/split/" + itoa(noah.ID)
	if st, body := c.get(split); st != http.StatusOK || !strings.Contains(body, "Marc") || !strings.Contains(body, "An") {
		t.Fatalf("split page: %d", st)
	}
	if _, body := c.follow(split, url.Values{"mode": {"equal"}}); !strings.Contains(body, "Répartition de Noah Janssens enregistrée") {
		t.Errorf("split: %.600s", body)
	}
	if _, body := c.follow("/admin/statements/contact", url.Values{"school": {itoa(f.demo.SchoolID)}, "contact": {"Mme Hélène, 081 00 00 00"}}); !strings.Contains(body, "Contact des décomptes") {
		t.Errorf("contact: %.600s", body)
	}
	st, _, loc := c.post(period+"/issue", nil)
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/statements/runs/") {
		t.Fatalf("issue: %d %s", st, loc)
	}
	st, body = c.get(loc)
	if st != http.StatusOK || !strings.Contains(body, "ST-2026-000001") {
		t.Fatalf("run page: %d\n%.600s", st, body)
	}
	m := regexp.MustCompile(`href="/admin/statements/(\d+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("run page links no statement:\n%s", body)
	}
	st, body = c.get("/admin/statements/" + m[1])
	for _, want := range []string{"Décompte de frais scolaires", "Classe de dépaysement à Érezée", "obligatoire", "facilités de paiement", "aucune conséquence", "&#43;&#43;&#43;", "data:image/png;base64,"} {
		if st != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("statement page: %d, lacks %q", st, want)
		}
	}
	if strings.Count(body, "Communication structurée") != 2 || !strings.Contains(body, "42,50") || !strings.Contains(body, "Mme Hélène") {
		t.Errorf("statement page: want two payers of 42,50 € and the contact")
	}
	resp, pdf := c.getResp("/admin/statements/" + m[1] + "/pdf")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF-") {
		t.Errorf("statement PDF: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if _, body := c.follow(loc+"/send", nil); !strings.Contains(body, "2 courriel(s) envoyé(s)") {
		t.Errorf("send: want both separated parents emailed\n%.600s", body)
	}
	acc := f.login("accountant", "demo-accountant")
	if st, body := acc.get("/admin/books/receivables"); st != http.StatusOK || !strings.Contains(body, "Noah") {
		t.Errorf("receivables: %d\n%.600s", st, body)
	}
	if st, _ := f.login("canteen", "demo-canteen").get("/admin/statements"); st != http.StatusForbidden {
		t.Errorf("canteen user on /admin/statements: %d, want 403", st)
	}
}
