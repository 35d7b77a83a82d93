package backoffice

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"tartine/school"
)

// The free-meals claim (FEES.md §9) in the books: for a school of the
// programme and a month, the meals served per day and class, the pupils
// enrolled at the canteen and the amount at 3,70 € a meal, as a page and
// a CSV, in the books.
func TestFreeMealsClaimPage(t *testing.T) {
	f := newKitchenFixture(t)
	if _, err := f.pool.Exec(f.ctx, `UPDATE schools SET free_meals = true WHERE tenant_id = $1 AND id = $2`, f.tenant, f.school); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateStaff(f.ctx, f.tenant, school.StaffInput{Login: "compta", Name: "Compta", Password: "demo-compta-kitchen",
		Roles: []school.Role{school.RoleAccountant}}, "test"); err != nil {
		t.Fatal(err)
	}
	emma := f.bookFor("Emma", "repas")
	f.bookFor("Lina", "repas") // booked, not served
	f.bookFor("Victor", "repas")
	victor, err := f.book.BookingFor(f.ctx, f.tenant, f.pupils["Victor"].ID, kitchenDay, "repas")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, brussels())
	f.clk.Set(at)
	for i, id := range []int64{emma.ID, victor.ID} {
		bk, err := f.book.Get(f.ctx, f.tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.book.Consume(f.ctx, bk, fmt.Sprint("tap-", i), at); err != nil {
			t.Fatal(err)
		}
	}
	path := fmt.Sprintf("/admin/books/free-meals?school=%d&month=2026-12", f.school)
	acc := f.login("compta", "demo-compta-kitchen")
	code, body := acc.get(path)
	body = strings.ReplaceAll(body, "\u00a0", " ")
	if code != http.StatusOK {
		t.Fatalf("claim page: %d\n%s", code, body)
	}
	for _, want := range []string{"2 repas servis · 3 élèves inscrits à la cantine", "2 × 3,70 € = 7,40 €", "P3A", "P1A", "jeudi 3 décembre 2026"} {
		if !strings.Contains(body, want) {
			t.Errorf("claim page lacks %q\n%s", want, body)
		}
	}
	if strings.Contains(body, "freemeals-not-listed") {
		t.Error("a school of the programme is said not listed")
	}
	code, csv := acc.get(strings.Replace(path, "free-meals?", "free-meals.csv?", 1))
	csv = strings.ReplaceAll(csv, "\u00a0", " ")
	for _, want := range []string{"École des Tilleuls;03/12/2026;P3A;P3;2", "École des Tilleuls;2026-12;P1A;1;0", "École des Tilleuls;2026-12;Total;3;2", "7,40 €"} {
		if code != http.StatusOK || !strings.Contains(csv, want) {
			t.Errorf("CSV (%d) lacks %q\n%s", code, want, csv)
		}
	}
}
