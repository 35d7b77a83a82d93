package pglocal_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/internal/pglocal"
)

// pidFileStatus returns postmaster.pid's pid and status line.
func pidFileStatus(t *testing.T, dir string) (string, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 {
		t.Fatalf("postmaster.pid has %d lines, want a status line:\n%s", len(lines), b)
	}
	return lines[0], strings.TrimSpace(lines[7])
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestStartWaitsForAServerShuttingDown(t *testing.T) {
	ctx := context.Background()
	dir := dataDir(t)
	old, err := pglocal.Start(ctx, pglocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Stop()
	exec(t, old, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")
	// A smart shutdown waits for its clients: the server stays "stopping"
	// while this connection is open.
	client, err := pgx.Connect(ctx, old.DSN("tartine"))
	if err != nil {
		t.Fatal(err)
	}
	oldPid := old.Pid()
	if err := syscall.Kill(oldPid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, status := pidFileStatus(t, dir); status == "stopping" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("postmaster.pid never said stopping")
		}
		time.Sleep(20 * time.Millisecond)
	}
	type result struct {
		c   *pglocal.Cluster
		err error
		at  time.Time
	}
	started := make(chan result, 1)
	go func() {
		c, err := pglocal.Start(ctx, pglocal.Options{DataDir: dir, ShutdownWait: 30 * time.Second})
		started <- result{c, err, time.Now()}
	}()
	time.Sleep(time.Second)
	released := time.Now()
	client.Close(ctx) // the old server can now finish its shutdown
	var r result
	select {
	case r = <-started:
	case <-time.After(45 * time.Second):
		t.Fatal("start did not return")
	}
	if r.err != nil {
		t.Fatalf("start while the previous server was shutting down: %v", r.err)
	}
	defer r.c.Stop()
	if r.at.Before(released) {
		t.Errorf("start returned %v before the old server was released: it adopted a dying server", released.Sub(r.at))
	}
	if r.c.Pid() == oldPid || alive(oldPid) {
		t.Errorf("new server pid %d, old %d (alive %v): want a new server once the old one stopped", r.c.Pid(), oldPid, alive(oldPid))
	}
	conn, err := pgx.Connect(ctx, r.c.DSN("tartine"))
	if err != nil {
		t.Fatalf("connect to the new server: %v", err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 7 {
		t.Fatalf("data after the restart: v=%d err=%v, want 7", v, err)
	}
}

func TestSuperviseRestartsADeadServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := dataDir(t)
	c, err := pglocal.Start(ctx, pglocal.Options{DataDir: dir, Durable: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	exec(t, c, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
	supervised := make(chan error, 1)
	go func() { supervised <- c.Supervise(ctx, 3) }()
	for round := 1; round <= 2; round++ {
		pid := c.Pid()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for c.Pid() == pid || !answers(ctx, c) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the server was not restarted within 30 s", round)
			}
			time.Sleep(100 * time.Millisecond)
		}
		exec(t, c, "INSERT INTO kept VALUES (1)")
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-supervised:
		if err != nil {
			t.Fatalf("supervise after Stop: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("supervise did not end with Stop")
	}
}

func answers(ctx context.Context, c *pglocal.Cluster) bool {
	conn, err := pgx.Connect(ctx, c.DSN("tartine"))
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var n int
	return conn.QueryRow(ctx, "SELECT count(*) FROM kept").Scan(&n) == nil && n >= 1
}

func TestSuperviseGivesUpWhenTheServerCannotStart(t *testing.T) {
	ctx := context.Background()
	dir := dataDir(t)
	c, err := pglocal.Start(ctx, pglocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	// A configuration the server refuses: every restart fails.
	if err := os.WriteFile(filepath.Join(dir, "postgresql.auto.conf"), []byte("shared_buffers = 'lots'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	supervised := make(chan error, 1)
	go func() { supervised <- c.Supervise(ctx, 2) }()
	if err := syscall.Kill(c.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-supervised:
		if err == nil || !strings.Contains(err.Error(), "could not be restarted") {
			t.Fatalf("supervise = %v, want an error saying the server could not be restarted", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("supervise did not give up")
	}
}

func TestUnreachableDataDirIsRelocated(t *testing.T) {
	if os.Geteuid() != 0 {
		// Only root runs the server as another user; as anyone else the
		// cluster's user is the caller, who reaches its own directories.
		t.Log("not root: the postgres user is the caller")
	}
	ctx := context.Background()
	base := filepath.Dir(dataDir(t))
	home := filepath.Join(base, "root")
	if err := os.Mkdir(home, 0o700); err != nil { // like /root on a fresh machine
		t.Fatal(err)
	}
	reach := filepath.Join(base, "lib")
	asked := filepath.Join(home, "work", "var", "demo")
	var logged []string
	opts := pglocal.Options{DataDir: asked, RelocateDir: reach, Logf: func(f string, a ...any) {
		logged = append(logged, f)
	}}
	c, err := pglocal.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start under a mode 700 directory: %v", err)
	}
	exec(t, c, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (3)")
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if !strings.HasPrefix(c.DataDir(), reach+"/") {
			t.Errorf("data dir = %s, want one under %s", c.DataDir(), reach)
		}
		if target, err := os.Readlink(asked); err != nil || target != c.DataDir() {
			t.Errorf("%s links to %q (%v), want %s", asked, target, err, c.DataDir())
		}
		if !strings.Contains(strings.Join(logged, "\n"), "the PostgreSQL data is in") {
			t.Errorf("the log does not say where the data is: %q", logged)
		}
		if fi, err := os.Stat(home); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("home mode changed: %v %v", fi.Mode(), err)
		}
	}
	// A second start finds the same cluster.
	c2, err := pglocal.Start(ctx, opts)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	defer c2.Stop()
	if c2.DataDir() != c.DataDir() {
		t.Errorf("second start data dir = %s, want %s", c2.DataDir(), c.DataDir())
	}
	exec(t, c2, "SELECT v FROM kept WHERE v = 3")
}
