package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"tartine/ledger"
)

// TestVerifyExitCodes runs `tartine verify` on a healthy ledger (exit 0,
// one-line summary) and on a copy corrupted behind the triggers' back
// (exit 1, one line per violation naming the invariant).
func TestVerifyExitCodes(t *testing.T) {
	ctx := context.Background()
	getenv, pool, l := testLedger(t)
	tenant, err := l.EnsureTenant(ctx, "po-verify", "PO verify")
	if err != nil {
		t.Fatal(err)
	}
	zero := decimal.Zero
	wallet, err := l.EnsureAccount(ctx, tenant, ledger.AccountSpec{Code: "wallet:1", Type: ledger.Liability, Floor: &zero})
	if err != nil {
		t.Fatal(err)
	}
	clearing, err := l.EnsureAccount(ctx, tenant, ledger.AccountSpec{Code: "stripe-clearing", Type: ledger.Asset})
	if err != nil {
		t.Fatal(err)
	}
	ten := decimal.NewFromInt(10)
	if _, err := l.Transfer(ctx, ledger.TransferRequest{TenantID: tenant, IdempotencyKey: "t1", Kind: "topup",
		Postings: []ledger.Posting{{AccountID: clearing.ID, Amount: ten}, {AccountID: wallet.ID, Amount: ten.Neg()}}}); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := run(ctx, []string{"verify"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("verify on a healthy ledger: %v\n%s", err, out.String())
	}
	if got := out.String(); !strings.HasPrefix(got, "verify: ok") || strings.Count(got, "\n") != 1 || !strings.Contains(got, "1 transfer(s)") {
		t.Fatalf("healthy output = %q, want one 'verify: ok' line counting 1 transfer", got)
	}

	// A superuser edits a posting with the immutability trigger off.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `SET session_replication_role = replica`)
	if err == nil {
		_, err = conn.Exec(ctx, `UPDATE postings SET amount = 11 WHERE account_id = $1`, clearing.ID)
	}
	conn.Conn().Close(ctx)
	conn.Release()
	if err != nil {
		t.Fatal(err)
	}

	out.Reset()
	err = run(ctx, []string{"verify"}, getenv, &out, io.Discard)
	var ec exitCode
	if !errors.As(err, &ec) || ec != 1 {
		t.Fatalf("verify on a corrupted ledger: err = %v, want exit status 1\n%s", err, out.String())
	}
	for _, want := range []string{"VIOLATION transfer balances: ", "VIOLATION tenant sums to zero: ", "verify: 2 violation(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
