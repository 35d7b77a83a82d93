// Package ledgerbench measures the ledger's throughput and latency on a
// PostgreSQL server and, in the same run and on the same server, pgbench's
// tpcb-like workload as the ceiling of the machine.
//
// It works in two databases of its own next to the one it is given
// (tartine_bench for the ledger, tartine_pgbench for pgbench), so benchmark
// rows never mix with real data. The ledger database is recreated on every
// run; the pgbench one is kept while its scale matches.
//
// Scenarios, each run for every concurrency level:
//
//	purchase   wallet → revenue:meals, 10,000 pre-funded wallets, all
//	           purchases credit the same revenue account (the hot account)
//	topup      stripe-clearing → wallet
//	hold-post  place a hold on a wallet, then post it to revenue:meals
//	           (one measurement = the two calls)
package ledgerbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/ledger"
	"tartine/migrations"
)

// Scenario names, as printed.
const (
	Purchase = "purchase"
	Topup    = "topup"
	HoldPost = "hold-post"
	Pgbench  = "pgbench-tpcb-like"
)

// Database names the benchmark creates on the server.
const (
	LedgerDatabase  = "tartine_bench"
	PgbenchDatabase = "tartine_pgbench"
)

// Config is what to measure and where.
type Config struct {
	// DSN connects to any database of the server; the benchmark databases
	// are created next to it (the role needs CREATEDB).
	DSN string
	// Pgbench is the pgbench binary; empty skips the pgbench measurement.
	Pgbench string
	// Duration of each measurement (after a short warm-up).
	Duration time.Duration
	// Concurrency levels, e.g. 1, 8, 32.
	Concurrency []int
	// Wallets pre-funded for the purchase scenario (default 10,000).
	Wallets int
	// PgbenchScale is pgbench -i -s (default: the largest concurrency, so
	// that tpcb-like's branch rows are not an artificial bottleneck).
	PgbenchScale int
	// Logf receives progress lines; may be nil.
	Logf func(format string, args ...any)
}

// Result is one measurement.
type Result struct {
	Scenario       string  `json:"scenario"`
	Concurrency    int     `json:"concurrency"`
	TransfersPerS  float64 `json:"transfers_per_s"`
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	RatioToPgbench float64 `json:"ratio_to_pgbench"`
	// Errors counts failed operations (excluded from the figures).
	Errors int `json:"-"`
}

// Run prepares the databases and measures every scenario at every
// concurrency level, calling report after each measurement. The ratio to
// pgbench is filled in once pgbench has run at that concurrency, so report
// is called for a concurrency level only when all its figures are known.
func Run(ctx context.Context, cfg Config, report func(Result)) ([]Result, error) {
	if cfg.Duration <= 0 || len(cfg.Concurrency) == 0 {
		return nil, errors.New("ledgerbench: need a positive duration and at least one concurrency level")
	}
	for _, c := range cfg.Concurrency {
		if c < 1 {
			return nil, fmt.Errorf("ledgerbench: concurrency %d must be at least 1", c)
		}
	}
	if cfg.Wallets <= 0 {
		cfg.Wallets = 10000
	}
	if cfg.PgbenchScale <= 0 {
		cfg.PgbenchScale = slices.Max(cfg.Concurrency)
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if report == nil {
		report = func(Result) {}
	}
	benchDSN, err := WithDatabase(cfg.DSN, LedgerDatabase)
	if err != nil {
		return nil, err
	}
	if err := recreateDatabase(ctx, cfg.DSN, LedgerDatabase); err != nil {
		return nil, err
	}
	pool, err := openPool(ctx, benchDSN, int32(slices.Max(cfg.Concurrency)+4))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool); err != nil {
		return nil, err
	}
	w, err := setup(ctx, pool, cfg.Wallets, cfg.Logf)
	if err != nil {
		return nil, err
	}
	var pg *pgbenchRunner
	if cfg.Pgbench != "" {
		if pg, err = preparePgbench(ctx, cfg); err != nil {
			return nil, err
		}
		defer pg.close()
	}

	var all []Result
	for _, c := range cfg.Concurrency {
		var level []Result
		for _, sc := range []string{Purchase, Topup, HoldPost} {
			cfg.Logf("%s at concurrency %d for %s", sc, c, cfg.Duration)
			r, err := w.measure(ctx, sc, c, cfg.Duration)
			if err != nil {
				return all, err
			}
			level = append(level, r)
		}
		if pg != nil {
			cfg.Logf("pgbench tpcb-like at concurrency %d for %s", c, cfg.Duration)
			r, err := pg.run(ctx, c, cfg.Duration)
			if err != nil {
				return all, err
			}
			for i := range level {
				level[i].RatioToPgbench = round(level[i].TransfersPerS/r.TransfersPerS, 3)
			}
			level = append(level, r)
		}
		for _, r := range level {
			report(r)
		}
		all = append(all, level...)
	}
	return all, nil
}

func round(f float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(f*p+0.5)) / p
}

// WithDatabase returns dsn (URL or key=value form) pointing at database name.
func WithDatabase(dsn, name string) (string, error) {
	if _, err := pgconn.ParseConfig(dsn); err != nil {
		return "", fmt.Errorf("database url: %w", err)
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("database url: %w", err)
		}
		u.Path = "/" + name
		q := u.Query()
		q.Del("dbname")
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// In the key=value form a later keyword wins.
	return dsn + " dbname=" + name, nil
}

func openPool(ctx context.Context, dsn string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	cfg.MaxConns, cfg.MinConns = maxConns, maxConns
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		pgxdecimal.Register(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.ConnConfig.Database, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

// recreateDatabase drops and creates name on the server of dsn.
func recreateDatabase(ctx context.Context, dsn, name string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to the server: %w", err)
	}
	defer conn.Close(ctx)
	id := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop benchmark database %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+id); err != nil {
		return fmt.Errorf("create benchmark database %s (the role needs CREATEDB): %w", name, err)
	}
	return nil
}

// world is the benchmark tenant with its accounts.
type world struct {
	l        *ledger.Ledger
	tenant   int64
	wallets  []int64
	revenue  int64
	clearing int64
}

func setup(ctx context.Context, pool *pgxpool.Pool, wallets int, logf func(string, ...any)) (*world, error) {
	l := ledger.New(pool, nil)
	w := &world{l: l}
	var err error
	if w.tenant, err = l.EnsureTenant(ctx, "bench", "Benchmark (not real data)"); err != nil {
		return nil, err
	}
	rev, err := l.EnsureAccount(ctx, w.tenant, ledger.AccountSpec{Code: "revenue:meals", Name: "Repas", Type: ledger.Income})
	if err != nil {
		return nil, err
	}
	clr, err := l.EnsureAccount(ctx, w.tenant, ledger.AccountSpec{Code: "stripe-clearing", Name: "Stripe", Type: ledger.Asset})
	if err != nil {
		return nil, err
	}
	w.revenue, w.clearing = rev.ID, clr.ID
	logf("creating and funding %d wallets", wallets)
	// Accounts in one statement; the ledger reads their properties itself.
	if _, err := pool.Exec(ctx, `
		INSERT INTO accounts (tenant_id, code, name, type, tracked, floor)
		SELECT $1, 'wallet:' || i, 'Wallet ' || i, 'liability', true, 0 FROM generate_series(1, $2) i`, w.tenant, wallets); err != nil {
		return nil, fmt.Errorf("create wallets: %w", err)
	}
	rows, _ := pool.Query(ctx, `SELECT id FROM accounts WHERE tenant_id = $1 AND code LIKE 'wallet:%' ORDER BY id`, w.tenant)
	if w.wallets, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return nil, fmt.Errorf("list wallets: %w", err)
	}
	// Fund them through the ledger, 500 wallets per transfer.
	fund := decimal.NewFromInt(1000)
	for i := 0; i < len(w.wallets); i += 500 {
		batch := w.wallets[i:min(i+500, len(w.wallets))]
		ps := []ledger.Posting{{AccountID: w.clearing, Amount: fund.Mul(decimal.NewFromInt(int64(len(batch))))}}
		for _, id := range batch {
			ps = append(ps, ledger.Posting{AccountID: id, Amount: fund.Neg()})
		}
		if _, err := l.Transfer(ctx, ledger.TransferRequest{TenantID: w.tenant, IdempotencyKey: fmt.Sprintf("fund-%d", i), Kind: "topup",
			Actor: "bench", Memo: "benchmark funding", Postings: ps}); err != nil {
			return nil, fmt.Errorf("fund wallets: %w", err)
		}
	}
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	return w, nil
}

var meal = decimal.RequireFromString("3.70")
var twenty = decimal.NewFromInt(20)

// measure runs one scenario with c workers for d after a warm-up.
func (w *world) measure(ctx context.Context, scenario string, c int, d time.Duration) (Result, error) {
	warm := min(d/10, time.Second)
	runID := time.Now().UnixNano()
	type workerOut struct {
		lat  []time.Duration
		errs int
		err  error
	}
	outs := make([]workerOut, c)
	start := time.Now()
	measureFrom, end := start.Add(warm), start.Add(warm+d)
	var wg sync.WaitGroup
	for g := 0; g < c; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(runID), uint64(g)))
			out := &outs[g]
			for n := 0; ; n++ {
				t0 := time.Now()
				// Each worker measures at least one operation, even when a
				// loaded machine makes one operation outlast a short window.
				if (t0.After(end) && (len(out.lat) > 0 || out.errs > 0)) || ctx.Err() != nil {
					return
				}
				key := fmt.Sprintf("%s-%d-%d-%d-%d", scenario, c, runID, g, n)
				wallet := w.wallets[rng.IntN(len(w.wallets))]
				err := w.once(ctx, scenario, key, wallet)
				if t0.Before(measureFrom) && time.Now().Before(end) {
					continue
				}
				if err != nil {
					out.errs++
					if out.err == nil {
						out.err = err
					}
					continue
				}
				out.lat = append(out.lat, time.Since(t0))
			}
		}(g)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	var lat []time.Duration
	r := Result{Scenario: scenario, Concurrency: c}
	var firstErr error
	for _, o := range outs {
		lat = append(lat, o.lat...)
		r.Errors += o.errs
		if firstErr == nil {
			firstErr = o.err
		}
	}
	if len(lat) == 0 {
		return r, fmt.Errorf("%s at concurrency %d: nothing succeeded: %v", scenario, c, firstErr)
	}
	if r.Errors > len(lat)/100 {
		return r, fmt.Errorf("%s at concurrency %d: %d of %d operations failed, first: %w", scenario, c, r.Errors, r.Errors+len(lat), firstErr)
	}
	slices.Sort(lat)
	r.TransfersPerS = round(float64(len(lat))/d.Seconds(), 1)
	r.P50Ms = round(percentile(lat, 0.50).Seconds()*1000, 2)
	r.P99Ms = round(percentile(lat, 0.99).Seconds()*1000, 2)
	return r, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func (w *world) once(ctx context.Context, scenario, key string, wallet int64) error {
	switch scenario {
	case Purchase:
		_, err := w.l.Transfer(ctx, ledger.TransferRequest{TenantID: w.tenant, IdempotencyKey: key, Kind: "meal", Actor: "bench",
			Postings: []ledger.Posting{{AccountID: wallet, Amount: meal}, {AccountID: w.revenue, Amount: meal.Neg()}}})
		return err
	case Topup:
		_, err := w.l.Transfer(ctx, ledger.TransferRequest{TenantID: w.tenant, IdempotencyKey: key, Kind: "topup", Actor: "bench",
			Postings: []ledger.Posting{{AccountID: w.clearing, Amount: twenty}, {AccountID: wallet, Amount: twenty.Neg()}}})
		return err
	case HoldPost:
		h, err := w.l.PlaceHold(ctx, ledger.HoldRequest{TenantID: w.tenant, AccountID: wallet, Amount: meal, IdempotencyKey: key, Kind: "meal", Actor: "bench"})
		if err != nil {
			return err
		}
		_, err = w.l.PostHold(ctx, ledger.PostHoldRequest{TenantID: w.tenant, HoldID: h.ID, Amount: meal, To: w.revenue, IdempotencyKey: key, Actor: "bench"})
		return err
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

// pgbenchRunner runs pgbench against its own database on the same server.
type pgbenchRunner struct {
	bin     string
	conn    []string // -h -p -U
	env     []string
	logDir  string
	logf    func(string, ...any)
	dbName  string
	scale   int
	cleanup func()
}

func preparePgbench(ctx context.Context, cfg Config) (*pgbenchRunner, error) {
	pc, err := pgconn.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	dir, err := os.MkdirTemp("", "tartine-pgbench-")
	if err != nil {
		return nil, err
	}
	r := &pgbenchRunner{bin: cfg.Pgbench, logDir: dir, logf: cfg.Logf, dbName: PgbenchDatabase, scale: cfg.PgbenchScale,
		conn:    []string{"-h", pc.Host, "-p", strconv.Itoa(int(pc.Port)), "-U", pc.User},
		env:     append(os.Environ(), "PGPASSWORD="+pc.Password, "PGSSLMODE="+sslMode(cfg.DSN)),
		cleanup: func() { os.RemoveAll(dir) }}
	// Keep an initialised database of the right scale between runs.
	scale := 0
	if dsn, err := WithDatabase(cfg.DSN, PgbenchDatabase); err == nil {
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			_ = conn.QueryRow(ctx, `SELECT count(*) FROM pgbench_branches`).Scan(&scale)
			conn.Close(ctx)
		}
	}
	if scale != cfg.PgbenchScale {
		if err := recreateDatabase(ctx, cfg.DSN, PgbenchDatabase); err != nil {
			r.close()
			return nil, err
		}
		cfg.Logf("pgbench -i -s %d (once; kept in database %s)", cfg.PgbenchScale, PgbenchDatabase)
		args := append(slices.Clone(r.conn), "-i", "-q", "-s", strconv.Itoa(cfg.PgbenchScale), PgbenchDatabase)
		if out, err := r.command(ctx, args...).CombinedOutput(); err != nil {
			r.close()
			return nil, fmt.Errorf("pgbench -i: %w\n%s", err, out)
		}
	}
	return r, nil
}

func sslMode(dsn string) string {
	if m := regexp.MustCompile(`sslmode=(\w+)`).FindStringSubmatch(dsn); m != nil {
		return m[1]
	}
	return "prefer"
}

func (r *pgbenchRunner) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = r.env
	cmd.Dir = r.logDir
	return cmd
}

func (r *pgbenchRunner) close() { r.cleanup() }

var tpsLine = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)

// run measures tpcb-like with c clients for d and computes p50/p99 from
// pgbench's per-transaction log.
func (r *pgbenchRunner) run(ctx context.Context, c int, d time.Duration) (Result, error) {
	prefix := filepath.Join(r.logDir, fmt.Sprintf("c%d", c))
	secs := max(1, int(d.Round(time.Second).Seconds()))
	args := append(slices.Clone(r.conn), "-b", "tpcb-like", "-c", strconv.Itoa(c), "-j", strconv.Itoa(min(2, c)),
		"-T", strconv.Itoa(secs), "-l", "--log-prefix", prefix, r.dbName)
	out, err := r.command(ctx, args...).CombinedOutput()
	if err != nil {
		return Result{}, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		return Result{}, fmt.Errorf("pgbench printed no tps line:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	lat, err := readPgbenchLogs(prefix)
	if err != nil {
		return Result{}, err
	}
	res := Result{Scenario: Pgbench, Concurrency: c, TransfersPerS: round(tps, 1), RatioToPgbench: 1}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50Ms = round(percentile(lat, 0.50).Seconds()*1000, 2)
		res.P99Ms = round(percentile(lat, 0.99).Seconds()*1000, 2)
	}
	return res, nil
}

// readPgbenchLogs reads the per-transaction logs (prefix.PID[.N]): the
// third field is the latency in microseconds.
func readPgbenchLogs(prefix string) ([]time.Duration, error) {
	files, err := filepath.Glob(prefix + ".*")
	if err != nil {
		return nil, err
	}
	var lat []time.Duration
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			us, err := strconv.ParseInt(fields[2], 10, 64)
			if err != nil {
				continue
			}
			lat = append(lat, time.Duration(us)*time.Microsecond)
		}
		f.Close()
		os.Remove(name)
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	return lat, nil
}
