package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tartine/firmware-bridge/bridgetest"
	"tartine/firmware-bridge/sim"
)

const (
	device = "bridge-test"
	secret = "0123456789abcdef0123"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		nil,
		{"fly"},
		{"run"},
		{"simulate", "--format", "morse", "--count", "1"},
		{"simulate", "--format", "rdm6300", "--uids", "0102"}, // EM4100 needs 5 bytes
		{"simulate", "--uids", "zz"},
	}
	for _, args := range tests {
		var out bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &out)
		if err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}

func TestRunBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.toml")
	os.WriteFile(path, []byte(`device_id = "d"`+"\n"), 0o600)
	err := run(context.Background(), []string{"run", "--config", path}, func(string) string { return "" }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "server_url") || !strings.Contains(err.Error(), "reader") {
		t.Fatalf("run with an incomplete config = %v, want the missing fields named", err)
	}
}

// TestSimulateWithBridge runs `simulate --with-bridge` in process: virtual
// readers on ptys, the bridge reading them, the recording server receiving.
func TestSimulateWithBridge(t *testing.T) {
	srv, err := bridgetest.New(map[string]string{device: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, format := range []string{"tartine", "id12la", "line-hex", "line-dec", "em18"} {
		t.Run(format, func(t *testing.T) {
			before := srv.Stats().Unique
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out syncBuffer
			args := []string{"simulate", "--format", format, "--readers", "2", "--count", "25", "--rate", "200",
				"--with-bridge", "--server", srv.URL, "--device", device, "--data", t.TempDir(),
				"--status", "off", "--start-delay", "300ms", "--exit", "--log-level", "warn"}
			getenv := func(k string) string {
				if k == "TARTINE_BRIDGE_SECRET" {
					return secret
				}
				return ""
			}
			if err := run(ctx, args, getenv, &out); err != nil {
				t.Fatalf("simulate: %v\n%s", err, out.String())
			}
			if got := srv.Stats().Unique - before; got != 50 {
				t.Fatalf("server received %d taps, want 50\n%s", got, out.String())
			}
			if !strings.Contains(out.String(), "reader 1: /dev/pts/") {
				t.Errorf("output lacks the tty paths:\n%s", out.String())
			}
		})
	}
}

// TestCrashRecovery: 10,000 taps from a firmware reader; the bridge process
// is killed with SIGKILL several times mid-stream and restarted; afterwards
// the server has every tap, each badge read exactly once by tap id.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs ~15 s")
	}
	const taps = 10000
	const kills = 5
	dir := t.TempDir()
	bin := filepath.Join(dir, "tartine-bridge")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	srv, err := bridgetest.New(map[string]string{device: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	vr, err := sim.Open(sim.FormatTartine, sim.Options{Window: 64, Resend: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer vr.Close()
	cfg := fmt.Sprintf(`device_id = %q
secret = %q
server_url = %q
data_dir = %q
status_addr = "off"
[uplink]
min_backoff = "20ms"
max_backoff = "200ms"
[[reader]]
name = "fw"
station = "canteen-1"
driver = "tartine"
path = %q
`, device, secret, srv.URL, filepath.Join(dir, "data"), vr.Path())
	cfgPath := filepath.Join(dir, "bridge.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	var logs syncBuffer
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", "--config", cfgPath, "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	emitted := make(chan error, 1)
	want := make([]string, taps)
	go func() {
		for i := range taps {
			uid := []byte{0x30, 0, byte(i >> 16), byte(i >> 8), byte(i)}
			want[i] = strings.ToUpper(fmt.Sprintf("%x", uid))
			if err := vr.Tap(ctx, uid); err != nil {
				emitted <- err
				return
			}
		}
		emitted <- vr.Flush(ctx)
	}()

	cmd := start()
	began := time.Now()
	for k := range kills {
		// Kill mid-stream: once the reader has seen a share of its reads
		// acknowledged, plus a varying few milliseconds.
		for vr.Counts().Acked < (k+1)*taps/(kills+1) && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(k*7) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		t.Logf("kill %d: reader acked %d of %d, server has %d", k+1, vr.Counts().Acked, taps, srv.Stats().Unique)
		if k == 2 { // one restart while the server is down as well
			srv.Stop()
			cmd = start()
			time.Sleep(300 * time.Millisecond)
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		cmd = start()
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	if err := <-emitted; err != nil {
		t.Fatalf("emitting taps: %v\nbridge log:\n%s", err, logs.String())
	}
	deadline := time.Now().Add(30 * time.Second)
	for srv.Stats().Unique < taps && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(began)
	time.Sleep(200 * time.Millisecond) // late duplicates would show here

	byUID := map[string]int{}
	for _, tp := range srv.Taps() {
		byUID[tp.UID]++
	}
	missing, twice := 0, 0
	for _, u := range want {
		switch byUID[u] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	st := srv.Stats()
	t.Logf("%d taps, %d kills: %d distinct tap ids at the server, %d deliveries (replays by id), %d requests, %s",
		taps, kills, st.Unique, st.Deliveries, st.Requests, elapsed.Round(time.Millisecond))
	if missing > 0 || twice > 0 || st.Unique != taps {
		t.Fatalf("%d badge reads missing, %d stored under two tap ids, %d distinct ids (want %d)\nbridge log:\n%s",
			missing, twice, st.Unique, taps, logs.String())
	}
}
