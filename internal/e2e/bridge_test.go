// Package e2e holds end-to-end tests that run Tartine's real binaries
// together: virtual readers on pseudo-terminals → tartine-bridge → tartine
// serve → PostgreSQL.
package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/firmware-bridge/sim"
	"tartine/internal/db"
	"tartine/internal/dbtest"
	"tartine/ledger"
	"tartine/terminal/loadgen"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds tartine and tartine-bridge once per test process.
func binaries(t testing.TB) (server, bridge string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tartine-e2e-bin-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{"tartine", "tartine-bridge"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, pkg), "tartine/cmd/"+pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "tartine"), filepath.Join(binDir, "tartine-bridge")
}

// logBuffer collects a process's output for failure messages.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > 6000 {
		s = "…" + s[len(s)-6000:]
	}
	return s
}

// server is a running `tartine serve` that can be stopped and restarted.
type server struct {
	t    testing.TB
	bin  string
	dsn  string
	addr string
	cmd  *exec.Cmd
	logs logBuffer
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "serve", "--addr", s.addr, "--max-conns", "16")
	s.cmd.Env = append(os.Environ(), "DATABASE_URL="+s.dsn)
	s.cmd.Stdout, s.cmd.Stderr = &s.logs, &s.logs
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("tartine serve did not become healthy:\n%s", s.logs.String())
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// fixture is a migrated database with the load tenant (one school, pupils
// with badges and money, canteen and daycare stations, one device), a real
// server on it, and a bridge configuration for one virtual reader.
type fixture struct {
	pool   *pgxpool.Pool
	setup  loadgen.Setup
	srv    *server
	bridge string
	dir    string
}

func newFixture(t testing.TB, devices, pupils int) *fixture {
	t.Helper()
	ctx := context.Background()
	serverBin, bridgeBin := binaries(t)
	dsn := dbtest.NewDSN(t)
	pool, err := db.Open(ctx, dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	setup, err := loadgen.Prepare(ctx, pool, devices, pupils)
	if err != nil {
		t.Fatalf("prepare school: %v", err)
	}
	f := &fixture{pool: pool, setup: setup, bridge: bridgeBin, dir: t.TempDir(),
		srv: &server{t: t, bin: serverBin, dsn: dsn, addr: freeAddr(t)}}
	f.srv.start()
	t.Cleanup(f.srv.stop)
	return f
}

func (f *fixture) bridgeConfig(t *testing.T, format sim.Format, readerPath string) string {
	t.Helper()
	dev := f.setup.Devices[0]
	cfg := fmt.Sprintf(`device_id = %q
secret = %q
server_url = %q
data_dir = %q
status_addr = "off"
[uplink]
min_backoff = "20ms"
max_backoff = "300ms"
[[reader]]
name = "line-1"
station = %q
driver = %q
path = %q
`, dev.ID, dev.Secret, "http://"+f.srv.addr, filepath.Join(f.dir, "bridge-data"), f.setup.Canteen[0], string(format), readerPath)
	path := filepath.Join(f.dir, "bridge.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (f *fixture) startBridge(t *testing.T, cfg string, logs io.Writer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(f.bridge, "run", "--config", cfg, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// tapCounts reads what the server recorded: taps by id, and distinct badges.
func (f *fixture) tapCounts(t testing.TB) (rows, distinctIDs, distinctUIDs int) {
	t.Helper()
	err := f.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT tap_id), count(DISTINCT badge_uid) FROM taps WHERE tenant_id = $1`,
		f.setup.TenantID).Scan(&rows, &distinctIDs, &distinctUIDs)
	if err != nil {
		t.Fatal(err)
	}
	return
}

func (f *fixture) waitTaps(t testing.TB, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, ids, _ := f.tapCounts(t); ids >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *fixture) verifyLedger(t *testing.T) {
	t.Helper()
	v, _, err := ledger.New(f.pool, nil).Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range v {
		t.Errorf("ledger violation: %s", x)
	}
}

func uidBytes(t *testing.T, hexUID string) []byte {
	t.Helper()
	b, err := hex.DecodeString(hexUID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadersBridgeServerWithOutage: an RDM6300 reader taps every pupil's
// badge once; the server is down for the middle third of the run. Every tap
// reaches the server exactly once (counted by tap id and by badge), each
// charged tap has exactly one ledger transfer, and the ledger verifies.
func TestReadersBridgeServerWithOutage(t *testing.T) {
	const pupils = 150
	f := newFixture(t, 1, pupils)
	vr, err := sim.Open(sim.FormatRDM6300, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer vr.Close()
	var logs logBuffer
	cmd := f.startBridge(t, f.bridgeConfig(t, sim.FormatRDM6300, vr.Path()), &logs)
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	time.Sleep(500 * time.Millisecond) // the bridge opens the reader

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, uid := range f.setup.Badges[:pupils] {
		switch i {
		case pupils / 3:
			f.srv.stop()
		case 2 * pupils / 3:
			f.srv.start()
		}
		if err := vr.Tap(ctx, uidBytes(t, uid)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // a reader emits one frame at a time
	}
	f.waitTaps(t, pupils, 60*time.Second)
	rows, ids, uids := f.tapCounts(t)
	if rows != pupils || ids != pupils || uids != pupils {
		t.Fatalf("server has %d rows, %d tap ids, %d badges; want %d of each\nbridge log:\n%s\nserver log:\n%s",
			rows, ids, uids, pupils, logs.String(), f.srv.logs.String())
	}
	var offline, charged, transfers int
	err = f.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE offline), count(*) FILTER (WHERE transfer_id IS NOT NULL),
		       (SELECT count(*) FROM transfers WHERE tenant_id = $1 AND idempotency_key LIKE 'tap:%')
		FROM taps WHERE tenant_id = $1`, f.setup.TenantID).Scan(&offline, &charged, &transfers)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d taps: %d decided offline by the bridge, %d charged, %d tap transfers", pupils, offline, charged, transfers)
	if offline == 0 {
		t.Errorf("no tap was marked offline although the server was down for a third of the run")
	}
	// The server and the bridge are real processes on the real clock, so the
	// taps fall on today. The load school serves meals on weekdays except
	// Wednesdays: on such a day every tap of a pupil with money is charged;
	// on any other day every tap is refused as a closed day and nothing is
	// charged. Both are checked from what the server recorded, by the day of
	// each tap's read time (a run across midnight sees both).
	var onOpen, onClosed, closedRefused int
	err = f.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE extract(isodow FROM read_at AT TIME ZONE 'Europe/Brussels') IN (1, 2, 4, 5)),
		       count(*) FILTER (WHERE extract(isodow FROM read_at AT TIME ZONE 'Europe/Brussels') IN (3, 6, 7)),
		       count(*) FILTER (WHERE extract(isodow FROM read_at AT TIME ZONE 'Europe/Brussels') IN (3, 6, 7)
		                          AND verdict = 'refused' AND reason = 'closed_day' AND transfer_id IS NULL)
		FROM taps WHERE tenant_id = $1`, f.setup.TenantID).Scan(&onOpen, &onClosed, &closedRefused)
	if err != nil {
		t.Fatal(err)
	}
	if onOpen+onClosed != pupils {
		t.Errorf("%d taps on open days + %d on closed days, want %d", onOpen, onClosed, pupils)
	}
	if onOpen > 0 && charged != onOpen {
		t.Errorf("%d of %d taps on an open school day were charged, want all (each pupil has 50 €)", charged, onOpen)
	}
	if closedRefused != onClosed {
		t.Errorf("%d of %d taps on a closed day were refused as closed_day without charge, want all", closedRefused, onClosed)
	}
	if charged != transfers {
		t.Errorf("%d charged taps but %d ledger transfers keyed by tap", charged, transfers)
	}
	f.verifyLedger(t)
}

// TestBridgeKilledMidStream: 10,000 taps from a Tartine-firmware reader; the
// bridge is killed with SIGKILL several times and restarted; afterwards the
// real server holds each badge read exactly once.
func TestBridgeKilledMidStream(t *testing.T) {
	const taps, kills = 10000, 4
	f := newFixture(t, 1, 1)
	vr, err := sim.Open(sim.FormatTartine, sim.Options{Window: 64, Resend: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer vr.Close()
	cfg := f.bridgeConfig(t, sim.FormatTartine, vr.Path())
	var logs logBuffer
	cmd := f.startBridge(t, cfg, &logs)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	emitted := make(chan error, 1)
	go func() {
		for i := range taps {
			// Badges unknown to the school: each is refused, but each tap
			// must still be recorded once.
			if err := vr.Tap(ctx, []byte{0x31, 0, byte(i >> 16), byte(i >> 8), byte(i)}); err != nil {
				emitted <- err
				return
			}
		}
		emitted <- vr.Flush(ctx)
	}()
	for k := range kills {
		for vr.Counts().Acked < (k+1)*taps/(kills+1) && ctx.Err() == nil {
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(time.Duration(k*5) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		_, ids, _ := f.tapCounts(t)
		t.Logf("kill %d: reader acked %d, server has %d tap ids", k+1, vr.Counts().Acked, ids)
		cmd = f.startBridge(t, cfg, &logs)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	if err := <-emitted; err != nil {
		t.Fatalf("emitting taps: %v\nbridge log:\n%s", err, logs.String())
	}
	f.waitTaps(t, taps, 120*time.Second)
	time.Sleep(500 * time.Millisecond) // a late duplicate would show now
	rows, ids, uids := f.tapCounts(t)
	if rows != taps || ids != taps || uids != taps {
		t.Fatalf("server has %d rows, %d tap ids, %d distinct badge reads; want %d of each\nbridge log:\n%s",
			rows, ids, uids, taps, logs.String())
	}
	f.verifyLedger(t)
}
