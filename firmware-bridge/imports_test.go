package bridge

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// bridgeAllowed are the project packages the bridge may link: its own, the
// reader drivers and the device API contract. Nothing of the server (no
// terminal, ledger, school …) and no database driver.
var bridgeAllowed = []string{"tartine/firmware-bridge", "tartine/readers", "tartine/internal/deviceapi", "tartine/cmd/tartine-bridge"}

// forbiddenDeps runs `go list -deps` on pkgs and returns the packages they
// link that the bridge must not: a project package outside bridgeAllowed,
// or pgx.
func forbiddenDeps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %v: %v\n%s", pkgs, err, out)
	}
	var bad []string
	for _, p := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(p, "github.com/jackc/"):
			bad = append(bad, p)
		case p == "tartine" || strings.HasPrefix(p, "tartine/"):
			if !slices.ContainsFunc(bridgeAllowed, func(a string) bool { return p == a || strings.HasPrefix(p, a+"/") }) {
				bad = append(bad, p)
			}
		}
	}
	return bad
}

// TestBridgeImports: the bridge daemon and its binary talk to the server
// only over the device API — they link no server package and no pgx, only
// the shared contract (deviceapi).
func TestBridgeImports(t *testing.T) {
	if bad := forbiddenDeps(t, "tartine/firmware-bridge/...", "tartine/cmd/tartine-bridge"); len(bad) > 0 {
		t.Errorf("the bridge links %v; it may link only %v, the standard library and third-party packages other than pgx", bad, bridgeAllowed)
	}
	// The check itself sees a server package and pgx where they are.
	bad := forbiddenDeps(t, "tartine/terminal")
	if !slices.Contains(bad, "tartine/terminal") || !slices.Contains(bad, "github.com/jackc/pgx/v5") {
		t.Errorf("forbiddenDeps(tartine/terminal) = %v, want terminal and pgx among them", bad)
	}
}
