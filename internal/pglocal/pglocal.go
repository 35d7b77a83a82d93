// Package pglocal runs a private PostgreSQL cluster from the server binaries
// installed on the machine. It is Tartine's embedded default (no
// DATABASE_URL) and the engine behind the test harness.
//
// The cluster listens only on a Unix socket inside its data directory. When
// the calling process runs as root, the server runs as the "postgres" user,
// which PostgreSQL requires. The server is a child process that receives a
// shutdown signal when its parent dies, so a crashed Tartine never leaves an
// orphan behind; a stale postmaster.pid from a crash is recognised and removed.
package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries is returned when no PostgreSQL server binaries can be found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (looked for initdb and postgres on PATH and in /usr/lib/postgresql/*/bin): " +
	"install them with `apt-get install postgresql`, or set DATABASE_URL to an existing database " +
	"(e.g. DATABASE_URL=postgres://user:pass@localhost:5432/tartine)")

// Options configure a cluster.
type Options struct {
	// DataDir holds the cluster; created and initialised when empty.
	DataDir string
	// Database is created on first start if missing (default "tartine").
	Database string
	// Durable=false turns off fsync and synchronous commit: for tests only.
	Durable bool
	// Settings are extra server settings (name → value).
	Settings map[string]string
	// Logf receives progress lines; may be nil.
	Logf func(format string, args ...any)
}

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	opts    Options
	binDir  string
	cmd     *exec.Cmd // nil when an already running server was adopted
	done    chan error
	logFile *os.File
}

// FindBinaries returns the directory holding initdb and postgres.
// It returns ErrNoBinaries when none is found.
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dir := filepath.Dir(real)
			if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
				return dir, nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				return d, nil
			}
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initialises the data directory if needed and starts the server (or
// adopts one already running on that directory), then makes sure the
// database exists. Stop must be called to shut it down.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Database == "" {
		opts.Database = "tartine"
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	opts.DataDir = dir
	// The socket path must fit in sun_path (107 bytes).
	if n := len(filepath.Join(dir, ".s.PGSQL.5432")); n > 100 {
		return nil, fmt.Errorf("data dir %s is too long for a Unix socket path (%d bytes); choose a shorter --data-dir", dir, n)
	}
	binDir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, binDir: binDir}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	if err := c.initdb(ctx, cred); err != nil {
		return nil, err
	}
	adopted, err := c.handlePidFile()
	if err != nil {
		return nil, err
	}
	if !adopted {
		if err := c.start(cred); err != nil {
			return nil, err
		}
	}
	if err := c.waitReady(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.createDatabase(ctx, opts.Database); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// serverCredential returns the credential of the postgres user when running
// as root (PostgreSQL refuses to run as root), nil otherwise.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a 'postgres' system user to run the database (apt-get install postgresql creates it): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (c *Cluster) initdb(ctx context.Context, cred *syscall.Credential) error {
	dir := c.opts.DataDir
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
		return nil
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("data dir %s is not empty but holds no PostgreSQL cluster: move it away or choose another --data-dir", dir)
	}
	// Parents are created traversable: the postgres user must reach dir.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	// initdb works in a sibling directory that is renamed into place once
	// complete, so an interrupted initdb never leaves a half-made cluster
	// that a later start would take for a real one.
	tmp := dir + ".initdb"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove interrupted initdb %s: %w", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if cred != nil {
		if err := os.Chown(tmp, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("give data dir to postgres: %w", err)
		}
		// The postgres user must be able to reach the data dir.
		for p := filepath.Dir(dir); p != "/"; p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
				return fmt.Errorf("the postgres user cannot enter %s (mode %v): choose a data dir under a world-traversable path, or chmod o+x it", p, fi.Mode().Perm())
			}
		}
	}
	c.opts.Logf("initialising PostgreSQL cluster in %s", dir)
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, "initdb"),
		"-D", tmp, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("initdb %s: %w\n%s", dir, err, out)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replace empty data dir: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("move the new cluster into %s: %w", dir, err)
	}
	return nil
}

// handlePidFile removes a stale postmaster.pid left by a crash. It reports
// true when a live server already runs on this data directory (adopted).
func (c *Cluster) handlePidFile() (bool, error) {
	pidPath := filepath.Join(c.opts.DataDir, "postmaster.pid")
	b, err := os.ReadFile(pidPath)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", pidPath, err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err == nil && pid > 0 {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.HasPrefix(strings.TrimSpace(string(comm)), "postgres") {
			c.opts.Logf("PostgreSQL already running on %s (pid %d): reusing it", c.opts.DataDir, pid)
			return true, nil
		}
	}
	c.opts.Logf("removing stale %s (pid %q is not a running PostgreSQL)", pidPath, strings.TrimSpace(first))
	if err := os.Remove(pidPath); err != nil {
		return false, fmt.Errorf("remove stale pid file: %w", err)
	}
	return false, nil
}

func (c *Cluster) start(cred *syscall.Credential) error {
	dir := c.opts.DataDir
	args := []string{"-D", dir, "-k", dir, "-c", "listen_addresses=", "-c", "max_connections=300",
		"-c", "shared_buffers=256MB", "-c", "log_min_messages=warning"}
	if !c.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	keys := make([]string, 0, len(c.opts.Settings))
	for k := range c.opts.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+c.opts.Settings[k])
	}
	logPath := filepath.Join(dir, "server.log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	cmd := exec.Command(filepath.Join(c.binDir, "postgres"), args...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = lf, lf
	// SIGINT is PostgreSQL's "fast shutdown": sent when Tartine dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd, c.logFile = cmd, lf
	c.done = make(chan error, 1)
	go func() { c.done <- cmd.Wait() }()
	c.opts.Logf("PostgreSQL started (pid %d) on socket %s", cmd.Process.Pid, dir)
	return nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		if c.done != nil {
			select {
			case err := <-c.done:
				c.done <- err
				return fmt.Errorf("postgres exited during start-up (%v); last lines of %s:\n%s", err, filepath.Join(c.opts.DataDir, "server.log"), c.logTail())
			default:
			}
		}
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("postgres did not accept connections within 60 s: %w\n%s", lastErr, c.logTail())
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.opts.DataDir, "server.log"))
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func (c *Cluster) createDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// DSN returns a connection string for the given database on this cluster.
func (c *Cluster) DSN(database string) string {
	return fmt.Sprintf("host=%s port=5432 user=postgres dbname=%s sslmode=disable", c.opts.DataDir, database)
}

// DataDir returns the absolute data directory.
func (c *Cluster) DataDir() string { return c.opts.DataDir }

// BinDir returns the directory of the PostgreSQL binaries in use (pgbench lives there too).
func (c *Cluster) BinDir() string { return c.binDir }

// Stop shuts the server down (fast shutdown) and waits for it. It does
// nothing for an adopted server that this process did not start.
func (c *Cluster) Stop() error {
	if c.cmd == nil {
		return nil
	}
	defer c.logFile.Close()
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-c.done:
		c.done <- err
		c.opts.Logf("PostgreSQL stopped")
		return nil
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		return errors.New("postgres did not stop within 30 s; sent SIGQUIT")
	}
}
