package school

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestFamilyReads: a family's pupils, guardians and the guardians of a
// school or of pupils, each in one query, never another family's or
// tenant's.
func TestFamilyReads(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, ten := f.store, f.tenant.ID
	emma, lucas := f.pupil(t, "Emma", "Dubois"), f.pupil(t, "Lucas", "Dubois")
	zoe, hugo := f.pupil(t, "Zoé", "Martin"), f.pupil(t, "Hugo", "Dubois")
	a := f.guardianOf(t, "a@example.be", emma, lucas, hugo)
	b := f.guardianOf(t, "b@example.be", zoe, hugo)
	if _, err := s.pool.Exec(ctx, `UPDATE pupils SET active = false WHERE tenant_id = $1 AND id = $2`, ten, hugo.ID); err != nil {
		t.Fatal(err)
	}
	ra, rb := GuardianRef{TenantID: ten, ID: a.ID}, GuardianRef{TenantID: ten, ID: b.ID}
	names := func(ps []FamilyPupil) string {
		out := ""
		for _, p := range ps {
			out += fmt.Sprintf("%s/%d ", p.FirstName, p.GuardianID)
		}
		return out
	}

	got, err := s.FamilyPupils(ctx, []GuardianRef{ra}, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Emma/%d Lucas/%d ", a.ID, a.ID); names(got) != want {
		t.Errorf("FamilyPupils(a) = %s, want %s", names(got), want)
	}
	if got[0].SchoolName != "Les Tilleuls" || got[0].WalletID != emma.WalletAccountID || got[0].OGM != emma.WalletOGM || got[0].SchoolID != f.school.ID {
		t.Errorf("Emma as her family sees her: %+v", got[0])
	}
	got, err = s.FamilyPupils(ctx, []GuardianRef{rb, ra}, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Emma/%d Hugo/%d Lucas/%d Zoé/%d ", a.ID, min(a.ID, b.ID), a.ID, b.ID); names(got) != want {
		t.Errorf("FamilyPupils(a, b, with inactive) = %s, want %s", names(got), want)
	}
	if got, err := s.FamilyPupils(ctx, nil, true); err != nil || len(got) != 0 {
		t.Errorf("FamilyPupils(none) = %v, %v", got, err)
	}

	// The access check: linked, active, in the tenant.
	if p, err := s.FamilyPupil(ctx, []GuardianRef{ra, rb}, ten, zoe.ID); err != nil || p.ID != zoe.ID || p.GuardianID != b.ID {
		t.Errorf("FamilyPupil(a, b; Zoé) = %+v, %v", p, err)
	}
	other, err := s.EnsureTenant(ctx, "po2", "PO deux")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		family []GuardianRef
		tenant int64
		pupil  int64
	}{
		"another family's child":       {[]GuardianRef{ra}, ten, zoe.ID},
		"a child who left":             {[]GuardianRef{ra, rb}, ten, hugo.ID},
		"another tenant":               {[]GuardianRef{ra}, other.ID, emma.ID},
		"a guardian of another tenant": {[]GuardianRef{{TenantID: other.ID, ID: a.ID}}, other.ID, emma.ID},
	} {
		if p, err := s.FamilyPupil(ctx, c.family, c.tenant, c.pupil); !errors.Is(err, ErrNotFound) {
			t.Errorf("FamilyPupil, %s: %+v, %v; want ErrNotFound", name, p, err)
		}
	}

	recs, err := s.FamilyPupilRecords(ctx, []GuardianRef{rb})
	if err != nil || len(recs) != 2 || recs[0].ID != zoe.ID || recs[1].ID != hugo.ID || recs[1].Active || recs[0].ClassID != f.class.ID {
		t.Errorf("FamilyPupilRecords(b) = %+v, %v; want Zoé then Hugo (left)", recs, err)
	}
	gs, err := s.FamilyGuardians(ctx, []GuardianRef{rb, ra, {TenantID: other.ID, ID: a.ID}})
	if err != nil || len(gs) != 2 || gs[0] != a || gs[1] != b {
		t.Errorf("FamilyGuardians(b, a) = %+v, %v; want a, b", gs, err)
	}

	links, err := s.GuardiansOfPupilsAll(ctx, ten, []int64{hugo.ID, emma.ID})
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	for _, l := range links {
		seen += fmt.Sprintf("%d:%d ", l.ID, l.PupilID)
	}
	if want := fmt.Sprintf("%d:%d %d:%d %d:%d ", a.ID, min(emma.ID, hugo.ID), a.ID, max(emma.ID, hugo.ID), b.ID, hugo.ID); seen != want || links[0].Email != "a@example.be" {
		t.Errorf("GuardiansOfPupilsAll = %s, want %s", seen, want)
	}

	sg, err := s.GuardiansOfSchool(ctx, ten, f.school.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sg) != 2 || sg[0].Guardian != a || sg[0].Children != "Emma, Lucas" || sg[1].Guardian != b || sg[1].Children != "Zoé" {
		t.Errorf("GuardiansOfSchool = %+v", sg)
	}
	if sg, err := s.GuardiansOfSchool(ctx, other.ID, f.school.ID); err != nil || len(sg) != 0 {
		t.Errorf("GuardiansOfSchool across tenants = %+v, %v", sg, err)
	}
}

// TestPupilBadgeHistory: every badge a pupil ever had, each with its whole
// history (its later holder's too), the returned one included.
func TestPupilBadgeHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, ten := f.store, f.tenant.ID
	emma, lucas := f.pupil(t, "Emma", "Dubois"), f.pupil(t, "Lucas", "Dubois")
	first, err := s.CreateBadge(ctx, ten, BadgeInput{UID: "0100cda4ec", Tech: TechEM4100, PupilID: emma.ID}, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UnassignBadge(ctx, ten, first.ID, "staff:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignBadge(ctx, ten, first.ID, lucas.ID, "staff:2"); err != nil {
		t.Fatal(err)
	}
	second, err := s.CreateBadge(ctx, ten, BadgeInput{UID: "0100cda4ed", Tech: TechEM4100, PupilID: emma.ID}, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.PupilBadgeHistory(ctx, ten, emma.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != first.ID || got[1].ID != second.ID {
		t.Fatalf("Emma's badges = %+v, want the first then the second", got)
	}
	want, err := s.BadgeHistory(ctx, ten, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got[0].History) != fmt.Sprint(want) || len(want) != 3 || got[0].PupilID != lucas.ID {
		t.Errorf("the first badge: %+v, history %v; want held by Lucas, history %v", got[0].Badge, got[0].History, want)
	}
	if len(got[1].History) != 1 || got[1].History[0].PupilID != emma.ID || got[1].PupilID != emma.ID {
		t.Errorf("the second badge: %+v", got[1])
	}
	if got, err := s.PupilBadgeHistory(ctx, ten, f.pupil(t, "Zoé", "Martin").ID); err != nil || len(got) != 0 {
		t.Errorf("a pupil without badges: %+v, %v", got, err)
	}
}
