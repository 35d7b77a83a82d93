package pglocal_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"tartine/internal/pglocal"
)

// dataDir returns a directory the postgres user can reach.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pglocal-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "pg")
}

func exec(t *testing.T, c *pglocal.Cluster, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN("tartine"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestRestartReusesDataAndRecoversStalePidFile(t *testing.T) {
	ctx := context.Background()
	dir := dataDir(t)
	c, err := pglocal.Start(ctx, pglocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	exec(t, c, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("postmaster.pid still there after a clean stop: %v", err)
	}
	// A crash leaves a pid file naming a process that no longer exists.
	if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("999999\n"+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = pglocal.Start(ctx, pglocal.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("start over a stale pid file: %v", err)
	}
	defer c.Stop()
	conn, err := pgx.Connect(ctx, c.DSN("tartine"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
		t.Fatalf("data after restart: v=%d err=%v, want 42", v, err)
	}
}

func TestSecondStartAdoptsRunningServer(t *testing.T) {
	ctx := context.Background()
	dir := dataDir(t)
	c1, err := pglocal.Start(ctx, pglocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Stop()
	c2, err := pglocal.Start(ctx, pglocal.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("second start on a running cluster: %v", err)
	}
	// Stopping the adopter leaves the owner's server running.
	if err := c2.Stop(); err != nil {
		t.Fatal(err)
	}
	exec(t, c1, "SELECT 1")
}

func TestLongDataDirRefused(t *testing.T) {
	long := filepath.Join(os.TempDir(), strings.Repeat("d", 40), strings.Repeat("e", 40), strings.Repeat("f", 40))
	_, err := pglocal.Start(context.Background(), pglocal.Options{DataDir: long})
	if err == nil {
		t.Fatal("a data dir too long for a Unix socket was accepted")
	}
}

func TestInterruptedInitdbIsRedone(t *testing.T) {
	dir := dataDir(t)
	// What an initdb killed half-way leaves behind: its working directory.
	if err := os.MkdirAll(dir+".initdb/base", 0o700); err != nil {
		t.Fatal(err)
	}
	c, err := pglocal.Start(context.Background(), pglocal.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("start after an interrupted initdb: %v", err)
	}
	defer c.Stop()
	exec(t, c, "SELECT 1")
	if _, err := os.Stat(dir + ".initdb"); !os.IsNotExist(err) {
		t.Errorf("initdb working directory left behind: %v", err)
	}
}

func TestForeignDataDirRefused(t *testing.T) {
	dir := dataDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := pglocal.Start(context.Background(), pglocal.Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("start on a foreign non-empty dir: err = %v, want a refusal", err)
	}
}
