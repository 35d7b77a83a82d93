package terminal

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	bridge "tartine/firmware-bridge"
)

func TestDeviceAuthRefusals(t *testing.T) {
	f := newFixture(t)
	body := []byte(`{"taps": []}`)
	now := f.clk.Now()
	sign := func(dev, secret string, at time.Time, b []byte) string {
		return Authorization(dev, []byte(secret), "POST", "/api/v1/taps", at, b)
	}
	tests := []struct {
		name   string
		header string
		status int
	}{
		{"good", sign(devID, devSecret, now, body), http.StatusOK},
		{"299 s late is fine", sign(devID, devSecret, now.Add(-299*time.Second), body), http.StatusOK},
		{"missing", "", http.StatusUnauthorized},
		{"other scheme", "Bearer abc", http.StatusUnauthorized},
		{"forged signature", sign(devID, strings.Repeat("f", 64), now, body), http.StatusUnauthorized},
		{"signature of another body", sign(devID, devSecret, now, []byte(`{"taps":[1]}`)), http.StatusUnauthorized},
		{"replayed too late", sign(devID, devSecret, now.Add(-301*time.Second), body), http.StatusUnauthorized},
		{"from the future", sign(devID, devSecret, now.Add(301*time.Second), body), http.StatusUnauthorized},
		{"unknown device", sign("dev-nobody", devSecret, now, body), http.StatusUnauthorized},
		{"malformed", "Tartine-HMAC device=x,ts=abc,sig=00", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/taps", strings.NewReader(string(body)))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == http.StatusUnauthorized {
				var e apiError
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
					t.Errorf("401 body is not a JSON error: %v", err)
				}
			}
		})
	}
	// Revoked: refused once the cache expires.
	must(t, f.store.RevokeDevice(f.ctx, f.tenant, devID, "test"))
	f.svc.devices.forget(devID)
	if st, _ := f.postRaw("/api/v1/taps", body, now, devID, devSecret); st != http.StatusUnauthorized {
		t.Errorf("revoked device: status %d, want 401", st)
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t)
	big := []byte(`{"taps": [], "pad": "` + strings.Repeat("x", MaxBody) + `"}`)
	if st, _ := f.postRaw("/api/v1/taps", big, f.clk.Now(), devID, devSecret); st != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", st)
	}
}

func TestBadgeDeltaThroughBridgeClient(t *testing.T) {
	f := newFixture(t)
	c, err := bridge.NewClient(f.srv.URL, devID, devSecret, nil, f.clk.Now)
	must(t, err)
	d, err := c.Badges(f.ctx, "")
	must(t, err)
	byUID := map[string]bridge.Badge{}
	for _, b := range d.Badges {
		byUID[b.UID] = b
	}
	if b := byUID[uidEmma]; b.Status != "active" || b.Name != "Emma D." {
		t.Errorf("Emma's badge = %+v", b)
	}
	if b := byUID[uidBlocked]; b.Status != "blocked" {
		t.Errorf("blocked badge = %+v", b)
	}
	if b := byUID[uidStock]; b.Status != "removed" {
		t.Errorf("unassigned badge = %+v, want removed", b)
	}
	again, err := c.Badges(f.ctx, d.Cursor)
	must(t, err)
	if len(again.Badges) != 0 || again.Cursor != d.Cursor {
		t.Errorf("delta since the cursor = %+v, want empty", again)
	}
	// Taps through the bridge client too.
	res, err := c.PostTaps(f.ctx, []bridge.APITap{{ID: "bridge-tap-1", Station: "canteen-1", UID: uidEmma, Tech: "em4100", ReadAt: monday}})
	must(t, err)
	if r := res["bridge-tap-1"]; r.Verdict != VerdictAccepted || r.Display == nil || r.Display.Name != "Emma D." {
		t.Errorf("bridge result = %+v", r)
	}
}

func FuzzParseTap(f *testing.F) {
	f.Add([]byte(`{"id":"x","station":"canteen-1","uid":"0100CDA4EC","tech":"em4100","read_at":"2026-11-30T11:52:03.120+01:00","offline":false}`))
	f.Add([]byte(`{"id":1}`))
	f.Add([]byte(`null`))
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		tap, err := parseTap(raw, now)
		if err == nil && (tap.ID == "" || tap.Station == "" || tap.UID == "" || tap.ReadAt.IsZero()) {
			t.Errorf("accepted %q as %+v", raw, tap)
		}
		if tap.ID != "" && !validID(tap.ID) {
			t.Errorf("returned invalid id %q", tap.ID)
		}
	})
}
