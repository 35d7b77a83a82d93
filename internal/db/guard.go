package db

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Guard watches a pool for code that asks for a second connection while
// its goroutine holds one — a transaction that calls a function reading
// through the pool, rows still open while querying again. Under load such
// code deadlocks the pool: with N connections, N requests each hold one and
// wait forever for another. Tests install it (OpenWith, Options.Guard) and
// fail on Violations; it also counts the statements sent (Queries), so a
// test can bound the queries of a page.
//
// It keys connections by goroutine (parsed from runtime.Stack), which is
// slow: it is meant for tests, not for serving.
type Guard struct {
	mu         sync.Mutex
	held       map[uint64]int       // goroutine → connections it holds
	owner      map[*pgx.Conn]uint64 // connection → goroutine that acquired it
	violations []string
	queries    atomic.Int64
}

// NewGuard returns a guard to pass in Options.
func NewGuard() *Guard {
	return &Guard{held: map[uint64]int{}, owner: map[*pgx.Conn]uint64{}}
}

// Violations returns, for each acquire made while the same goroutine held
// a connection, a description with the stack of the offending call.
func (g *Guard) Violations() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.violations...)
}

// Queries returns how many statements were sent through the pool so far,
// each statement of a batch counted.
func (g *Guard) Queries() int64 { return g.queries.Load() }

// TraceAcquireStart is called by the pool before it waits for a connection.
func (g *Guard) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	id := goid()
	g.mu.Lock()
	n := g.held[id]
	g.mu.Unlock()
	if n > 0 {
		buf := make([]byte, 16<<10)
		buf = buf[:runtime.Stack(buf, false)]
		g.mu.Lock()
		if len(g.violations) < 20 {
			g.violations = append(g.violations, fmt.Sprintf("goroutine %d acquires a pool connection while holding %d:\n%s", id, n, buf))
		}
		g.mu.Unlock()
	}
	return ctx
}

// TraceAcquireEnd records the connection acquired by the goroutine.
func (g *Guard) TraceAcquireEnd(_ context.Context, _ *pgxpool.Pool, data pgxpool.TraceAcquireEndData) {
	if data.Conn == nil {
		return
	}
	id := goid()
	g.mu.Lock()
	g.held[id]++
	g.owner[data.Conn] = id
	g.mu.Unlock()
}

// TraceRelease forgets the released connection.
func (g *Guard) TraceRelease(_ *pgxpool.Pool, data pgxpool.TraceReleaseData) {
	g.mu.Lock()
	defer g.mu.Unlock()
	id, ok := g.owner[data.Conn]
	if !ok {
		return
	}
	delete(g.owner, data.Conn)
	if g.held[id]--; g.held[id] <= 0 {
		delete(g.held, id)
	}
}

// TraceQueryStart counts a statement.
func (g *Guard) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	g.queries.Add(1)
	return ctx
}

// TraceQueryEnd does nothing.
func (g *Guard) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart does nothing: TraceBatchQuery counts each statement.
func (g *Guard) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

// TraceBatchQuery counts a statement of a batch.
func (g *Guard) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	g.queries.Add(1)
}

// TraceBatchEnd does nothing.
func (g *Guard) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

var (
	_ pgxpool.AcquireTracer = (*Guard)(nil)
	_ pgxpool.ReleaseTracer = (*Guard)(nil)
	_ pgx.QueryTracer       = (*Guard)(nil)
	_ pgx.BatchTracer       = (*Guard)(nil)
)

// goid returns the current goroutine's id, from the header of its stack
// ("goroutine 123 [running]:").
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
