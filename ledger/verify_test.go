package ledger_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/dbtest"
	"tartine/ledger"
)

// healthyLedger builds a small ledger with every kind of row: top-ups,
// purchases, a reversal, a posted, a voided and an open hold, in two tenants.
func healthyLedger(t *testing.T) (*ledger.Ledger, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t)
	l := ledger.New(pool, nil)
	for _, code := range []string{"po-a", "po-b"} {
		tenant, err := l.EnsureTenant(ctx, code, code)
		if err != nil {
			t.Fatal(err)
		}
		zero := decimal.Zero
		mk := func(spec ledger.AccountSpec) int64 {
			a, err := l.EnsureAccount(ctx, tenant, spec)
			if err != nil {
				t.Fatal(err)
			}
			return a.ID
		}
		w1 := mk(ledger.AccountSpec{Code: "wallet:1", Type: ledger.Liability, Floor: &zero})
		w2 := mk(ledger.AccountSpec{Code: "wallet:2", Type: ledger.Liability, Floor: &zero})
		rev := mk(ledger.AccountSpec{Code: "revenue:meals", Type: ledger.Income})
		clr := mk(ledger.AccountSpec{Code: "stripe-clearing", Type: ledger.Asset})
		tr := func(key string, ps ...ledger.Posting) ledger.Transfer {
			out, err := l.Transfer(ctx, ledger.TransferRequest{TenantID: tenant, IdempotencyKey: key, Kind: "k", Postings: ps})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		tr("t1", ledger.Posting{AccountID: clr, Amount: dec("20")}, ledger.Posting{AccountID: w1, Amount: dec("-20")})
		tr("t2", ledger.Posting{AccountID: clr, Amount: dec("5")}, ledger.Posting{AccountID: w2, Amount: dec("-5")})
		p := tr("p1", ledger.Posting{AccountID: w1, Amount: dec("3.70")}, ledger.Posting{AccountID: rev, Amount: dec("-3.70")})
		tr("g1", ledger.Posting{AccountID: w1, Amount: dec("1")}, ledger.Posting{AccountID: w2, Amount: dec("-1")})
		if _, err := l.Reverse(ctx, tenant, p.ID, "r1", "test", "wrong child"); err != nil {
			t.Fatal(err)
		}
		for i, end := range []string{"post", "void", "open"} {
			h, err := l.PlaceHold(ctx, ledger.HoldRequest{TenantID: tenant, AccountID: w1, Amount: dec("2.50"), IdempotencyKey: "h" + end, Kind: "meal"})
			if err != nil {
				t.Fatal(err)
			}
			switch i {
			case 0:
				_, err = l.PostHold(ctx, ledger.PostHoldRequest{TenantID: tenant, HoldID: h.ID, Amount: dec("2"), To: rev, IdempotencyKey: "ph"})
			case 1:
				err = l.VoidHold(ctx, tenant, h.ID, "test")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return l, pool
}

// TestVerifyFindsCorruption corrupts a healthy ledger behind the triggers'
// back (as a superuser could) and checks that Verify names each broken
// invariant, and only those.
func TestVerifyFindsCorruption(t *testing.T) {
	t.Parallel()
	// Rows of tenant po-a (id 1). A wallet posting, a hot posting, the
	// posted hold.
	const (
		walletPosting = `(SELECT p.id FROM postings p JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id WHERE a.tenant_id = 1 AND a.code = 'wallet:2' ORDER BY p.id LIMIT 1)`
		hotPosting    = `(SELECT p.id FROM postings p JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id WHERE a.tenant_id = 1 AND a.code = 'stripe-clearing' ORDER BY p.id LIMIT 1)`
		postedHold    = `(SELECT hold_id FROM hold_endings WHERE tenant_id = 1 AND outcome = 'posted')`
		wallet1       = `(SELECT id FROM accounts WHERE tenant_id = 1 AND code = 'wallet:1')`
	)
	cases := []struct {
		name string
		sql  []string
		want []string // Check names Verify must report, exactly
	}{
		{"posting amount changed on a hot account",
			[]string{`UPDATE postings SET amount = amount + 1 WHERE tenant_id = 1 AND id = ` + hotPosting},
			[]string{"transfer balances", "tenant sums to zero"}},
		{"unbalanced transfer inserted",
			[]string{
				`INSERT INTO transfers (tenant_id, idempotency_key, request_hash, kind, occurred_at, actor) VALUES (1, 'forged', '\x00', 'k', now(), 'psql')`,
				`INSERT INTO postings (tenant_id, transfer_id, account_id, amount, occurred_at)
				 SELECT 1, (SELECT id FROM transfers WHERE tenant_id = 1 AND idempotency_key = 'forged'), id, 5, now()
				 FROM accounts WHERE tenant_id = 1 AND code = 'revenue:meals'`,
				`INSERT INTO postings (tenant_id, transfer_id, account_id, amount, occurred_at)
				 SELECT 1, (SELECT id FROM transfers WHERE tenant_id = 1 AND idempotency_key = 'forged'), id, -4, now()
				 FROM accounts WHERE tenant_id = 1 AND code = 'stripe-clearing'`,
			},
			[]string{"transfer balances", "tenant sums to zero"}},
		{"transfer without postings",
			[]string{`INSERT INTO transfers (tenant_id, idempotency_key, request_hash, kind, occurred_at, actor) VALUES (1, 'empty', '\x00', 'k', now(), 'psql')`},
			[]string{"transfer has two postings"}},
		{"materialised balance changed",
			[]string{`UPDATE accounts SET balance = balance + 1 WHERE tenant_id = 1 AND id = ` + wallet1},
			[]string{"materialised balance"}},
		{"version changed",
			[]string{`UPDATE accounts SET version = version + 1 WHERE tenant_id = 1 AND id = ` + wallet1},
			[]string{"materialised balance"}},
		{"pending changed",
			[]string{`UPDATE accounts SET pending = pending + 1 WHERE tenant_id = 1 AND id = ` + wallet1},
			[]string{"pending equals open holds"}},
		{"floor raised above the balance",
			[]string{`UPDATE accounts SET floor = 1000 WHERE tenant_id = 1 AND id = ` + wallet1},
			[]string{"floor"}},
		{"wallet posting's running balance changed",
			[]string{`UPDATE postings SET balance_before = balance_before + 1, balance_after = balance_after + 1 WHERE tenant_id = 1 AND id = ` + walletPosting},
			[]string{"posting balance chain"}},
		{"hot posting given a balance",
			[]string{`UPDATE postings SET balance_before = 0, balance_after = 0, account_version = 1 WHERE tenant_id = 1 AND id = ` + hotPosting},
			[]string{"untracked postings carry no balance", "posting balance chain"}},
		{"hold ended twice",
			[]string{
				`ALTER TABLE hold_endings DROP CONSTRAINT hold_endings_pkey`,
				`INSERT INTO hold_endings (tenant_id, hold_id, outcome, actor) SELECT tenant_id, hold_id, 'voided', 'psql' FROM hold_endings WHERE tenant_id = 1 AND outcome = 'voided'`,
			},
			[]string{"hold ended at most once"}},
		{"hold over-posted",
			[]string{`UPDATE hold_endings SET posted_amount = 99 WHERE tenant_id = 1 AND hold_id = ` + postedHold},
			[]string{"hold never over-posted", "hold posting matches"}},
		{"hold ending disagrees with its transfer",
			[]string{`UPDATE hold_endings SET posted_amount = 1.99 WHERE tenant_id = 1 AND hold_id = ` + postedHold},
			[]string{"hold posting matches"}},
		{"idempotency key duplicated",
			[]string{
				`ALTER TABLE transfers DROP CONSTRAINT transfers_tenant_id_idempotency_key_key`,
				`UPDATE transfers SET idempotency_key = 't1' WHERE tenant_id = 1 AND idempotency_key = 't2'`,
			},
			[]string{"idempotency key unique"}},
		{"posting of a transfer that does not exist",
			[]string{`INSERT INTO postings (tenant_id, transfer_id, account_id, amount, occurred_at)
				SELECT 1, 999999, id, CASE code WHEN 'revenue:meals' THEN -5 ELSE 5 END, now()
				FROM accounts WHERE tenant_id = 1 AND code IN ('revenue:meals', 'stripe-clearing')`},
			[]string{"references exist"}},
		{"account of a tenant that does not exist",
			// Tenant 1000: the detail names it, which the loop below reads
			// as naming "tenant 1" too.
			[]string{`INSERT INTO accounts (tenant_id, code, name, type, tracked) VALUES (1000, 'orphan', 'x', 'asset', false)`},
			[]string{"references exist"}},
		{"posting moved to an account that does not exist",
			[]string{`UPDATE postings SET account_id = 999999 WHERE tenant_id = 1 AND id = ` + hotPosting},
			[]string{"references exist"}},
		{"transfer reversing one that does not exist",
			[]string{`UPDATE transfers SET reverses_id = 999999 WHERE tenant_id = 1 AND idempotency_key = 't1'`},
			[]string{"references exist"}},
		{"reversed twice",
			[]string{
				`DROP INDEX transfers_tenant_id_reverses_id_key`,
				`UPDATE transfers SET reverses_id = (SELECT reverses_id FROM transfers WHERE tenant_id = 1 AND idempotency_key = 'r1') WHERE tenant_id = 1 AND idempotency_key = 'g1'`,
			},
			[]string{"reversed at most once"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l, pool := healthyLedger(t)
			if v := checks(t, l); len(v) != 0 {
				t.Fatalf("healthy ledger has violations: %v", v)
			}
			corrupt(t, pool, c.sql...)
			got := checks(t, l)
			want := slices.Clone(c.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Fatalf("verify reports %v, want %v", got, want)
			}
			v, _, _ := l.Verify(ctx)
			for _, x := range v {
				if !strings.Contains(x.Detail, "tenant 1") {
					t.Errorf("violation %q does not name the corrupted tenant", x)
				}
			}
		})
	}
}

// checks returns the sorted distinct check names Verify reports.
func checks(t *testing.T, l *ledger.Ledger) []string {
	t.Helper()
	v, _, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range v {
		if !slices.Contains(names, x.Check) {
			names = append(names, x.Check)
		}
	}
	sort.Strings(names)
	return names
}

// corrupt runs statements as the superuser with triggers (immutability,
// foreign keys) switched off for the session.
func corrupt(t *testing.T, pool *pgxpool.Pool, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `RESET session_replication_role`)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("corrupt with %s: %v", s, err)
		}
	}
}
