package deviceapi

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The expected signatures were computed with Python's hmac module from the
// DESIGN.md formula, independently of this code.
func TestSignGolden(t *testing.T) {
	secret := []byte("0123456789abcdef0123")
	tests := []struct {
		method, path string
		body         string
		want         string
	}{
		{"POST", "/api/v1/taps", `{"taps":[]}`, "66b9e317c8c5ca5cd2e8485f5a6a0d126fb2f689ed87a0f697e15825f59c6d11"},
		{"GET", "/api/v1/badges?since=42", "", "53c827ad043eeb1bffd9011b69374ab6d15ca988eaedb4c57d39b09849163a75"},
	}
	for _, tt := range tests {
		if got := Sign(secret, tt.method, tt.path, 1764500000, []byte(tt.body)); got != tt.want {
			t.Errorf("Sign(%s %s) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
	h := Authorization("dev-1", secret, "POST", "/api/v1/taps", time.Unix(1764500000, 0), []byte(`{"taps":[]}`))
	if want := "Tartine-HMAC device=dev-1,ts=1764500000,sig=" + tests[0].want; h != want {
		t.Errorf("Authorization = %s, want %s", h, want)
	}
}

// TestParseVerify: a header written by Authorization parses back and
// verifies for its request only.
func TestParseVerify(t *testing.T) {
	secret := []byte("s3cret")
	body := []byte(`{"taps":[]}`)
	a, err := ParseAuthorization(Authorization("dev-1", secret, "POST", PathTaps, time.Unix(1764500000, 0), body))
	if err != nil {
		t.Fatal(err)
	}
	if a.Device != "dev-1" || a.TS != 1764500000 || len(a.Sig) != 32 {
		t.Errorf("parsed %+v", a)
	}
	if !a.Verify(secret, "POST", PathTaps, body) {
		t.Error("Verify of its own request = false")
	}
	for name, ok := range map[string]bool{
		"other secret": a.Verify([]byte("other"), "POST", PathTaps, body),
		"other method": a.Verify(secret, "GET", PathTaps, body),
		"other path":   a.Verify(secret, "POST", PathBadges, body),
		"other body":   a.Verify(secret, "POST", PathTaps, []byte(`{"taps":[1]}`)),
	} {
		if ok {
			t.Errorf("Verify with %s = true", name)
		}
	}
}

func TestParseAuthorizationRefusals(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	tests := []struct {
		header string
		want   error
	}{
		{"", ErrAuthMissing},
		{"Bearer abc", ErrAuthMalformed},
		{"Tartine-HMAC device=x,ts=abc,sig=" + sig, ErrAuthMalformed},
		{"Tartine-HMAC device=x,ts=1,sig=00", ErrAuthMalformed},
		{"Tartine-HMAC device=x,ts=1", ErrAuthMalformed},
		{"Tartine-HMAC device=x,device=y,ts=1,sig=" + sig, ErrAuthMalformed},
		{"Tartine-HMAC device=x,ts=1,sig=" + sig + ",extra=1", ErrAuthMalformed},
		{"Tartine-HMAC device=" + strings.Repeat("d", 129) + ",ts=1,sig=" + sig, ErrAuthMalformed},
	}
	for _, tt := range tests {
		if _, err := ParseAuthorization(tt.header); !errors.Is(err, tt.want) {
			t.Errorf("ParseAuthorization(%q) = %v, want %v", tt.header, err, tt.want)
		}
	}
}

// TestWire: the JSON field names of DESIGN.md's example bodies.
func TestWire(t *testing.T) {
	at := time.Date(2026, 11, 30, 11, 52, 3, 120e6, time.FixedZone("", 3600))
	b, _ := json.Marshal(TapBatch{Taps: []Tap{{ID: "t1", Station: "canteen-1", UID: "0100CDA4EC", Tech: "em4100", ReadAt: at}}})
	if want := `{"taps":[{"id":"t1","station":"canteen-1","uid":"0100CDA4EC","tech":"em4100","read_at":"2026-11-30T11:52:03.12+01:00","offline":false}]}`; string(b) != want {
		t.Errorf("batch = %s\nwant    %s", b, want)
	}
	b, _ = json.Marshal(Results{Results: []Result{{ID: "t1", Verdict: VerdictAccepted, Feedback: FeedbackOK,
		Display: &Display{Name: "Emma D.", Class: "P3A", Flags: []string{"allergy:peanuts"}}, Charged: "3.70"}}})
	if want := `{"results":[{"id":"t1","verdict":"accepted","reason":"","feedback":"ok","display":{"name":"Emma D.","class":"P3A","flags":["allergy:peanuts"]},"charged":"3.70"}]}`; string(b) != want {
		t.Errorf("results = %s\nwant      %s", b, want)
	}
	b, _ = json.Marshal(BadgeDelta{Badges: []Badge{{UID: "0100CDA4EC", Status: BadgeActive, Name: "Emma D."}}, Cursor: "42"})
	if want := `{"badges":[{"uid":"0100CDA4EC","status":"active","name":"Emma D."}],"cursor":"42","more":false}`; string(b) != want {
		t.Errorf("badges = %s\nwant     %s", b, want)
	}
}

// TestStandardLibraryOnly: the contract links nothing but the standard
// library, so that the bridge can import it without the server.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "tartine/internal/deviceapi").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 1 || got[0] != "tartine/internal/deviceapi" {
		t.Errorf("deviceapi links %v, want the standard library only", got)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("Tartine-HMAC device=dev-1,ts=1795000000,sig=" + strings.Repeat("ab", 32))
	f.Add("Tartine-HMAC device=,ts=,sig=")
	f.Add("Tartine-HMAC device=a,device=b")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err == nil && (a.Device == "" || len(a.Sig) != 32) {
			t.Errorf("accepted %q as %+v", h, a)
		}
	})
}
