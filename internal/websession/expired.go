package websession

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"tartine/internal/i18n"
)

// expiredPage is the default answer to a form refused for its CSRF token:
// an old form (its session expired, or it was opened before a login in
// another tab). It explains in the person's language that nothing was
// saved, and shows the form again with what was typed (passwords excepted:
// they are typed again) and a fresh token, sent again only by a click. The
// same-origin check ran first: a forged cross-site form never gets here.
var expiredPage = template.Must(template.New("expired").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T "websession.expired.title"}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:640px;margin:0 auto;padding:16px;line-height:1.5;color:#1a1a1a}
dl{display:grid;grid-template-columns:auto 1fr;gap:4px 12px}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
label{display:block;margin-top:8px}input[type=password]{width:100%;font-size:1rem;padding:10px;border:1px solid #6b6b6b;border-radius:8px}
button{font-size:1rem;padding:10px 16px;border-radius:8px;border:1px solid #1f4e3d;background:#1f6f50;color:#fff;min-height:44px;margin-top:12px}
.muted{color:#555}</style></head>
<body><main>
<h1 id="expired">{{.T "websession.expired.title"}}</h1>
<p>{{if .Gone}}{{.T "websession.expired.session"}}{{else}}{{.T "websession.expired.form"}}{{end}}</p>
<p><strong>{{.T "websession.expired.nothing_saved"}}</strong></p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf_token" value="{{.Token}}">
{{range .Fields}}{{if .Secret}}<label for="f-{{.Name}}">{{.Label}}</label><input type="password" id="f-{{.Name}}" name="{{.Name}}" required>
{{else}}{{$n := .Name}}{{range .Values}}<input type="hidden" name="{{$n}}" value="{{.}}">
{{end}}{{end}}{{end}}
{{if .Shown}}<p>{{.T "websession.expired.kept"}}</p>
<dl>{{range .Shown}}<dt>{{.Label}}</dt><dd>{{range $i, $v := .Values}}{{if $i}}, {{end}}{{$v}}{{end}}</dd>
{{end}}</dl>{{end}}
{{if .HasSecret}}<p class="muted">{{.T "websession.expired.retype"}}</p>{{end}}
<button type="submit" id="resend">{{.T "websession.expired.resend"}}</button>
</form>
{{if .Gone}}<p class="muted">{{.T "websession.expired.login_hint"}}</p>{{end}}
<p><a href="{{.Back}}">{{.T "websession.expired.back"}}</a></p>
</main></body></html>
`))

// expiredField is one field of the refused form.
type expiredField struct {
	Name   string
	Label  string
	Values []string
	Secret bool // a password: typed again, never echoed
}

type expiredData struct {
	Lang      string
	Gone      bool // the session had expired (not only the form)
	Action    string
	Token     string
	Back      string
	Fields    []expiredField
	Shown     []expiredField // the values people typed, with their labels
	HasSecret bool
	cat       *i18n.Catalog
}

func (d expiredData) T(key string) string { return d.cat.T(d.Lang, key) }

// technical fields are sent again but not shown.
var technical = map[string]bool{"nonce": true, "form": true, "back": true, "next": true, "token": true, "form_token": true}

// secretField reports whether a field holds a password.
func secretField(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || n == "current" || n == "pin"
}

// denyExpired answers a request refused for its CSRF token with the
// explaining page (403).
func (m *Manager) denyExpired(c *gin.Context) {
	_, cerr := c.Request.Cookie(m.cookie)
	gone := Current(c) == nil && cerr == nil // a cookie, but no live session
	// A fresh token: the live session's, or a new anonymous one's.
	s, err := m.Ensure(c)
	if err != nil {
		_ = c.Error(err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	lang := i18n.Negotiate(c.GetHeader("Accept-Language"))
	if v, err := c.Cookie("lang"); err == nil && v != "" {
		lang = i18n.Negotiate(v)
	}
	d := expiredData{Lang: lang, Gone: gone, Action: c.Request.URL.RequestURI(), Token: s.CSRFToken, cat: m.cat}
	d.Back = "/"
	if ref, err := url.Parse(c.Request.Referer()); err == nil && ref.Host == c.Request.Host {
		d.Back = LocalRedirect(ref.RequestURI(), "/", "/")
	}
	if c.Request.PostForm == nil {
		_ = c.Request.ParseMultipartForm(32 << 20)
	}
	names := make([]string, 0, len(c.Request.PostForm))
	for k := range c.Request.PostForm {
		if k != FieldName {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		f := expiredField{Name: k, Label: k, Values: c.Request.PostForm[k], Secret: secretField(k)}
		if key := "websession.expired.field." + k; m.cat.Has(i18n.Default, key) {
			f.Label = m.cat.T(lang, key)
		}
		if f.Secret {
			f.Values, d.HasSecret = nil, true
		}
		d.Fields = append(d.Fields, f)
		if !f.Secret && !technical[k] && strings.Join(f.Values, "") != "" {
			d.Shown = append(d.Shown, f)
		}
	}
	var b bytes.Buffer
	if err := expiredPage.Execute(&b, d); err != nil {
		_ = c.Error(err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusForbidden, "text/html; charset=utf-8", b.Bytes())
}
