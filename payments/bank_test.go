package payments

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"tartine/ledger"
	"tartine/sepa"
)

func codaFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "sepa", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type bankEnv struct {
	*env
	bank   *Bank
	pupils map[string]int64 // by OGM
	wallet map[string]int64
}

func newBankEnv(t *testing.T) *bankEnv {
	t.Helper()
	e := &env{}
	pool := newPool(t)
	e.pool, e.ledger = pool, ledger.New(pool, nil)
	var err error
	if e.tenant, err = e.ledger.EnsureTenant(context.Background(), "po-bank", "PO banque"); err != nil {
		t.Fatal(err)
	}
	b := &bankEnv{env: e, bank: NewBank(e.ledger, nil), pupils: map[string]int64{}, wallet: map[string]int64{}}
	w := func(seq uint64) string {
		o, err := sepa.WalletOGM(42, seq)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	for name, ogm := range map[string]string{"Alice": "010806817183", "Bruno": w(1234), "Chloé": w(7), "Dina": w(76)} {
		b.pupils[ogm], b.wallet[ogm] = addPupil(t, pool, e.ledger, e.tenant, name, ogm)
	}
	return b
}

func TestImportCODA(t *testing.T) {
	b := newBankEnv(t)
	ctx := context.Background()

	rep, err := b.bank.ImportCODA(ctx, b.tenant, codaFile(t, "statement_ogm.cod"), "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Credited) != 1 || rep.Credited[0].PupilID != b.pupils["010806817183"] || !rep.CreditedTotal.Equal(dec("25")) {
		t.Errorf("credited = %+v, want 25.00 to Alice", rep.Credited)
	}
	if len(rep.Suspense) != 1 || !rep.SuspenseTotal.Equal(dec("40")) || rep.Suspense[0].CounterpartyName != "DUBOIS-LEROY FRANÇOIS" {
		t.Errorf("suspense = %+v, want the 40.00 free-text transfer", rep.Suspense)
	}
	if len(rep.Skipped) != 1 || !rep.Skipped[0].Amount.Equal(dec("-12.34")) {
		t.Errorf("skipped = %+v, want the bank charge", rep.Skipped)
	}
	if got := b.balance(t, b.wallet["010806817183"]); !got.Equal(dec("25")) {
		t.Errorf("Alice's wallet = %s, want 25", got)
	}
	lines := b.lines(t, b.wallet["010806817183"])
	if len(lines) != 1 || lines[0].Memo != "Virement bancaire" || lines[0].Kind != KindBankTransfer {
		t.Errorf("wallet history = %+v", lines)
	}

	// The same file again books nothing.
	rep, err = b.bank.ImportCODA(ctx, b.tenant, codaFile(t, "statement_ogm.cod"), "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if rep.AlreadyImported != 2 || len(rep.Credited) != 0 || len(rep.Suspense) != 0 {
		t.Errorf("re-import report = %+v, want 2 already imported", rep)
	}
	if got := b.balance(t, b.wallet["010806817183"]); !got.Equal(dec("25")) {
		t.Errorf("Alice's wallet after re-import = %s", got)
	}
	if got := b.codeBalance(t, CodeBank); !got.Equal(dec("65")) {
		t.Errorf("bank = %s, want 65 (25 + 40)", got)
	}
	if got := b.codeBalance(t, CodeSuspense); !got.Equal(dec("40")) {
		t.Errorf("suspense = %s, want 40", got)
	}
	b.verify(t)
}

func TestImportCODAGroupedMovements(t *testing.T) {
	b := newBankEnv(t)
	w := func(seq uint64) string { o, _ := sepa.WalletOGM(42, seq); return o }
	rep, err := b.bank.ImportCODA(context.Background(), b.tenant, codaFile(t, "statement_grouped.cod"), "")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.CreditedTotal.Equal(dec("65")) || len(rep.Credited) != 2 {
		t.Errorf("credited %s in %d lines, want 65.00 in 2 (Bruno 40, Chloé 25)", rep.CreditedTotal, len(rep.Credited))
	}
	if !rep.SuspenseTotal.Equal(dec("50")) || len(rep.Suspense) != 2 {
		t.Errorf("suspense %s in %d lines, want 50.00 in 2 (unknown OGMs)", rep.SuspenseTotal, len(rep.Suspense))
	}
	if len(rep.Skipped) != 1 {
		t.Errorf("skipped = %+v, want the grouped debit once", rep.Skipped)
	}
	for ogm, want := range map[string]string{w(1234): "40", w(7): "25"} {
		if got := b.balance(t, b.wallet[ogm]); !got.Equal(dec(want)) {
			t.Errorf("wallet of %s = %s, want %s", ogm, got, want)
		}
	}
	// The global amount (100.00) was not booked on top of its details.
	if got := b.codeBalance(t, CodeBank); !got.Equal(dec("115")) {
		t.Errorf("bank = %s, want 115", got)
	}
	b.verify(t)
}

func TestImportCODASuspenseAllocation(t *testing.T) {
	b := newBankEnv(t)
	ctx := context.Background()
	rep, err := b.bank.ImportCODA(ctx, b.tenant, codaFile(t, "two_statements_crlf.cod"), "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Statements != 2 || len(rep.Suspense) != 1 {
		t.Fatalf("report = %+v, want 2 statements and 1 movement in suspense", rep)
	}
	// "+++042/0000/00763+++ Emma": free text, and the check digits are wrong
	// anyway, so no suggestion.
	if rep.Suspense[0].SuggestedPupilID != 0 {
		t.Errorf("suggested pupil = %d, want none", rep.Suspense[0].SuggestedPupilID)
	}
	dinaOGM, _ := sepa.WalletOGM(42, 76)
	dina := b.pupils[dinaOGM]
	list, err := b.bank.Unallocated(ctx, b.tenant)
	if err != nil || len(list) != 1 || !list[0].Amount.Equal(dec("80")) {
		t.Fatalf("unallocated = %+v, %v", list, err)
	}
	if _, err := b.bank.Allocate(ctx, b.tenant, list[0].Key, dina, "staff:2"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.bank.Allocate(ctx, b.tenant, list[0].Key, dina, "staff:2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second allocation: %v, want ErrNotFound", err)
	}
	if got := b.balance(t, b.wallet[dinaOGM]); !got.Equal(dec("80")) {
		t.Errorf("Dina's wallet = %s, want 80", got)
	}
	if got := b.codeBalance(t, CodeSuspense); !got.IsZero() {
		t.Errorf("suspense = %s, want 0", got)
	}
	if list, _ := b.bank.Unallocated(ctx, b.tenant); len(list) != 0 {
		t.Errorf("still unallocated: %+v", list)
	}
	b.verify(t)
}

func TestImportCODARefusals(t *testing.T) {
	b := newBankEnv(t)
	ctx := context.Background()
	good := codaFile(t, "statement_ogm.cod")
	if _, err := b.bank.ImportCODA(ctx, b.tenant, good[:len(good)-40], ""); !errors.Is(err, ErrBadFile) {
		t.Errorf("truncated file: %v, want ErrBadFile", err)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE schools SET iban = 'BE71 0961 2345 6769' WHERE tenant_id = $1`, b.tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := b.bank.ImportCODA(ctx, b.tenant, good, ""); !errors.Is(err, ErrBadFile) {
		t.Errorf("other account's statement: %v, want ErrBadFile", err)
	}
	if n := b.count(t, `SELECT count(*) FROM transfers`); n != 0 {
		t.Errorf("%d transfers booked from refused files", n)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE schools SET iban = 'BE68 5390 0754 7034' WHERE tenant_id = $1`, b.tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := b.bank.ImportCODA(ctx, b.tenant, good, ""); err != nil {
		t.Errorf("own account's statement refused: %v", err)
	}
}

func TestOGMInText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+++042/0000/00763+++ Emma", ""}, // check digits wrong
		{"+++042/0000/00795+++ Emma", "042000000795"},
		{"Emma ***010/8068/17183***", "010806817183"},
		{"010806817183", "010806817183"},
		{"+++010/8068/17184+++", ""}, // wrong check digits
		{"Recharge cantine Emma", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ogmInText(tt.in); got != tt.want {
			t.Errorf("ogmInText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzOGMInText(f *testing.F) {
	for _, s := range []string{"+++042/0000/00795+++ Emma", "***010/8068/17183***", "123 4567 89012", "+++///+++"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ogmInText(s)
		if got == "" {
			return
		}
		if d, err := sepa.ParseOGM(got); err != nil || d != got {
			t.Errorf("ogmInText(%q) = %q, not a valid OGM (%v)", s, got, err)
		}
	})
}
