package bridge

import (
	"testing"
	"time"
)

// The expected signatures were computed with Python's hmac module from the
// DESIGN.md formula, independently of this code.
func TestSignGolden(t *testing.T) {
	const secret = "0123456789abcdef0123"
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
