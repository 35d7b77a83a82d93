package school

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/dbtest"
	"tartine/internal/password"
	"tartine/ledger"
	"tartine/sepa"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type fixture struct {
	store  *Store
	tenant Tenant
	school School
	class  Class
	clock  *time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := dbtest.New(t)
	clock := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	s := New(pool, ledger.New(pool, now), now)
	ctx := context.Background()
	ten, err := s.EnsureTenant(ctx, "po1", "PO un")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := s.EnsureSchool(ctx, ten.ID, SchoolInput{Code: "tilleuls", Name: "Les Tilleuls", IBAN: "BE68 5390 0754 7034"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.EnsureClass(ctx, ten.ID, sc.ID, "P3A", "P3")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, tenant: ten, school: sc, class: c, clock: &clock}
}

func (f *fixture) pupil(t *testing.T, first, last string) Pupil {
	t.Helper()
	p, err := f.store.CreatePupil(context.Background(), f.tenant.ID, PupilInput{SchoolID: f.school.ID, ClassID: f.class.ID, FirstName: first, LastName: last}, "test")
	if err != nil {
		t.Fatalf("create pupil %s %s: %v", first, last, err)
	}
	return p
}

func TestDummyHashIsWellFormed(t *testing.T) {
	if err := password.Verify("x", dummyHash); !errors.Is(err, password.ErrMismatch) {
		t.Fatalf("Verify(dummyHash) = %v, want ErrMismatch", err)
	}
}

func TestCreatePupilCreatesAccountsAndOGM(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.pupil(t, "Emma", "Dubois")
	if p.WalletAccountID == 0 || p.ReceivableAccountID == 0 {
		t.Fatalf("accounts not set: %+v", p)
	}
	if p.Level != "P3" || p.ClassCode != "P3A" || p.DisplayName() != "Emma D." {
		t.Errorf("pupil = %+v", p)
	}
	led := f.store.Ledger()
	w, err := led.Account(ctx, f.tenant.ID, p.WalletAccountID)
	if err != nil {
		t.Fatal(err)
	}
	if w.Code != WalletAccountCode(p.ID) || w.Type != ledger.Liability || w.Floor == nil || !w.Floor.Equal(decimal.RequireFromString("-10")) {
		t.Errorf("wallet = %+v (floor %v)", w, w.Floor)
	}
	r, err := led.Account(ctx, f.tenant.ID, p.ReceivableAccountID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != ReceivableAccountCode(p.ID) || r.Type != ledger.Asset || r.Tracked() {
		t.Errorf("receivable = %+v", r)
	}
	prefix, seq, err := sepa.SplitWalletOGM(p.WalletOGM)
	if err != nil || int(prefix) != f.tenant.OGMPrefix || seq != 1 {
		t.Errorf("OGM %q: prefix %d seq %d err %v, want prefix %d seq 1", p.WalletOGM, prefix, seq, err, f.tenant.OGMPrefix)
	}
	q := f.pupil(t, "Lucas", "Dubois")
	if q.WalletOGM == p.WalletOGM {
		t.Error("two pupils share an OGM")
	}
	got, err := f.store.PupilByOGM(ctx, f.tenant.ID, "+++"+q.WalletOGM[:3]+"/"+q.WalletOGM[3:7]+"/"+q.WalletOGM[7:]+"+++")
	if err != nil || got.ID != q.ID {
		t.Errorf("PupilByOGM = %v, %v", got.ID, err)
	}
	// A transfer can use the wallet at once.
	bank, _ := led.AccountByCode(ctx, f.tenant.ID, AccountBank)
	if _, err := led.Transfer(ctx, ledger.TransferRequest{TenantID: f.tenant.ID, IdempotencyKey: "t1", Kind: "topup", Actor: "test",
		Postings: []ledger.Posting{{AccountID: bank.ID, Amount: decimal.NewFromInt(5)}, {AccountID: p.WalletAccountID, Amount: decimal.NewFromInt(-5)}}}); err != nil {
		t.Fatal(err)
	}
	bal, _ := led.Balance(ctx, f.tenant.ID, p.WalletAccountID)
	if !bal.Posted.Equal(decimal.NewFromInt(5)) {
		t.Errorf("balance = %v, want 5", bal.Posted)
	}
}
