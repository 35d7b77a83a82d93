package terminal

import (
	"bytes"
	"net/http"
	"testing"
)

// TestDeviceAPIUnavailableSaysWhenToRetry: while the database does not answer
// (a failover to the standby), the device API answers 503 with Retry-After,
// and the bridge keeps its taps in its outbox.
func TestDeviceAPIUnavailableSaysWhenToRetry(t *testing.T) {
	f := newFixture(t)
	f.svc.pool.Close() // no primary answers
	for _, tc := range []struct {
		name, method, path string
		body               []byte
	}{
		{"taps", http.MethodPost, "/api/v1/taps", mustJSON(t, map[string]any{"taps": []Tap{tapAt("canteen-1", uidEmma, f.clk.Now())}})},
		{"badges", http.MethodGet, "/api/v1/badges", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, f.srv.URL+tc.path, bytes.NewReader(tc.body))
			must(t, err)
			req.Header.Set("Authorization", Authorization(devID, []byte(devSecret), tc.method, tc.path, f.clk.Now(), tc.body))
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%s %s without database: status %d, Retry-After %q; want 503 with Retry-After",
					tc.method, tc.path, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		})
	}
}
