package websession

import (
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// SecurityHeaders returns the middleware that sets the headers of every
// page (back office, staff screens; the portal adds Stripe Checkout to
// formAction): a strict Content-Security-Policy (same-origin scripts,
// styles, images and data: images, forms to formAction besides 'self', no
// framing), nosniff, X-Frame-Options, Referrer-Policy and Cache-Control:
// no-store (pages show personal data).
func SecurityHeaders(formAction ...string) gin.HandlerFunc {
	csp := "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action " +
		strings.Join(append([]string{"'self'"}, formAction...), " ") + "; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", csp)
		h.Set("Cache-Control", "no-store")
		c.Next()
	}
}

// PlausibleCredentials reports whether a login form's account name and
// password can be looked up at all: valid UTF-8 without NUL or other
// control characters, an account name of at most 254 bytes and a password
// of at most 256. Others are answered 400 before any lookup or hash.
func PlausibleCredentials(account, password string) bool {
	if len(account) > 254 || len(password) > 256 || !utf8.ValidString(account) || !utf8.ValidString(password) {
		return false
	}
	for _, s := range []string{account, password} {
		for _, r := range s {
			if (r < 0x20 && r != '\t') || r == 0x7f {
				return false
			}
		}
	}
	return true
}

// LocalRedirect returns back when it is a safe address to send the browser
// to after a form — a path on this server under prefix, with an optional
// query, and nothing a browser could read as another host (a scheme or
// host, "//", a backslash, dot segments, control characters, an encoded
// slash or backslash) — and fallback otherwise.
func LocalRedirect(back, prefix, fallback string) string {
	if back == "" || len(back) > 2048 || strings.ContainsAny(back, "\\") {
		return fallback
	}
	for _, r := range back {
		if r < 0x20 || r == 0x7f {
			return fallback
		}
	}
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || u.Fragment != "" {
		return fallback
	}
	p := u.Path
	lower := strings.ToLower(u.RawPath + u.Path)
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.Contains(p, "\\") || strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return fallback
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p || !(p == prefix || strings.HasPrefix(p, strings.TrimSuffix(prefix, "/")+"/")) {
		return fallback
	}
	return back
}
