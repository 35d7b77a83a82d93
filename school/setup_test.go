package school

import (
	"context"
	"slices"
	"testing"
)

// TestFirstRun: the first run creates the organising body, the school, the
// usual stations and an admin who can log in with the password shown once;
// run again it keeps everything (a renamed station too) and shows no
// password.
func TestFirstRun(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := FirstRun{TenantCode: "po-ixelles", TenantName: "PO d'Ixelles", School: SchoolInput{Code: "ecole-1", Name: "École n° 1", IBAN: "BE68539007547034"},
		AdminLogin: "direction", AdminName: "Anne Direction"}
	res, err := f.store.FirstRun(ctx, in, "system:setup")
	if err != nil {
		t.Fatal(err)
	}
	if res.Tenant.Code != "po-ixelles" || res.School.Code != "ecole-1" || res.AdminPassword == "" ||
		!slices.Equal(res.StationsCreated, []string{"canteen-1", "daycare-1", "kiosk-1", "enrolment-1"}) {
		t.Fatalf("first run = %+v", res)
	}
	u, err := f.store.AuthenticateStaff(ctx, "direction", res.AdminPassword)
	if err != nil || !u.Has(RoleAdmin) || u.Name != "Anne Direction" || u.TenantID != res.Tenant.ID {
		t.Fatalf("admin login: %+v, %v", u, err)
	}
	st, err := f.store.StationByCode(ctx, res.Tenant.ID, "kiosk-1")
	if err != nil || st.Kind != Kiosk || st.SchoolID != res.School.ID {
		t.Errorf("kiosk station: %+v, %v", st, err)
	}
	if _, err := f.store.Pool().Exec(ctx, `UPDATE stations SET name = 'Caisse du hall' WHERE id = $1`, st.ID); err != nil {
		t.Fatal(err)
	}
	again, err := f.store.FirstRun(ctx, in, "system:setup")
	if err != nil || again.AdminPassword != "" || len(again.StationsCreated) != 0 || again.Tenant.ID != res.Tenant.ID || again.School.ID != res.School.ID {
		t.Errorf("second run = %+v, %v; want everything kept, no password", again, err)
	}
	if st, _ := f.store.StationByCode(ctx, res.Tenant.ID, "kiosk-1"); st.Name != "Caisse du hall" {
		t.Errorf("renamed station = %q, want kept", st.Name)
	}
	if _, err := f.store.AuthenticateStaff(ctx, "direction", res.AdminPassword); err != nil {
		t.Errorf("the admin's password changed on the second run: %v", err)
	}
	bad := in
	bad.School.IBAN = "BE00 0000"
	bad.School.Code = "ecole-2"
	if _, err := f.store.FirstRun(ctx, bad, "system:setup"); err == nil {
		t.Error("first run with a bad IBAN: no error")
	}
}
