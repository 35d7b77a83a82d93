package backoffice

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The pupil's form sets and clears the severe-handicap flag (the tax
// certificate counts the child's care until 21).
func TestPupilSevereHandicapField(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	classes, err := f.store.Classes(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil || len(classes) == 0 {
		t.Fatalf("classes: %v %v", classes, err)
	}
	form := url.Values{"school": {fmt.Sprint(f.demo.SchoolID)}, "first_name": {"Léon"}, "last_name": {"Grave"},
		"birth_date": {"2010-04-02"}, "class": {fmt.Sprint(classes[0].ID)}, "severe_handicap": {"on"}}
	st, body, loc := c.post("/admin/pupils/new", form)
	if st != http.StatusSeeOther {
		t.Fatalf("create: %d (%.300s)", st, body)
	}
	var id int64
	if _, err := fmt.Sscanf(loc, "/admin/pupils/%d", &id); err != nil {
		t.Fatal(err)
	}
	if p, err := f.store.Pupil(f.ctx, f.demo.TenantID, id); err != nil || !p.SevereHandicap {
		t.Fatalf("created: %v, %v; want the flag set", p.SevereHandicap, err)
	}
	if _, body := c.get(loc + "/edit"); !strings.Contains(body, `name="severe_handicap" id="pf-handicap" checked`) {
		t.Error("the edit form does not show the flag")
	}
	form.Del("severe_handicap")
	if st, _, _ := c.post(loc+"/edit", form); st != http.StatusSeeOther {
		t.Fatalf("edit: %d", st)
	}
	if p, _ := f.store.Pupil(f.ctx, f.demo.TenantID, id); p.SevereHandicap {
		t.Error("unchecked: the flag stays set")
	}
}
