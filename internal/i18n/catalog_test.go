package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
)

func newCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEveryFrenchKeyIsTranslated(t *testing.T) {
	c := newCatalog(t)
	if len(c.Keys(FR)) < 10 {
		t.Fatalf("French catalogue has only %d keys", len(c.Keys(FR)))
	}
	for _, lang := range Languages() {
		if missing := c.Missing(lang); len(missing) > 0 {
			t.Errorf("%s lacks keys %v", lang, missing)
		}
		for _, k := range c.Keys(lang) {
			if !c.Has(FR, k) {
				t.Errorf("%s has key %q that French lacks (French is the reference)", lang, k)
			}
			if strings.TrimSpace(c.T(lang, k)) == "" {
				t.Errorf("%s: key %q is empty", lang, k)
			}
		}
	}
}

func TestT(t *testing.T) {
	c := newCatalog(t)
	tests := []struct{ lang, key, want string }{
		{"fr", "common.yes", "Oui"},
		{"en", "common.yes", "Yes"},
		{"fr-BE", "common.no", "Non"},
		{"en-GB", "common.no", "No"},
		{"nl", "common.yes", "Oui"}, // no Dutch catalogue yet: French
		{"", "app.name", "Tartine"},
		{"fr", "no.such.key", "⟦no.such.key⟧"},
		{"en", "no.such.key", "⟦no.such.key⟧"},
	}
	for _, tt := range tests {
		if got := c.T(tt.lang, tt.key); got != tt.want {
			t.Errorf("T(%q, %q) = %q, want %q", tt.lang, tt.key, got, tt.want)
		}
	}
	if got, want := c.T("en", "error.invalid_form", "IBAN"), "Some fields are not valid: IBAN"; got != want {
		t.Errorf("T with argument = %q, want %q", got, want)
	}
}

func TestTFallsBackToFrench(t *testing.T) {
	c, err := Load(fstest.MapFS{
		"messages.fr.toml": {Data: []byte("[a]\nb = \"français\"\nc = \"%d repas\"\n")},
		"messages.en.toml": {Data: []byte("[a]\nc = \"%d meals\"\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.T("en", "a.b"); got != "français" {
		t.Errorf("fallback = %q", got)
	}
	if got := c.Missing("en"); len(got) != 1 || got[0] != "a.b" {
		t.Errorf("Missing(en) = %v", got)
	}
	if got := c.T("en", "a.c", 3); got != "3 meals" {
		t.Errorf("T(en, a.c, 3) = %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	good := "[a]\nb = \"x %s\"\n"
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"missing en", fstest.MapFS{"messages.fr.toml": {Data: []byte(good)}}, "messages.en.toml"},
		{"bad toml", fstest.MapFS{"messages.fr.toml": {Data: []byte("[a\n")}, "messages.en.toml": {Data: []byte(good)}}, "parse messages.fr.toml"},
		{"number value", fstest.MapFS{"messages.fr.toml": {Data: []byte("a = 3\n")}, "messages.en.toml": {Data: []byte(good)}}, `key "a"`},
		{"verbs differ", fstest.MapFS{"messages.fr.toml": {Data: []byte(good)}, "messages.en.toml": {Data: []byte("[a]\nb = \"x %d\"\n")}}, "format verbs"},
		{"unlisted language", fstest.MapFS{"messages.fr.toml": {Data: []byte(good)}, "messages.en.toml": {Data: []byte(good)},
			"messages.de.toml": {Data: []byte(good)}}, `"de"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.fs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "fr"},
		{"fr", "fr"},
		{"en", "en"},
		{"EN-gb", "en"},
		{"en_US", "en"},
		{"nl-BE,nl;q=0.9,en;q=0.8,fr;q=0.7", "en"},
		{"de-DE,de;q=0.9", "fr"},
		{"en;q=0.5, fr;q=0.6", "fr"},
		{"en;q=0, fr;q=0", "fr"},
		{"en;q=0", "fr"},
		{"*", "fr"},
		{"en;q=abc", "fr"},
		{"en;q=2", "fr"},
		{" , ;q=1, en ", "en"},
		{"fr-BE;q=0.8, en;q=0.8", "fr"},
	}
	for _, tt := range tests {
		if got := Negotiate(tt.in); got != tt.want {
			t.Errorf("Negotiate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"fr-BE,fr;q=0.9,en;q=0.8", "en", "*;q=0.1", ";;,,=", "en;q=1e-9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Negotiate(s)
		ok := false
		for _, l := range Languages() {
			ok = ok || l == got
		}
		if !ok {
			t.Fatalf("Negotiate(%q) = %q, not a supported language", s, got)
		}
	})
}
