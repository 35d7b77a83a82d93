package backoffice

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tartine/school"
)

// TestPupilCreateAndEdit: an admin creates a pupil with a class, an EU-14
// allergen, a free allergy note and a diet, then moves them to another
// class and changes the allergies; a refused form keeps what was typed.
func TestPupilCreateAndEdit(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	classes, err := f.store.Classes(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil || len(classes) < 2 {
		t.Fatalf("classes: %v %v", classes, err)
	}
	st, body := c.get(fmt.Sprint("/admin/pupils/new?school=", f.demo.SchoolID))
	if st != http.StatusOK || !strings.Contains(body, `value="peanuts"`) || !strings.Contains(body, `value="vegetarian"`) {
		t.Fatalf("new pupil form: %d", st)
	}
	form := url.Values{"school": {fmt.Sprint(f.demo.SchoolID)}, "first_name": {"Léon"}, "last_name": {"Kiwi"}, "external_ref": {"N-77"},
		"birth_date": {"2018-04-02"}, "class": {fmt.Sprint(classes[0].ID)}, "allergen": {"peanuts"}, "allergy_notes": {"kiwi, épipen dans le cartable"},
		"diet": {"vegetarian"}}
	// Refused (no last name): what was typed is kept.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("last_name", " ")
	if st, body, _ := c.post("/admin/pupils/new", bad); st != http.StatusUnprocessableEntity || !strings.Contains(body, "épipen dans le cartable") {
		t.Errorf("refused form: %d", st)
	}
	st, _, loc := c.post("/admin/pupils/new", form)
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/pupils/") {
		t.Fatalf("create: %d to %q", st, loc)
	}
	var id int64
	if _, err := fmt.Sscanf(loc, "/admin/pupils/%d", &id); err != nil {
		t.Fatal(err)
	}
	p, err := f.store.Pupil(f.ctx, f.demo.TenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.FirstName != "Léon" || p.ClassID != classes[0].ID || len(p.Allergens) != 1 || p.Allergens[0] != school.Peanuts ||
		p.AllergyNotes != "kiwi, épipen dans le cartable" || len(p.Diet) != 1 || p.Diet[0] != school.Vegetarian || p.BirthDate.Format("2006-01-02") != "2018-04-02" {
		t.Errorf("created: %+v", p)
	}
	if _, body = c.get(loc); !strings.Contains(body, "Fiche de Léon Kiwi enregistrée") {
		t.Error("no notice after create")
	}
	// Class change and other allergies.
	st, body = c.get(loc + "/edit")
	if st != http.StatusOK || !strings.Contains(body, `value="peanuts" checked`) {
		t.Fatalf("edit form: %d", st)
	}
	form.Set("class", fmt.Sprint(classes[1].ID))
	form["allergen"] = []string{"milk", "eggs"}
	form.Del("diet")
	if st, _, _ := c.post(loc+"/edit", form); st != http.StatusSeeOther {
		t.Fatalf("edit: %d", st)
	}
	p, _ = f.store.Pupil(f.ctx, f.demo.TenantID, id)
	if p.ClassID != classes[1].ID || len(p.Allergens) != 2 || len(p.Diet) != 0 {
		t.Errorf("edited: class %d allergens %v diet %v", p.ClassID, p.Allergens, p.Diet)
	}
	// An unknown allergen code is refused.
	form["allergen"] = []string{"kiwi"}
	if st, _, _ := c.post(loc+"/edit", form); st != http.StatusUnprocessableEntity {
		t.Errorf("unknown allergen: %d", st)
	}
	// Another tenant's or unknown pupil: 404.
	if st, _ := c.get("/admin/pupils/999999/edit"); st != http.StatusNotFound {
		t.Errorf("unknown pupil: %d", st)
	}
}
