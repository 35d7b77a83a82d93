package portal_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFamilyBookingsRedirect: the family action answers with a redirect to
// the page of its summary (Post/Redirect/Get); reloading that page shows
// the summary again and books nothing; another family's login given the
// address sees the form alone.
func TestFamilyBookingsRedirect(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	anne.get("/portal/bookings?month=2026-12")
	lucasKey := fmt.Sprintf("%d:%d", f.tenant, f.lucas.ID)
	code, page := anne.post("/portal/bookings", url.Values{"child": {lucasKey}, "service": {"repas"}, "weekday": {"1"},
		"from": {"2026-12-01"}, "until": {"2026-12-18"}, "action": {"book"}})
	if code != http.StatusOK || !strings.Contains(resultOf(t, page, f.lucas.ID), "2 jour(s) réservé(s)") {
		t.Fatalf("book: %d\n%s", code, page)
	}
	first := anne.last.Request
	if first.Method != http.MethodGet || first.URL.Path != "/portal/bookings" || first.URL.Query().Get("done") == "" || first.URL.Query().Get("month") != "2026-12" {
		t.Fatalf("the action ended on %s %s, want GET /portal/bookings?month=2026-12&done=…", first.Method, first.URL)
	}
	if via := first.Response; via == nil || via.StatusCode != http.StatusSeeOther {
		t.Errorf("the POST did not answer 303: %+v", via)
	}
	summary := first.URL.RequestURI()
	_, again := anne.get(summary)
	if got := resultOf(t, again, f.lucas.ID); !strings.Contains(got, "2 jour(s) réservé(s)") {
		t.Errorf("the summary reloaded:\n%s", got)
	}
	bruno := f.accountFor(f.bruno, "bruno@example.be", "un mot de passe assez long")
	if code, other := bruno.get(summary); code != http.StatusOK || strings.Contains(other, `id="results"`) || strings.Contains(other, fmt.Sprintf(`id="result-%d"`, f.lucas.ID)) {
		t.Errorf("another family's login sees the summary (%d)", code)
	}
	if code, plain := anne.get("/portal/bookings?month=2026-12&done=unknown"); code != http.StatusOK || strings.Contains(plain, `id="results"`) {
		t.Errorf("an unknown summary: %d", code)
	}
}
