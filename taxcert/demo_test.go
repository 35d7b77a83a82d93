package taxcert

import (
	"context"
	"strings"
	"testing"
	"time"

	"tartine/internal/dbtest"
	"tartine/internal/tz"
	"tartine/ledger"
	"tartine/school"
)

// TestSeedDemo: the demo has last year's certificates ready for Emma and
// Lucas, and seeding again changes nothing.
func TestSeedDemo(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.New(t)
	now := func() time.Time { return time.Date(2027, 3, 2, 10, 0, 0, 0, tz.Brussels) }
	led := ledger.New(pool, now)
	st := school.New(pool, led, now)
	sd, err := school.SeedDemo(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	svc := New(pool, led, st, DemoSealer(), Settings{}, now)
	for range 2 {
		if err := SeedDemo(ctx, svc, sd.TenantID, sd.Pupils, "Emma", "Lucas"); err != nil {
			t.Fatal(err)
		}
	}
	certs, err := svc.Certificates(ctx, sd.TenantID, 2026, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) < 2 {
		t.Fatalf("%d certificates, want at least one per child", len(certs))
	}
	for _, c := range certs {
		if c.Version != 1 || c.Days != 8 || c.Content.Issuer.IssuerName == "" {
			t.Errorf("certificate %+v", c)
		}
		if _, err := svc.PDF(c); err != nil {
			t.Errorf("pdf: %v", err)
		}
	}
	// The demo's Belcotax file can be downloaded by a server without
	// settings: the certificates carry the demo's company number.
	server := New(pool, led, st, DemoSealer(), Settings{}, now)
	if x, err := server.Belcotax(certs, BelcotaxOptions{Test: true, Created: now()}); err != nil || !strings.Contains(string(x), DemoBCE) {
		t.Errorf("demo Belcotax file: %v", err)
	}
}
