package school

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestPupilsAreNeverDeleted: pupils are pseudonymised when they have left,
// never deleted (migration 00099: bank movements refer to them without a
// foreign key); the database refuses a delete, a truncate or a change of
// key whoever connects, and keeps accepting the updates Tartine makes.
func TestPupilsAreNeverDeleted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.pupil(t, "Emma", "Dubois")
	for _, sql := range []string{
		`DELETE FROM pupils WHERE tenant_id = $1 AND id = $2`,
		`UPDATE pupils SET id = DEFAULT WHERE tenant_id = $1 AND id = $2`,
		`TRUNCATE pupils CASCADE`,
	} {
		args := []any{f.tenant.ID, p.ID}
		if strings.HasPrefix(sql, "TRUNCATE") {
			args = nil
		}
		_, err := f.store.pool.Exec(ctx, sql, args...)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "P0001" || !strings.Contains(err.Error(), "tartine:immutable") {
			t.Errorf("%s: got %v, want tartine:immutable", sql, err)
		}
	}
	if _, err := f.store.pool.Exec(ctx, `UPDATE pupils SET first_name = 'Emma-Lou' WHERE tenant_id = $1 AND id = $2`, f.tenant.ID, p.ID); err != nil {
		t.Errorf("rename: %v", err)
	}
}
