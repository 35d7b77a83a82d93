package terminal

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/ledger"
)

// WarmConn plans, on a new connection, every statement a unit of a
// canteen and a daycare tap reads with, and the tap rows' insert, without
// writing or keeping anything.
func TestWarmConnPlansTheGroupStatements(t *testing.T) {
	f := newFixture(t)
	at := time.Date(monday.Year(), monday.Month(), monday.Day(), 12, 0, 0, 0, brussels)
	f.clk.Set(at)

	// The first round trip of a real unit.
	rd := newUnitReads(f.tenant, map[int64]ledger.Hold{})
	for _, tap := range []Tap{tapAt("canteen-1", uidEmma, at), tapAt("daycare-1", uidLucas, at)} {
		st := &tapState{tenantID: f.tenant, actor: "test", tap: tap, charged: decimal.Zero, hints: &tapHints{}, u: newUnit()}
		must(t, f.svc.locate(f.ctx, st))
		rd.add(st, nil)
	}
	warm := map[string]bool{insertTapsSQL: true}
	for _, q := range warmReads(at).queue().QueuedQueries {
		warm[q.SQL] = true
	}
	real := rd.queue().QueuedQueries
	if len(real) < 6 {
		t.Fatalf("a canteen and a daycare tap read with %d statements, want the locks, results, pupils, subjects, bookings and sessions", len(real))
	}
	for _, q := range real {
		if !warm[q.SQL] {
			t.Errorf("a unit reads with a statement WarmConn does not plan:\n%.200s", q.SQL)
		}
	}

	// On a new connection, each is prepared and has its generic plan.
	conn, err := pgx.ConnectConfig(f.ctx, f.svc.pool.Config().ConnConfig.Copy())
	must(t, err)
	defer conn.Close(f.ctx)
	must(t, WarmConn(f.ctx, conn))
	if s := conn.PgConn().TxStatus(); s != 'I' {
		t.Errorf("connection left in transaction status %c", s)
	}
	sqls := make([]string, 0, len(warm))
	for sql := range warm {
		sqls = append(sqls, sql)
	}
	// The first statement sets plan_cache_mode for the transaction: it is
	// planned before the setting, with a custom plan, in real units too.
	var prepared, generic int
	must(t, conn.QueryRow(f.ctx, `SELECT count(*), count(*) FILTER (WHERE generic_plans > 0)
		FROM pg_prepared_statements WHERE statement = ANY($1) AND generic_plans + custom_plans > 0`, sqls).Scan(&prepared, &generic))
	if prepared != len(sqls) || generic != len(sqls)-1 {
		t.Errorf("of the %d statements, %d prepared and executed, %d with a generic plan; want all, and all but the first", len(sqls), prepared, generic)
	}
	// And the unit's writes: the ledger's group statement, a booking
	// consumed, a daycare session closed.
	for _, like := range []string{"%INSERT INTO transfers%", "UPDATE bookings SET status = 'consumed'%", closeSessionSQL} {
		var n int
		must(t, conn.QueryRow(f.ctx, `SELECT count(*) FROM pg_prepared_statements
			WHERE statement LIKE $1 AND generic_plans + custom_plans > 0`, like).Scan(&n))
		if n != 1 {
			t.Errorf("%d executed prepared statements like %.60q, want 1", n, like)
		}
	}
	var taps, transfers int
	must(t, conn.QueryRow(f.ctx, `SELECT (SELECT count(*) FROM taps WHERE tenant_id = 0), (SELECT count(*) FROM transfers WHERE tenant_id = 0)`).Scan(&taps, &transfers))
	if taps != 0 || transfers != 0 {
		t.Errorf("the warm-up wrote %d taps and %d transfers", taps, transfers)
	}
}
