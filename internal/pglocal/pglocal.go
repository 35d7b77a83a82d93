// Package pglocal runs a private PostgreSQL cluster from the server binaries
// installed on the machine. It is Tartine's embedded default (no
// DATABASE_URL) and the engine behind the test harness.
//
// The cluster listens only on a Unix socket inside its data directory. When
// the calling process runs as root, the server runs as the "postgres" user,
// which PostgreSQL requires. The server is a child process that receives a
// shutdown signal when its parent dies, so a crashed Tartine never leaves an
// orphan behind; a stale postmaster.pid from a crash is recognised and removed,
// and a server still shutting down (postmaster.pid's status line says
// "stopping") is waited for rather than adopted.
//
// A long-running caller (tartine serve) calls Supervise: when the server dies
// it is restarted, a bounded number of times, and Supervise returns an error
// when it cannot be, so that the caller exits and its service manager
// restarts it.
//
// When root asks for a data directory under a path the postgres user cannot
// enter (root's home is mode 700), the cluster is made in a directory it can
// reach (Options.RelocateDir) and the requested path becomes a symbolic link
// to it; the log says where.
package pglocal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
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
	// RelocateDir is where a cluster is made when running as root and the
	// postgres user cannot reach DataDir's parent (default /var/lib/tartine).
	RelocateDir string
	// ShutdownWait bounds the wait for a previous server on DataDir that is
	// still shutting down (default 5 minutes: a shutdown checkpoint after
	// heavy load can take a while).
	ShutdownWait time.Duration
}

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	opts   Options
	binDir string
	cred   *syscall.Credential

	mu       sync.Mutex
	cmd      *exec.Cmd     // nil when an already running server was adopted
	pid      int           // the server's pid, started or adopted
	exited   chan struct{} // closed when the server process pid has exited
	waitErr  error         // cmd.Wait's result, once exited is closed
	logFile  *os.File
	stopping bool          // Stop was called: an exit is not a crash
	quit     chan struct{} // closed by Stop: ends the watch of an adopted server
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
	if opts.RelocateDir == "" {
		opts.RelocateDir = "/var/lib/tartine"
	}
	if opts.ShutdownWait == 0 {
		opts.ShutdownWait = 5 * time.Minute
	}
	binDir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	if dir, err = reachableDataDir(dir, cred, opts); err != nil {
		return nil, err
	}
	opts.DataDir = dir
	// The socket path must fit in sun_path (107 bytes).
	if n := len(filepath.Join(dir, ".s.PGSQL.5432")); n > 100 {
		return nil, fmt.Errorf("data dir %s is too long for a Unix socket path (%d bytes); choose a shorter --data-dir", dir, n)
	}
	c := &Cluster{opts: opts, binDir: binDir, cred: cred, quit: make(chan struct{})}
	if err := c.initdb(ctx, cred); err != nil {
		return nil, err
	}
	if cred != nil {
		// An existing cluster under a path that became unreachable.
		if p, mode := unreachable(filepath.Dir(dir), cred); p != "" {
			return nil, fmt.Errorf("the postgres user cannot enter %s (mode %v), which holds the cluster %s: chmod o+x it, or move the cluster to a world-traversable path", p, mode, dir)
		}
	}
	if err := c.launch(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.createDatabase(ctx, opts.Database); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// launch adopts the server already running on the data directory, after
// waiting for one that is shutting down to finish, or starts a new one;
// then it waits until the server accepts connections.
func (c *Cluster) launch(ctx context.Context) error {
	pid, err := c.handlePidFile(ctx)
	if err != nil {
		return err
	}
	if pid > 0 {
		c.adopt(pid)
	} else if err := c.start(c.cred); err != nil {
		return err
	}
	return c.waitReady(ctx)
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
		if p, mode := unreachable(filepath.Dir(dir), cred); p != "" {
			return fmt.Errorf("the postgres user cannot enter %s (mode %v): choose a data dir under a world-traversable path, or chmod o+x it", p, mode)
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

// reachableDataDir returns the data directory to use for dir. Running as
// root (cred not nil), a new cluster under a path the postgres user cannot
// enter is made in opts.RelocateDir instead, and dir becomes a symbolic link
// to it, so that later starts with the same dir find it. A symbolic link at
// dir is followed.
func reachableDataDir(dir string, cred *syscall.Credential, opts Options) (string, error) {
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(dir)
		if err != nil {
			return "", fmt.Errorf("data dir: %w", err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(dir), target)
		}
		return filepath.Clean(target), nil
	}
	if cred == nil {
		return dir, nil
	}
	p, mode := unreachable(filepath.Dir(dir), cred)
	if p == "" {
		return dir, nil
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		// An existing cluster (or anything else) stays where it is: initdb
		// or the server says what is wrong with it.
		return dir, nil
	}
	base, err := filepath.Abs(opts.RelocateDir)
	if err != nil {
		return "", fmt.Errorf("relocate dir: %w", err)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", base, err)
	}
	if q, qmode := unreachable(base, cred); q != "" {
		return "", fmt.Errorf("the postgres user cannot enter %s (mode %v), nor %s (mode %v): choose a data dir under a world-traversable path", p, mode, q, qmode)
	}
	sum := sha256.Sum256([]byte(dir))
	target := filepath.Join(base, filepath.Base(dir)+"-"+hex.EncodeToString(sum[:4]))
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("create data dir parent: %w", err)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("replace empty data dir: %w", err)
	}
	if err := os.Symlink(target, dir); err != nil {
		return "", fmt.Errorf("link %s to %s: %w", dir, target, err)
	}
	if opts.Logf != nil {
		opts.Logf("the postgres user cannot enter %s (mode %v): the PostgreSQL data is in %s (%s links to it)", p, mode, target, dir)
	}
	return target, nil
}

// unreachable returns the first directory from dir up to / that the user of
// cred cannot traverse, with its mode, or "" when it can reach dir. Only the
// user's primary group is considered.
func unreachable(dir string, cred *syscall.Credential) (string, os.FileMode) {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			st, ok := fi.Sys().(*syscall.Stat_t)
			perm := fi.Mode().Perm()
			var bit os.FileMode = 0o001
			switch {
			case ok && st.Uid == cred.Uid:
				bit = 0o100
			case ok && st.Gid == cred.Gid:
				bit = 0o010
			}
			if perm&bit == 0 {
				return p, perm
			}
		}
		if p == "/" || p == "." {
			return "", 0
		}
	}
}

// pidFile is what postmaster.pid says: the server's pid and its status line
// ("starting", "stopping", "ready" or "standby"; empty while the server is
// still writing the file).
type pidFile struct {
	pid    int
	status string
}

func readPidFile(path string) (pidFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return pidFile{}, err
	}
	lines := strings.Split(string(b), "\n")
	var pf pidFile
	pf.pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	// Line 8 (LOCK_FILE_LINE_PM_STATUS in PostgreSQL's miscadmin.h).
	if len(lines) > 7 {
		pf.status = strings.TrimSpace(lines[7])
	}
	return pf, nil
}

// running reports whether pid is a live (not zombie) PostgreSQL process.
func running(pid int) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) state ...": comm may hold spaces and parentheses.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return false
	}
	if !strings.HasPrefix(s[open+1:end], "postgres") {
		return false
	}
	state := s[end+2]
	return state != 'Z' && state != 'X'
}

// handlePidFile reads postmaster.pid. It returns the pid of a live server to
// adopt, or 0 when a new one must be started: no pid file, or a stale one
// left by a crash (removed). A server that is shutting down is waited for
// (up to Options.ShutdownWait) rather than adopted.
func (c *Cluster) handlePidFile(ctx context.Context) (int, error) {
	pidPath := filepath.Join(c.opts.DataDir, "postmaster.pid")
	var deadline time.Time
	for {
		pf, err := readPidFile(pidPath)
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", pidPath, err)
		}
		if !running(pf.pid) {
			c.opts.Logf("removing stale %s (pid %d is not a running PostgreSQL)", pidPath, pf.pid)
			if err := os.Remove(pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
				return 0, fmt.Errorf("remove stale pid file: %w", err)
			}
			return 0, nil
		}
		if pf.status != "stopping" {
			c.opts.Logf("PostgreSQL already running on %s (pid %d, status %q): reusing it", c.opts.DataDir, pf.pid, pf.status)
			return pf.pid, nil
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(c.opts.ShutdownWait)
			c.opts.Logf("PostgreSQL on %s (pid %d) is shutting down: waiting for it to stop", c.opts.DataDir, pf.pid)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the previous PostgreSQL on %s (pid %d) is still shutting down after %v", c.opts.DataDir, pf.pid, c.opts.ShutdownWait)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// adopt watches a server that another process started.
func (c *Cluster) adopt(pid int) {
	exited := make(chan struct{})
	c.mu.Lock()
	c.cmd, c.pid, c.exited, c.waitErr = nil, pid, exited, nil
	c.mu.Unlock()
	go func() {
		defer close(exited)
		for running(pid) {
			select {
			case <-c.quit:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
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
	exited := make(chan struct{})
	c.mu.Lock()
	old := c.logFile
	c.cmd, c.pid, c.exited, c.waitErr, c.logFile = cmd, cmd.Process.Pid, exited, nil, lf
	if c.stopping {
		// Stop ran while Supervise was restarting the server.
		_ = cmd.Process.Signal(syscall.SIGINT)
	}
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	go func() {
		err := cmd.Wait()
		c.mu.Lock()
		if c.cmd == cmd {
			c.waitErr = err
		}
		c.mu.Unlock()
		close(exited)
	}()
	c.opts.Logf("PostgreSQL started (pid %d) on socket %s", cmd.Process.Pid, dir)
	return nil
}

// Pid returns the pid of the server (started or adopted).
func (c *Cluster) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pid
}

// exitedCh returns the channel closed when the current server exits.
func (c *Cluster) exitedCh() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exited
}

func (c *Cluster) waitReady(ctx context.Context) error {
	exited := c.exitedCh()
	deadline := time.Now().Add(60 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			c.mu.Lock()
			err := c.waitErr
			c.mu.Unlock()
			return fmt.Errorf("postgres exited during start-up (%v); last lines of %s:\n%s", err, filepath.Join(c.opts.DataDir, "server.log"), c.logTail())
		default:
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

// Supervise watches the server until ctx is done or Stop is called, and
// returns nil then. When the server dies, it is started again (adopted or
// started server alike), with up to attempts tries a second or more apart;
// Supervise returns an error when every try failed, or when the server died
// more than attempts times within ten minutes (a crash loop), so that the
// caller can exit and its service manager take over.
func (c *Cluster) Supervise(ctx context.Context, attempts int) error {
	var crashes []time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.exitedCh():
		}
		c.mu.Lock()
		stopping, pid, waitErr := c.stopping, c.pid, c.waitErr
		c.mu.Unlock()
		if stopping {
			return nil
		}
		now := time.Now()
		crashes = append(crashes, now)
		for len(crashes) > 0 && now.Sub(crashes[0]) > 10*time.Minute {
			crashes = crashes[1:]
		}
		c.opts.Logf("PostgreSQL (pid %d) died (%v): restarting it; last lines of its log:\n%s", pid, waitErr, c.logTail())
		if len(crashes) > attempts {
			return fmt.Errorf("PostgreSQL died %d times within ten minutes; giving up", len(crashes))
		}
		var err error
		backoff := time.Second
		for try := 1; try <= attempts; try++ {
			if err = c.launch(ctx); err == nil {
				c.opts.Logf("PostgreSQL restarted (pid %d)", c.Pid())
				break
			}
			if ctx.Err() != nil || c.isStopping() {
				// Stop ran while the server started (it may already
				// answer): that ends the start-up, not a failure.
				return nil
			}
			c.opts.Logf("restarting PostgreSQL, try %d of %d: %v", try, attempts, err)
			if try < attempts {
				select {
				case <-ctx.Done():
					return nil
				case <-c.quit:
					return nil
				case <-time.After(backoff):
				}
				backoff *= 2
			}
		}
		if err != nil {
			return fmt.Errorf("PostgreSQL could not be restarted after %d tries: %w", attempts, err)
		}
	}
}

func (c *Cluster) isStopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping
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
// nothing for an adopted server that this process did not start. Stop ends
// Supervise.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	if !c.stopping {
		c.stopping = true
		close(c.quit)
	}
	cmd, exited, lf := c.cmd, c.exited, c.logFile
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	defer lf.Close()
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
		c.opts.Logf("PostgreSQL stopped")
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		return errors.New("postgres did not stop within 30 s; sent SIGQUIT")
	}
}
