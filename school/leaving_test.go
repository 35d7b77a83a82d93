package school

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/jobs"
	"tartine/internal/mail"
	"tartine/ledger"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// topUp credits the pupil's wallet from the bank.
func (f *fixture) topUp(t *testing.T, p Pupil, key string, amount int64) {
	t.Helper()
	led := f.store.Ledger()
	bank, err := led.AccountByCode(context.Background(), f.tenant.ID, AccountBank)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := led.Transfer(context.Background(), ledger.TransferRequest{TenantID: f.tenant.ID, IdempotencyKey: key, Kind: "topup", Actor: "test",
		Postings: []ledger.Posting{{AccountID: bank.ID, Amount: decimal.NewFromInt(amount)}, {AccountID: p.WalletAccountID, Amount: decimal.NewFromInt(-amount)}}}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) guardianOf(t *testing.T, email string, pupils ...Pupil) Guardian {
	t.Helper()
	ctx := context.Background()
	g, err := f.store.CreateGuardian(ctx, f.tenant.ID, GuardianInput{FirstName: "Resp", LastName: email, Email: email, Phone: "0470 12 34 56", Address: "Rue 1"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pupils {
		if err := f.store.LinkGuardian(ctx, f.tenant.ID, g.ID, p.ID, "mère", "test"); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// TestRetentionPass: a pupil who left more than the retention period ago
// is pseudonymised by the job (names, allergies, diet, photo; its
// guardian's contacts when it has no other child kept), the books keep
// every amount and verify; a pupil within the period, and the guardian of
// an active child, are untouched. A shorter period set by the organising
// body takes the second one too.
func TestRetentionPass(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, ten := f.store, f.tenant.ID
	*f.clock = time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	mk := func(first, last string) Pupil {
		p, err := s.CreatePupil(ctx, ten, PupilInput{SchoolID: f.school.ID, ClassID: f.class.ID, ExternalRef: "M-" + first, FirstName: first, LastName: last,
			BirthDate: day(2017, 3, 4), Allergens: []Allergen{"peanuts"}, AllergyNotes: "épipen", Diet: []Diet{"vegetarian"}, PhotoConsent: true}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetPhoto(ctx, ten, p.ID, []byte("jpeg"), true, "test"); err != nil {
			t.Fatal(err)
		}
		return p
	}
	emma, lea, noah, zoe := mk("Emma", "Dubois"), mk("Léa", "Martin"), mk("Noah", "Martin"), mk("Zoé", "Lambert")
	f.topUp(t, emma, "t-emma", 12)
	f.topUp(t, zoe, "t-zoe", 7)
	marie := f.guardianOf(t, "marie@example.be", emma)
	paul := f.guardianOf(t, "paul@example.be", lea, noah) // Noah stays
	zoesMum := f.guardianOf(t, "anne@example.be", zoe)

	for _, l := range []struct {
		p  Pupil
		on time.Time
	}{{emma, day(2024, 6, 28)}, {lea, day(2024, 6, 28)}, {zoe, day(2025, 6, 30)}} {
		got, err := s.Leave(ctx, ten, l.p.ID, l.on, "staff:1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Active || !got.LeftAt.Equal(l.on) {
			t.Fatalf("after Leave(%s): active %v left %v", l.on.Format(time.DateOnly), got.Active, got.LeftAt)
		}
	}
	balances := func() map[int64]decimal.Decimal {
		out := map[int64]decimal.Decimal{}
		for _, p := range []Pupil{emma, lea, noah, zoe} {
			b, err := s.Ledger().Balance(ctx, ten, p.WalletAccountID)
			if err != nil {
				t.Fatal(err)
			}
			out[p.ID] = b.Posted
		}
		return out
	}
	before := balances()

	rep, err := s.RetentionPass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pupils != 2 || rep.Guardians != 1 {
		t.Errorf("report = %+v, want 2 pupils (Emma, Léa) and 1 guardian (Marie)", rep)
	}
	for _, p := range []Pupil{emma, lea} {
		got, err := s.Pupil(ctx, ten, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Pseudonymised || got.FirstName != PseudonymName(p.ID) || got.LastName != "" || got.ExternalRef != "" || !got.BirthDate.IsZero() ||
			len(got.Allergens) != 0 || got.AllergyNotes != "" || len(got.Diet) != 0 || got.HasPhoto || got.PhotoConsent {
			t.Errorf("%s after the period: %+v", p.FirstName, got)
		}
		if got.DisplayName() != PseudonymName(p.ID) {
			t.Errorf("display name %q, want %q", got.DisplayName(), PseudonymName(p.ID))
		}
		if _, err := s.PupilPhoto(ctx, ten, p.ID); !errors.Is(err, ErrNoPhoto) {
			t.Errorf("%s's photo: %v, want ErrNoPhoto", p.FirstName, err)
		}
		w, err := s.Ledger().Account(ctx, ten, got.WalletAccountID)
		if err != nil || w.Name != "Portefeuille "+PseudonymName(p.ID) {
			t.Errorf("wallet account name %q (%v)", w.Name, err)
		}
	}
	for _, p := range []Pupil{noah, zoe} {
		got, _ := s.Pupil(ctx, ten, p.ID)
		if got.Pseudonymised || got.FirstName != p.FirstName || got.AllergyNotes != "épipen" || !got.HasPhoto {
			t.Errorf("%s is kept, got %+v", p.FirstName, got)
		}
	}
	if g, _ := s.Guardian(ctx, ten, marie.ID); g.Email != "" || g.Phone != "" || g.Address != "" || g.LastName != "" || g.FirstName == "Resp" {
		t.Errorf("Marie (no other child) = %+v", g)
	}
	for _, id := range []int64{paul.ID, zoesMum.ID} {
		if g, _ := s.Guardian(ctx, ten, id); g.Email == "" || g.Phone == "" || g.FirstName != "Resp" {
			t.Errorf("guardian %d with a child kept = %+v", id, g)
		}
	}
	if after := balances(); !mapsEqual(before, after) {
		t.Errorf("balances %v, want %v", after, before)
	}
	if v, _, err := s.Ledger().Verify(ctx); err != nil || len(v) != 0 {
		t.Errorf("verify: %v %v", v, err)
	}
	// The wallet still works: a top-up after the pseudonymisation.
	f.topUp(t, emma, "t-emma-2", 1)
	if entries, err := s.AuditSearch(ctx, ten, 0, AuditFilter{Action: "pupil.pseudonymise"}, 10); err != nil || len(entries) != 2 ||
		entries[0].Actor != "system:retention" || entries[0].SubjectName == "Emma Dubois" {
		t.Errorf("audit: %+v %v", entries, err)
	}

	// A second pass does nothing more.
	if rep, err := s.RetentionPass(ctx); err != nil || rep.Pupils != 0 || rep.Guardians != 0 {
		t.Errorf("second pass = %+v %v", rep, err)
	}
	// Twelve months: Zoé (left 30 June 2025) is past them on 30 November 2026.
	if err := s.SetRetentionMonths(ctx, ten, 0, "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("0 months: %v, want ErrInvalid", err)
	}
	if err := s.SetRetentionMonths(ctx, ten, 12, "staff:1"); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.RetentionMonths(ctx, ten); m != 12 {
		t.Errorf("months = %d", m)
	}
	if rep, err := s.RetentionPass(ctx); err != nil || rep.Pupils != 1 || rep.Guardians != 1 {
		t.Errorf("pass at 12 months = %+v %v, want Zoé and her mother", rep, err)
	}
}

func mapsEqual(a, b map[int64]decimal.Decimal) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !b[k].Equal(v) {
			return false
		}
	}
	return true
}

// TestRetentionBoundary: the day before the period ends nothing happens;
// on its last day (leaving day + months, Brussels) the pupil goes.
func TestRetentionBoundary(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.pupil(t, "Hugo", "Leroy")
	*f.clock = time.Date(2024, 6, 28, 9, 0, 0, 0, time.UTC)
	if _, err := f.store.Leave(ctx, f.tenant.ID, p.ID, day(2024, 6, 28), "test"); err != nil {
		t.Fatal(err)
	}
	// 27 June 2026, 23:30 in Brussels (21:30 UTC): one day short.
	*f.clock = time.Date(2026, 6, 27, 21, 30, 0, 0, time.UTC)
	if rep, err := f.store.RetentionPass(ctx); err != nil || rep.Pupils != 0 {
		t.Fatalf("before the end: %+v %v", rep, err)
	}
	// 28 June 2026, 00:30 in Brussels (27 June 22:30 UTC).
	*f.clock = time.Date(2026, 6, 27, 22, 30, 0, 0, time.UTC)
	if rep, err := f.store.RetentionPass(ctx); err != nil || rep.Pupils != 1 {
		t.Fatalf("at the end: %+v %v", rep, err)
	}
}

// TestLeaveAhead: a leaving day ahead keeps the pupil active with its
// badge; on that day the job makes it inactive and returns the badge.
func TestLeaveAhead(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, ten := f.store, f.tenant.ID
	p := f.pupil(t, "Nora", "Peeters")
	b, err := s.CreateBadge(ctx, ten, BadgeInput{UID: "0A1B2C3D4E", Tech: TechEM4100, PupilID: p.ID}, "test")
	if err != nil {
		t.Fatal(err)
	}
	*f.clock = time.Date(2026, 12, 10, 10, 0, 0, 0, time.UTC)
	got, err := s.Leave(ctx, ten, p.ID, day(2026, 12, 19), "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Active || !got.LeftAt.Equal(day(2026, 12, 19)) {
		t.Fatalf("leaving ahead: %+v", got)
	}
	// An edit of the pupil keeps the date ahead.
	if got, err = s.UpdatePupil(ctx, ten, p.ID, PupilInput{SchoolID: f.school.ID, ClassID: f.class.ID, FirstName: "Nora", LastName: "Peeters"}, "t"); err != nil || !got.LeftAt.Equal(day(2026, 12, 19)) {
		t.Fatalf("after an edit: %+v %v", got, err)
	}
	if rep, err := s.RetentionPass(ctx); err != nil || rep.Left != 0 {
		t.Fatalf("before the day: %+v %v", rep, err)
	}
	*f.clock = time.Date(2026, 12, 18, 23, 30, 0, 0, time.UTC) // 19 December 00:30 in Brussels
	if rep, err := s.RetentionPass(ctx); err != nil || rep.Left != 1 {
		t.Fatalf("on the day: %+v %v", rep, err)
	}
	if got, _ = s.Pupil(ctx, ten, p.ID); got.Active {
		t.Error("still active on the leaving day")
	}
	if bb, _ := s.Badge(ctx, ten, b.ID); bb.PupilID != 0 || bb.Status != BadgeReturned {
		t.Errorf("badge after leaving: %+v", bb)
	}
}

// TestTransferToSibling: a leaver's balance goes to a sibling's wallet,
// not to a stranger's; a second try finds nothing.
func TestTransferToSibling(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, ten := f.store, f.tenant.ID
	emma, lucas, other := f.pupil(t, "Emma", "Dubois"), f.pupil(t, "Lucas", "Dubois"), f.pupil(t, "Noah", "Autre")
	f.guardianOf(t, "marie@example.be", emma, lucas)
	f.topUp(t, emma, "t1", 9)
	if _, err := s.TransferToSibling(ctx, ten, emma.ID, lucas.ID, "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("before leaving: %v, want ErrInvalid", err)
	}
	if _, err := s.Leave(ctx, ten, emma.ID, day(2026, 11, 30), "staff:1"); err != nil {
		t.Fatal(err)
	}
	if sibs, err := s.Siblings(ctx, ten, emma.ID); err != nil || len(sibs) != 1 || sibs[0].ID != lucas.ID {
		t.Errorf("siblings = %v %v", sibs, err)
	}
	if _, err := s.TransferToSibling(ctx, ten, emma.ID, other.ID, "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("to a stranger: %v, want ErrInvalid", err)
	}
	amount, err := s.TransferToSibling(ctx, ten, emma.ID, lucas.ID, "staff:1")
	if err != nil || !amount.Equal(decimal.NewFromInt(9)) {
		t.Fatalf("transfer = %v %v", amount, err)
	}
	if b, _ := s.Ledger().Balance(ctx, ten, lucas.WalletAccountID); !b.Posted.Equal(decimal.NewFromInt(9)) {
		t.Errorf("Lucas holds %v", b.Posted)
	}
	if _, err := s.TransferToSibling(ctx, ten, emma.ID, lucas.ID, "staff:1"); !errors.Is(err, ErrNothingToMove) {
		t.Errorf("again: %v, want ErrNothingToMove", err)
	}
}

// TestGuardianStatements: a guardian can stop receiving a pupil's
// statements, the last one cannot; statements go to those who receive.
func TestGuardianStatements(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, ten := f.store, f.tenant.ID
	emma := f.pupil(t, "Emma", "Dubois")
	mum, dad := f.guardianOf(t, "marie@example.be", emma), f.guardianOf(t, "paul@example.be", emma)
	if err := s.SetGuardianStatements(ctx, ten, dad.ID, emma.ID, false, "staff:1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GuardiansOfPupils(ctx, ten, []int64{emma.ID})
	if err != nil || len(got[emma.ID]) != 1 || got[emma.ID][0].ID != mum.ID {
		t.Fatalf("statement addressees = %+v %v, want the mother only", got, err)
	}
	if err := s.SetGuardianStatements(ctx, ten, mum.ID, emma.ID, false, "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("the last one: %v, want ErrInvalid", err)
	}
	// Unlinking the one who receives hands them to the other.
	if err := s.UnlinkGuardian(ctx, ten, mum.ID, emma.ID, "staff:1"); err != nil {
		t.Fatal(err)
	}
	links, _ := s.GuardiansOfPupil(ctx, ten, emma.ID)
	if len(links) != 1 || !links[0].Statements {
		t.Errorf("after unlinking: %+v", links)
	}
	// An edit is audited with the fields it changed, never their values.
	if _, err := s.UpdateGuardian(ctx, ten, dad.ID, GuardianInput{FirstName: "Resp", LastName: "paul@example.be", Email: "paul@example.be",
		Phone: "0470 99 99 99", Address: "Rue 1", Language: "en"}, "staff:1"); err != nil {
		t.Fatal(err)
	}
	e, err := s.AuditSearch(ctx, ten, 0, AuditFilter{Action: "guardian.update"}, 1)
	if err != nil || len(e) != 1 {
		t.Fatalf("audit %v %v", e, err)
	}
	changed, _ := e[0].Detail["changed"].([]any)
	if !slices.Equal(changed, []any{"phone", "language"}) {
		t.Errorf("changed = %v, want phone and language", e[0].Detail["changed"])
	}
}

// TestPhotoConsent: the consent is a field of the pupil; without it no
// photo is shown, whatever is stored.
func TestPhotoConsent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, ten := f.store, f.tenant.ID
	p, err := s.CreatePupil(ctx, ten, PupilInput{SchoolID: f.school.ID, ClassID: f.class.ID, FirstName: "Léa", LastName: "Martin", PhotoConsent: true}, "t")
	if err != nil || !p.PhotoConsent || p.HasPhoto {
		t.Fatalf("created: %+v %v", p, err)
	}
	if err := s.SetPhoto(ctx, ten, p.ID, []byte("jpeg"), true, "t"); err != nil {
		t.Fatal(err)
	}
	in := PupilInput{SchoolID: f.school.ID, ClassID: f.class.ID, FirstName: "Léa", LastName: "Martin"}
	if p, err = s.UpdatePupil(ctx, ten, p.ID, in, "t"); err != nil || p.PhotoConsent || p.HasPhoto {
		t.Fatalf("consent withdrawn: %+v %v", p, err)
	}
	if _, err := s.PupilPhoto(ctx, ten, p.ID); !errors.Is(err, ErrNoPhoto) {
		t.Errorf("photo without consent: %v, want ErrNoPhoto", err)
	}
	in.PhotoConsent = true
	if p, err = s.UpdatePupil(ctx, ten, p.ID, in, "t"); err != nil || !p.HasPhoto {
		t.Fatalf("consent given: %+v %v", p, err)
	}
	if b, err := s.PupilPhoto(ctx, ten, p.ID); err != nil || string(b) != "jpeg" {
		t.Errorf("photo with consent: %q %v", b, err)
	}
}

// TestImportPhotoConsent: the optional column sets the consent; a file
// without it keeps what was recorded.
func TestImportPhotoConsent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	imp := func(csv string) {
		t.Helper()
		if _, err := f.store.ImportPupils(ctx, strings.NewReader(csv), ImportOptions{TenantID: f.tenant.ID, SchoolID: f.school.ID, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	consent := func(ref string) bool {
		t.Helper()
		p, err := f.store.PupilByExternalRef(ctx, f.tenant.ID, ref)
		if err != nil {
			t.Fatal(err)
		}
		return p.PhotoConsent
	}
	imp("matricule;nom;prénom;classe;consentement_photo\nA1;Dubois;Emma;P3A;oui\nA2;Martin;Léa;P3A;non\n")
	if !consent("A1") || consent("A2") {
		t.Fatalf("consents %v %v, want oui, non", consent("A1"), consent("A2"))
	}
	imp("matricule;nom;prénom;classe\nA1;Dubois;Emma;P3A\n")
	if !consent("A1") {
		t.Error("a file without the column withdrew the consent")
	}
	imp("matricule;nom;prénom;classe;droit_image\nA1;Dubois;Emma;P3A;non\n")
	if consent("A1") {
		t.Error("consent not withdrawn by the file")
	}
	_, err := f.store.ImportPupils(ctx, strings.NewReader("matricule;nom;prénom;classe;photo\nA1;Dubois;Emma;P3A;peut-être\n"),
		ImportOptions{TenantID: f.tenant.ID, SchoolID: f.school.ID, DryRun: true})
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Rows) != 1 || ie.Rows[0].Column != "photo" {
		t.Errorf("bad value: %v", err)
	}
}

// TestRetentionJobOnTheQueue: the pass runs as the periodic job the server
// registers (internal/jobs, run on start), on the store's injected clock.
func TestRetentionJobOnTheQueue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.pupil(t, "Hugo", "Leroy")
	if _, err := f.store.Leave(ctx, f.tenant.ID, p.ID, day(2024, 6, 28), "test"); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(jobs.Config{Pool: f.store.Pool(), Mail: mail.LogSender{Log: slog.New(slog.DiscardHandler)}, PollInterval: 100 * time.Millisecond,
		Periodic: []jobs.Periodic{{Name: "pupil_retention", Every: time.Hour, Run: func(ctx context.Context) error {
			_, err := f.store.RetentionPass(ctx)
			return err
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := q.Start(qctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = q.Stop(stop)
	}()
	deadline := time.Now().Add(60 * time.Second) // a failure bound only
	for {
		got, err := f.store.Pupil(ctx, f.tenant.ID, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Pseudonymised {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job did not pseudonymise the pupil")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
