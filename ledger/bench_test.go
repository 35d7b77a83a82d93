package ledger_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"

	"tartine/internal/dbtest"
	"tartine/ledger"
)

// Go benchmarks of the hot paths on the test cluster (fsync off, so they
// measure CPU and round trips, not the disk). The figures that count are
// `tartine bench ledger`'s, on a durable server; see docs/PERFORMANCE.md.
//
//	go test ./ledger -run '^$' -bench . -cpu 1,8

type benchWorld struct {
	l                 *ledger.Ledger
	tenant            int64
	wallets           []int64
	revenue, clearing int64
	seq               atomic.Int64
}

func newBenchWorld(b *testing.B) *benchWorld {
	b.Helper()
	ctx := context.Background()
	w := &benchWorld{l: ledger.New(dbtest.New(b), nil)}
	var err error
	if w.tenant, err = w.l.EnsureTenant(ctx, "bench", "bench"); err != nil {
		b.Fatal(err)
	}
	zero := decimal.Zero
	mk := func(spec ledger.AccountSpec) int64 {
		a, err := w.l.EnsureAccount(ctx, w.tenant, spec)
		if err != nil {
			b.Fatal(err)
		}
		return a.ID
	}
	w.revenue = mk(ledger.AccountSpec{Code: "revenue:meals", Type: ledger.Income})
	w.clearing = mk(ledger.AccountSpec{Code: "stripe-clearing", Type: ledger.Asset})
	for i := 0; i < 200; i++ {
		id := mk(ledger.AccountSpec{Code: fmt.Sprintf("wallet:%d", i), Type: ledger.Liability, Floor: &zero})
		w.wallets = append(w.wallets, id)
		w.topup(b, id, decimal.NewFromInt(100000))
	}
	return w
}

func (w *benchWorld) topup(b *testing.B, wallet int64, a decimal.Decimal) {
	_, err := w.l.Transfer(context.Background(), ledger.TransferRequest{TenantID: w.tenant, IdempotencyKey: fmt.Sprint("t", w.seq.Add(1)), Kind: "topup",
		Postings: []ledger.Posting{{AccountID: w.clearing, Amount: a}, {AccountID: wallet, Amount: a.Neg()}}})
	if err != nil {
		b.Error(err)
	}
}

func BenchmarkPurchase(b *testing.B) {
	w := newBenchWorld(b)
	meal := dec("3.70")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := w.seq.Add(1)
			_, err := w.l.Transfer(context.Background(), ledger.TransferRequest{TenantID: w.tenant, IdempotencyKey: fmt.Sprint("p", n), Kind: "meal",
				Postings: []ledger.Posting{{AccountID: w.wallets[n%int64(len(w.wallets))], Amount: meal}, {AccountID: w.revenue, Amount: meal.Neg()}}})
			if err != nil {
				b.Error(err)
			}
		}
	})
}

func BenchmarkTopup(b *testing.B) {
	w := newBenchWorld(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.topup(b, w.wallets[w.seq.Load()%int64(len(w.wallets))], dec("20"))
		}
	})
}

func BenchmarkHoldPost(b *testing.B) {
	w := newBenchWorld(b)
	ctx := context.Background()
	meal := dec("3.70")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := w.seq.Add(1)
			h, err := w.l.PlaceHold(ctx, ledger.HoldRequest{TenantID: w.tenant, AccountID: w.wallets[n%int64(len(w.wallets))], Amount: meal,
				IdempotencyKey: fmt.Sprint("h", n), Kind: "meal"})
			if err != nil {
				b.Error(err)
				continue
			}
			if _, err := w.l.PostHold(ctx, ledger.PostHoldRequest{TenantID: w.tenant, HoldID: h.ID, Amount: meal, To: w.revenue,
				IdempotencyKey: fmt.Sprint("ph", n)}); err != nil {
				b.Error(err)
			}
		}
	})
}
