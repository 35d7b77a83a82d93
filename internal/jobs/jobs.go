// Package jobs runs Tartine's slow or fallible side work on a durable queue
// in PostgreSQL (river): emails, the schools' day end, cleanup of expired
// sessions. A request never waits on SMTP: it enqueues an email job (in its
// own transaction with SendTx, so the email exists exactly when the change it
// reports was committed) and answers; a worker delivers it, retrying with
// river's exponential backoff (MaxAttempts, about three days) when the mail
// server fails, and the job survives a restart of the server.
//
// Periodic work (the day end, session cleanup, pupils leaving and the
// retention of their data) is a river periodic job: one
// leader among the running servers inserts it at its interval, a worker
// runs it, and a failure is retried like any job.
//
// Metrics: tartine_jobs_total{kind,outcome} counts finished attempts
// (completed, failed: will retry, discarded: gave up) and
// tartine_jobs_waiting{state} the jobs not finished yet (available,
// scheduled, retryable, running) and those discarded in the last week.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"tartine/internal/mail"
)

// MaxAttempts is how often a job is tried before it is discarded (river's
// backoff is attempt⁴ seconds: 25 attempts span about three days).
const MaxAttempts = 25

// Sender delivers one email (internal/mail's SMTP or LogSender).
type Sender interface {
	Send(ctx context.Context, msg mail.Message) error
}

// Periodic is side work run every Every (e.g. the day end scan).
type Periodic struct {
	Name  string // job kind suffix and log name: "day_end", "session_cleanup"
	Every time.Duration
	Run   func(ctx context.Context) error
}

// Config is what the queue needs.
type Config struct {
	Pool *pgxpool.Pool
	// Mail delivers the email jobs. Required.
	Mail     Sender
	Periodic []Periodic
	Log      *slog.Logger
	// Workers is the number of jobs run at once (default 4).
	Workers int
	// PollInterval is how often workers look for jobs besides
	// LISTEN/NOTIFY (default 1 s; tests use less).
	PollInterval time.Duration
	// Metrics registers the queue's metrics when set.
	Metrics prometheus.Registerer
	// RetryDelay overrides the wait before a failed job's next attempt
	// (tests); nil is river's attempt⁴ seconds.
	RetryDelay func(attempt int) time.Duration
}

type retryPolicy struct{ delay func(int) time.Duration }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.delay(job.Attempt))
}

// Queue is the job queue. Send and SendTx enqueue; Start runs the workers.
type Queue struct {
	client   *river.Client[pgx.Tx]
	pool     *pgxpool.Pool
	log      *slog.Logger
	done     *prometheus.CounterVec
	periodic *periodicWorker
}

// New builds the queue; the schema is river's, applied by migrations.Up.
func New(cfg Config) (*Queue, error) {
	if cfg.Pool == nil || cfg.Mail == nil {
		return nil, errors.New("jobs: Pool and Mail are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &emailWorker{send: cfg.Mail})
	var periodic []*river.PeriodicJob
	pw := &periodicWorker{runs: map[string]func(context.Context) error{}}
	for _, p := range cfg.Periodic {
		job, err := pw.add(p)
		if err != nil {
			return nil, err
		}
		periodic = append(periodic, job)
	}
	river.AddWorker(workers, pw)
	var retry river.ClientRetryPolicy
	if cfg.RetryDelay != nil {
		retry = retryPolicy{cfg.RetryDelay}
	}
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{
		RetryPolicy:  retry,
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:      workers,
		PeriodicJobs: periodic,
		MaxAttempts:  MaxAttempts,
		// river reports its routine work at INFO every few seconds:
		// keep its warnings and errors only.
		Logger:            slog.New(warnOnly{cfg.Log.Handler()}).With("component", "jobs"),
		FetchPollInterval: cfg.PollInterval,
		JobTimeout:        2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q := &Queue{client: client, pool: cfg.Pool, log: cfg.Log, periodic: pw}
	if cfg.Metrics != nil {
		q.done = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tartine_jobs_total",
			Help: "Finished job attempts by kind and outcome (completed, failed: retried later, discarded: gave up)."}, []string{"kind", "outcome"})
		waiting := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tartine_jobs_waiting",
			Help: "Jobs not finished by state, and jobs discarded in the last 7 days."}, []string{"state"})
		if err := cfg.Metrics.Register(q.done); err != nil {
			return nil, err
		}
		if err := cfg.Metrics.Register(&waitingCollector{q: q, desc: waiting}); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// Start runs the workers and the periodic jobs until ctx ends or Stop.
func (q *Queue) Start(ctx context.Context) error {
	if q.done != nil {
		events, cancel := q.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
		go func() {
			defer cancel()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-events:
					if !ok {
						return
					}
					q.done.WithLabelValues(ev.Job.Kind, outcome(ev)).Inc()
				}
			}
		}()
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	return nil
}

func outcome(ev *river.Event) string {
	switch {
	case ev.Kind == river.EventKindJobCompleted:
		return "completed"
	case ev.Job.State == rivertype.JobStateDiscarded || ev.Kind == river.EventKindJobCancelled:
		return "discarded"
	default:
		return "failed"
	}
}

// Stop waits for running jobs to finish (until ctx ends).
func (q *Queue) Stop(ctx context.Context) error {
	return q.client.Stop(ctx)
}

// Send enqueues an email and returns once it is stored: it implements the
// mailers' Send, so a page that "sends" an email never waits on SMTP.
func (q *Queue) Send(ctx context.Context, msg mail.Message) error {
	if _, err := q.client.Insert(ctx, EmailArgs(msg), nil); err != nil {
		return fmt.Errorf("jobs: enqueue email: %w", err)
	}
	return nil
}

// SendTx enqueues an email in tx: it is sent only if tx commits.
func (q *Queue) SendTx(ctx context.Context, tx pgx.Tx, msg mail.Message) error {
	if _, err := q.client.InsertTx(ctx, tx, EmailArgs(msg), nil); err != nil {
		return fmt.Errorf("jobs: enqueue email: %w", err)
	}
	return nil
}

// EmailArgs is an email job: the message, rendered when it was enqueued.
type EmailArgs mail.Message

// Kind names the job kind in river_job.
func (EmailArgs) Kind() string { return "email" }

type emailWorker struct {
	river.WorkerDefaults[EmailArgs]
	send Sender
}

func (w *emailWorker) Work(ctx context.Context, job *river.Job[EmailArgs]) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := w.send.Send(ctx, mail.Message(job.Args))
	if errors.Is(err, mail.ErrAddress) {
		// Retrying cannot fix an invalid address.
		return river.JobCancel(err)
	}
	return err
}

// PeriodicArgs is a run of a Periodic.
type PeriodicArgs struct {
	Name string `json:"name"`
}

// Kind names the job kind in river_job.
func (PeriodicArgs) Kind() string { return "periodic" }

type periodicWorker struct {
	river.WorkerDefaults[PeriodicArgs]
	mu   sync.Mutex
	runs map[string]func(context.Context) error
}

// add records p's function and returns its river job.
func (w *periodicWorker) add(p Periodic) (*river.PeriodicJob, error) {
	if p.Name == "" || p.Every <= 0 || p.Run == nil {
		return nil, fmt.Errorf("jobs: periodic job %q needs a name, an interval and a function", p.Name)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.runs[p.Name]; dup {
		return nil, fmt.Errorf("jobs: periodic job %q twice", p.Name)
	}
	w.runs[p.Name] = p.Run
	name := p.Name
	return river.NewPeriodicJob(river.PeriodicInterval(p.Every),
		func() (river.JobArgs, *river.InsertOpts) {
			// One pending run at a time: a slow run is not doubled.
			return PeriodicArgs{Name: name}, &river.InsertOpts{MaxAttempts: 3,
				UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable,
					rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStatePending}}}
		}, &river.PeriodicJobOpts{ID: name, RunOnStart: true}), nil
}

// AddPeriodic adds periodic work once the service it runs is built (the
// queue is built first: the services send their emails through it). Call it
// before Start; a name used twice is refused.
func (q *Queue) AddPeriodic(p Periodic) error {
	job, err := q.periodic.add(p)
	if err != nil {
		return err
	}
	q.client.PeriodicJobs().Add(job)
	return nil
}

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[PeriodicArgs]) error {
	w.mu.Lock()
	run, ok := w.runs[job.Args.Name]
	w.mu.Unlock()
	if !ok {
		return river.JobCancel(fmt.Errorf("no periodic job %q in this server", job.Args.Name))
	}
	return run(ctx)
}

// waitingCollector reads the queue's state counts at each scrape.
type waitingCollector struct {
	q    *Queue
	desc *prometheus.GaugeVec
}

func (c *waitingCollector) Describe(ch chan<- *prometheus.Desc) { c.desc.Describe(ch) }

func (c *waitingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, _ := c.q.pool.Query(ctx, `SELECT state::text, count(*) FROM river_job
		WHERE state <> 'completed' AND (state <> 'discarded' OR finalized_at > now() - interval '7 days')
		GROUP BY state`)
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
		state string
		n     float64
	}, error) {
		var x struct {
			state string
			n     float64
		}
		return x, r.Scan(&x.state, &x.n)
	})
	if err != nil {
		return
	}
	c.desc.Reset()
	for _, s := range []string{"available", "scheduled", "retryable", "running", "discarded"} {
		c.desc.WithLabelValues(s).Set(0)
	}
	for _, x := range counts {
		c.desc.WithLabelValues(x.state).Set(x.n)
	}
	c.desc.Collect(ch)
}

// warnOnly passes on the records of WARN and above.
type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnOnly) WithAttrs(a []slog.Attr) slog.Handler { return warnOnly{h.Handler.WithAttrs(a)} }

func (h warnOnly) WithGroup(n string) slog.Handler { return warnOnly{h.Handler.WithGroup(n)} }
