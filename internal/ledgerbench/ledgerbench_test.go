package ledgerbench_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"tartine/internal/dbtest"
	"tartine/internal/ledgerbench"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestRunMeasuresEveryScenarioAndPgbench(t *testing.T) {
	dsn := dbtest.NewDSN(t)
	cfg := ledgerbench.Config{DSN: dsn, Pgbench: filepath.Join(dbtest.Cluster(t).BinDir(), "pgbench"),
		Duration: 300 * time.Millisecond, Concurrency: []int{1, 3}, Wallets: 40, PgbenchScale: 1}
	var reported []ledgerbench.Result
	results, err := ledgerbench.Run(context.Background(), cfg, func(r ledgerbench.Result) { reported = append(reported, r) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(results, reported) {
		t.Fatalf("reported %v, returned %v", reported, results)
	}
	var got []string
	for _, r := range results {
		got = append(got, r.Scenario)
		if r.TransfersPerS <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms || r.RatioToPgbench <= 0 {
			t.Errorf("implausible result %+v", r)
		}
		if r.Scenario == ledgerbench.Pgbench && r.RatioToPgbench != 1 {
			t.Errorf("pgbench ratio = %v, want 1", r.RatioToPgbench)
		}
	}
	want := []string{"purchase", "topup", "hold-post", "pgbench-tpcb-like", "purchase", "topup", "hold-post", "pgbench-tpcb-like"}
	if !slices.Equal(got, want) {
		t.Fatalf("scenarios %v, want %v", got, want)
	}
	if results[4].Concurrency != 3 {
		t.Fatalf("second level concurrency = %d, want 3", results[4].Concurrency)
	}
}

func TestWithDatabase(t *testing.T) {
	cases := []struct{ in, want string }{
		{"postgres://u:p@localhost:5432/tartine?sslmode=disable", "postgres://u:p@localhost:5432/x?sslmode=disable"},
		{"host=/tmp/pg port=5432 user=postgres dbname=tartine", "host=/tmp/pg port=5432 user=postgres dbname=tartine dbname=x"},
	}
	for _, c := range cases {
		got, err := ledgerbench.WithDatabase(c.in, "x")
		if err != nil || got != c.want {
			t.Errorf("WithDatabase(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := ledgerbench.WithDatabase("postgres://[bad", "x"); err == nil {
		t.Error("bad url accepted")
	}
}
