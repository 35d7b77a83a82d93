package payments

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"tartine/ledger"
	"tartine/sepa"
)

// setCODA returns a copy of a CODA file with s written at 1-based position
// pos of 1-based line n.
func setCODA(t *testing.T, data []byte, n, pos int, s string) []byte {
	t.Helper()
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if n > len(lines) || pos-1+len(s) > len(lines[n-1]) {
		t.Fatalf("no position %d of line %d", pos, n)
	}
	line := append([]byte(nil), lines[n-1]...)
	copy(line[pos-1:], s)
	lines[n-1] = line
	return append(bytes.Join(lines, []byte("\n")), '\n')
}

// TestImportCODAGlobalisation: a parent's transfer globalised by the bank
// with its charge credits the parent's child with what the account
// received, under the total's structured communication and payer; nothing
// waits in suspense and the charge is not lost.
func TestImportCODAGlobalisation(t *testing.T) {
	b := newBankEnv(t)
	w := func(seq uint64) string { o, _ := sepa.WalletOGM(42, seq); return o }
	rep, err := b.bank.ImportCODA(context.Background(), b.tenant, codaFile(t, "statement_globalisation.cod"), "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Suspense) != 0 || len(rep.Skipped) != 0 {
		t.Errorf("suspense %+v skipped %+v, want none", rep.Suspense, rep.Skipped)
	}
	if len(rep.Credited) != 3 || !rep.CreditedTotal.Equal(dec("98.25")) {
		t.Errorf("credited %s in %d lines, want 98.25 in 3", rep.CreditedTotal, len(rep.Credited))
	}
	if len(rep.Credited) > 0 && (rep.Credited[0].CounterpartyName != "MARTIN SOPHIE" || rep.Credited[0].OGM != w(1234)) {
		t.Errorf("first credit = %+v, want MARTIN SOPHIE with the total's OGM", rep.Credited[0])
	}
	for ogm, want := range map[string]string{w(1234): "48.5", w(76): "29.75", w(7): "20"} {
		if got := b.balance(t, b.wallet[ogm]); !got.Equal(dec(want)) {
			t.Errorf("wallet of %s = %s, want %s", ogm, got, want)
		}
	}
	if got := b.codeBalance(t, CodeBank); !got.Equal(dec("98.25")) {
		t.Errorf("bank = %s, want 98.25 (what the account received)", got)
	}
	if got := b.codeBalance(t, CodeSuspense); !got.IsZero() {
		t.Errorf("suspense = %s, want 0", got)
	}
	b.verify(t)
}

// TestImportCODABBANAccount: a statement that names the school's own
// account in the old Belgian form is the school's; the 140th character of a
// free communication is kept.
func TestImportCODABBANAccount(t *testing.T) {
	b := newBankEnv(t)
	ctx := context.Background()
	if _, err := b.pool.Exec(ctx, `UPDATE schools SET iban = 'BE68 5390 0754 7034' WHERE tenant_id = $1`, b.tenant); err != nil {
		t.Fatal(err)
	}
	rep, err := b.bank.ImportCODA(ctx, b.tenant, codaFile(t, "statement_bban.cod"), "")
	if err != nil {
		t.Fatalf("own account in BBAN form refused: %v", err)
	}
	if len(rep.Credited) != 1 || rep.Credited[0].Account != "BE68539007547034" {
		t.Errorf("credited = %+v, want Alice's 25.00 on BE68539007547034", rep.Credited)
	}
	if len(rep.Suspense) != 1 || !strings.HasSuffix(rep.Suspense[0].Communication, "d'annéeZ") || len([]rune(rep.Suspense[0].Communication)) != 140 {
		t.Errorf("suspense = %+v, want the 140-character communication whole", rep.Suspense)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE schools SET iban = 'BE71 0961 2345 6769' WHERE tenant_id = $1`, b.tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := b.bank.ImportCODA(ctx, b.tenant, codaFile(t, "statement_bban.cod"), ""); !errors.Is(err, ErrBadFile) {
		t.Errorf("another account's statement in BBAN form: %v, want ErrBadFile", err)
	}
}

// TestImportCODAThirdDecimal: a file with an amount of a tenth of a cent,
// its balances and trailer adding up, is refused whole before anything is
// booked, naming the line; the corrected file imports.
func TestImportCODAThirdDecimal(t *testing.T) {
	b := newBankEnv(t)
	ctx := context.Background()
	good := codaFile(t, "statement_ogm.cod")
	// Line 7 is the 40.00 credit (after Alice's 25.00 on line 3); line 12 the
	// new balance, line 13 the trailer's credit total.
	bad := setCODA(t, good, 7, 33, "000000000040001")
	bad = setCODA(t, bad, 12, 43, "000000001287221")
	bad = setCODA(t, bad, 13, 38, "000000000065001")
	_, err := b.bank.ImportCODA(ctx, b.tenant, bad, "")
	if !errors.Is(err, ErrBadFile) {
		t.Fatalf("error = %v, want ErrBadFile", err)
	}
	for _, want := range []string{"line 7", "amount", "third decimal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM transfers`); n != 0 {
		t.Errorf("%d transfers booked from a refused file", n)
	}
	rep, err := b.bank.ImportCODA(ctx, b.tenant, good, "")
	if err != nil || len(rep.Credited) != 1 || len(rep.Suspense) != 1 {
		t.Fatalf("corrected file: %+v, %v", rep, err)
	}
	b.verify(t)
}

// TestImportCODAAllOrNothing: a ledger refusal half-way through a file
// (a movement dated in a closed period) books nothing of the file, the
// lines before it included; the corrected file then books it all, once.
func TestImportCODAAllOrNothing(t *testing.T) {
	b := newBankEnv(t)
	ctx := context.Background()
	w := func(seq uint64) string { o, _ := sepa.WalletOGM(42, seq); return o }
	good := codaFile(t, "statement_globalisation.cod")
	// Line 13 is the third movement's record 2.1: its entry date goes back
	// to 1 December, into the closed period.
	bad := setCODA(t, good, 13, 116, "011226")
	if err := b.ledger.ClosePeriod(ctx, b.tenant, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), "accountant"); err != nil {
		t.Fatal(err)
	}
	_, err := b.bank.ImportCODA(ctx, b.tenant, bad, "")
	if !errors.Is(err, ledger.ErrPeriodClosed) {
		t.Fatalf("error = %v, want ErrPeriodClosed", err)
	}
	if !strings.Contains(err.Error(), "nothing from this file was booked") {
		t.Errorf("error %q does not say that nothing was booked", err)
	}
	if n := b.count(t, `SELECT count(*) FROM transfers`); n != 0 {
		t.Errorf("%d transfers booked by the refused import, want 0", n)
	}
	if n := b.count(t, `SELECT count(*) FROM bank_movements`); n != 0 {
		t.Errorf("%d bank movements recorded by the refused import, want 0", n)
	}
	for i := 0; i < 2; i++ {
		rep, err := b.bank.ImportCODA(ctx, b.tenant, good, "")
		if err != nil {
			t.Fatalf("corrected file, import %d: %v", i+1, err)
		}
		if i == 1 && (rep.AlreadyImported != 3 || len(rep.Credited) != 0) {
			t.Errorf("second import = %+v, want 3 already imported", rep)
		}
	}
	if got := b.balance(t, b.wallet[w(1234)]); !got.Equal(dec("48.5")) {
		t.Errorf("wallet = %s, want 48.50", got)
	}
	if got := b.codeBalance(t, CodeBank); !got.Equal(dec("98.25")) {
		t.Errorf("bank = %s, want 98.25", got)
	}
	b.verify(t)
}
