package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"tartine/internal/db"
	portalgen "tartine/portal/loadgen"
)

// TestLoadgenPortal prepares 4 parents, serves (with the device API's own
// pool) and runs `loadgen portal` for 2 s: every request is answered, none
// fails, and the ledger verifies. The clock is fixed for the setup; what
// the parents can book depends on the server's day, which the test does
// not look at.
func TestLoadgenPortal(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0)) // the generator takes one processor
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	getenv, _, _ := testLedger(t)
	file := filepath.Join(t.TempDir(), "portalgen.json")
	e := env{getenv: getenv, stdout: io.Discard, stderr: io.Discard, now: func() time.Time { return time.Date(2026, 11, 26, 7, 55, 0, 0, time.UTC) }}
	if err := runEnv(ctx, []string{"loadgen", "portal", "--setup", "--parents", "4", "--file", file}, e); err != nil {
		t.Fatalf("setup: %v", err)
	}
	pool, err := db.Open(ctx, getenv("DATABASE_URL"), 8)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d := &database{Pool: pool, DSN: getenv("DATABASE_URL")}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, e, newLogger(env{stderr: io.Discard, getenv: getenv}), d, serveConfig{Addr: "127.0.0.1:0", DeviceConns: 2}, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	var out bytes.Buffer
	e.stdout = &out
	if err := runEnv(ctx, []string{"loadgen", "portal", "--url", "http://" + addr, "--file", file, "--parents", "4", "--duration", "2s", "--json"}, e); err != nil {
		t.Fatalf("loadgen portal: %v", err)
	}
	var rep struct{ Portal portalgen.Report }
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	if rep.Portal.Failures != 0 || rep.Portal.LastError != "" {
		t.Errorf("%d failures, last %q", rep.Portal.Failures, rep.Portal.LastError)
	}
	for _, typ := range []string{portalgen.ReqHome, portalgen.ReqBookings, portalgen.ReqHistory} {
		if rep.Portal.Types[typ].Count == 0 {
			t.Errorf("no %s request in the report: %+v", typ, rep.Portal.Types)
		}
	}
	if rep.Portal.LoginPhase == nil || rep.Portal.LoginPhase.Count < 4 {
		t.Errorf("login phase %+v, want the 4 parents' logins", rep.Portal.LoginPhase)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	out.Reset()
	if err := runEnv(context.Background(), []string{"verify"}, e); err != nil {
		t.Fatalf("verify: %v", err)
	}
}
