package school

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/policy"
)

func TestCrossTenantLookupsNotFound(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	p := f.pupil(t, "Emma", "Dubois")
	b, err := s.CreateBadge(ctx, f.tenant.ID, BadgeInput{UID: "0100cda4ec", Tech: TechEM4100, PupilID: p.ID}, "test")
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.CreateGuardian(ctx, f.tenant.ID, GuardianInput{FirstName: "Sophie", LastName: "Dubois", Email: "s@example.be"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LinkGuardian(ctx, f.tenant.ID, g.ID, p.ID, "mère", "test"); err != nil {
		t.Fatal(err)
	}
	st, err := s.EnsureStation(ctx, f.tenant.ID, StationInput{SchoolID: f.school.ID, Code: "canteen-1", Kind: Canteen}, "test")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.EnsureTenant(ctx, "po2", "PO deux")
	if err != nil {
		t.Fatal(err)
	}
	if other.OGMPrefix == f.tenant.OGMPrefix {
		t.Errorf("two tenants share OGM prefix %d", other.OGMPrefix)
	}
	o := other.ID
	checks := map[string]error{}
	_, checks["Pupil"] = s.Pupil(ctx, o, p.ID)
	_, checks["BadgeByUID"] = s.BadgeByUID(ctx, o, b.UID)
	_, checks["Badge"] = s.Badge(ctx, o, b.ID)
	_, checks["Guardian"] = s.Guardian(ctx, o, g.ID)
	_, checks["GuardianByEmail"] = s.GuardianByEmail(ctx, o, "s@example.be")
	_, checks["StationByCode"] = s.StationByCode(ctx, o, st.Code)
	_, checks["School"] = s.School(ctx, o, f.school.ID)
	_, checks["PupilByOGM"] = s.PupilByOGM(ctx, o, p.WalletOGM)
	_, checks["AssignBadge"] = s.AssignBadge(ctx, o, b.ID, p.ID, "test")
	_, checks["UpdatePupil"] = s.UpdatePupil(ctx, o, p.ID, PupilInput{SchoolID: f.school.ID, FirstName: "X", LastName: "Y", Level: "P1"}, "test")
	_, checks["CreatePupil in other's school"] = s.CreatePupil(ctx, o, PupilInput{SchoolID: f.school.ID, FirstName: "X", LastName: "Y", Level: "P1"}, "test")
	checks["LinkGuardian"] = s.LinkGuardian(ctx, o, g.ID, p.ID, "", "test")
	_, checks["PupilPhoto"] = s.PupilPhoto(ctx, o, p.ID)
	for name, err := range checks {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s across tenants: err = %v, want ErrNotFound", name, err)
		}
	}
	if ok, err := s.GuardianLinked(ctx, o, g.ID, p.ID); ok || err != nil {
		t.Errorf("GuardianLinked across tenants = %v, %v", ok, err)
	}
	if ok, _ := s.GuardianLinked(ctx, f.tenant.ID, g.ID, p.ID); !ok {
		t.Error("GuardianLinked in own tenant = false")
	}
	if ps, _ := s.PupilsOfGuardian(ctx, o, g.ID); len(ps) != 0 {
		t.Errorf("PupilsOfGuardian across tenants = %d pupils", len(ps))
	}
	if d, _ := s.BadgesSince(ctx, o, 0, 0); len(d.Badges) != 0 {
		t.Errorf("BadgesSince across tenants = %+v", d)
	}
}

func TestBadgeLifecycleAndHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	emma := f.pupil(t, "Emma", "Dubois")
	lucas := f.pupil(t, "Lucas", "Dubois")
	b, err := s.CreateBadge(ctx, f.tenant.ID, BadgeInput{UID: "01:00:cd:a4:ec", Tech: TechEM4100, PrintedNumber: "0013477356", PupilID: emma.ID}, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if b.UID != "0100CDA4EC" || b.Status != BadgeActive || b.PupilID != emma.ID {
		t.Fatalf("badge = %+v", b)
	}
	if _, err := s.CreateBadge(ctx, f.tenant.ID, BadgeInput{UID: "0100CDA4EC", Tech: TechEM4100}, "staff:1"); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate uid: err = %v, want ErrConflict", err)
	}
	if got, err := s.BadgeByPrintedNumber(ctx, f.tenant.ID, "0013477356"); err != nil || got.ID != b.ID {
		t.Errorf("BadgeByPrintedNumber = %+v, %v", got, err)
	}
	steps := []struct {
		do     func() (Badge, error)
		status BadgeStatus
		pupil  int64
	}{
		{func() (Badge, error) { return s.SetBadgeStatus(ctx, f.tenant.ID, b.ID, BadgeLost, "staff:2") }, BadgeLost, emma.ID},
		{func() (Badge, error) { return s.SetBadgeStatus(ctx, f.tenant.ID, b.ID, BadgeBlocked, "staff:2") }, BadgeBlocked, emma.ID},
		{func() (Badge, error) { return s.UnassignBadge(ctx, f.tenant.ID, b.ID, "staff:3") }, BadgeReturned, 0},
		{func() (Badge, error) { return s.AssignBadge(ctx, f.tenant.ID, b.ID, lucas.ID, "staff:3") }, BadgeActive, lucas.ID},
	}
	prevSeq := b.ChangeSeq
	for i, st := range steps {
		got, err := st.do()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got.Status != st.status || got.PupilID != st.pupil || got.ChangeSeq <= prevSeq {
			t.Errorf("step %d: badge = %+v (prev seq %d)", i, got, prevSeq)
		}
		prevSeq = got.ChangeSeq
	}
	if _, err := s.SetBadgeStatus(ctx, f.tenant.ID, b.ID, "stolen", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad status: %v", err)
	}
	h, err := s.BadgeHistory(ctx, f.tenant.ID, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range h {
		got = append(got, fmt.Sprintf("%s/%d/%s", e.Status, e.PupilID, e.Actor))
	}
	want := []string{
		fmt.Sprintf("active/%d/staff:1", emma.ID), fmt.Sprintf("lost/%d/staff:2", emma.ID), fmt.Sprintf("blocked/%d/staff:2", emma.ID),
		"returned/0/staff:3", fmt.Sprintf("active/%d/staff:3", lucas.ID),
	}
	if !slices.Equal(got, want) {
		t.Errorf("history = %v, want %v", got, want)
	}
	info, err := s.BadgeByUID(ctx, f.tenant.ID, "0100CDA4EC")
	if err != nil || info.DisplayName != "Lucas D." || info.WalletAccountID != lucas.WalletAccountID || info.ClassCode != "P3A" || info.SchoolID != f.school.ID {
		t.Errorf("BadgeByUID = %+v, %v", info, err)
	}
	if _, err := s.BadgeByUID(ctx, f.tenant.ID, "FFFFFFFFFF"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown uid: %v", err)
	}
	log, _ := s.AuditLog(ctx, f.tenant.ID, 0)
	if len(log) == 0 || log[0].Action != "badge.assign" || log[0].Actor != "staff:3" {
		t.Errorf("latest audit = %+v", log[0])
	}
}

func TestBadgeInfoFlagsAndPhoto(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	p, err := s.CreatePupil(ctx, f.tenant.ID, PupilInput{SchoolID: f.school.ID, ClassID: f.class.ID, FirstName: "Noah", LastName: "janssens",
		Allergens: []Allergen{Peanuts, Gluten, Peanuts}, Diet: []Diet{Vegetarian}, AllergyNotes: "kiwi", FreeMeals: true}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBadge(ctx, f.tenant.ID, BadgeInput{UID: "0A0B0C0D", Tech: TechISO14443A, PupilID: p.ID}, "test"); err != nil {
		t.Fatal(err)
	}
	info, err := s.BadgeByUID(ctx, f.tenant.ID, "0A0B0C0D")
	if err != nil {
		t.Fatal(err)
	}
	wantFlags := []string{"allergy:gluten", "allergy:peanuts", "allergy:notes", "diet:vegetarian"}
	if !slices.Equal(info.Flags(), wantFlags) || !info.FreeMeals || info.HasPhoto || info.DisplayName != "Noah J." {
		t.Errorf("info = %+v flags %v", info, info.Flags())
	}
	// A photo without consent is never returned nor announced.
	if err := s.SetPhoto(ctx, f.tenant.ID, p.ID, []byte("jpeg"), false, "staff:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PupilPhoto(ctx, f.tenant.ID, p.ID); !errors.Is(err, ErrNoPhoto) {
		t.Errorf("photo without consent: %v", err)
	}
	if info, _ := s.BadgeByUID(ctx, f.tenant.ID, "0A0B0C0D"); info.HasPhoto {
		t.Error("HasPhoto without consent")
	}
	if err := s.SetPhoto(ctx, f.tenant.ID, p.ID, []byte("jpeg"), true, "staff:1"); err != nil {
		t.Fatal(err)
	}
	if ph, err := s.PupilPhoto(ctx, f.tenant.ID, p.ID); err != nil || string(ph) != "jpeg" {
		t.Errorf("photo = %q, %v", ph, err)
	}
	if info, _ := s.BadgeByUID(ctx, f.tenant.ID, "0A0B0C0D"); !info.HasPhoto {
		t.Error("HasPhoto with consent = false")
	}
}

func TestBadgesSinceCursor(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	emma := f.pupil(t, "Emma", "Dubois")
	lucas := f.pupil(t, "Lucas", "Dubois")
	noah := f.pupil(t, "Noah", "Janssens")
	mk := func(uid string, pupil int64) Badge {
		b, err := s.CreateBadge(ctx, f.tenant.ID, BadgeInput{UID: uid, Tech: TechEM4100, PupilID: pupil}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	be := mk("0100000001", emma.ID)
	bl := mk("0100000002", lucas.ID)
	mk("0100000003", noah.ID)
	mk("0100000004", 0) // in stock: never active in the offline list
	d, err := s.BadgesSince(ctx, f.tenant.ID, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !d.More || len(d.Badges) != 2 || d.Badges[0] != (BadgeChange{UID: "0100000001", Status: DeltaActive, Name: "Emma D."}) {
		t.Fatalf("first page = %+v", d)
	}
	d2, err := s.BadgesSince(ctx, f.tenant.ID, d.Cursor, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Removed entries are left out of the first page only (harmless later).
	if d2.More || len(d2.Badges) != 2 || d2.Badges[0].UID != "0100000003" || d2.Badges[1].Status != DeltaRemoved {
		t.Fatalf("second page = %+v", d2)
	}
	cur := d2.Cursor
	if d3, _ := s.BadgesSince(ctx, f.tenant.ID, cur, 0); len(d3.Badges) != 0 || d3.Cursor != cur {
		t.Fatalf("nothing changed: %+v", d3)
	}
	// Lost → blocked offline; returned → removed; a pupil who leaves → removed.
	if _, err := s.SetBadgeStatus(ctx, f.tenant.ID, be.ID, BadgeLost, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UnassignBadge(ctx, f.tenant.ID, bl.ID, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdatePupil(ctx, f.tenant.ID, noah.ID, PupilInput{SchoolID: f.school.ID, ClassID: f.class.ID, FirstName: "Noah", LastName: "Janssens", Inactive: true}, "t"); err != nil {
		t.Fatal(err)
	}
	d4, err := s.BadgesSince(ctx, f.tenant.ID, cur, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []BadgeChange{{UID: "0100000001", Status: DeltaBlocked, Name: "Emma D."}, {UID: "0100000002", Status: DeltaRemoved}, {UID: "0100000003", Status: DeltaRemoved}}
	if !slices.Equal(d4.Badges, want) || d4.Cursor <= cur {
		t.Errorf("delta = %+v, want %+v", d4, want)
	}
}

func TestQRBadgeAndSheet(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var cards []SheetBadge
	for i := range 23 {
		p := f.pupil(t, fmt.Sprintf("Élève%d", i), "Test")
		b, err := f.store.NewQRBadge(ctx, f.tenant.ID, p.ID, "test")
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[A-Z2-7]{26}$`).MatchString(b.UID) || b.Tech != TechQR {
			t.Fatalf("QR badge uid %q tech %s", b.UID, b.Tech)
		}
		if info, err := f.store.BadgeByUID(ctx, f.tenant.ID, b.UID); err != nil || info.PupilID != p.ID {
			t.Fatalf("BadgeByUID(qr) = %+v, %v", info, err)
		}
	}
	cards, err := f.store.QRSheetBadges(ctx, f.tenant.ID, f.school.ID)
	if err != nil || len(cards) != 23 {
		t.Fatalf("QRSheetBadges = %d, %v", len(cards), err)
	}
	pdf, err := BadgeSheetPDF(cards)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", pdf[:8])
	}
	if n := len(regexp.MustCompile(`/Type /Page\b`).FindAll(pdf, -1)); n != 2 {
		t.Errorf("%d pages, want 2 (21 cards per page)", n)
	}
	if _, err := BadgeSheetPDF(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty sheet: %v", err)
	}
}

func TestCanonicalUID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		tech Tech
		want string
		ok   bool
	}{
		{"0100cda4ec", TechEM4100, "0100CDA4EC", true},
		{"01 00 CD A4 EC", TechEM4100, "0100CDA4EC", true},
		{"0100CDA4E", TechEM4100, "", false},
		{"0100CDA4EG", TechEM4100, "", false},
		{"04a1b2c3d4e5f6", TechISO14443A, "04A1B2C3D4E5F6", true},
		{"04a1b2", TechISO14443A, "", false},
		{"abcdefghijklmnopqrstuvwxyz", TechQR, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", true},
		{"short", TechQR, "", false},
		{"0100CDA4EC", "nfc", "", false},
	} {
		got, err := CanonicalUID(tc.in, tc.tech)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("CanonicalUID(%q, %s) = %q, %v", tc.in, tc.tech, got, err)
		}
	}
}

func FuzzCanonicalUID(f *testing.F) {
	f.Add("0100cda4ec", "em4100")
	f.Add("04:a1:b2:c3", "iso14443a")
	f.Add("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "qr")
	f.Fuzz(func(t *testing.T, uid, tech string) {
		got, err := CanonicalUID(uid, Tech(tech))
		if err != nil {
			return
		}
		again, err := CanonicalUID(got, Tech(tech))
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", uid, got, again, err)
		}
	})
}

func TestStaffAuthentication(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	u, err := s.CreateStaff(ctx, f.tenant.ID, StaffInput{Login: "Marie", Name: "Marie", Password: "cantine-2026", Roles: []Role{RoleCanteen, RoleDaycare}}, "staff:0")
	if err != nil {
		t.Fatal(err)
	}
	if u.Login != "marie" || !u.Has(RoleCanteen) || u.Can(RoleKiosk) {
		t.Errorf("user = %+v", u)
	}
	var hash string
	_ = s.Pool().QueryRow(ctx, `SELECT password_hash FROM staff_users WHERE id = $1`, u.ID).Scan(&hash)
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`).MatchString(hash) {
		t.Errorf("stored hash %q is not an argon2id PHC string", hash)
	}
	for _, tc := range []struct {
		login, pw string
		ok        bool
	}{
		{"marie", "cantine-2026", true},
		{" MARIE ", "cantine-2026", true},
		{"marie", "cantine-2027", false},
		{"marie", "", false},
		{"nobody", "cantine-2026", false},
	} {
		got, err := s.AuthenticateStaff(ctx, tc.login, tc.pw)
		if tc.ok && (err != nil || got.ID != u.ID) {
			t.Errorf("AuthenticateStaff(%q, %q) = %+v, %v", tc.login, tc.pw, got, err)
		}
		if !tc.ok && !errors.Is(err, ErrBadCredentials) {
			t.Errorf("AuthenticateStaff(%q, %q) err = %v, want ErrBadCredentials", tc.login, tc.pw, err)
		}
	}
	if err := s.SetStaffActive(ctx, f.tenant.ID, u.ID, false, "staff:0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateStaff(ctx, "marie", "cantine-2026"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("disabled user: %v", err)
	}
	if err := s.SetStaffActive(ctx, f.tenant.ID, u.ID, true, "staff:0"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStaffPassword(ctx, f.tenant.ID, u.ID, "nouveau-mot", "staff:0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateStaff(ctx, "marie", "nouveau-mot"); err != nil {
		t.Errorf("after password change: %v", err)
	}
	for _, in := range []StaffInput{
		{Login: "marie", Password: "long-enough", Roles: []Role{RoleAdmin}},
		{Login: "x", Password: "short", Roles: []Role{RoleAdmin}},
		{Login: "y", Password: "long-enough", Roles: []Role{"cook"}},
		{Login: "has space", Password: "long-enough", Roles: []Role{RoleAdmin}},
	} {
		if _, err := s.CreateStaff(ctx, f.tenant.ID, in, "staff:0"); err == nil {
			t.Errorf("CreateStaff(%+v) accepted", in)
		}
	}
}

func TestDevices(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	e, err := s.EnrolDevice(ctx, f.tenant.ID, "Pont cantine", "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(e.Secret) || !regexp.MustCompile(`^dev-[0-9a-f]{16}$`).MatchString(e.DeviceID) {
		t.Errorf("enrolment = %+v", e)
	}
	d, err := s.DeviceByID(ctx, e.DeviceID)
	if err != nil || string(d.Secret) != e.Secret || d.TenantID != f.tenant.ID || d.Revoked() {
		t.Errorf("device = %+v, %v", d, err)
	}
	other, _ := s.EnsureTenant(ctx, "po2", "PO deux")
	if err := s.RevokeDevice(ctx, other.ID, e.DeviceID, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke from other tenant: %v", err)
	}
	if err := s.EnrolDeviceWithSecret(ctx, other.ID, e.DeviceID, "steal", "0123456789abcdef0123456789abcdef", "x"); !errors.Is(err, ErrConflict) {
		t.Errorf("re-enrol under other tenant: %v", err)
	}
	*f.clock = f.clock.Add(time.Hour)
	if err := s.RevokeDevice(ctx, f.tenant.ID, e.DeviceID, "staff:1"); err != nil {
		t.Fatal(err)
	}
	d, _ = s.DeviceByID(ctx, e.DeviceID)
	if !d.Revoked() || !d.RevokedAt.Equal(*f.clock) {
		t.Errorf("revoked device = %+v", d)
	}
	if _, err := s.DeviceByID(ctx, "dev-unknown"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}
}

func TestPolicy(t *testing.T) {
	// The policy's own rules are tested in internal/policy; here: the
	// school's settings read, stored, merged and applied to the wallets.
	p, err := decodePolicy([]byte(`{"grace_amount": "5.50", "unbooked_meal": "surcharge", "unbooked_surcharge": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.GraceAmount.Equal(decimal.RequireFromString("5.5")) || p.UnbookedMeal != policy.UnbookedSurcharge || p.DuplicateWindow() != 90*time.Second ||
		p.BookingCutoff != "09:00" || !p.Floor().Equal(decimal.RequireFromString("-5.5")) {
		t.Errorf("policy = %+v", p)
	}
	for _, bad := range []string{`{"unbooked_meal": "maybe"}`, `{"grace_amount": "-1"}`, `{"grace_amount": "1.234"}`, `{"booking_cutoff": "9h"}`,
		`{"duplicate_window_seconds": -5}`, `{"meal_no_show": "x"}`, `not json`} {
		if _, err := decodePolicy([]byte(bad)); !errors.Is(err, ErrInvalid) || !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("decodePolicy(%s) err = %v, want ErrInvalid", bad, err)
		}
	}

	f := newFixture(t)
	ctx := context.Background()
	sc, _ := f.store.School(ctx, f.tenant.ID, f.school.ID)
	if sc.PolicyErr != nil || !sc.Policy.GraceAmount.Equal(decimal.NewFromInt(10)) {
		t.Errorf("default school policy = %+v, %v", sc.Policy, sc.PolicyErr)
	}
	pupil := f.pupil(t, "Emma", "Dubois")
	hard := policy.Default()
	hard.HardFloor = true
	if kept, err := f.store.SetPolicy(ctx, f.tenant.ID, f.school.ID, hard, "staff:1"); err != nil || kept != 0 {
		t.Fatalf("SetPolicy = %d, %v", kept, err)
	}
	w, _ := f.store.Ledger().Account(ctx, f.tenant.ID, pupil.WalletAccountID)
	if w.Floor == nil || !w.Floor.IsZero() {
		t.Errorf("wallet floor after hard floor = %v", w.Floor)
	}
	later := f.pupil(t, "Lucas", "Dubois")
	w, _ = f.store.Ledger().Account(ctx, f.tenant.ID, later.WalletAccountID)
	if w.Floor == nil || !w.Floor.IsZero() {
		t.Errorf("new wallet floor under hard floor = %v", w.Floor)
	}
	bad := policy.Default()
	bad.UnbookedMeal = "x"
	if _, err := f.store.SetPolicy(ctx, f.tenant.ID, f.school.ID, bad, "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetPolicy(bad) = %v", err)
	}
	// Corrupt settings fall back to the defaults, with the error reported.
	if _, err := f.store.Pool().Exec(ctx, `UPDATE schools SET settings = '{"grace_amount": "abc"}' WHERE id = $1`, f.school.ID); err != nil {
		t.Fatal(err)
	}
	sc, _ = f.store.School(ctx, f.tenant.ID, f.school.ID)
	if sc.PolicyErr == nil || !sc.Policy.GraceAmount.Equal(decimal.NewFromInt(10)) {
		t.Errorf("corrupt settings: policy %+v err %v", sc.Policy, sc.PolicyErr)
	}
}

// TestSetPolicyKeepsOtherKeys: saving the policy writes its keys over the
// stored settings and keeps a key it does not know (written by another
// version or another writer of the column), as two parsers of one column
// used to wipe each other's keys.
func TestSetPolicyKeepsOtherKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.store.Pool().Exec(ctx, `UPDATE schools SET settings = '{"grace_amount": "3.00", "future_rule": {"days": 2}, "hard_floor": true}' WHERE id = $1`,
		f.school.ID); err != nil {
		t.Fatal(err)
	}
	sc, err := f.store.School(ctx, f.tenant.ID, f.school.ID)
	if err != nil || sc.PolicyErr != nil {
		t.Fatalf("School = %v, %v", err, sc.PolicyErr)
	}
	p := sc.Policy
	p.HardFloor = false
	p.WednesdayMeals = true
	if _, err := f.store.SetPolicy(ctx, f.tenant.ID, f.school.ID, p, "staff:1"); err != nil {
		t.Fatal(err)
	}
	var future, grace, hard, wed string
	if err := f.store.Pool().QueryRow(ctx, `SELECT settings->>'future_rule', settings->>'grace_amount', settings->>'hard_floor', settings->>'wednesday_meals'
		FROM schools WHERE id = $1`, f.school.ID).Scan(&future, &grace, &hard, &wed); err != nil {
		t.Fatal(err)
	}
	if future != `{"days": 2}` || grace != "3" || hard != "false" || wed != "true" {
		t.Errorf("settings after SetPolicy: future_rule %s, grace_amount %s, hard_floor %s, wednesday_meals %s; want the unknown key kept and the policy's keys written",
			future, grace, hard, wed)
	}
	if _, err := f.store.SetPolicy(ctx, f.tenant.ID, f.school.ID+1000, p, "staff:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPolicy(unknown school) = %v, want ErrNotFound", err)
	}
}

func TestGuardianValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	if _, err := s.CreateGuardian(ctx, f.tenant.ID, GuardianInput{FirstName: "A", LastName: "B", Email: "A@Example.be", Language: "NL"}, "t"); err != nil {
		t.Fatal(err)
	}
	for _, in := range []GuardianInput{
		{FirstName: "C", LastName: "D", Email: "a@example.be"},
		{FirstName: "C", LastName: "D", Email: "not-an-address"},
		{FirstName: "C", LastName: "D", Language: "de"},
		{},
	} {
		if _, err := s.CreateGuardian(ctx, f.tenant.ID, in, "t"); err == nil {
			t.Errorf("CreateGuardian(%+v) accepted", in)
		}
	}
	g, err := s.GuardianByEmail(ctx, f.tenant.ID, " a@EXAMPLE.be")
	if err != nil || g.Language != "nl" || g.Email != "a@example.be" {
		t.Errorf("guardian = %+v, %v", g, err)
	}
}

func TestSearchPupils(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.pupil(t, "Emma", "Dubois")
	f.pupil(t, "Lucas", "Dubois")
	f.pupil(t, "Emma", "Peeters")
	for q, want := range map[string]int{"emma": 2, "dub": 2, "emma dub": 1, "x": 0, "%": 0} {
		got, err := f.store.SearchPupils(ctx, f.tenant.ID, q, 0)
		if err != nil || len(got) != want {
			t.Errorf("SearchPupils(%q) = %d, %v; want %d", q, len(got), err, want)
		}
	}
}

// TestStaffManagement: roles change, the list shows everyone, and the last
// active admin can neither be disabled nor lose the admin role; generated
// passwords are long, varied and accepted.
func TestStaffManagement(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	pw := NewStaffPassword()
	if len(pw) != 16 || pw == NewStaffPassword() || strings.ContainsAny(pw, "0O1lI") {
		t.Errorf("generated password %q", pw)
	}
	admin, err := s.CreateStaff(ctx, f.tenant.ID, StaffInput{Login: "direction", Password: pw, Roles: []Role{RoleAdmin}}, "system:setup")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateStaff(ctx, "direction", pw); err != nil {
		t.Fatalf("generated password refused: %v", err)
	}
	cook, err := s.CreateStaff(ctx, f.tenant.ID, StaffInput{Login: "cuisine", Password: NewStaffPassword(), Roles: []Role{RoleCanteen}}, admin.Actor())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetStaffRoles(ctx, f.tenant.ID, cook.ID, []Role{RoleCanteen, RoleKiosk}, admin.Actor()); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListStaff(ctx, f.tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Login != "cuisine" || !list[0].Has(RoleKiosk) || list[1].Login != "direction" {
		t.Errorf("staff list %+v", list)
	}
	if err := s.SetStaffRoles(ctx, f.tenant.ID, admin.ID, []Role{RoleCanteen}, admin.Actor()); !errors.Is(err, ErrInvalid) {
		t.Errorf("last admin loses the role: %v, want ErrInvalid", err)
	}
	if err := s.SetStaffActive(ctx, f.tenant.ID, admin.ID, false, admin.Actor()); !errors.Is(err, ErrInvalid) {
		t.Errorf("last admin disabled: %v, want ErrInvalid", err)
	}
	if err := s.SetStaffRoles(ctx, f.tenant.ID, admin.ID, []Role{}, admin.Actor()); !errors.Is(err, ErrInvalid) {
		t.Errorf("no roles: %v, want ErrInvalid", err)
	}
	// With a second admin, the first may step down.
	if err := s.SetStaffRoles(ctx, f.tenant.ID, cook.ID, []Role{RoleAdmin}, admin.Actor()); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStaffActive(ctx, f.tenant.ID, admin.ID, false, cook.Actor()); err != nil {
		t.Errorf("an admin disabled while another remains: %v", err)
	}
	if err := s.SetStaffRoles(ctx, f.tenant.ID, 999999, []Role{RoleKiosk}, admin.Actor()); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	if u, err := s.StaffUser(ctx, f.tenant.ID, admin.ID); err != nil || u.Active {
		t.Errorf("after disabling: %+v, %v", u, err)
	}
}
