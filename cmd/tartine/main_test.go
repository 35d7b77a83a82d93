package main

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/internal/db"
	"tartine/internal/dbtest"
	"tartine/ledger"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testLedger gives a command test a fresh migrated database: a getenv that
// names it as DATABASE_URL, a pool (closed at the end) and a ledger on it.
func testLedger(t *testing.T) (getenv func(string) string, pool *pgxpool.Pool, l *ledger.Ledger) {
	t.Helper()
	dsn := dbtest.NewDSN(t)
	pool, err := db.Open(context.Background(), dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return getenvFrom(map[string]string{"DATABASE_URL": dsn}), pool, ledger.New(pool, nil)
}
