package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"tartine/internal/dbtest"
	"tartine/internal/jobs"
	"tartine/internal/mail"
	"tartine/internal/mail/mailtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func smtpTo(t *testing.T, addr string) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(mail.Config{Addr: addr, From: "Tartine <noreply@ecole.be>", TLS: mail.TLSNone, Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// outage sends through a mail server that refuses connections until up is
// set, then through the real one.
type outage struct {
	down, up *mail.SMTP
	isUp     atomic.Bool
	tries    atomic.Int32
}

func (o *outage) Send(ctx context.Context, msg mail.Message) error {
	o.tries.Add(1)
	if o.isUp.Load() {
		return o.up.Send(ctx, msg)
	}
	return o.down.Send(ctx, msg)
}

func newQueue(t *testing.T, cfg jobs.Config) *jobs.Queue {
	t.Helper()
	if cfg.Pool == nil {
		cfg.Pool = dbtest.New(t)
	}
	cfg.PollInterval = 100 * time.Millisecond
	cfg.RetryDelay = func(int) time.Duration { return 50 * time.Millisecond }
	q, err := jobs.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func start(t *testing.T, q *jobs.Queue) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = q.Stop(stop)
		cancel()
	})
}

// An email enqueued while the mail server is down is stored at once (the
// request does not wait), retried with backoff, delivered exactly once when
// the server is back; a queue started after a restart delivers what the
// previous process enqueued.
func TestEmailSurvivesOutageAndRestart(t *testing.T) {
	pool := dbtest.New(t)
	srv := mailtest.Start(t, "", "")
	o := &outage{down: smtpTo(t, deadAddr(t)), up: smtpTo(t, srv.Addr)}
	reg := prometheus.NewRegistry()
	q := newQueue(t, jobs.Config{Pool: pool, Mail: o, Metrics: reg})

	// Before any worker runs: enqueued, nothing tried.
	begin := time.Now()
	if err := q.Send(context.Background(), mail.Message{To: "sophie@example.be", Subject: "Reçu", Text: "Merci"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Send took %v: it must only enqueue", d)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'email' AND state = 'available'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("stored email jobs: %d, %v; want 1", n, err)
	}

	// A "restarted" server: a second queue on the same database runs it.
	q2 := newQueue(t, jobs.Config{Pool: pool, Mail: o})
	start(t, q2)
	deadline := time.Now().Add(20 * time.Second)
	for o.tries.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if o.tries.Load() < 3 {
		t.Fatalf("%d attempts while the mail server was down, want retries", o.tries.Load())
	}
	if got := len(srv.Messages()); got != 0 {
		t.Fatalf("%d messages delivered while down", got)
	}
	o.isUp.Store(true)
	got := srv.Wait(t, 1)
	if got[0].Subject != "Reçu" || got[0].To[0] != "sophie@example.be" {
		t.Errorf("delivered %+v", got[0])
	}
	time.Sleep(300 * time.Millisecond)
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("%d messages delivered, want exactly 1", got)
	}
	_ = q
}

// SendTx enqueues with the caller's transaction: a rolled back change sends
// nothing; a committed one sends its email.
func TestSendTxFollowsTheTransaction(t *testing.T) {
	pool := dbtest.New(t)
	srv := mailtest.Start(t, "", "")
	q := newQueue(t, jobs.Config{Pool: pool, Mail: smtpTo(t, srv.Addr)})
	start(t, q)
	ctx := context.Background()
	for _, commit := range []bool{false, true} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			subject := "rolled back"
			if commit {
				subject = "committed"
			}
			if err := q.SendTx(ctx, tx, mail.Message{To: "a@example.be", Subject: subject, Text: "x"}); err != nil {
				return err
			}
			if !commit {
				return errors.New("the change failed")
			}
			return nil
		})
		if commit != (err == nil) {
			t.Fatalf("commit=%v: %v", commit, err)
		}
	}
	got := srv.Wait(t, 1)
	time.Sleep(300 * time.Millisecond)
	if len(srv.Messages()) != 1 || got[0].Subject != "committed" {
		t.Errorf("messages: %+v, want only the committed one", srv.Messages())
	}
}

// An invalid address is not retried forever: the job is cancelled.
func TestInvalidAddressIsNotRetried(t *testing.T) {
	pool := dbtest.New(t)
	srv := mailtest.Start(t, "", "")
	q := newQueue(t, jobs.Config{Pool: pool, Mail: smtpTo(t, srv.Addr)})
	start(t, q)
	if err := q.Send(context.Background(), mail.Message{To: "not an address", Subject: "x", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var state string
	for time.Now().Before(deadline) {
		_ = pool.QueryRow(context.Background(), `SELECT state::text FROM river_job WHERE kind = 'email'`).Scan(&state)
		if state == "cancelled" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("job state %q, want cancelled", state)
}

// A periodic job runs at start and again at its interval; a failing run is
// retried.
func TestPeriodicRunsAndRetries(t *testing.T) {
	var runs atomic.Int32
	q := newQueue(t, jobs.Config{Mail: mail.LogSender{Log: slog.New(slog.DiscardHandler)}, Periodic: []jobs.Periodic{{Name: "cleanup", Every: 200 * time.Millisecond,
		Run: func(context.Context) error {
			if runs.Add(1) == 1 {
				return errors.New("first run fails")
			}
			return nil
		}}}})
	start(t, q)
	deadline := time.Now().Add(20 * time.Second)
	for runs.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if runs.Load() < 3 {
		t.Errorf("%d runs, want the failed first one retried and later ones", runs.Load())
	}
}

// A periodic job added after New (once the service it runs is built) runs
// like one given to New; a name given twice is refused.
func TestAddPeriodic(t *testing.T) {
	var runs atomic.Int32
	q := newQueue(t, jobs.Config{Mail: mail.LogSender{Log: slog.New(slog.DiscardHandler)}, Periodic: []jobs.Periodic{{Name: "early", Every: time.Hour,
		Run: func(context.Context) error { return nil }}}})
	if err := q.AddPeriodic(jobs.Periodic{Name: "late", Every: 200 * time.Millisecond, Run: func(context.Context) error {
		runs.Add(1)
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := q.AddPeriodic(jobs.Periodic{Name: "early", Every: time.Hour, Run: func(context.Context) error { return nil }}); err == nil {
		t.Error("a periodic job added twice under one name")
	}
	start(t, q)
	deadline := time.Now().Add(20 * time.Second)
	for runs.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if runs.Load() < 2 {
		t.Errorf("%d runs of the periodic job added after New, want it run at start and again", runs.Load())
	}
}
