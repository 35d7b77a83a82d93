// Package migrations holds Tartine's forward-only SQL migrations, embedded in
// the binary, and applies them with goose. Each numbered file runs in its own
// transaction and is recorded in goose_db_version.
//
// Numbering: plain sequential. A new migration takes the highest number in
// this folder plus one (00095 after 00094), whatever package owns its
// tables (docs/ARCHITECTURE.md says which); two changes that would take the
// same number are ordered when they are merged, the later one renumbered
// before it ships. A file once shipped is never edited nor renumbered:
// goose_db_version records the numbers applied.
//
// History: up to 00081 each package had its own range (00001– ledger,
// 00010– school, 00015– booking, 00020– terminal, 00030– portal, 00040–
// payments, 00050– fees, 00060– statements, 00070– security, 00080– books
// and the ledger's year close), so the early numbers keep gaps (00003–09,
// 00012–14, 00016–19, 00021–24, 00026–29, 00032–39, 00046–49, 00051–59,
// 00061–69, 00071–79). Gaps are harmless to goose; what mattered is that a
// lower number could ship after a higher one was applied (00025 after
// 00041), which needed goose's out-of-order mode. That mode is now OFF
// (no WithAllowOutofOrder below): there is no production database yet, every
// test database is created fresh with every file, so no database holds a
// history that sequential numbering could not continue. A file numbered
// below a database's version that it has not applied is refused ("missing
// migrations"), never applied late (TestNoOutOfOrder). A development
// database (./var/pg) that applied a file later renumbered or preceded by a
// newer lower number must be recreated (remove ./var/pg, run `tartine demo`
// or `tartine migrate` again). The numbers after 00083 were closed up
// (00084–00094) before any of them shipped, so no gap remains after the
// per-package ranges; renumbering a file any production database has
// applied is never allowed.
//
// The job queue's tables (river_job, river_leader, …) are river's own,
// applied by river's migrator (rivermigrate) right after the SQL files, so
// that they always match the river version the binary is built with.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

func provider(pool *pgxpool.Pool) (*goose.Provider, func(), error) {
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, func() { db.Close() }, nil
}

// Up applies every pending migration and returns how many ran.
func Up(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	p, done, err := provider(pool)
	if err != nil {
		return 0, err
	}
	defer done()
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("apply migrations: %w", err)
	}
	q, err := queueMigrator(pool)
	if err != nil {
		return len(res), err
	}
	qres, err := q.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return len(res), fmt.Errorf("apply job queue migrations: %w", err)
	}
	return len(res) + len(qres.Versions), nil
}

func queueMigrator(pool *pgxpool.Pool) (*rivermigrate.Migrator[pgx.Tx], error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("job queue migrations: %w", err)
	}
	return m, nil
}

// queuePending reports whether river's migrations are behind this binary.
func queuePending(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	m, err := queueMigrator(pool)
	if err != nil {
		return false, err
	}
	all := m.AllVersions()
	have, err := m.ExistingVersions(ctx)
	if err != nil {
		// No river_migration table yet: everything is pending.
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			return true, nil
		}
		return false, fmt.Errorf("read job queue schema version: %w", err)
	}
	return len(have) < len(all), nil
}

// Pending reports whether the database schema is behind this binary, with
// the current and target versions.
func Pending(ctx context.Context, pool *pgxpool.Pool) (pending bool, current, target int64, err error) {
	p, done, err := provider(pool)
	if err != nil {
		return false, 0, 0, err
	}
	defer done()
	current, target, err = p.GetVersions(ctx)
	if err != nil {
		return false, 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	pending, err = p.HasPending(ctx)
	if err != nil {
		return false, 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	if !pending {
		if pending, err = queuePending(ctx, pool); err != nil {
			return false, 0, 0, err
		}
	}
	return pending, current, target, nil
}
