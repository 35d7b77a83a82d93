package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// known are today's violations (issue 13, "each table has one owner"): a
// package whose SQL names a table it does not own, with why it is still
// there. A new one fails the test; when one is fixed, the test says to
// remove its line. Shrink this list, never grow it.
var known = map[string]string{
	// Load generators and benchmarks seed and check their own world with
	// bulk SQL, for speed; they never run inside the server.
	"internal/ledgerbench → accounts": "benchmark seeding",
	"portal/loadgen → meal_tariffs":   "load generator's setup check",
	"terminal/loadgen → badges":       "load generator seeding",
	"terminal/loadgen → meal_tariffs": "load generator's setup check",
	"terminal/loadgen → pupils":       "load generator seeding",
	"terminal/loadgen → stations":     "load generator seeding",
}

// tableRef finds a table named after FROM, JOIN, INTO, UPDATE or TABLE.
var tableRef = regexp.MustCompile(`(?i)\b(?:from|join|into|update|table)\s+(?:only\s+)?([a-z_][a-z0-9_]*)`)

// sqlWord tells SQL from other strings: a statement, or a fragment (a
// column list with its FROM or JOIN, composed into a statement elsewhere).
var sqlWord = regexp.MustCompile(`(?i:\b(select|insert|update|delete|with)\b)|\b(FROM|JOIN)\b`)

// references returns, for each package folder below root (its
// non-test Go files), the owned tables its string literals name in SQL.
func references(t *testing.T, root string) map[string]map[string]bool {
	t.Helper()
	refs := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "migrations", "node_modules", ".git", "var":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !sqlWord.MatchString(s) {
				return true
			}
			for _, m := range tableRef.FindAllStringSubmatch(s, -1) {
				table := strings.ToLower(m[1])
				if _, owned := Owners[table]; !owned {
					continue
				}
				if refs[pkg] == nil {
					refs[pkg] = map[string]bool{}
				}
				refs[pkg][table] = true
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// owns reports whether the package folder pkg owns table: the owner's
// folder or one below it (ledger/… for ledger).
func owns(pkg, table string) bool {
	o := Owners[table]
	return pkg == o || strings.HasPrefix(pkg, o+"/")
}

// TestTableOwnership: no package names in its SQL a table another package
// owns, except the known violations listed above.
func TestTableOwnership(t *testing.T) {
	refs := references(t, "../..")
	var found []string
	for pkg, tables := range refs {
		for table := range tables {
			if !owns(pkg, table) {
				found = append(found, pkg+" → "+table)
			}
		}
	}
	slices.Sort(found)
	for _, v := range found {
		if _, ok := known[v]; !ok {
			pkg, table, _ := strings.Cut(v, " → ")
			t.Errorf("%s names table %s, owned by %s: call a function of %s instead (or, for a debt, list it in known with its reason)", pkg, table, Owners[table], Owners[table])
		}
	}
	for v := range known {
		if !slices.Contains(found, v) {
			t.Errorf("known violation %q no longer happens: remove it from known", v)
		}
	}
	if os.Getenv("ARCHTEST_LIST") != "" {
		for _, v := range found {
			fmt.Printf("\t%q: \"\",\n", v)
		}
	}
}

// TestReferences: the scan finds the tables a package's SQL names, and only
// in SQL of its non-test files.
func TestReferences(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("portal/a.go", "package portal\n\nconst q = `SELECT p.id FROM pupils p\n\tJOIN guardian_pupils gp ON true`\n\nconst u = \"update Badges SET x = 1\"\n\nconst text = \"pupils from the school\"\n")
	write("portal/a_test.go", "package portal\n\nconst q2 = `SELECT 1 FROM fees`\n")
	write("ledger/b.go", "package ledger\n\n// SELECT * FROM statements\nconst q = `INSERT INTO postings (x) SELECT 1 FROM my_cte`\n")
	got := references(t, root)
	want := map[string]map[string]bool{
		"portal": {"pupils": true, "guardian_pupils": true, "badges": true},
		"ledger": {"postings": true},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("references = %v, want %v", got, want)
	}
	if owns("portal", "pupils") || !owns("ledger", "postings") || !owns("terminal/loadgen", "taps") {
		t.Error("owns is wrong")
	}
}
