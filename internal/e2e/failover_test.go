//go:build failover

// The failover test runs with `make test-failover` (build tag "failover"):
// it needs pg_auto_failover (scripts/install-deps.sh failover) and takes a
// minute or two per run, too long for `make test`.

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/firmware-bridge/sim"
	"tartine/internal/db"
	"tartine/internal/pglocal"
	"tartine/terminal"
	"tartine/terminal/loadgen"
)

// autoctl is one pg_autoctl service (the monitor or a node) and its
// PostgreSQL, in their own process group so that a node can be killed
// whole, as when its machine is lost.
type autoctl struct {
	name string
	port int
	cmd  *exec.Cmd
	logs logBuffer
}

// failoverCluster is a pg_auto_failover formation: a monitor, a primary
// and a synchronous standby, all on 127.0.0.1.
type failoverCluster struct {
	t       *testing.T
	dir     string
	env     []string
	monitor *autoctl
	nodes   []*autoctl
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newFailoverCluster(t *testing.T) *failoverCluster {
	t.Helper()
	if _, err := exec.LookPath("pg_autoctl"); err != nil {
		t.Fatal("pg_autoctl not found: run `make test-failover` (scripts/install-deps.sh failover installs postgresql-15-auto-failover)")
	}
	binDir, err := pglocal.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := postgresDir(t)
	if err := chownPostgres(dir); err != nil {
		t.Fatal(err)
	}
	fc := &failoverCluster{t: t, dir: dir, env: []string{
		"PATH=" + binDir + ":/usr/local/bin:/usr/bin:/bin",
		"PG_CONFIG=" + filepath.Join(binDir, "pg_config"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "xdg", "config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "xdg", "data"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "xdg", "run"),
		"HOME=" + dir,
	}}
	t.Cleanup(fc.stop)
	return fc
}

// run starts `pg_autoctl args…` as the postgres user.
func (fc *failoverCluster) run(name string, port int, args ...string) *autoctl {
	a := &autoctl{name: name, port: port}
	a.cmd = asPostgres(exec.Command("pg_autoctl", args...))
	a.cmd.Env = fc.env
	a.cmd.Stdout, a.cmd.Stderr = &a.logs, &a.logs
	if a.cmd.SysProcAttr == nil {
		a.cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	a.cmd.SysProcAttr.Setpgid = true
	a.cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	if err := a.cmd.Start(); err != nil {
		fc.t.Fatalf("start pg_autoctl %s: %v", name, err)
	}
	return a
}

func (fc *failoverCluster) monitorDSN() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=pg_auto_failover sslmode=disable connect_timeout=2", fc.monitor.port)
}

func (fc *failoverCluster) nodeDSN(i int, database string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable connect_timeout=2", fc.nodes[i].port, database)
}

// dsn is what Tartine is given: every node, and only the one that accepts
// writes.
func (fc *failoverCluster) dsn() string {
	hosts, ports := make([]string, len(fc.nodes)), make([]string, len(fc.nodes))
	for i, n := range fc.nodes {
		hosts[i], ports[i] = "127.0.0.1", fmt.Sprint(n.port)
	}
	return fmt.Sprintf("host=%s port=%s user=postgres dbname=tartine sslmode=disable connect_timeout=2 target_session_attrs=read-write",
		strings.Join(hosts, ","), strings.Join(ports, ","))
}

// exec runs SQL on dsn, retrying until it succeeds or timeout passes.
func (fc *failoverCluster) exec(dsn string, timeout time.Duration, sql ...string) {
	fc.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			for _, s := range sql {
				if _, err := conn.Exec(ctx, s); err != nil {
					return fmt.Errorf("%s: %w", s, err)
				}
			}
			return nil
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			fc.t.Fatalf("%v (after %v)\n%s", err, timeout, fc.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// states returns each node's reported state, as the monitor sees it.
func (fc *failoverCluster) states() map[string]string {
	out := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fc.monitorDSN())
	if err != nil {
		return out
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "SELECT nodename, reportedstate::text FROM pgautofailover.node")
	for rows.Next() {
		var n, s string
		if rows.Scan(&n, &s) == nil {
			out[n] = s
		}
	}
	return out
}

// waitStates waits until the monitor reports want (node name → state),
// calling nudge between looks.
func (fc *failoverCluster) waitStates(want map[string]string, timeout time.Duration, nudge func()) {
	fc.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := fc.states()
		ok := true
		for n, s := range want {
			ok = ok && got[n] == s
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			fc.t.Fatalf("states %v, want %v after %v\n%s", got, want, timeout, fc.logs())
		}
		if nudge != nil {
			nudge()
		}
		time.Sleep(time.Second)
	}
}

// start creates and runs the monitor, then the primary, then the standby,
// and waits until the standby replicates synchronously.
func (fc *failoverCluster) start() {
	t := fc.t
	t.Helper()
	monPort := freePort(t)
	fc.monitor = fc.run("monitor", monPort, "create", "monitor", "--pgdata", filepath.Join(fc.dir, "monitor"),
		"--pgport", fmt.Sprint(monPort), "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl", "--run")
	// Fast failure detection for the test; docs/DEPLOYMENT.md says what a
	// real deployment keeps (primary_demote_timeout above all).
	fc.exec(fc.monitorDSN(), 60*time.Second,
		"ALTER SYSTEM SET pgautofailover.health_check_period = 1000",
		"ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000",
		"ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1",
		"ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500",
		"ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 3000",
		"ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 5000",
		"SELECT pg_reload_conf()")
	monitorURL := fmt.Sprintf("postgres://autoctl_node@127.0.0.1:%d/pg_auto_failover?sslmode=disable", monPort)
	for i, name := range []string{"node1", "node2"} {
		port := freePort(t)
		fc.nodes = append(fc.nodes, fc.run(name, port, "create", "postgres", "--pgdata", filepath.Join(fc.dir, name),
			"--pgport", fmt.Sprint(port), "--hostname", "127.0.0.1", "--listen", "127.0.0.1", "--name", name,
			"--dbname", "tartine", "--auth", "trust", "--no-ssl", "--monitor", monitorURL, "--run"))
		if i == 0 {
			fc.waitStates(map[string]string{"node1": "single"}, 90*time.Second, nil)
		}
	}
	// The standby's base backup waits for a checkpoint: ask for it now.
	fc.waitStates(map[string]string{"node1": "primary", "node2": "secondary"}, 180*time.Second, func() {
		if conn, err := pgx.Connect(context.Background(), fc.nodeDSN(0, "postgres")); err == nil {
			_, _ = conn.Exec(context.Background(), "CHECKPOINT")
			conn.Close(context.Background())
		}
	})
	var sync string
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fc.nodeDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT string_agg(sync_state, ',') FROM pg_stat_replication").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if sync != "quorum" && sync != "sync" {
		t.Fatalf("standby replication is %q, want synchronous (quorum or sync)", sync)
	}
}

// kill loses node i's machine: pg_autoctl and PostgreSQL are killed at once.
func (fc *failoverCluster) kill(i int) {
	_ = syscall.Kill(-fc.nodes[i].cmd.Process.Pid, syscall.SIGKILL)
	_ = fc.nodes[i].cmd.Wait()
}

func (fc *failoverCluster) stop() {
	all := append([]*autoctl{}, fc.nodes...)
	if fc.monitor != nil {
		all = append(all, fc.monitor)
	}
	for _, a := range all {
		if a.cmd.ProcessState == nil {
			_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGTERM)
		}
	}
	for _, a := range all {
		if a.cmd.ProcessState != nil {
			continue
		}
		done := make(chan struct{})
		go func() { _ = a.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

func (fc *failoverCluster) logs() string {
	var b strings.Builder
	for _, a := range append([]*autoctl{fc.monitor}, fc.nodes...) {
		if a != nil {
			fmt.Fprintf(&b, "--- pg_autoctl %s:\n%s\n", a.name, a.logs.String())
		}
	}
	return b.String()
}

// ack is a tap the server acknowledged (200 with its result).
type ack struct {
	res terminal.Result
	at  time.Time
}

// tapDevice sends signed tap batches like a bridge: a batch is sent again,
// with the same tap ids, until the server acknowledges it.
type tapDevice struct {
	dev     loadgen.Device
	station string
	url     string

	mu         sync.Mutex
	acks       map[string]ack
	lastOK     time.Time
	longestGap time.Duration // between two acknowledged batches
	failures   int           // answers other than 200, and transport errors
	no503Retry int           // 503 without Retry-After
}

func (d *tapDevice) post(ctx context.Context, taps []terminal.Tap) (int, []terminal.Result, string, error) {
	body, err := json.Marshal(map[string]any{"taps": taps})
	if err != nil {
		return 0, nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url+"/api/v1/taps", bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", terminal.Authorization(d.dev.ID, []byte(d.dev.Secret), http.MethodPost, "/api/v1/taps", time.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, resp.Header.Get("Retry-After"), nil
	}
	var out struct {
		Results []terminal.Result `json:"results"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return 0, nil, "", err
	}
	return resp.StatusCode, out.Results, "", nil
}

// send delivers taps, again and again until acknowledged or ctx is done.
func (d *tapDevice) send(ctx context.Context, taps []terminal.Tap) error {
	for {
		reqCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		status, res, retryAfter, err := d.post(reqCtx, taps)
		cancel()
		now := time.Now()
		if err == nil && status == http.StatusOK {
			if len(res) != len(taps) {
				return fmt.Errorf("%d results for %d taps", len(res), len(taps))
			}
			d.mu.Lock()
			for _, r := range res {
				d.acks[r.ID] = ack{res: r, at: now}
			}
			if !d.lastOK.IsZero() {
				d.longestGap = max(d.longestGap, now.Sub(d.lastOK))
			}
			d.lastOK = now
			d.mu.Unlock()
			return nil
		}
		d.mu.Lock()
		d.failures++
		if status == http.StatusServiceUnavailable && retryAfter == "" {
			d.no503Retry++
		}
		d.mu.Unlock()
		if status != 0 && status != http.StatusServiceUnavailable {
			return fmt.Errorf("status %d", status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not acknowledged: %w (last status %d, err %v)", ctx.Err(), status, err)
		case <-time.After(200 * time.Millisecond): // a bridge's min_backoff
		}
	}
}

// TestFailover: a primary, a synchronous standby and pg_auto_failover's
// monitor; `tartine serve` on a multi-host connection string; tap load from
// four devices and a real bridge with a virtual reader. The primary's
// machine is lost mid-run. The standby takes over, and then every tap
// acknowledged before, during and after the failover is in the database
// exactly once with the verdict the device was given, every charged tap has
// one ledger transfer, the bridge's outbox drained, and `tartine verify` is
// clean on the new primary.
func TestFailover(t *testing.T) {
	const devices, pupils, batch = 5, 400, 10
	ctx := context.Background()
	serverBin, bridgeBin := binaries(t)
	fc := newFailoverCluster(t)
	began := time.Now()
	fc.start()
	t.Logf("formation ready in %v", time.Since(began).Round(time.Millisecond))

	dsn := fc.dsn()
	migrate := exec.Command(serverBin, "migrate")
	migrate.Env = append(os.Environ(), "DATABASE_URL="+dsn)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("tartine migrate: %v\n%s", err, out)
	}
	pool, err := db.Open(ctx, dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	setup, err := loadgen.Prepare(ctx, pool, devices, pupils)
	if err != nil {
		t.Fatal(err)
	}
	stripe := newFakeStripe(t)
	t.Setenv("STRIPE_SECRET_KEY", "sk_test_failover")
	t.Setenv("STRIPE_WEBHOOK_SECRET", failoverWebhookSecret)
	t.Setenv("STRIPE_API_BASE", stripe.srv.URL)
	topUps := startTopUps(t, pool, setup.TenantID, stripe.srv.URL, 40)
	f := &fixture{pool: pool, setup: setup, bridge: bridgeBin, dir: t.TempDir(),
		srv: &server{t: t, bin: serverBin, dsn: dsn, addr: freeAddr(t)}}
	f.srv.start()
	defer f.srv.stop()

	// The bridge, with a virtual reader that taps every tenth of a second.
	vr, err := sim.Open(sim.FormatRDM6300, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer vr.Close()
	var bridgeLogs logBuffer
	bridge := f.startBridge(t, f.bridgeConfig(t, sim.FormatRDM6300, vr.Path()), &bridgeLogs)
	defer func() { _ = bridge.Process.Signal(syscall.SIGTERM); _ = bridge.Wait() }()
	time.Sleep(500 * time.Millisecond)

	day, err := time.ParseInLocation("2006-01-02", setup.Day, time.UTC)
	if err != nil {
		t.Fatalf("setup day %q: %v", setup.Day, err)
	}
	base := day.Add(11 * time.Hour)
	counters := make([]atomic.Int64, len(setup.Badges))
	var seq atomic.Int64
	runID := time.Now().UnixNano()

	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	devs := make([]*tapDevice, 0, devices-1)
	errs := make(chan error, devices+1)
	for i := 1; i < devices; i++ {
		d := &tapDevice{dev: setup.Devices[i], station: setup.Canteen[i%len(setup.Canteen)], url: "http://" + f.srv.addr, acks: map[string]ack{}}
		devs = append(devs, d)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(runID), uint64(i)))
			for loadCtx.Err() == nil {
				taps := make([]terminal.Tap, 0, batch)
				for range batch {
					b := rng.IntN(len(setup.Badges))
					taps = append(taps, terminal.Tap{ID: fmt.Sprintf("fo-%d-%d", runID, seq.Add(1)), Station: d.station,
						UID: setup.Badges[b], Tech: "em4100", ReadAt: base.Add(time.Duration(counters[b].Add(1)) * 2 * time.Minute)})
				}
				// A batch once begun is delivered whatever happens: the
				// device keeps it until the server acknowledges it.
				sendCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				err := d.send(sendCtx, taps)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("device %s: %w", d.dev.ID, err)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}(i)
	}
	// Stripe delivers the paid top-ups' events, one every 300 ms, each
	// again until acknowledged.
	webhookFailures := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		for _, tu := range topUps {
			n, err := tu.deliver(ctx, "http://"+f.srv.addr)
			webhookFailures += n
			if err != nil {
				errs <- err
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
	}()
	readerTaps := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; loadCtx.Err() == nil && i < len(setup.Badges); i++ {
			if err := vr.Tap(context.Background(), uidBytes(t, setup.Badges[i])); err != nil {
				errs <- fmt.Errorf("virtual reader: %w", err)
				return
			}
			readerTaps++
			time.Sleep(100 * time.Millisecond)
		}
	}()

	time.Sleep(5 * time.Second)
	ackedBefore := 0
	for _, d := range devs {
		d.mu.Lock()
		ackedBefore += len(d.acks)
		d.mu.Unlock()
	}
	killed := time.Now()
	fc.kill(0)
	t.Logf("node1 (primary) killed after %d acknowledged device taps", ackedBefore)
	// Wait for the standby to accept writes through Tartine, then load on.
	var promoted time.Time
	for deadline := time.Now().Add(90 * time.Second); ; {
		resp, err := http.Get("http://" + f.srv.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && fc.states()["node2"] == "wait_primary" {
				promoted = time.Now()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new primary 90 s after the kill; states %v\n%s\nserver:\n%s", fc.states(), fc.logs(), f.srv.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(5 * time.Second)
	stopLoad()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Fatalf("server:\n%s", f.srv.logs.String())
	}

	// Every device tap acknowledged is there once, as answered.
	acked := map[string]ack{}
	var longest time.Duration
	failures, no503Retry := 0, 0
	for _, d := range devs {
		for id, a := range d.acks {
			acked[id] = a
		}
		longest = max(longest, d.longestGap)
		failures += d.failures
		no503Retry += d.no503Retry
	}
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	rows, err := pool.Query(ctx, `SELECT tap_id, count(*), min(verdict), bool_and(transfer_id IS NOT NULL)
		FROM taps WHERE tenant_id = $1 AND tap_id = ANY($2) GROUP BY tap_id`, setup.TenantID, ids)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for rows.Next() {
		var id, verdict string
		var n int
		var charged bool
		if err := rows.Scan(&id, &n, &verdict, &charged); err != nil {
			t.Fatal(err)
		}
		found++
		a := acked[id]
		if n != 1 {
			t.Errorf("tap %s recorded %d times, want once", id, n)
		}
		if verdict != a.res.Verdict {
			t.Errorf("tap %s: verdict %q in the database, the device was told %q", id, verdict, a.res.Verdict)
		}
		if wantCharged := a.res.Charged != "" && a.res.Charged != "0.00"; charged != wantCharged {
			t.Errorf("tap %s: charged in the database %v, the device was told %q", id, charged, a.res.Charged)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if found != len(acked) {
		t.Errorf("%d of %d acknowledged device taps are in the database", found, len(acked))
	}

	// The bridge's outbox drains: every reader tap reaches the server once.
	f.waitTaps(t, len(acked)+readerTaps, 90*time.Second)
	time.Sleep(500 * time.Millisecond) // a late duplicate would show now
	total, distinct, _ := f.tapCounts(t)
	if total != distinct || total != len(acked)+readerTaps {
		t.Errorf("server has %d tap rows, %d tap ids; want %d (%d device taps acknowledged + %d reader taps)\nbridge log:\n%s",
			total, distinct, len(acked)+readerTaps, len(acked), readerTaps, bridgeLogs.String())
	}
	var offline, charged, transfers int
	if err := pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE offline), count(*) FILTER (WHERE transfer_id IS NOT NULL),
		       (SELECT count(*) FROM transfers WHERE tenant_id = $1 AND idempotency_key LIKE 'tap:%')
		FROM taps WHERE tenant_id = $1`, setup.TenantID).Scan(&offline, &charged, &transfers); err != nil {
		t.Fatal(err)
	}
	if charged != transfers {
		t.Errorf("%d charged taps but %d ledger transfers keyed by tap", charged, transfers)
	}
	if charged == 0 {
		t.Error("no tap was charged: the load did not exercise the ledger")
	}
	if no503Retry > 0 {
		t.Errorf("%d answers 503 without Retry-After", no503Retry)
	}
	if failures == 0 {
		t.Error("no device saw the outage: the kill did not happen under load")
	}
	creditsAcked := checkTopUps(t, pool, setup.TenantID, topUps)
	creditsBefore := 0
	for _, tu := range topUps {
		if !tu.acked.IsZero() && tu.acked.Before(killed) {
			creditsBefore++
		}
	}
	if creditsAcked != len(topUps) {
		t.Errorf("%d of %d Stripe top-ups acknowledged", creditsAcked, len(topUps))
	}
	verify := exec.Command(serverBin, "verify")
	verify.Env = append(os.Environ(), "DATABASE_URL="+dsn)
	out, err := verify.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verify: ok") {
		t.Errorf("tartine verify on the new primary: %v\n%s", err, out)
	}
	var inRecovery bool
	conn, err := pgxpool.New(ctx, fc.nodeDSN(1, "tartine"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || inRecovery {
		t.Errorf("node2 in recovery %v (%v), want it primary", inRecovery, err)
	}
	t.Logf("FAILOVER: %d device taps acknowledged (%d before the kill), %d reader taps through the bridge (%d decided offline), %d charged; "+
		"%d Stripe credits acknowledged (%d before the kill, %d deliveries refused meanwhile); "+
		"new primary accepting writes through Tartine %.1f s after the kill; longest wait seen by a device %.1f s; %d failed or 503 answers",
		len(acked), ackedBefore, readerTaps, offline, charged, creditsAcked, creditsBefore, webhookFailures,
		promoted.Sub(killed).Seconds(), longest.Seconds(), failures)
}
