package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"tartine/ledger"
)

// TestImportCODACommand imports a CODA file twice: the first run credits the
// pupil whose OGM it carries and lists the free-text transfer to allocate,
// the second books nothing.
func TestImportCODACommand(t *testing.T) {
	ctx := context.Background()
	getenv, pool, l := testLedger(t)
	tenant, err := l.EnsureTenant(ctx, "po-coda", "PO CODA")
	if err != nil {
		t.Fatal(err)
	}
	zero := decimal.Zero
	var school, pupil int64
	if err := pool.QueryRow(ctx, `INSERT INTO schools (tenant_id, code, name) VALUES ($1, 'e', 'École') RETURNING id`, tenant).Scan(&school); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO pupils (tenant_id, school_id, first_name, last_name, level, wallet_ogm)
		VALUES ($1, $2, 'Emma', 'Dupont', 'P3', '010806817183') RETURNING id`, tenant, school).Scan(&pupil); err != nil {
		t.Fatal(err)
	}
	w, err := l.EnsureAccount(ctx, tenant, ledger.AccountSpec{Code: "wallet:x", Type: ledger.Liability, Floor: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE pupils SET wallet_account_id = $1 WHERE id = $2`, w.ID, pupil); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("..", "..", "sepa", "testdata", "statement_ogm.cod")

	var out bytes.Buffer
	if err := run(ctx, []string{"import", "coda", file}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("import coda: %v\n%s", err, out.String())
	}
	for _, want := range []string{"portefeuilles crédités : 1 virement(s), 25,00\u00a0€", "à affecter à la main (compte d'attente 499) : 1 virement(s), 40,00\u00a0€", "DUBOIS-LEROY FRANÇOIS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(ctx, []string{"import", "coda", file}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "déjà importés : 2") || !strings.Contains(out.String(), "crédités : 0") {
		t.Errorf("second import output:\n%s", out.String())
	}
	b, err := l.Balance(ctx, tenant, w.ID)
	if err != nil || !b.Posted.Equal(decimal.NewFromInt(25)) {
		t.Errorf("wallet = %v, %v; want 25", b.Posted, err)
	}
	if err := run(ctx, []string{"import", "coda", filepath.Join("..", "..", "go.mod")}, getenv, io.Discard, io.Discard); err == nil {
		t.Errorf("a non-CODA file was accepted")
	}
}
