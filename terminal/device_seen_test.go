package terminal

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDeviceLastSeen: an authenticated device request records when the
// device was seen, at most once a minute; a refused request records
// nothing. The write runs beside the request: the test waits for it (and
// a write not due is never started, so its absence can be read at once).
func TestDeviceLastSeen(t *testing.T) {
	f := newFixture(t)
	body := []byte(`{"taps": []}`)
	seen := func() time.Time {
		t.Helper()
		d, err := f.store.DeviceByID(f.ctx, devID)
		must(t, err)
		return d.LastSeenAt
	}
	if !seen().IsZero() {
		t.Fatalf("a new device was seen at %v", seen())
	}
	t0 := f.clk.Now()
	if st, _ := f.postRaw("/api/v1/taps", body, t0, devID, strings.Repeat("f", 64)); st != http.StatusUnauthorized {
		t.Fatalf("forged request: %d", st)
	}
	if got := seen(); !got.IsZero() {
		t.Errorf("a forged request marked the device seen at %v", got)
	}
	if st, _ := f.postRaw("/api/v1/taps", body, t0, devID, devSecret); st != http.StatusOK {
		t.Fatalf("request: %d", st)
	}
	waitFor(t, func() bool { return seen().Equal(t0) })
	// Half a minute later: not written again.
	f.clk.Set(t0.Add(30 * time.Second))
	if st, _ := f.postRaw("/api/v1/taps", body, f.clk.Now(), devID, devSecret); st != http.StatusOK {
		t.Fatalf("request: %d", st)
	}
	if got := seen(); !got.Equal(t0) {
		t.Errorf("last seen %v after 30 s, want still %v", got, t0)
	}
	// A minute after the last write: written.
	t1 := t0.Add(61 * time.Second)
	f.clk.Set(t1)
	if st, _ := f.postRaw("/api/v1/taps", body, t1, devID, devSecret); st != http.StatusOK {
		t.Fatalf("request: %d", st)
	}
	waitFor(t, func() bool { return seen().Equal(t1) })
}
