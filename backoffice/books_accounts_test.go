package backoffice

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestAccountsPage: the accountant of the organising body sees the PCMN
// chart without placeholders, changes a number, downloads the journal as
// CSV and WinBooks, closes last year once and cannot close it again.
func TestAccountsPage(t *testing.T) {
	f := newFixture(t)
	c := f.login("accountant", "demo-accountant")
	st, body := c.get("/admin/books/accounts")
	if st != http.StatusOK {
		t.Fatalf("GET accounts: %d", st)
	}
	for _, want := range []string{"550000", "570000", "460000", "499000", "700100", "657000", "642000"} {
		if !strings.Contains(body, want) {
			t.Errorf("chart lacks %s", want)
		}
	}
	if strings.Contains(body, "6xx") || strings.Contains(body, "70x") {
		t.Error("the chart page shows a placeholder")
	}
	if st, _, _ := c.post("/admin/books/accounts", url.Values{"pattern": {"revenue:meals"}, "pcmn": {"700150"}, "label": {"Repas chauds"}}); st != http.StatusSeeOther {
		t.Fatalf("POST rule: %d", st)
	}
	if _, body = c.get("/admin/books/accounts"); !strings.Contains(body, "700150") || !strings.Contains(body, "Repas chauds") {
		t.Error("the edited rule is not shown")
	}
	c.post("/admin/books/accounts", url.Values{"pattern": {"revenue:meals"}, "pcmn": {"6xx"}})
	if _, body = c.get("/admin/books/accounts"); !strings.Contains(body, "Règle refusée") {
		t.Error("a placeholder PCMN number was not refused")
	}
	today := f.now.In(brussels())
	q := "from=" + today.AddDate(0, 0, -700).Format("2006-01-02") + "&to=" + today.Format("2006-01-02")
	resp, csvBody := c.getResp("/admin/books/export?" + q)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(csvBody, "\ufeffjournal;pièce;") || !strings.Contains(resp.Header.Get("Content-Disposition"), "journal-all-") {
		t.Fatalf("CSV export: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Disposition"), csvBody[:min(80, len(csvBody))])
	}
	if !strings.Contains(csvBody, ";700150;") && strings.Contains(csvBody, "CAN;") {
		t.Error("the canteen lines do not use the edited PCMN number")
	}
	resp, act := c.getResp("/admin/books/export?" + q + "&format=winbooks&journal=stripe&bookyear=3")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "ACT.txt") {
		t.Fatalf("WinBooks export: %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
	for _, line := range strings.Split(strings.TrimSpace(act), "\r\n") {
		if line != "" && !strings.HasPrefix(line, `"3","STR","4",`) {
			t.Errorf("ACT.txt line outside the Stripe journal: %s", line)
		}
	}
	year := strconv.Itoa(today.Year() - 1)
	if st, _, _ := c.post("/admin/books/year-close", url.Values{"year": {year}, "confirm": {"yes"}}); st != http.StatusSeeOther {
		t.Fatalf("close %s: %d", year, st)
	}
	if _, body = c.get("/admin/books/accounts"); !strings.Contains(body, "est clôturé") {
		t.Errorf("no confirmation of the close")
	}
	c.post("/admin/books/year-close", url.Values{"year": {year}, "confirm": {"yes"}})
	if _, body = c.get("/admin/books/accounts"); !strings.Contains(body, "ne peut pas être rouvert") {
		t.Errorf("a second close of %s was not refused", year)
	}
	if resp, _ := c.getResp("/admin/books/opening?year=" + strconv.Itoa(today.Year())); resp.StatusCode != http.StatusOK {
		t.Errorf("opening entry: %d", resp.StatusCode)
	}
}

// TestStripeCheckPageWithoutStripe: without a Stripe account the check
// page says so and runs nothing.
func TestStripeCheckPageWithoutStripe(t *testing.T) {
	f := newFixture(t)
	c := f.login("accountant", "demo-accountant")
	if st, body := c.get("/admin/books/stripe-check"); st != http.StatusOK || !strings.Contains(body, "est pas configuré sur ce serveur") {
		t.Fatalf("GET stripe-check: %d", st)
	}
	if st, body, _ := c.post("/admin/books/stripe-check", url.Values{"from": {"2026-11-01"}, "to": {"2026-11-30"}}); st != http.StatusOK || !strings.Contains(body, "est pas configuré sur ce serveur") {
		t.Errorf("POST stripe-check: %d", st)
	}
}
