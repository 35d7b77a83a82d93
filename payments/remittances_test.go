package payments

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

// drawer is a kiosk station with a cash drawer holding some cash.
type drawer struct {
	station, cash int64
}

// newDrawer creates the kiosk station kiosk-1 of the tenant's school and
// puts amount in its drawer (a cash top-up of the first pupil's wallet).
func (b *bankEnv) newDrawer(t *testing.T, amount string) drawer {
	t.Helper()
	ctx := context.Background()
	var d drawer
	if err := b.pool.QueryRow(ctx, `INSERT INTO stations (tenant_id, school_id, code, name, kind)
		SELECT $1, id, 'kiosk-1', 'Accueil', 'kiosk' FROM schools WHERE tenant_id = $1 AND code = 'ecole' RETURNING id`,
		b.tenant).Scan(&d.station); err != nil {
		t.Fatal(err)
	}
	a, err := b.ledger.EnsureAccount(ctx, b.tenant, ledger.AccountSpec{Code: "cash:kiosk-1", Name: "Caisse", Type: ledger.Asset})
	if err != nil {
		t.Fatal(err)
	}
	d.cash = a.ID
	var wallet int64
	for _, w := range b.wallet {
		wallet = w
		break
	}
	if _, err := b.ledger.Transfer(ctx, ledger.TransferRequest{TenantID: b.tenant, IdempotencyKey: "test-cash-in", Kind: "kiosk-topup", Actor: "staff:1",
		Postings: []ledger.Posting{{AccountID: d.cash, Amount: dec(amount)}, {AccountID: wallet, Amount: dec(amount).Neg()}}}); err != nil {
		t.Fatal(err)
	}
	return d
}

// remit records a remittance as the kiosk does, in its own transaction.
func (b *bankEnv) remit(d drawer, amount, token, carrier string, day time.Time) (Remittance, error) {
	var r Remittance
	err := pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error {
		var err error
		r, err = b.bank.RecordRemittanceTx(context.Background(), tx, RemittanceRequest{TenantID: b.tenant, StationID: d.station, Station: "kiosk-1",
			CashAccountID: d.cash, Amount: dec(amount), Carrier: carrier, FormToken: token, Actor: "staff:1", At: day.Add(17 * time.Hour), Day: day})
		return err
	})
	return r, err
}

var refPattern = regexp.MustCompile(`^DEP-2026-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$`)

func TestRecordRemittance(t *testing.T) {
	b := newBankEnv(t)
	d := b.newDrawer(t, "100")
	day := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

	r, err := b.remit(d, "40", "tok-a", " Marie Dupont ", day)
	if err != nil {
		t.Fatal(err)
	}
	if !refPattern.MatchString(r.Reference) || r.Carrier != "Marie Dupont" || r.Replay || r.TransferID == 0 {
		t.Errorf("remittance = %+v", r)
	}
	if got := b.balance(t, d.cash); !got.Equal(dec("60")) {
		t.Errorf("drawer = %s, want 60", got)
	}
	if got := b.codeBalance(t, CodeCashInTransit); !got.Equal(dec("40")) {
		t.Errorf("cash-in-transit = %s, want 40", got)
	}
	var key, kind string
	if err := b.pool.QueryRow(context.Background(), `SELECT idempotency_key, kind FROM transfers WHERE tenant_id = $1 AND id = $2`,
		b.tenant, r.TransferID).Scan(&key, &kind); err != nil || key != "kiosk-remit:tok-a" || kind != KindCashRemittance {
		t.Errorf("transfer = %q %q, %v", key, kind, err)
	}

	// The same form again: the same remittance, nothing written.
	transfers := b.count(t, `SELECT count(*) FROM transfers`)
	again, err := b.remit(d, "40", "tok-a", "Marie Dupont", day)
	if err != nil || !again.Replay || again.Reference != r.Reference || again.ID != r.ID {
		t.Errorf("replay = %+v, %v; want remittance %s again", again, err, r.Reference)
	}
	if _, err := b.remit(d, "41", "tok-a", "Marie Dupont", day); !errors.Is(err, ErrFormUsed) {
		t.Errorf("same form, other amount: %v, want ErrFormUsed", err)
	}
	if n := b.count(t, `SELECT count(*) FROM transfers`); n != transfers {
		t.Errorf("replays booked %d transfers", n-transfers)
	}

	// More than the drawer holds: refused, saying how much it holds.
	_, err = b.remit(d, "60.01", "tok-b", "", day)
	var short *DrawerShortError
	if !errors.As(err, &short) || !errors.Is(err, ErrDrawerShort) || !short.Holds.Equal(dec("60")) {
		t.Errorf("60.01 from a drawer of 60: %v, want a DrawerShortError holding 60", err)
	}
	for _, bad := range []struct{ amount, carrier string }{{"0", ""}, {"-5", ""}, {"1.234", ""}, {"5", "a\nb"}, {"5", string(make([]rune, MaxCarrierLen+1))}} {
		if _, err := b.remit(d, bad.amount, "tok-c", bad.carrier, day); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("amount %q carrier %q: %v, want ErrInvalidRequest", bad.amount, bad.carrier, err)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM cash_remittances`); n != 1 {
		t.Errorf("%d remittances recorded, want 1", n)
	}
	// The whole drawer may go.
	if _, err := b.remit(d, "60", "tok-d", "", day); err != nil {
		t.Errorf("the whole drawer: %v", err)
	}
	open, err := b.bank.RemittancesInTransit(context.Background(), b.tenant)
	if err != nil || len(open) != 2 || open[0].Reference != r.Reference || open[0].Station != "kiosk-1" || open[0].AgeDays(day.AddDate(0, 0, 6)) != 6 {
		t.Errorf("in transit = %+v, %v", open, err)
	}
	b.verify(t)
}

// TestRemittanceFromCODA: statement_ogm.cod's 40.00 € credit (value date
// 30 November 2026) is a remittance when it carries its reference, has its
// amount and comes within ten days of it; otherwise it waits in suspense.
func TestRemittanceFromCODA(t *testing.T) {
	nov := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name    string
		amount  string
		day     time.Time
		comm    func(ref string) string
		matched bool
	}{
		{"reference in the communication", "40", nov(28), func(ref string) string { return "VERSEMENT ESPECES " + ref }, true},
		{"reference copied loosely", "40", nov(28), func(ref string) string { return "dep " + ref[4:8] + " " + ref[9:] + " accueil" }, true},
		{"same day", "40", nov(30), func(ref string) string { return ref }, true},
		{"ten days later", "40", nov(20), func(ref string) string { return ref }, true},
		{"eleven days later", "40", nov(19), func(ref string) string { return ref }, false},
		{"before the remittance", "40", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), func(ref string) string { return ref }, false},
		{"another amount", "39.99", nov(28), func(ref string) string { return ref }, false},
		{"no reference", "40", nov(28), func(string) string { return "VERSEMENT ESPECES" }, false},
		{"another reference", "40", nov(28), func(string) string { return "DEP-2026-ZZZZZZ" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBankEnv(t)
			ctx := context.Background()
			d := b.newDrawer(t, "100")
			r, err := b.remit(d, tt.amount, "tok-1", "", tt.day)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := b.bank.ImportCODA(ctx, b.tenant, codaWithLine(t, tt.comm(r.Reference), "ECOLE SAINT-JOSEPH"), "staff:2")
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.bank.RemittanceByReference(ctx, b.tenant, r.Reference)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.matched {
				if len(rep.Remittances) != 0 || got.Arrived() || len(rep.Suspense) != 1 || !rep.SuspenseTotal.Equal(dec("40")) {
					t.Errorf("matched: report %+v, remittance %+v; want the line in suspense", rep, got)
				}
				if tr := b.codeBalance(t, CodeCashInTransit); !tr.Equal(dec(tt.amount)) {
					t.Errorf("cash-in-transit = %s, want %s", tr, tt.amount)
				}
				b.verify(t)
				return
			}
			if len(rep.Remittances) != 1 || rep.Remittances[0].RemittanceRef != r.Reference || !rep.RemittancesTotal.Equal(dec("40")) || len(rep.Suspense) != 0 {
				t.Fatalf("report = %+v, want the 40.00 line as remittance %s", rep, r.Reference)
			}
			line := rep.Remittances[0]
			if !got.Arrived() || got.ArrivalTransferID != line.TransferID || got.BankMovementKey != line.Key || got.ArrivedAt == nil || got.ArrivedBy != "staff:2" {
				t.Errorf("remittance after import = %+v", got)
			}
			var key, kind string
			if err := b.pool.QueryRow(ctx, `SELECT idempotency_key, kind FROM transfers WHERE tenant_id = $1 AND id = $2`,
				b.tenant, line.TransferID).Scan(&key, &kind); err != nil || key != "cash-remittance:"+r.Reference || kind != KindRemittanceArrival {
				t.Errorf("arrival transfer = %q %q, %v", key, kind, err)
			}
			if n := b.count(t, `SELECT count(*) FROM bank_movements WHERE status = 'remittance' AND transfer_id = $1`, line.TransferID); n != 1 {
				t.Errorf("bank movement of the remittance recorded %d times", n)
			}
			for code, want := range map[string]string{CodeCashInTransit: "0", CodeBank: "65", CodeSuspense: "0"} {
				if got := b.codeBalance(t, code); !got.Equal(dec(want)) {
					t.Errorf("%s = %s, want %s", code, got, want)
				}
			}
			if open, err := b.bank.RemittancesInTransit(ctx, b.tenant); err != nil || len(open) != 0 {
				t.Errorf("in transit after import = %+v, %v", open, err)
			}
			// Importing the file again books nothing.
			rep, err = b.bank.ImportCODA(ctx, b.tenant, codaWithLine(t, tt.comm(r.Reference), "ECOLE SAINT-JOSEPH"), "staff:2")
			if err != nil || rep.AlreadyImported != 2 || len(rep.Remittances) != 0 {
				t.Errorf("re-import = %+v, %v", rep, err)
			}
			b.verify(t)
		})
	}
}

// TestAllocateRemittanceFromSuspense: a deposit line without the reference
// waits in suspense, then is allocated to the remittance by hand, once.
func TestAllocateRemittanceFromSuspense(t *testing.T) {
	b := newBankEnv(t)
	ctx := context.Background()
	d := b.newDrawer(t, "100")
	day := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	r, err := b.remit(d, "40", "tok-1", "", day)
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.remit(d, "41", "tok-2", "", day)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := b.bank.ImportCODA(ctx, b.tenant, codaWithLine(t, "VERSEMENT ESPECES", "ECOLE SAINT-JOSEPH"), "")
	if err != nil || len(rep.Suspense) != 1 || len(rep.Remittances) != 0 {
		t.Fatalf("import: %+v, %v; want the 40.00 line in suspense", rep, err)
	}
	key := rep.Suspense[0].Key

	if _, err := b.bank.AllocateRemittance(ctx, b.tenant, key, other.Reference, "staff:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remittance of another amount: %v, want ErrNotFound", err)
	}
	if _, err := b.bank.AllocateRemittance(ctx, b.tenant, key, "DEP-2026-ZZZZZZ", "staff:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown remittance: %v, want ErrNotFound", err)
	}
	tr, err := b.bank.AllocateRemittance(ctx, b.tenant, key, r.Reference, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.bank.AllocateRemittance(ctx, b.tenant, key, r.Reference, "staff:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second allocation: %v, want ErrNotFound", err)
	}
	got, err := b.bank.RemittanceByReference(ctx, b.tenant, r.Reference)
	if err != nil || !got.Arrived() || got.ArrivalTransferID != tr || got.BankMovementKey != key {
		t.Errorf("remittance after allocation = %+v, %v", got, err)
	}
	for code, want := range map[string]string{CodeCashInTransit: "41", CodeSuspense: "0", CodeBank: "65"} {
		if got := b.codeBalance(t, code); !got.Equal(dec(want)) {
			t.Errorf("%s = %s, want %s", code, got, want)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM bank_movements WHERE tenant_id = $1 AND key = $2 AND status = 'remittance' AND allocation_transfer_id = $3`,
		b.tenant, key, tr); n != 1 {
		t.Errorf("bank movement not marked remittance")
	}
	open, err := b.bank.RemittancesInTransit(ctx, b.tenant)
	if err != nil || len(open) != 1 || open[0].Reference != other.Reference {
		t.Errorf("in transit = %+v, %v; want %s only", open, err, other.Reference)
	}
	if list, _ := b.bank.Unallocated(ctx, b.tenant); len(list) != 0 {
		t.Errorf("unallocated = %+v, want none", list)
	}
	b.verify(t)
}

func TestCompactRef(t *testing.T) {
	for in, want := range map[string]string{
		"DEP-2026-7KQ4XM":             "DEP20267KQ4XM",
		"dep 2026 7kq4xm":             "DEP20267KQ4XM",
		"+++090/9337/55493+++":        "090933755493",
		"Versement Éspèces (accueil)": "VERSEMENTSPCESACCUEIL",
	} {
		if got := compactRef(in); got != want {
			t.Errorf("compactRef(%q) = %q, want %q", in, got, want)
		}
	}
}
