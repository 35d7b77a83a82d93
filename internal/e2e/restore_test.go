package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/db"
	"tartine/internal/pglocal"
	"tartine/ledger"
	"tartine/migrations"
	"tartine/terminal/loadgen"
)

// TestRestoreDrill is docs/BACKUPS.md's drill: a base backup of a cluster
// that archives its WAL, top-ups before and after a chosen time, then the
// backup restored into a fresh cluster up to that time. The restored
// database holds exactly the postings made before the time (every account's
// balance as it was then), and `tartine verify` is clean on it.
func TestRestoreDrill(t *testing.T) {
	ctx := context.Background()
	serverBin, _ := binaries(t)
	base := postgresDir(t)
	archive := filepath.Join(base, "wal-archive")
	mkdirForPostgres(t, archive)

	primary, err := pglocal.Start(ctx, pglocal.Options{DataDir: filepath.Join(base, "primary"), Durable: true,
		Settings: map[string]string{"archive_mode": "on", "archive_command": "test ! -f " + archive + "/%f && cp %p " + archive + "/%f"}})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Stop()
	pool, err := db.Open(ctx, primary.DSN("tartine"), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	setup, err := loadgen.Prepare(ctx, pool, 1, 20)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
	led := ledger.New(pool, clock)
	topUps := func(round string, n int) {
		t.Helper()
		bank, err := led.AccountByCode(ctx, setup.TenantID, "bank")
		if err != nil {
			t.Fatal(err)
		}
		wallets := walletAccounts(t, pool, setup.TenantID)
		for i := range n {
			amount := decimal.New(int64(100+i), -2)
			_, err := led.Transfer(ctx, ledger.TransferRequest{TenantID: setup.TenantID, IdempotencyKey: fmt.Sprintf("drill:%s:%d", round, i),
				Kind: "topup", Actor: "drill", Postings: []ledger.Posting{
					{AccountID: bank.ID, Amount: amount}, {AccountID: wallets[i%len(wallets)], Amount: amount.Neg()}}})
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	// The base backup, taken while the school works.
	topUps("before-backup", 20)
	backup := filepath.Join(base, "restored")
	mkdirForPostgres(t, backup)
	out, err := asPostgres(exec.Command(filepath.Join(primary.BinDir(), "pg_basebackup"), "-h", primary.DataDir(), "-U", "postgres",
		"-D", backup, "-X", "stream", "-c", "fast")).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	topUps("after-backup", 30)
	want := balances(t, pool, setup.TenantID)
	var target time.Time
	if err := pool.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&target); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	topUps("after-target", 25) // lost by the restore, as asked
	if got := balances(t, pool, setup.TenantID); got == want {
		t.Fatal("the top-ups after the target changed no balance")
	}
	var lastWAL string
	if err := pool.QueryRow(ctx, "SELECT pg_walfile_name(pg_switch_wal())").Scan(&lastWAL); err != nil {
		t.Fatal(err)
	}
	waitArchived(t, pool, lastWAL)
	if err := primary.Stop(); err != nil { // the machine is lost
		t.Fatal(err)
	}

	// Restore: the base backup, recovery.signal, the archive up to the target.
	if err := os.WriteFile(filepath.Join(backup, "recovery.signal"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chownPostgres(filepath.Join(backup, "recovery.signal")); err != nil {
		t.Fatal(err)
	}
	restored, err := pglocal.Start(ctx, pglocal.Options{DataDir: backup, Durable: true, Settings: map[string]string{
		"restore_command":        "cp " + archive + "/%f %p",
		"recovery_target_time":   target.UTC().Format("2006-01-02 15:04:05.999999+00"),
		"recovery_target_action": "promote",
	}})
	if err != nil {
		t.Fatalf("start the restored cluster: %v", err)
	}
	defer restored.Stop()
	rpool, err := db.Open(ctx, restored.DSN("tartine"), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer rpool.Close()
	deadline := time.Now().Add(30 * time.Second)
	for inRecovery := true; inRecovery; {
		if err := rpool.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the restored cluster is still recovering after 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := balances(t, rpool, setup.TenantID); got != want {
		t.Errorf("balances after the restore:\n%s\nwant those at the target time:\n%s", got, want)
	}
	verify := exec.Command(serverBin, "verify")
	verify.Env = append(os.Environ(), "DATABASE_URL="+restored.DSN("tartine"))
	out, err = verify.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verify: ok") {
		t.Fatalf("tartine verify on the restored database: %v\n%s", err, out)
	}
	t.Logf("restored to %s: %s", target.Format(time.RFC3339Nano), strings.TrimSpace(string(out)))
}

// postgresDir returns a temporary directory the postgres user can reach.
func postgresDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tartine-pg-drill-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func mkdirForPostgres(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := chownPostgres(dir); err != nil {
		t.Fatal(err)
	}
}

func chownPostgres(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(path, uid, gid)
}

// asPostgres runs cmd as the postgres user when the caller is root.
func asPostgres(cmd *exec.Cmd) *exec.Cmd {
	cmd.Dir = "/"
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("postgres"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		}
	}
	return cmd
}

func walletAccounts(t *testing.T, pool *pgxpool.Pool, tenant int64) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT wallet_account_id FROM pupils WHERE tenant_id = $1 AND wallet_account_id IS NOT NULL ORDER BY id`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil || len(ids) == 0 {
		t.Fatalf("wallets: %d, %v", len(ids), err)
	}
	return ids
}

// balances lists every account's balance as the sum of its postings.
func balances(t *testing.T, pool *pgxpool.Pool, tenant int64) string {
	t.Helper()
	var s string
	err := pool.QueryRow(context.Background(), `
		SELECT coalesce(string_agg(account_id || '=' || total, ' ' ORDER BY account_id), '')
		FROM (SELECT account_id, sum(amount) AS total FROM postings WHERE tenant_id = $1 GROUP BY account_id) b`, tenant).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitArchived waits until the WAL segment name has been archived.
func waitArchived(t *testing.T, pool *pgxpool.Pool, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var last *string
		var failed int64
		if err := pool.QueryRow(context.Background(), "SELECT last_archived_wal, failed_count FROM pg_stat_archiver").Scan(&last, &failed); err != nil {
			t.Fatal(err)
		}
		if last != nil && *last >= name {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL %s not archived within 30 s (last %v, %d failures)", name, last, failed)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
