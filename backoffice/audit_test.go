package backoffice

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"tartine/internal/tz"
	"tartine/school"
)

// TestAuditPageReadableAndFiltered: the audit page names who did what to
// which pupil in French, and narrows by action (or its family), actor,
// pupil and days.
func TestAuditPageReadableAndFiltered(t *testing.T) {
	f := newFixture(t)
	admin, err := f.store.StaffByLogin(f.ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	emma, zoe := f.pupil("Emma"), f.pupil("Lucas")
	at := func(day int) *school.Store {
		return school.New(f.pool, f.led, func() time.Time { return time.Date(2026, 11, day, 10, 0, 0, 0, tz.Brussels) })
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(at(2).Audit(f.ctx, f.demo.TenantID, admin.Actor(), "badge.assign", fmt.Sprint("pupil:", emma.ID), map[string]any{"uid": "04AA"}))
	must(at(9).Audit(f.ctx, f.demo.TenantID, admin.Actor(), "pupil.update", fmt.Sprint("pupil:", zoe.ID), nil))
	must(at(16).Audit(f.ctx, f.demo.TenantID, "device:nobody", "badge.assign", fmt.Sprint("pupil:", zoe.ID), nil))

	c := f.login("admin", "demo-admin")
	rows := func(query string) []string {
		t.Helper()
		if !strings.Contains(query, "from=") { // November only: the demo's seeding is audited too
			query = "?from=2026-11-01&to=2026-11-30&" + strings.TrimPrefix(query, "?")
		}
		st, body := c.get("/admin/audit" + query)
		if st != http.StatusOK {
			t.Fatalf("GET /admin/audit%s: %d", query, st)
		}
		i := strings.Index(body, `<tbody>`)
		if i < 0 {
			return nil
		}
		body = body[i:strings.Index(body, `</tbody>`)]
		var out []string
		for _, r := range strings.Split(body, "<tr>")[1:] {
			out = append(out, r)
		}
		return out
	}
	all := rows("")
	var found bool
	for _, r := range all {
		if strings.Contains(r, "Badge attribué") && strings.Contains(r, emma.FirstName+" "+emma.LastName) && strings.Contains(r, admin.Name) {
			found = true
		}
		if strings.Contains(r, "<code>badge.assign</code>") {
			t.Errorf("an action shown as its code: %s", r)
		}
	}
	if !found {
		t.Errorf("no readable row for Emma's badge (who, what, which pupil) in %d rows", len(all))
	}

	count := func(query string, want int, must ...string) {
		t.Helper()
		got := rows(query)
		if len(got) != want {
			t.Errorf("%s: %d rows, want %d", query, len(got), want)
		}
		for _, r := range got {
			for _, m := range must {
				if !strings.Contains(r, m) {
					t.Errorf("%s: row without %q: %s", query, m, r)
				}
			}
		}
	}
	count("?action=badge.assign", 2, "Badge attribué")
	count("?action=badge", 2, "Badge attribué")
	count("?action=pupil", 1, "Élève modifié")
	count(fmt.Sprint("?pupil=", zoe.ID), 2, zoe.FirstName)
	count(fmt.Sprint("?pupil=", emma.ID, "&actor=", admin.Actor()), 1, emma.FirstName, admin.Name)
	count("?actor=device:nobody", 1, "device:nobody")
	count("?from=2026-11-09&to=2026-11-09", 1, "Élève modifié")
	count("?from=2026-11-03&to=2026-11-16&action=badge", 1, "device:nobody")
	count("?from=2026-11-03&to=2026-11-15&action=badge", 0)
	count("?action=%25", 0)
	if len(all) != 3 {
		t.Errorf("November: %d rows, want 3", len(all))
	}
	// Filters that do not parse are ignored, not refused.
	if got := rows("?pupil=abc&action=" + strings.Repeat("x", 101)); len(got) != len(all) {
		t.Errorf("unparsable filters: %d rows, want %d", len(got), len(all))
	}
}
