package payments

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/ledger"
	"tartine/sepa"
)

// The CODA import at the size of issue 10's goal: 100,000 movement lines
// in one file, imported into a real PostgreSQL in one transaction.
//
//	go test ./payments -run '^$' -bench ImportCODA100k -benchtime 1x -timeout 30m
//
// The file (built by bigCODA) holds 20 statements of 5,000 credits on the
// school's account: 95 % wallet top-ups by structured communication spread
// over benchPupils pupils, 3 % free communications (suspense, some with a
// pupil's OGM written inside for a suggestion), 2 % structured
// communications that are no pupil's (suspense). Each movement is the three
// records a bank writes for a credit (2.1, 2.2, 2.3 with the payer's IBAN
// and name). The benchmark checks the result (every line booked once, the
// ledger verifies), then that a second import books nothing.

// benchLines is the size of the benchmark's file: 100,000, or
// TARTINE_CODA_BENCH_LINES (a multiple of benchPerStmt) for a shorter run.
var benchLines = func() int {
	if n, err := strconv.Atoi(os.Getenv("TARTINE_CODA_BENCH_LINES")); err == nil && n > 0 {
		return n
	}
	return 100_000
}()

const (
	benchPerStmt    = 5_000
	benchPupils     = 2_000
	benchSchoolIBAN = "BE68539007547034"
)

// codaRecord returns a blank 128-character record starting with prefix;
// put writes ASCII s at 1-based position from.
func codaRecord(prefix string) []byte {
	r := []byte(strings.Repeat(" ", 128))
	copy(r, prefix)
	return r
}

func put(r []byte, from int, s string) { copy(r[from-1:], s) }

func amount16(cents int64) string { return fmt.Sprintf("0%015d", cents*10) }

// bigCODA builds a CODA file of lines credit movements; ogms are the
// pupils' wallet OGMs. It returns the file and the total credited.
func bigCODA(lines int, ogms []string) ([]byte, decimal.Decimal) {
	return bigCODAFrom(lines, ogms, 1, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC))
}

// bigCODAFrom is bigCODA with statements numbered from paper and dated
// from day on.
func bigCODAFrom(lines int, ogms []string, firstPaper int, first time.Time) ([]byte, decimal.Decimal) {
	var sb strings.Builder
	line := func(r []byte) { sb.Write(r); sb.WriteByte('\n') }
	total := int64(0)
	nStmt := (lines + benchPerStmt - 1) / benchPerStmt
	unknown, _ := sepa.WalletOGM(999, 1)
	for s := 0; s < nStmt; s++ {
		paper := firstPaper + s
		day := first.AddDate(0, 0, s)
		d := day.Format("020106")
		prev := day.AddDate(0, 0, -1).Format("020106")
		h := codaRecord("00000")
		put(h, 6, d)
		put(h, 12, "000")
		put(h, 15, "05")
		put(h, 35, "PO TARTINE")
		put(h, 61, "GKCCBEBB")
		put(h, 72, "00123456789")
		put(h, 84, "00000")
		put(h, 128, "2")
		line(h)
		records, credit := 0, int64(0)
		old := codaRecord(fmt.Sprintf("12%03d", paper))
		put(old, 6, benchSchoolIBAN)
		put(old, 40, "EUR")
		put(old, 43, amount16(total))
		put(old, 59, prev)
		put(old, 65, "PO TARTINE")
		put(old, 91, "Compte cantine")
		put(old, 126, fmt.Sprintf("%03d", paper))
		line(old)
		records++
		for i := 0; i < benchPerStmt && s*benchPerStmt+i < lines; i++ {
			n := s*benchPerStmt + i
			seq := i + 1
			cents := int64(500 + (n*137)%9500) // 5.00 to 99.99 €
			credit += cents
			ref := fmt.Sprintf("%04d%04d", seq, 0)
			r1 := codaRecord("21" + ref)
			put(r1, 11, fmt.Sprintf("B%020d", n))
			put(r1, 32, amount16(cents))
			put(r1, 48, d)
			put(r1, 54, "00150000")
			comm2 := ""
			switch k := n % 100; {
			case k < 95:
				put(r1, 62, "1101"+ogms[n%len(ogms)])
			case k < 97:
				put(r1, 62, "1101"+unknown)
			case k < 99:
				put(r1, 62, "0Recharge cantine pour mon fils, merci")
			default:
				o := ogms[(n*7)%len(ogms)]
				put(r1, 62, fmt.Sprintf("0+++%s/%s/%s+++ repas", o[:3], o[3:7], o[7:]))
				comm2 = "et garderie de septembre"
			}
			put(r1, 116, d)
			put(r1, 122, fmt.Sprintf("%03d", paper))
			put(r1, 125, "0")
			put(r1, 126, "1")
			put(r1, 128, "0")
			line(r1)
			r2 := codaRecord("22" + ref)
			put(r2, 11, comm2)
			put(r2, 64, "NOTPROVIDED")
			put(r2, 99, "GEBABEBB")
			put(r2, 126, "1")
			put(r2, 128, "0")
			line(r2)
			r3 := codaRecord("23" + ref)
			put(r3, 11, "BE71096123456769")
			put(r3, 45, "EUR")
			put(r3, 48, fmt.Sprintf("PARENT %05d", n%benchPupils))
			put(r3, 126, "0")
			put(r3, 128, "0")
			line(r3)
			records += 3
		}
		total += credit
		nb := codaRecord(fmt.Sprintf("8%03d", paper))
		put(nb, 5, benchSchoolIBAN)
		put(nb, 39, "EUR")
		put(nb, 42, amount16(total))
		put(nb, 58, d)
		put(nb, 128, "0")
		line(nb)
		records++
		tr := codaRecord("9")
		put(tr, 17, fmt.Sprintf("%06d%015d%015d", records, 0, credit*10))
		put(tr, 128, "2")
		line(tr)
	}
	return []byte(sb.String()), decimal.New(total, -2)
}

// newBigBankEnv is a bank environment with n pupils, each with a wallet and
// a wallet OGM, and the school's IBAN set.
func newBigBankEnv(tb testing.TB, n int) (*env, *Bank, []string) {
	tb.Helper()
	ctx := context.Background()
	e := &env{}
	pool := newPool(tb)
	e.pool, e.ledger = pool, ledger.New(pool, nil)
	var err error
	if e.tenant, err = e.ledger.EnsureTenant(ctx, "po-bench", "PO bench"); err != nil {
		tb.Fatal(err)
	}
	ogms := make([]string, n)
	for i := range ogms {
		if ogms[i], err = sepa.WalletOGM(42, uint64(i+1)); err != nil {
			tb.Fatal(err)
		}
		addPupil(tb, pool, e.ledger, e.tenant, fmt.Sprintf("Élève %d", i), ogms[i])
	}
	if _, err := pool.Exec(ctx, `UPDATE schools SET iban = $2 WHERE tenant_id = $1`, e.tenant, benchSchoolIBAN); err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE`); err != nil {
		tb.Fatal(err)
	}
	return e, NewBank(e.ledger, nil), ogms
}

func BenchmarkImportCODA100k(b *testing.B) {
	ctx := context.Background()
	if n, err := strconv.Atoi(os.Getenv("TARTINE_CODA_GROUP")); err == nil && n > 0 {
		groupSize = n
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e, bank, ogms := newBigBankEnv(b, benchPupils)
		// A school's ledger has a history: June's file (5,000 lines) is
		// booked before, then the tables are analysed as autovacuum would.
		// (Into an empty ledger the first big import is much slower: see
		// docs/PERFORMANCE.md.)
		if os.Getenv("TARTINE_CODA_BENCH_EMPTY") == "" {
			june, _ := bigCODAFrom(benchPerStmt, ogms, 500, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
			if _, err := bank.ImportCODA(ctx, e.tenant, june, "seed"); err != nil {
				b.Fatal(err)
			}
			if _, err := e.pool.Exec(ctx, `ANALYZE`); err != nil {
				b.Fatal(err)
			}
		}
		data, total := bigCODA(benchLines, ogms)
		var dataDir string
		if err := e.pool.QueryRow(ctx, `SELECT current_setting('data_directory')`).Scan(&dataDir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		pg0, go0 := clusterCPU(dataDir), processCPU()
		start := time.Now()
		rep, err := bank.ImportCODA(ctx, e.tenant, data, "bench")
		elapsed := time.Since(start)
		pgCPU, goCPU := clusterCPU(dataDir)-pg0, processCPU()-go0
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		booked := len(rep.Credited) + len(rep.Suspense)
		got := rep.CreditedTotal.Add(rep.SuspenseTotal)
		if booked != benchLines || !got.Equal(total) || rep.Statements != benchLines/benchPerStmt {
			b.Fatalf("booked %d lines for %s € in %d statements, want %d for %s €", booked, got, rep.Statements, benchLines, total)
		}
		b.Logf("%d lines (%d credited, %d suspense, %d statements, %d bytes) imported in %s (CPU: PostgreSQL %.1f s, Go %.1f s)",
			booked, len(rep.Credited), len(rep.Suspense), rep.Statements, len(data), elapsed.Round(time.Millisecond), pgCPU, goCPU)
		b.ReportMetric(elapsed.Seconds(), "s/import")
		b.ReportMetric(pgCPU, "pg-cpu-s/import")
		b.ReportMetric(goCPU, "go-cpu-s/import")
		e.verify(b)
		again, err := bank.ImportCODA(ctx, e.tenant, data, "bench")
		if err != nil || again.AlreadyImported != benchLines || len(again.Credited)+len(again.Suspense) != 0 {
			b.Fatalf("second import: %d already imported, %d booked, %v", again.AlreadyImported, len(again.Credited)+len(again.Suspense), err)
		}
	}
}

// clusterCPU is the CPU time (user and system, in seconds) used so far by
// the test cluster's processes: the postmaster whose data directory is dir
// and its living children (the import's backend among them). On a machine
// shared with other work the import's wall time varies with the load; its
// CPU time much less. 0 where /proc is missing.
func clusterCPU(dir string) float64 {
	pid, _ := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	postmaster, _, _ := strings.Cut(string(pid), "\n")
	procs, _ := os.ReadDir("/proc")
	ticks := 0.0
	for _, p := range procs {
		stat, err := os.ReadFile(filepath.Join("/proc", p.Name(), "stat"))
		if err != nil {
			continue
		}
		// After the command in parentheses: state, ppid, … utime (14th
		// field of the line), stime (15th).
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 || (p.Name() != postmaster && f[1] != postmaster) {
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		k, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + k
	}
	return ticks / 100 // USER_HZ
}

// processCPU is this process's CPU time so far (user and system), in
// seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// TestBigCODAParses: the benchmark's generator writes a file that the
// parser reads whole (a small one, so that the test stays quick).
func TestBigCODAParses(t *testing.T) {
	ogms := []string{}
	for i := 1; i <= 10; i++ {
		o, _ := sepa.WalletOGM(42, uint64(i))
		ogms = append(ogms, o)
	}
	data, total := bigCODA(benchPerStmt+300, ogms)
	sts, err := sepa.ParseCODA(data)
	if err != nil {
		t.Fatal(err)
	}
	sum, n := decimal.Zero, 0
	for _, st := range sts {
		for _, m := range st.Movements {
			sum, n = sum.Add(m.Amount), n+1
		}
	}
	if len(sts) != 2 || n != benchPerStmt+300 || !sum.Equal(total) {
		t.Errorf("%d statements, %d movements for %s, want 2, %d for %s", len(sts), n, sum, benchPerStmt+300, total)
	}
}

// TestImportCODAManyLines: a file of 2,000 lines over 40 pupils (so that a
// wallet comes back in many groups of the grouped booking) credits every
// wallet with its lines, the rest to suspense, verifies clean, and a second
// import books nothing.
func TestImportCODAManyLines(t *testing.T) {
	ctx := context.Background()
	e, bank, ogms := newBigBankEnv(t, 40)
	data, total := bigCODA(2_000, ogms)
	want := map[string]decimal.Decimal{}
	sts, err := sepa.ParseCODA(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		for _, m := range st.Movements {
			want[m.OGM] = want[m.OGM].Add(m.Amount)
		}
	}
	rep, err := bank.ImportCODA(ctx, e.tenant, data, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Credited) + len(rep.Suspense); n != 2_000 || !rep.CreditedTotal.Add(rep.SuspenseTotal).Equal(total) {
		t.Fatalf("booked %d lines for %s, want 2000 for %s", n, rep.CreditedTotal.Add(rep.SuspenseTotal), total)
	}
	if len(rep.Credited) != 1_900 || len(rep.Suspense) != 100 {
		t.Errorf("%d credited, %d suspense, want 1900 and 100", len(rep.Credited), len(rep.Suspense))
	}
	for _, o := range ogms {
		var wallet int64
		if err := e.pool.QueryRow(ctx, `SELECT wallet_account_id FROM pupils WHERE tenant_id = $1 AND wallet_ogm = $2`, e.tenant, o).Scan(&wallet); err != nil {
			t.Fatal(err)
		}
		if got := e.balance(t, wallet); !got.Equal(want[o]) {
			t.Errorf("wallet of %s = %s, want %s", o, got, want[o])
		}
	}
	if got := e.codeBalance(t, CodeBank); !got.Equal(total) {
		t.Errorf("bank = %s, want %s", got, total)
	}
	if n := e.count(t, `SELECT count(*) FROM bank_movements m JOIN transfers t ON t.tenant_id = m.tenant_id AND t.id = m.transfer_id
		AND t.idempotency_key = m.key WHERE m.tenant_id = $1`, e.tenant); n != 2_000 {
		t.Errorf("%d bank movements with their own transfer, want 2000", n)
	}
	for _, l := range rep.Credited {
		if l.TransferID == 0 || l.PupilID == 0 {
			t.Fatalf("credited line without its transfer or pupil: %+v", l)
		}
	}
	// Suspense lines are booked in groups too, in the file's order in the
	// report, a pupil's OGM written in a free communication suggested.
	suggested := 0
	for i, l := range rep.Suspense {
		if l.TransferID == 0 || (i > 0 && l.Key <= rep.Suspense[i-1].Key) {
			t.Fatalf("suspense line %d without its transfer or out of order: %+v", i, l)
		}
		if l.SuggestedPupilID != 0 {
			suggested++
		}
	}
	if n := e.count(t, `SELECT count(*) FROM bank_movements WHERE tenant_id = $1 AND status = 'suspense' AND suggested_pupil_id IS NOT NULL`,
		e.tenant); suggested != 20 || n != 20 {
		t.Errorf("%d suspense lines with a suggested pupil, %d recorded; want 20 (1 %% of the file)", suggested, n)
	}
	e.verify(t)
	again, err := bank.ImportCODA(ctx, e.tenant, data, "staff:1")
	if err != nil || again.AlreadyImported != 2_000 || len(again.Credited)+len(again.Suspense) != 0 {
		t.Errorf("second import: %+v, %v; want 2000 already imported", again, err)
	}
}
