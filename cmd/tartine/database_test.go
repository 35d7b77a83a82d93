package main

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A DATABASE_URL naming a primary and its standby gets a connect timeout, so
// that a lost machine holds a new connection seconds, not minutes, before the
// next host is tried.
func TestDatabaseURLGetsAConnectTimeout(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want time.Duration
	}{
		{"postgres://tartine:pw@db1:5432,db2:5432/tartine?target_session_attrs=read-write", 5 * time.Second},
		{"postgres://tartine@db1/tartine", 5 * time.Second},
		{"host=db1,db2 port=5432,5432 user=tartine dbname=tartine target_session_attrs=read-write", 5 * time.Second},
		{"postgres://tartine@db1,db2/tartine?connect_timeout=2", 2 * time.Second},
		{"host=db1 user=tartine connect_timeout=9", 9 * time.Second},
	} {
		cfg, err := pgxpool.ParseConfig(withConnectTimeout(tc.dsn))
		if err != nil {
			t.Fatalf("%s: %v", tc.dsn, err)
		}
		if got := cfg.ConnConfig.ConnectTimeout; got != tc.want {
			t.Errorf("%s: connect timeout %v, want %v", tc.dsn, got, tc.want)
		}
	}
	if got := withConnectTimeout(""); got != "" {
		t.Errorf("empty DATABASE_URL became %q", got)
	}
}
