package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tartine/internal/browsertest"
)

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// resendForm is what the expired page's form sends (its hidden fields).
func resendForm(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(page, -1) {
		v.Add(m[1], strings.NewReplacer("&#43;", "+", "&#39;", "'", "&amp;", "&", "&#34;", `"`).Replace(m[2]))
	}
	return v
}

// TestExpiredFormKeepsWhatWasTyped: a form refused for its CSRF token (an
// old form, or an expired session) gives a page that explains in French,
// shows what was typed (never a password) and sends it again with a fresh
// token.
func TestExpiredFormKeepsWhatWasTyped(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	anne.get("/portal/settings")
	code, body := anne.post("/portal/settings", url.Values{"csrf_token": {"from-an-old-tab"}, "threshold": {"7,50"}, "alert": {"on"},
		"language": {"fr"}, "phone": {"0470 12 34 56"}, "email_topups": {"on"}, "email_bookings": {"on"}})
	for _, want := range []string{"Ce formulaire a expiré", "Rien n&#39;a été enregistré.", "<dt>Téléphone</dt><dd>0470 12 34 56</dd>", "<dt>Seuil d&#39;alerte</dt><dd>7,50</dd>"} {
		if !strings.Contains(body, want) {
			t.Errorf("expired page lacks %q", want)
		}
	}
	if code != http.StatusForbidden || strings.Contains(body, "Request refused") {
		t.Fatalf("expired form: %d\n%s", code, body)
	}
	vals := resendForm(body)
	if vals.Get("csrf_token") == "" || vals.Get("csrf_token") == "from-an-old-tab" || vals.Get("phone") != "0470 12 34 56" {
		t.Fatalf("resend form %v", vals)
	}
	if code, body := anne.post("/portal/settings", vals); code != 200 || !strings.Contains(body, "Réglages enregistrés") || !strings.Contains(body, `value="0470 12 34 56"`) {
		t.Errorf("resent: %d", code)
	}

	// The login page left open past its anonymous session (2 h): the
	// email is kept, the password is typed again.
	c := f.client()
	c.get("/portal/login")
	f.clk.Add(3 * time.Hour)
	code, body = c.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"correct horse battery"}})
	if code != http.StatusForbidden || !strings.Contains(body, "Votre session a expiré") || !strings.Contains(body, `<input type="password" id="f-password" name="password" required>`) ||
		strings.Contains(body, "correct horse battery") {
		t.Fatalf("expired login: %d\n%s", code, body)
	}
	vals = resendForm(body)
	if vals.Get("email") != "anne@example.be" {
		t.Fatalf("email not kept: %v", vals)
	}
	vals.Set("password", "correct horse battery")
	if code, body := c.post("/portal/login", vals); code != 200 || !strings.Contains(body, "Emma") {
		t.Errorf("login sent again: %d", code)
	}
}

// TestBrowserExpiredLogin: in Chromium, a login form left open past its
// session gives the French page with the email kept; typing the password
// again and « Renvoyer » logs in.
func TestBrowserExpiredLogin(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	bctx := browsertest.New(t, 375, 812)
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML("body"))
			t.Fatalf("%s: %v\n%s", name, err, html)
		}
	}
	step("login page",
		chromedp.Navigate(f.url+"/portal/login"),
		chromedp.Click(`button[name="lang"][value="fr"]`),
		chromedp.WaitVisible(`html[lang="fr"] #login-submit`),
	)
	f.clk.Add(3 * time.Hour)
	step("expired",
		chromedp.SendKeys("#email", "anne@example.be"),
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#expired"),
	)
	text, err := chromedp.Run(ctx, chromedp.Text("main"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Ce formulaire a expiré", "Votre session a expiré", "Rien n'a été enregistré.", "anne@example.be", "retapez-le"} {
		if !strings.Contains(text, want) {
			t.Errorf("expired page lacks %q:\n%s", want, text)
		}
	}
	step("resend",
		chromedp.SendKeys("#f-password", "correct horse battery"),
		chromedp.Click("#resend"),
		chromedp.WaitVisible(".child"),
	)
}
