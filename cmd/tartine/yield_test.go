package main

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The device pool's pool_min_conns reaches pgxpool in both forms of a
// connection string, and a setting of the operator's wins.
func TestWithPoolParam(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want int32
	}{
		{"host=/tmp/pg port=5432 user=postgres dbname=tartine", 16},
		{"postgres://u@localhost:5432/tartine", 16},
		{"postgres://u@localhost:5432/tartine?sslmode=disable", 16},
		{"postgres://u@localhost:5432/tartine?pool_min_conns=2", 2},
		{"host=/tmp/pg dbname=tartine pool_min_conns=3", 3},
	} {
		cfg, err := pgxpool.ParseConfig(withPoolParam(tc.dsn, "pool_min_conns", "16"))
		if err != nil {
			t.Errorf("%s: %v", tc.dsn, err)
			continue
		}
		if cfg.MinConns != tc.want {
			t.Errorf("%s: MinConns %d, want %d", tc.dsn, cfg.MinConns, tc.want)
		}
	}
}
