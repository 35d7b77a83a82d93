package db_test

import (
	"testing"

	"tartine/internal/db"
)

// TestKeySet: the keys travel joined by newlines unless one holds a
// newline; the expression names the asked parameter. (The SQL itself runs
// against PostgreSQL in ledger's and payments' tests of the key look-ups.)
func TestKeySet(t *testing.T) {
	expr, arg := db.KeySet(2, []string{"coda:a:1", "coda:a:2"})
	if expr != `unnest(string_to_array($2::text, E'\n'))` || arg != "coda:a:1\ncoda:a:2" {
		t.Errorf("plain keys: %s, %#v", expr, arg)
	}
	expr, arg = db.KeySet(12, []string{"a", "b\nc"})
	if keys, ok := arg.([]string); expr != `unnest($12::text[])` || !ok || len(keys) != 2 {
		t.Errorf("a key with a newline: %s, %#v", expr, arg)
	}
	if _, arg = db.KeySet(1, []string{""}); arg == "" {
		t.Errorf("an empty key travels as %#v, which string_to_array reads as no key", arg)
	}
}
