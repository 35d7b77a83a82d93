package migrations_test

import (
	"context"
	"strings"
	"testing"

	"tartine/internal/dbtest"
	"tartine/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestNoOutOfOrder: numbering is plain sequential and goose's out-of-order
// mode is off, so a file numbered below the database's version that it has
// not applied (here: 00011's record removed) is refused, not applied late.
func TestNoOutOfOrder(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.New(t) // every migration applied
	if pending, cur, target, err := migrations.Pending(ctx, pool); err != nil || pending || cur != target {
		t.Fatalf("fresh database: pending %v, version %d of %d, %v", pending, cur, target, err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = 11`); err != nil {
		t.Fatal(err)
	}
	_, err := migrations.Up(ctx, pool)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Up with 00011 missing below the current version = %v, want a refusal naming the missing migration", err)
	}
}
