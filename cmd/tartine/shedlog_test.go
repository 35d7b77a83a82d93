package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestShedLog: the first request refused under load is reported at once,
// the next ones of the same minute only counted, and reported together
// with the first one after the minute.
func TestShedLog(t *testing.T) {
	var buf bytes.Buffer
	s := &shedLog{log: slog.New(slog.NewTextHandler(&buf, nil)), every: time.Minute}
	t0 := time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)
	lines := func() []string { return strings.Split(strings.TrimSpace(buf.String()), "\n") }
	s.note(t0)
	if l := lines(); len(l) != 1 || !strings.Contains(l[0], "level=WARN") || !strings.Contains(l[0], "count=1") {
		t.Fatalf("first shed: %q", buf.String())
	}
	for i := 1; i <= 200; i++ {
		s.note(t0.Add(time.Duration(i) * 100 * time.Millisecond)) // up to 20 s later
	}
	if l := lines(); len(l) != 1 {
		t.Fatalf("sheds within the minute logged: %q", buf.String())
	}
	s.note(t0.Add(time.Minute))
	if l := lines(); len(l) != 2 || !strings.Contains(l[1], "count=201") {
		t.Fatalf("after a minute: %q", buf.String())
	}
}
