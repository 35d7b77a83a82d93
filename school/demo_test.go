package school

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"

	"tartine/internal/dbtest"
	"tartine/ledger"
)

func TestSeedDemoIdempotent(t *testing.T) {
	pool := dbtest.New(t)
	s := New(pool, ledger.New(pool, nil), nil)
	ctx := context.Background()
	var info DemoInfo
	for i := range 2 {
		var err error
		if info, err = SeedDemo(ctx, s); err != nil {
			t.Fatalf("SeedDemo run %d: %v", i+1, err)
		}
	}
	var pupils, badges, staff, transfers int
	_ = pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pupils), (SELECT count(*) FROM badges), (SELECT count(*) FROM staff_users),
		(SELECT count(*) FROM transfers)`).Scan(&pupils, &badges, &staff, &transfers)
	if pupils != 12 || badges != 12 || staff != 5 || transfers != 11 {
		t.Errorf("after two runs: %d pupils, %d badges, %d staff, %d transfers; want 12, 12, 5, 11", pupils, badges, staff, transfers)
	}
	emma, err := s.BadgeByUID(ctx, info.TenantID, "0100CDA4EC")
	if err != nil {
		t.Fatal(err)
	}
	if emma.DisplayName != "Emma D." || emma.ClassCode != "P3A" || len(emma.Allergens) != 1 || emma.Allergens[0] != Peanuts {
		t.Errorf("Emma's badge = %+v", emma)
	}
	bal, _ := s.Ledger().Balance(ctx, info.TenantID, emma.WalletAccountID)
	if !bal.Posted.Equal(decimal.RequireFromString("4.20")) {
		t.Errorf("Emma's balance = %s, want 4.20", bal.Posted)
	}
	sophie, err := s.GuardianByEmail(ctx, info.TenantID, "sophie.dubois@example.be")
	if err != nil {
		t.Fatal(err)
	}
	if kids, _ := s.PupilsOfGuardian(ctx, info.TenantID, sophie.ID); len(kids) != 2 {
		t.Errorf("Sophie has %d children, want 2", len(kids))
	}
	noah, _ := s.Pupil(ctx, info.TenantID, info.Pupils["Noah"])
	if gs, _ := s.GuardiansOfPupil(ctx, info.TenantID, noah.ID); len(gs) != 2 || !noah.FreeMeals {
		t.Errorf("Noah: free %v, %d guardians", noah.FreeMeals, len(gs))
	}
	if _, err := s.AuthenticateStaff(ctx, "canteen", "demo-canteen"); err != nil {
		t.Errorf("demo login: %v", err)
	}
	d, err := s.DeviceByID(ctx, DemoDeviceID)
	if err != nil || string(d.Secret) != DemoDeviceSecret || d.TenantID != info.TenantID {
		t.Errorf("demo device = %+v, %v", d, err)
	}
	k, err := s.StationByCode(ctx, info.TenantID, "kiosk-1")
	if err != nil || k.Kind != Kiosk || k.CashAccountID == 0 {
		t.Errorf("kiosk = %+v, %v", k, err)
	}
	if len(info.Logins) != 5 || info.Badges["Chloé"] == "" {
		t.Errorf("info = %+v", info)
	}
}
