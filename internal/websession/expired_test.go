package websession_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestExpiredFormPage: a form refused for its token gets the explaining
// page (the person's language, what was typed, a fresh token, passwords
// never echoed); a cross-origin request still gets the bare refusal.
func TestExpiredFormPage(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	_, tok := b.get("/form")
	form := url.Values{"csrf_token": {"stale"}, "amount": {"12,50"}, "note": {`<script>alert(1)</script>`}, "password": {"hunter2 secret"}, "weekday": {"1", "2"}}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/do?x=1", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "en-GB,en;q=0.8")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<html lang="en">`, "This form has expired", "Nothing was saved.", `action="/do?x=1"`,
		`name="csrf_token" value="` + tok + `"`, `<dt>Amount</dt><dd>12,50</dd>`, `<input type="hidden" name="weekday" value="1">`,
		`<input type="hidden" name="weekday" value="2">`, `&lt;script&gt;`, `<input type="password" id="f-password" name="password" required>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, never := range []string{"hunter2", "<script>alert", "stale"} {
		if strings.Contains(page, never) {
			t.Errorf("page shows %q", never)
		}
	}
	// Sent again with the fresh token: accepted.
	if got, _ := b.post("/do", tok, nil); got != 200 {
		t.Errorf("resent: %d", got)
	}
	if got, body := b.post("/do", tok, map[string]string{"Origin": "https://evil.example"}); got != 403 || strings.Contains(body, "<html") {
		t.Errorf("cross-origin: %d %q, want the bare refusal", got, body)
	}
}
