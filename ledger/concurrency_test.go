package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/dbtest"
	"tartine/ledger"
)

// TestConcurrency runs many goroutines on few wallets: wallet-to-wallet
// transfers in opposite orders, purchases at the edge of the floor, top-ups,
// holds whose post, void and expiry race each other, and one idempotency key
// submitted by many goroutines at once. Afterwards Verify is clean, no wallet
// is below its floor, every cent is accounted for, and PostgreSQL saw no
// deadlock (the fixed lock order makes them impossible, the retry is only a
// safety net).
func TestConcurrency(t *testing.T) {
	t.Parallel()
	const (
		workers = 32
		rounds  = 25
	)
	ctx := context.Background()
	pool := dbtest.New(t)
	l := ledger.New(pool, nil)
	tenant, err := l.EnsureTenant(ctx, "po-conc", "PO concurrency")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(code string, typ ledger.AccountType, floor *decimal.Decimal) int64 {
		a, err := l.EnsureAccount(ctx, tenant, ledger.AccountSpec{Code: code, Type: typ, Floor: floor})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	zero, grace := decimal.Zero, dec("-2.00")
	wallets := []int64{mk("wallet:1", ledger.Liability, &zero), mk("wallet:2", ledger.Liability, &zero),
		mk("wallet:3", ledger.Liability, &grace), mk("wallet:4", ledger.Liability, &zero)}
	floors := map[int64]decimal.Decimal{wallets[0]: zero, wallets[1]: zero, wallets[2]: grace, wallets[3]: zero}
	revenue := mk("revenue:meals", ledger.Income, nil)
	clearing := mk("stripe-clearing", ledger.Asset, nil)

	// Money that moved, in cents, as the goroutines saw it accepted.
	var toppedUp, spent atomic.Int64
	cents := func(a decimal.Decimal) int64 { return a.Shift(2).IntPart() }
	var keySeq atomic.Int64
	key := func(p string) string { return fmt.Sprintf("%s-%d", p, keySeq.Add(1)) }

	topup := func(w int64, a decimal.Decimal, k string) (ledger.Transfer, error) {
		tr, err := l.Transfer(ctx, ledger.TransferRequest{TenantID: tenant, IdempotencyKey: k, Kind: "topup", Actor: "test",
			Postings: []ledger.Posting{{AccountID: clearing, Amount: a}, {AccountID: w, Amount: a.Neg()}}})
		return tr, err
	}
	for _, w := range wallets {
		if _, err := topup(w, dec("20.00"), key("seed")); err != nil {
			t.Fatal(err)
		}
		toppedUp.Add(2000)
	}

	errs := make(chan error, workers*rounds*4)
	unexpected := func(what string, err error) {
		if err != nil {
			errs <- fmt.Errorf("%s: %w", what, err)
		}
	}
	var holdsRaced, holdWinners atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			amount := func(lo, hi int) decimal.Decimal { return decimal.New(int64(lo+rng.IntN(hi-lo+1)), -2) }
			for r := 0; r < rounds; r++ {
				x, y := wallets[rng.IntN(4)], wallets[rng.IntN(4)]
				switch rng.IntN(5) {
				case 0: // wallet to wallet, in either direction
					a := amount(1, 800)
					_, err := l.Transfer(ctx, ledger.TransferRequest{TenantID: tenant, IdempotencyKey: key("gift"), Kind: "gift",
						Postings: []ledger.Posting{{AccountID: x, Amount: a}, {AccountID: y, Amount: a.Neg()}}})
					if !errors.Is(err, ledger.ErrFloorBreach) {
						unexpected("wallet to wallet", err)
					}
				case 1: // purchase of exactly what is available (or a cent more)
					b, err := l.Balance(ctx, tenant, x)
					if err != nil {
						unexpected("balance", err)
						continue
					}
					a := b.Available.Sub(floors[x]).Add(decimal.New(int64(rng.IntN(2)), -2))
					if !a.IsPositive() {
						a = dec("0.01")
					}
					_, err = l.Transfer(ctx, ledger.TransferRequest{TenantID: tenant, IdempotencyKey: key("meal"), Kind: "meal",
						Postings: []ledger.Posting{{AccountID: x, Amount: a}, {AccountID: revenue, Amount: a.Neg()}}})
					if err == nil {
						spent.Add(cents(a))
					} else if !errors.Is(err, ledger.ErrFloorBreach) {
						unexpected("purchase", err)
					}
				case 2: // top-up
					a := amount(100, 1500)
					if _, err := topup(x, a, key("topup")); err != nil {
						unexpected("topup", err)
					} else {
						toppedUp.Add(cents(a))
					}
				case 3: // a hold raced by two posts, a void and an expiry
					h, err := l.PlaceHold(ctx, ledger.HoldRequest{TenantID: tenant, AccountID: x, Amount: amount(50, 600),
						IdempotencyKey: key("hold"), Kind: "meal"})
					if errors.Is(err, ledger.ErrFloorBreach) {
						continue
					}
					if err != nil {
						unexpected("hold", err)
						continue
					}
					holdsRaced.Add(1)
					var won atomic.Int64
					var posted atomic.Int64
					var race sync.WaitGroup
					for c := 0; c < 4; c++ {
						race.Add(1)
						go func(c int) {
							defer race.Done()
							var err error
							switch c {
							case 0, 1:
								a := h.Amount.Sub(decimal.New(int64(c), -2))
								_, err = l.PostHold(ctx, ledger.PostHoldRequest{TenantID: tenant, HoldID: h.ID, Amount: a, To: revenue,
									IdempotencyKey: key("post")})
								if err == nil {
									posted.Store(cents(a))
								}
							case 2:
								err = l.VoidHold(ctx, tenant, h.ID, "test")
							case 3:
								err = l.VoidHold(ctx, tenant, h.ID, "other")
							}
							if err == nil {
								won.Add(1)
							} else if !errors.Is(err, ledger.ErrHoldEnded) {
								unexpected("hold race", err)
							}
						}(c)
					}
					race.Wait()
					if n := won.Load(); n != 1 {
						errs <- fmt.Errorf("hold %d ended %d times", h.ID, n)
					}
					holdWinners.Add(won.Load())
					spent.Add(posted.Load())
				case 4: // the same key from 6 goroutines at once: one transfer
					k, a := key("same"), amount(100, 500)
					ids := make([]int64, 6)
					var same sync.WaitGroup
					for c := range ids {
						same.Add(1)
						go func(c int) {
							defer same.Done()
							tr, err := topup(y, a, k)
							unexpected("same key", err)
							ids[c] = tr.ID
						}(c)
					}
					same.Wait()
					for _, id := range ids {
						if id != ids[0] || id == 0 {
							errs <- fmt.Errorf("key %s gave transfers %v, want one", k, ids)
							break
						}
					}
					toppedUp.Add(cents(a))
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if holdWinners.Load() != holdsRaced.Load() {
		t.Errorf("%d raced holds, %d winners", holdsRaced.Load(), holdWinners.Load())
	}

	// Conservation: what the goroutines saw accepted is what the books say.
	bal := func(id int64) decimal.Decimal {
		b, err := l.Balance(ctx, tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if !b.Pending.IsZero() {
			t.Errorf("account %d still has %s pending", id, b.Pending)
		}
		if f, ok := floors[id]; ok && b.Available.LessThan(f) {
			t.Errorf("wallet %d: available %s below floor %s", id, b.Available, f)
		}
		return b.Posted
	}
	sumWallets := decimal.Zero
	for _, w := range wallets {
		sumWallets = sumWallets.Add(bal(w))
	}
	rev, clr := bal(revenue), bal(clearing)
	if got, want := cents(clr), toppedUp.Load(); got != want {
		t.Errorf("clearing = %d cents, top-ups accepted %d", got, want)
	}
	if got, want := cents(rev), spent.Load(); got != want {
		t.Errorf("revenue = %d cents, purchases and posts accepted %d", got, want)
	}
	if got, want := cents(sumWallets), toppedUp.Load()-spent.Load(); got != want {
		t.Errorf("wallets hold %d cents, want %d", got, want)
	}
	v, _, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range v {
		t.Errorf("violation: %s", x)
	}
	if n := deadlocksSeen(t, pool); n != 0 {
		t.Errorf("PostgreSQL detected %d deadlock(s); the lock order is not fixed", n)
	}
	t.Logf("%d raced holds; %d cents topped up, %d spent", holdsRaced.Load(), toppedUp.Load(), spent.Load())
}

// deadlocksSeen returns how many deadlocks PostgreSQL detected in the test
// database. Backends report their statistics when they exit, so the pool's
// connections are closed first and their exit awaited.
func deadlocksSeen(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	ctx := context.Background()
	pool.Reset()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var others int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&others); err != nil {
			t.Fatal(err)
		}
		if others == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d other backends still on the test database", others)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var n int64
	if _, err := conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
