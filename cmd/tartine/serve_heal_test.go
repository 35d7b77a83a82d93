package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServeRestartsItsEmbeddedPostgres kills the embedded PostgreSQL under a
// running server: the server restarts it and answers again; when it cannot
// be restarted, serve returns an error (tartine exits non-zero, so that
// systemd's Restart=on-failure fires) instead of answering 503 forever.
func TestServeRestartsItsEmbeddedPostgres(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, err := os.MkdirTemp("", "tartine-serve-heal-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &syncWriter{w: &bytes.Buffer{}}
	e := env{getenv: getenvFrom(nil), stdout: io.Discard, stderr: logs}
	log := newLogger(e)
	d, err := openDatabase(ctx, e, dbFlags{dataDir: filepath.Join(base, "pg"), maxConns: 4}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := requireSchema(ctx, d, true); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, e, log, d, serveConfig{Addr: "127.0.0.1:0"}, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	healthy := func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !healthy() {
		t.Fatal("healthz not 200 at start")
	}

	pid := d.Cluster.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for d.Cluster.Pid() == pid || !healthy() {
		select {
		case err := <-done:
			t.Fatalf("serve ended after PostgreSQL died once: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz not back within 30 s after PostgreSQL was killed; log:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Now a configuration PostgreSQL refuses: it cannot come back.
	if err := os.WriteFile(filepath.Join(d.Cluster.DataDir(), "postgresql.auto.conf"), []byte("shared_buffers = 'lots'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(d.Cluster.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("serve returned nil with its database gone for good, want an error (non-zero exit)")
		}
		t.Logf("serve: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatalf("serve still running 90 s after its PostgreSQL became impossible to restart; log:\n%s", logs.String())
	}
}

// syncWriter serialises writes from the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.w)
}
