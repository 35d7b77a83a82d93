package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

func TestCreateAndRenameAccountsTx(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	floor := d("-10.00")
	var wallet, receivable int64
	err := inTx(t, f, func(tx pgx.Tx) error {
		var err error
		if wallet, err = f.l.CreateAccountTx(ctx, tx, f.tenant, ledger.AccountSpec{Code: "wallet:9", Name: "Portefeuille Emma", Type: ledger.Liability, Floor: &floor}); err != nil {
			return err
		}
		receivable, err = f.l.CreateAccountTx(ctx, tx, f.tenant, ledger.AccountSpec{Code: "receivable:9", Name: "Frais scolaires Emma", Type: ledger.Asset})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.l.Account(ctx, f.tenant, wallet)
	if err != nil || !w.Tracked() || !w.Floor.Equal(floor) || w.Type != ledger.Liability || w.Name != "Portefeuille Emma" {
		t.Fatalf("wallet = %+v, %v; want a tracked liability with floor -10", w, err)
	}
	if r, err := f.l.Account(ctx, f.tenant, receivable); err != nil || r.Tracked() || r.Type != ledger.Asset {
		t.Fatalf("receivable = %+v, %v; want an untracked asset", r, err)
	}

	// A taken code is an error (the account must be new), and aborts tx.
	err = inTx(t, f, func(tx pgx.Tx) error {
		_, err := f.l.CreateAccountTx(ctx, tx, f.tenant, ledger.AccountSpec{Code: "wallet:9", Type: ledger.Liability, Floor: &floor})
		return err
	})
	if !errors.Is(err, ledger.ErrTxAborted) {
		t.Fatalf("taken code: %v, want ErrTxAborted", err)
	}

	err = inTx(t, f, func(tx pgx.Tx) error {
		return f.l.RenameAccountsTx(ctx, tx, f.tenant, map[int64]string{wallet: "Portefeuille élève #9", receivable: "Frais scolaires élève #9"})
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]string{wallet: "Portefeuille élève #9", receivable: "Frais scolaires élève #9"} {
		if a, err := f.l.Account(ctx, f.tenant, id); err != nil || a.Name != want {
			t.Errorf("account %d renamed %q, %v; want %q", id, a.Name, err, want)
		}
	}
}

func TestTenants(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	other, err := f.l.EnsureTenant(ctx, "ao-test", "AO test")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.l.Tenant(ctx, f.tenant); err != nil || got != (ledger.Tenant{ID: f.tenant, Code: "po-test", Name: "PO test"}) {
		t.Fatalf("tenant = %+v, %v", got, err)
	}
	if got, err := f.l.TenantByCode(ctx, "ao-test"); err != nil || got.ID != other {
		t.Fatalf("tenant by code = %+v, %v; want id %d", got, err, other)
	}
	if _, err := f.l.TenantByCode(ctx, "none"); !errors.Is(err, ledger.ErrUnknownTenant) {
		t.Fatalf("unknown code: %v, want ErrUnknownTenant", err)
	}
	all, err := f.l.Tenants(ctx)
	if err != nil || len(all) != 2 || all[0].Code != "ao-test" || all[1].Code != "po-test" {
		t.Fatalf("tenants = %+v, %v; want ao-test, po-test", all, err)
	}
}
