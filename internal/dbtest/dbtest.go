// Package dbtest gives each test a fresh, fully migrated PostgreSQL database.
//
// One private cluster (package pglocal) is started per test process in a
// temporary directory; a template database is migrated once, and every call
// to New clones it (CREATE DATABASE … TEMPLATE), so tests may run in parallel
// and never see each other's rows. Tests never skip for lack of a database:
// when the cluster cannot start, the test fails with the reason.
//
// Packages using it call dbtest.Main from TestMain so the cluster is stopped
// when the tests end (it would also stop when the process dies).
package dbtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/internal/db"
	"tartine/internal/pglocal"
	"tartine/migrations"
)

const template = "tartine_template"

var (
	once    sync.Once
	cluster *pglocal.Cluster
	tmpDir  string
	initErr error
	seq     atomic.Int64
)

// Main runs the tests and stops the cluster afterwards. Use it as
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		_ = cluster.Stop()
		_ = os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

func start() {
	ctx := context.Background()
	// The postgres user must be able to traverse the directory, so it is not
	// created with t.TempDir (mode 0700, owned by the test user).
	tmpDir, initErr = os.MkdirTemp("", "tartine-pg-")
	if initErr != nil {
		return
	}
	if initErr = os.Chmod(tmpDir, 0o755); initErr != nil {
		return
	}
	cluster, initErr = pglocal.Start(ctx, pglocal.Options{DataDir: filepath.Join(tmpDir, "pg"), Database: template})
	if initErr != nil {
		return
	}
	pool, err := db.Open(ctx, cluster.DSN(template), 2)
	if err != nil {
		initErr = err
		return
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool); err != nil {
		initErr = err
	}
}

// Cluster returns the test process's cluster, starting it if needed.
func Cluster(t testing.TB) *pglocal.Cluster {
	t.Helper()
	once.Do(start)
	if initErr != nil {
		t.Fatalf("test PostgreSQL: %v", initErr)
	}
	return cluster
}

// NewDSN creates a fresh migrated database and returns its connection string.
// The database is dropped when the test ends.
func NewDSN(t testing.TB) string {
	t.Helper()
	c := Cluster(t)
	ctx := context.Background()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), seq.Add(1))
	admin, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatalf("connect to test cluster: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, template)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return c.DSN(name)
}

// New returns a pool on a fresh migrated database, closed when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), NewDSN(t), 20)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Guarded returns a pool of at most maxConns connections (≤ 0: 20) on a
// fresh migrated database, watched by a db.Guard: the test fails when, by
// the time it ends, code acquired a second pool connection while its
// goroutine held one (the deadlock of issue 17). The guard also counts
// statements (Guard.Queries).
func Guarded(t testing.TB, maxConns int32) (*pgxpool.Pool, *db.Guard) {
	t.Helper()
	if maxConns <= 0 {
		maxConns = 20
	}
	g := db.NewGuard()
	pool, err := db.OpenWith(context.Background(), NewDSN(t), db.Options{MaxConns: maxConns, Guard: g})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		for _, v := range g.Violations() {
			t.Errorf("second pool connection while holding one: %s", v)
		}
	})
	return pool, g
}
