package db

import (
	"strconv"
	"strings"
)

// KeySet returns a set of text keys as one statement argument, with the
// SQL expression (parameter $n) that yields it as a column of rows, for
// `col IN (SELECT <expr>)` or a join. Not `col = ANY($n)`: for that the
// planner estimates the selectivity of each element of the array in turn
// against the column's statistics (a bank file's 100,000 keys: 120 ms of
// planning for 8 ms of execution). And the keys travel as one text joined
// by newlines, which pgx sends in one copy, rather than as an array that it
// encodes element by element (≈ 1.5 µs a key) — unless a key holds a
// newline or is empty (string_to_array reads an empty text as no
// element), when they travel as an array. Measured in
// docs/PERFORMANCE.md (CODA import, sixth pass).
func KeySet(n int, keys []string) (expr string, arg any) {
	p := "$" + strconv.Itoa(n)
	for _, k := range keys {
		if k == "" || strings.IndexByte(k, '\n') >= 0 {
			return "unnest(" + p + "::text[])", keys
		}
	}
	return "unnest(string_to_array(" + p + "::text, E'\\n'))", strings.Join(keys, "\n")
}
