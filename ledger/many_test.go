package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tartine/ledger"
)

// queueAndCommit sends BEGIN, the transfers of QueueTransfers and COMMIT
// in one pipeline, as the group commit of taps does, and rolls back when
// the pipeline failed.
func queueAndCommit(t *testing.T, f fixture, reqs []ledger.TransferRequest, posts ...ledger.HoldPost) (*ledger.Queued, error) {
	t.Helper()
	ctx := context.Background()
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	q, err := f.l.QueueTransfers(ctx, b, reqs, posts)
	if err != nil {
		return nil, err
	}
	b.Queue("COMMIT")
	conn, err := f.l.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		if _, rerr := conn.Exec(ctx, "ROLLBACK"); rerr != nil {
			t.Fatal(rerr)
		}
		return q, ledger.MapError(err)
	}
	return q, nil
}

func TestQueueTransfers(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	grace := d("-5")
	w2, err := f.l.EnsureAccount(ctx, f.tenant, ledger.AccountSpec{Code: "wallet:2", Type: ledger.Liability, Floor: &grace})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	meal := func(key string, acct int64, amount string) ledger.TransferRequest {
		return ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: "meal", Actor: "test", OccurredAt: at, Memo: "repas",
			Metadata: map[string]string{"tap": key},
			Postings: []ledger.Posting{{AccountID: acct, Amount: d(amount)}, {AccountID: f.revenue.ID, Amount: d(amount).Neg()}}}
	}
	reqs := []ledger.TransferRequest{
		meal("tap:a", f.wallet.ID, "4.20"),
		// Two postings on one tracked account: running balances chain
		// 0 → −1 → −4 (into the grace).
		{TenantID: f.tenant, IdempotencyKey: "tap:b", Kind: "meal", Actor: "test", OccurredAt: at,
			Postings: []ledger.Posting{{AccountID: w2.ID, Amount: d("1")}, {AccountID: w2.ID, Amount: d("3")}, {AccountID: f.revenue.ID, Amount: d("-4")}}},
		// Untracked accounts only.
		{TenantID: f.tenant, IdempotencyKey: "fee:c", Kind: "fee", Actor: "test",
			Postings: []ledger.Posting{{AccountID: f.clear.ID, Amount: d("0.25")}, {AccountID: f.revenue.ID, Amount: d("-0.25")}}},
	}
	q, err := queueAndCommit(t, f, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range q.Transfers {
		if tr.ID == 0 || tr.RecordedAt.IsZero() || tr.IdempotencyKey != reqs[i].IdempotencyKey {
			t.Fatalf("transfer %d = %+v, want its id and recording time", i, tr)
		}
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("5.80")) {
		t.Fatalf("wallet 1 = %s, want 5.80", b.Posted)
	}
	if b := f.balance(t, w2.ID); !b.Posted.Equal(d("-4")) {
		t.Fatalf("wallet 2 = %s, want -4.00", b.Posted)
	}
	// The same request through the single-transfer path replays the
	// queued transfer: one fingerprint for both.
	again, err := f.l.Transfer(ctx, reqs[0])
	if err != nil || again.ID != q.Transfers[0].ID {
		t.Fatalf("replay through Transfer = %d, %v; want transfer %d", again.ID, err, q.Transfers[0].ID)
	}
	checkVerify(t, f)

	// A key used before fails the whole group on the server: nothing of it
	// is written.
	_, err = queueAndCommit(t, f, []ledger.TransferRequest{meal("tap:d", w2.ID, "0.50"), meal("tap:a", f.wallet.ID, "4.20")})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("used key: %v, want a unique violation", err)
	}
	if b := f.balance(t, w2.ID); !b.Posted.Equal(d("-4")) {
		t.Fatalf("wallet 2 after the failed group = %s, want -4.00", b.Posted)
	}

	// A wallet that would end below its floor fails the group (grace −5:
	// −4 − 1.01 is short of one cent), the other transfer with it.
	_, err = queueAndCommit(t, f, []ledger.TransferRequest{meal("tap:e", f.wallet.ID, "1.00"), meal("tap:f", w2.ID, "1.01")})
	if !errors.Is(err, ledger.ErrFloorBreach) {
		t.Fatalf("floor: %v, want ErrFloorBreach", err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("5.80")) {
		t.Fatalf("wallet 1 after the failed group = %s, want 5.80", b.Posted)
	}
	// Exactly to the floor is fine.
	if _, err := queueAndCommit(t, f, []ledger.TransferRequest{meal("tap:g", w2.ID, "1.00")}); err != nil {
		t.Fatalf("down to the floor: %v", err)
	}

	// Refused before anything is queued: one tracked account in two
	// transfers, one key twice, an unbalanced transfer.
	b := &pgx.Batch{}
	for _, bad := range [][]ledger.TransferRequest{
		{meal("tap:h", f.wallet.ID, "1"), meal("tap:i", f.wallet.ID, "1")},
		{meal("tap:j", f.wallet.ID, "1"), meal("tap:j", w2.ID, "1")},
		{{TenantID: f.tenant, IdempotencyKey: "tap:k", Kind: "meal", Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("1")}, {AccountID: f.revenue.ID, Amount: d("-2")}}}},
	} {
		if _, err := f.l.QueueTransfers(ctx, b, bad, nil); err == nil {
			t.Fatalf("QueueTransfers(%s, %s) accepted", bad[0].IdempotencyKey, bad[len(bad)-1].IdempotencyKey)
		}
	}
	if b.Len() != 0 {
		t.Fatalf("%d statements queued by refused groups", b.Len())
	}
	checkVerify(t, f)
}

func checkVerify(t *testing.T, f fixture) {
	t.Helper()
	v, _, err := f.l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 0 {
		t.Fatalf("verify: %+v", v)
	}
}

// TestQueueTransfersPostsHolds posts holds in a group, next to a plain
// transfer: the hold's amount leaves the wallet, its reservation is
// released, the hold ends once, and the same post through PostHold replays.
func TestQueueTransfersPostsHolds(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	h, err := f.l.PlaceHold(ctx, ledger.HoldRequest{TenantID: f.tenant, AccountID: f.wallet.ID, Amount: d("3.70"), IdempotencyKey: "hold:1", Kind: "meal"})
	if err != nil {
		t.Fatal(err)
	}
	post := ledger.PostHoldRequest{TenantID: f.tenant, HoldID: h.ID, Amount: d("3.70"), To: f.revenue.ID, IdempotencyKey: "tap:p1",
		Kind: "meal", OccurredAt: at, Actor: "tap:p1", Memo: "Repas", Metadata: map[string]string{"booking": "1"}}
	fee := ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "fee:1", Kind: "fee", Actor: "test",
		Postings: []ledger.Posting{{AccountID: f.clear.ID, Amount: d("0.25")}, {AccountID: f.revenue.ID, Amount: d("-0.25")}}}
	q, err := queueAndCommit(t, f, []ledger.TransferRequest{fee}, ledger.HoldPost{Hold: h, Request: post})
	if err != nil {
		t.Fatal(err)
	}
	tr := q.Transfers[1]
	if tr.ID == 0 || tr.HoldID == nil || *tr.HoldID != h.ID {
		t.Fatalf("posted transfer %+v", tr)
	}
	b := f.balance(t, f.wallet.ID)
	if !b.Posted.Equal(d("6.30")) || !b.Pending.IsZero() {
		t.Fatalf("wallet: %+v, want 6.30 posted and nothing pending", b)
	}
	ended, err := f.l.GetHold(ctx, f.tenant, h.ID)
	if err != nil || ended.Status != ledger.HoldPosted || ended.TransferID == nil || *ended.TransferID != tr.ID {
		t.Fatalf("hold after the group: %+v, %v", ended, err)
	}
	again, err := f.l.PostHold(ctx, post)
	if err != nil || again.ID != tr.ID {
		t.Fatalf("PostHold replay = %d, %v; want transfer %d", again.ID, err, tr.ID)
	}
	checkVerify(t, f)

	// Posted already: refused before anything is queued.
	if _, err := f.l.QueueTransfers(ctx, &pgx.Batch{}, nil, []ledger.HoldPost{{Hold: ended, Request: post}}); !errors.Is(err, ledger.ErrHoldEnded) {
		t.Fatalf("post of an ended hold: %v, want ErrHoldEnded", err)
	}
	// Read pending, ended meanwhile (voided): the group fails on the
	// server and writes nothing.
	h2, err := f.l.PlaceHold(ctx, ledger.HoldRequest{TenantID: f.tenant, AccountID: f.wallet.ID, Amount: d("3.70"), IdempotencyKey: "hold:2", Kind: "meal"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.l.VoidHold(ctx, f.tenant, h2.ID, "test"); err != nil {
		t.Fatal(err)
	}
	post2 := post
	post2.HoldID, post2.IdempotencyKey = h2.ID, "tap:p2"
	var pgErr *pgconn.PgError
	// (Its reservation is gone: the release fails the pending check, or
	// else the second ending its unique index.)
	if _, err := queueAndCommit(t, f, []ledger.TransferRequest{fee}, ledger.HoldPost{Hold: h2, Request: post2}); !errors.As(err, &pgErr) || (pgErr.Code != "23505" && pgErr.Code != "23514") {
		t.Fatalf("post of a hold voided meanwhile: %v, want a constraint violation", err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("6.30")) || !b.Pending.IsZero() {
		t.Fatalf("wallet after the failed group: %+v", b)
	}
	checkVerify(t, f)
}

// TestQueueTransfersSharedTopUps: top-ups (transfers that only raise a
// tracked account) may share a wallet in one group, as a bank file's many
// top-ups of one family do: the wallet changes once by their sum, each
// posting's running balance and version chain in the group's order
// (Verify), and a transfer that lowers a shared wallet still refuses the
// group.
func TestQueueTransfersSharedTopUps(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.topup(t, "t1", "10.00")
	zero := d("0")
	w2, err := f.l.EnsureAccount(ctx, f.tenant, ledger.AccountSpec{Code: "wallet:2", Type: ledger.Liability, Floor: &zero})
	if err != nil {
		t.Fatal(err)
	}
	topup := func(key string, acct int64, amount string) ledger.TransferRequest {
		return ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: "topup", Actor: "test",
			Postings: []ledger.Posting{{AccountID: f.clear.ID, Amount: d(amount)}, {AccountID: acct, Amount: d(amount).Neg()}}}
	}
	reqs := []ledger.TransferRequest{
		topup("g1", f.wallet.ID, "1.00"),
		topup("g2", w2.ID, "5.00"),
		topup("g3", f.wallet.ID, "2.50"),
		// Two postings on the wallet in one transfer, shared with others.
		{TenantID: f.tenant, IdempotencyKey: "g4", Kind: "topup", Actor: "test",
			Postings: []ledger.Posting{{AccountID: f.clear.ID, Amount: d("4")}, {AccountID: f.wallet.ID, Amount: d("-3")}, {AccountID: f.wallet.ID, Amount: d("-1")}}},
		topup("g5", f.wallet.ID, "0.25"),
	}
	q, err := queueAndCommit(t, f, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if b := f.balance(t, f.wallet.ID); !b.Posted.Equal(d("17.75")) {
		t.Errorf("wallet = %s, want 17.75", b.Posted)
	}
	if b := f.balance(t, w2.ID); !b.Posted.Equal(d("5")) {
		t.Errorf("wallet 2 = %s, want 5.00", b.Posted)
	}
	rows, err := f.l.Pool().Query(ctx, `SELECT p.balance_before, p.balance_after, p.account_version FROM postings p
		WHERE p.tenant_id = $1 AND p.account_id = $2 ORDER BY p.account_version`, f.tenant, f.wallet.ID)
	if err != nil {
		t.Fatal(err)
	}
	type run struct {
		before, after string
		version       int64
	}
	var got []run
	var r run
	var b, a = d("0"), d("0")
	if _, err := pgx.ForEachRow(rows, []any{&b, &a, &r.version}, func() error {
		r.before, r.after = b.StringFixed(2), a.StringFixed(2)
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []run{{"0.00", "10.00", 1}, {"10.00", "11.00", 2}, {"11.00", "13.50", 3}, {"13.50", "16.50", 4}, {"16.50", "17.50", 5}, {"17.50", "17.75", 6}}
	if len(got) != len(want) {
		t.Fatalf("postings of the wallet = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("posting %d of the wallet = %v, want %v", i, got[i], want[i])
		}
	}
	if q.Transfers[4].ID == 0 {
		t.Errorf("last transfer without id: %+v", q.Transfers[4])
	}
	checkVerify(t, f)

	// A meal (lowering the wallet) beside a top-up of it: refused before
	// anything is queued, whatever their order.
	meal := ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "m1", Kind: "meal", Actor: "test",
		Postings: []ledger.Posting{{AccountID: f.wallet.ID, Amount: d("3")}, {AccountID: f.revenue.ID, Amount: d("-3")}}}
	for _, bad := range [][]ledger.TransferRequest{{topup("h1", f.wallet.ID, "1"), meal}, {meal, topup("h2", f.wallet.ID, "1")}} {
		bt := &pgx.Batch{}
		if _, err := f.l.QueueTransfers(ctx, bt, bad, nil); !errors.Is(err, ledger.ErrInvalidRequest) || bt.Len() != 0 {
			t.Errorf("top-up and meal of one wallet in a group: %v, %d queued; want ErrInvalidRequest, none", err, bt.Len())
		}
	}
}
