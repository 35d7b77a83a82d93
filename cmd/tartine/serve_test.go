package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/internal/db"
	"tartine/internal/dbtest"
)

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestHealthzFollowsTheDatabase(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, err := db.Open(ctx, dbtest.NewDSN(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	d := &database{Pool: pool}
	var out bytes.Buffer
	e := env{getenv: getenvFrom(nil), stdout: &out, stderr: io.Discard}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, e, newLogger(e), d, serveConfig{Addr: "127.0.0.1:0"}, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 {
		t.Fatalf("healthz = %d %s, want 200", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "tartine_http_request_duration_seconds") {
		t.Fatalf("metrics = %d, missing request histogram", code)
	}
	pool.Close() // the database goes away
	if code, _ := get("/healthz"); code != http.StatusServiceUnavailable {
		t.Fatalf("healthz without database = %d, want 503", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
}

func TestServeRefusesOldSchemaUnlessMigrate(t *testing.T) {
	ctx := context.Background()
	c := dbtest.Cluster(t)
	admin, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("empty_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	getenv := getenvFrom(map[string]string{"DATABASE_URL": c.DSN(name)})
	err = run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "tartine migrate") {
		t.Fatalf("serve on an empty schema: err = %v, want a refusal naming 'tartine migrate'", err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"migrate"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(out.String(), "applied") {
		t.Fatalf("migrate output = %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"verify"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("verify on an empty ledger: %v (%s)", err, out.String())
	}
	if !strings.HasPrefix(out.String(), "verify: ok") {
		t.Fatalf("verify output = %q", out.String())
	}
}
