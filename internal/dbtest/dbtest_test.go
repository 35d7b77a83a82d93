package dbtest_test

import (
	"context"
	"testing"

	"tartine/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestFreshDatabasesAreIsolated(t *testing.T) {
	ctx := context.Background()
	a, b := dbtest.New(t), dbtest.New(t)
	if _, err := a.Exec(ctx, "INSERT INTO tenants (code, name) VALUES ('po-a', 'PO A')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.QueryRow(ctx, "SELECT count(*) FROM tenants").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second database sees %d tenants of the first, want 0", n)
	}
}
