package portal_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"tartine/school"
)

// TestSettingsContactGoesThroughSchool: a parent's phone and address,
// changed on the settings page, are written by package school and audited
// as the guardian's own change.
func TestSettingsContactGoesThroughSchool(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	anne.get("/portal/settings")
	if code, _ := anne.post("/portal/settings", url.Values{"threshold": {"5"}, "language": {"fr"}, "phone": {"0470 55 66 77"},
		"address": {"Rue Haute 9, 1000 Bruxelles"}}); code != 200 {
		t.Fatalf("settings: %d", code)
	}
	g, err := f.app.School.Guardian(ctx, f.tenant, f.anne.ID)
	if err != nil || g.Phone != "0470 55 66 77" || g.Address != "Rue Haute 9, 1000 Bruxelles" {
		t.Fatalf("guardian = %+v %v", g, err)
	}
	e, err := f.app.School.AuditSearch(ctx, f.tenant, 0, school.AuditFilter{Action: "guardian.contact"}, 5)
	if err != nil || len(e) != 1 || e[0].Actor != fmt.Sprint("guardian:", f.anne.ID) || e[0].Subject != fmt.Sprint("guardian:", f.anne.ID) {
		t.Errorf("audit = %+v %v", e, err)
	}
}
