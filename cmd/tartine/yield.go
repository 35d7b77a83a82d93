package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/internal/db"
	"tartine/terminal"
)

// The canteen comes first, down to the processor (issue 17). With the
// embedded PostgreSQL on the server's machine, every backend that does not
// serve the device API's pool — the portal's, the back office's, the
// jobs' — runs othersNice steps of nice below the server's own priority:
// when the cores are full, as during the 8:00 rush, the kernel gives them
// to the taps' backends first; when they are not, nice changes nothing.
// The portal's PostgreSQL work is about half of its processor time
// (PERFORMANCE.md, second pass). Raising a nice value needs no privilege
// for one's own processes; it is never lowered back (that would need
// privileges). With DATABASE_URL the backends are not this machine's
// processes: nothing is done.

// othersNice is how many steps of nice the backends outside the device
// pool run below the server; TARTINE_YIELD_NICE overrides it (0: off).
const othersNice = 10

// reniceEvery is how often new backends of the other pools are looked for
// (a pool's connections live for long; a new one runs at the default
// priority until then).
const reniceEvery = time.Second

// openCanteenFirst opens the device API's own pool, its connections open and
// warm from the start (see withPoolParam below; none when n ≤ 0, without a
// DSN or when a pool is given)
// and, with the embedded cluster, lowers the priority of every other
// backend of the server's database until the returned function is called
// (which also closes the pool).
func openCanteenFirst(ctx context.Context, e env, log *slog.Logger, d *database, n int) (func(), error) {
	nice := othersNice
	if v := e.getenv("TARTINE_YIELD_NICE"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x < 0 || x > 19 {
			return nil, fmt.Errorf("TARTINE_YIELD_NICE %q: want 0 (off) to 19", v)
		}
		nice = x
	}
	if n <= 0 || d.DSN == "" || d.Devices != nil {
		// No own pool (0 connections asked, or tests that hand a pool):
		// the device API shares the server's.
		return func() {}, nil
	}
	// Every connection of the device pool is opened when the server
	// starts and kept (pool_min_conns), and planned for the taps' group
	// statements before its first use (terminal.WarmConn): see warmDevices.
	canteen := &backends{pids: map[int32]bool{}}
	pool, err := db.OpenWith(ctx, withPoolParam(d.DSN, "pool_min_conns", strconv.Itoa(n)), db.Options{MaxConns: int32(n),
		AfterConnect: func(ctx context.Context, conn *pgx.Conn) error {
			if err := terminal.WarmConn(ctx, conn); err != nil {
				// A cold connection still serves; only its first group is slower.
				log.Warn("device pool: warm-up of a new connection", "err", err)
			}
			return canteen.record(ctx, conn)
		}})
	if err != nil {
		return nil, fmt.Errorf("device API pool: %w", err)
	}
	d.Devices = pool
	if nice == 0 || d.Cluster == nil {
		return func() { pool.Close(); d.Devices = nil }, nil
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		reniceOthers(rctx, log, d, canteen, nice)
	}()
	return func() {
		stop()
		<-done
		pool.Close()
		d.Devices = nil
	}, nil
}

// The device pool's connections are warm (issue 17, fifth pass). A
// server just started, or a pool that opens connections as taps come,
// met its first taps with cold connections: each new backend loads its
// catalogs, and plans every statement of a group of taps at its first
// execution there (generic plans, one per connection); one group runs at
// a time, so every cold connection a group landed on held all the
// devices' taps — at 1,000 taps/s on a fresh server, answers up to 0.7 s
// for its first second or two, which was most of the open-loop run's p99
// (170–430 ms on an idle machine, the server's own histogram 99 % under
// 25 ms: a stall delays 16 requests but hundreds of taps). Now the pool
// opens all its connections at start (in the background) and keeps them
// (pool_min_conns: pgx would otherwise close them after 30 idle minutes,
// between the morning's daycare and the noon canteen), and each new one —
// these, and the replacement of one past its lifetime — runs
// terminal.WarmConn before it serves.

// withPoolParam adds key=value to a connection string (URL or keyword
// form) unless it sets key already.
func withPoolParam(dsn, key, value string) string {
	if strings.Contains(dsn, key+"=") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + key + "=" + value
	}
	return dsn + " " + key + "=" + value
}

// backends is the set of the device pool's backend pids.
type backends struct {
	mu   sync.Mutex
	pids map[int32]bool
}

// record is the device pool's AfterConnect: it notes the backend's pid.
func (b *backends) record(_ context.Context, conn *pgx.Conn) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pids[int32(conn.PgConn().PID())] = true
	return nil
}

func (b *backends) has(pid int32) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pids[pid]
}

// reniceOthers gives nice to every client backend of the database that is
// not the device pool's, every reniceEvery, until ctx ends.
func reniceOthers(ctx context.Context, log *slog.Logger, d *database, canteen *backends, nice int) {
	// Relative to the server's own priority (the backends inherit it from
	// the embedded cluster it started). getpriority(2) answers 20 − nice.
	own := 0
	if p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); err == nil {
		own = 20 - p
	}
	done := map[int32]bool{}
	t := time.NewTicker(reniceEvery)
	defer t.Stop()
	for {
		rows, err := d.Pool.Query(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND backend_type = 'client backend'`)
		var pids []int32
		if err == nil {
			pids, err = pgx.CollectRows(rows, pgx.RowTo[int32])
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("lower the priority of the backends outside the device pool", "err", err)
		}
		seen := make(map[int32]bool, len(pids))
		for _, pid := range pids {
			seen[pid] = true
			if done[pid] || canteen.has(pid) {
				continue
			}
			done[pid] = true
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, int(pid), min(own+nice, 19)); err != nil {
				log.Warn("lower a backend's priority", "pid", pid, "err", err)
			}
		}
		for pid := range done {
			if !seen[pid] {
				delete(done, pid)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
