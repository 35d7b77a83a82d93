package backoffice

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tartine/fees"
	"tartine/internal/testclock"
	"tartine/school"
)

// TestFeeCreationPage walks the fee form as a school admin would: the
// refusals name the rule and its source (level without facultatif,
// forbidden category, the maternel activities cap with the pupils' usage),
// the cap refusal offers to lower the pupils' amounts, and the fee is then
// created, listed and charged.
func TestFeeCreationPage(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	classes, err := f.store.Classes(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil {
		t.Fatal(err)
	}
	class := map[string]string{}
	for _, cl := range classes {
		class[cl.Code] = fmt.Sprint(cl.ID)
	}
	today := testclock.Now().In(testclock.Brussels).Format("02/01/2006")
	st, body := c.get("/admin/fees")
	if st != http.StatusOK || !strings.Contains(body, `action="/admin/fees"`) || !strings.Contains(body, "Coût réel par élève") {
		t.Fatalf("GET /admin/fees: %d\n%.500s", st, body)
	}
	form := func(kind, category, amount string, extra url.Values) url.Values {
		v := url.Values{"school": {fmt.Sprint(f.demo.SchoolID)}, "object": {"Sortie au musée"}, "category": {category},
			"kind": {kind}, "dates": {today}, "amount": {amount}, "class": {class["M2"]}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	for _, tc := range []struct {
		name        string
		form        url.Values
		want, want2 string
	}{
		{"level without facultatif", form("facultatif", "activites-facultatives", "4,00", nil), "aucun frais facultatif n&#39;est permis en M2", "7134"},
		{"forbidden category", form("obligatoire", "journal-de-classe", "4,00", nil), "interdit à tous les niveaux", "Missions art. 100"},
		{"photocopies in maternel", form("obligatoire", "photocopies", "2,00", nil), "interdit à tous les niveaux", "photocopies interdites"},
		{"bad amount", form("obligatoire", "activites", "4,001", nil), "Montant « 4,001 » incorrect", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := c.post("/admin/fees", tc.form)
			if st != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) || !strings.Contains(body, tc.want2) {
				t.Fatalf("status %d, want 422 with %q and %q\n%s", st, tc.want, tc.want2, body)
			}
		})
	}
	// 40 € of activities for M2, then 20 € more: past the 56 € cap.
	st, body = c.follow("/admin/fees", form("obligatoire", "activites", "40,00", nil))
	if st != http.StatusOK || !strings.Contains(body, "Sortie au musée") || !strings.Contains(body, "40,00\u00a0€") || !strings.Contains(body, "compté") {
		t.Fatalf("create: %d\n%.2000s", st, body)
	}
	st, body, _ = c.post("/admin/fees", form("obligatoire", "activites", "20,00", nil))
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "dépasserait un plafond") || !strings.Contains(body, "déjà 40,00\u00a0€ sur 56,00\u00a0€, reste 16,00\u00a0€") || !strings.Contains(body, "à confirmer") {
		t.Fatalf("past the cap: %d\n%s", st, body)
	}
	lowers := regexp.MustCompile(`name="(lower_\d+)" value="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(lowers) != 3 {
		t.Fatalf("lower fields = %v, want one per M2 pupil", lowers)
	}
	extra := url.Values{}
	for _, m := range lowers {
		extra.Set(m[1], strings.ReplaceAll(m[2], "\u00a0€", ""))
	}
	st, body = c.follow("/admin/fees", form("obligatoire", "activites", "20,00", extra))
	if st != http.StatusOK || !strings.Contains(body, "16,00\u00a0€") {
		t.Fatalf("lowered: %d\n%.3000s", st, body)
	}
	st, body = c.get("/admin/fees")
	if st != http.StatusOK || strings.Count(body, "Sortie au musée") != 2 {
		t.Fatalf("list: %d\n%.3000s", st, body)
	}
	// The organising-body admin sees the rules with their form.
	st, body = c.get("/admin/fees/rules?group=M1-M3")
	if st != http.StatusOK || !strings.Contains(body, `name="cap_amount_maternel-activities"`) || !strings.Contains(body, "à confirmer") {
		t.Fatalf("rules: %d\n%.3000s", st, body)
	}
	if st, body = c.get("/admin/fees/caps"); st != http.StatusOK || !strings.Contains(body, "56,00\u00a0€") {
		t.Fatalf("caps: %d\n%.3000s", st, body)
	}
	// A school's admin reads the rules but may not change them.
	if _, err := f.store.CreateStaff(f.ctx, f.demo.TenantID, school.StaffInput{Login: "dir-tilleuls", Name: "Direction", Password: "Tilleuls-Direction-7",
		Roles: []school.Role{school.RoleAdmin}, SchoolID: f.demo.SchoolID}, "test"); err != nil {
		t.Fatal(err)
	}
	d := f.login("dir-tilleuls", "Tilleuls-Direction-7")
	if st, body = d.get("/admin/fees/rules?group=M1-M3"); st != http.StatusOK || strings.Contains(body, `name="cap_amount_`) || !strings.Contains(body, "Seul un administrateur du pouvoir organisateur") {
		t.Fatalf("rules as a school admin: %d\n%.3000s", st, body)
	}
	if st, _, _ = d.post("/admin/fees/rules", url.Values{"year": {"2026-27"}, "group": {"M1-M3"}, "based_on": {"1"}, "reason": {"x"}}); st != http.StatusForbidden {
		t.Errorf("rules saved by a school admin: %d, want 403", st)
	}
	// The organising-body admin saves a confirmed cap amount: a new version.
	st, body = c.follow("/admin/fees/rules", url.Values{"year": {fees.SchoolYearOf(testclock.Now())}, "group": {"M1-M3"}, "based_on": {"1"},
		"reason": {"montant publié"}, "cap_amount_maternel-activities": {"57,20"}, "cap_amount_maternel-stays": {"125,00"},
		"obligatoire_piscine": {"on"}, "obligatoire_activites": {"on"}, "obligatoire_sejours": {"on"}, "forbidden_minerval": {"on"}, "pool_value": {"on"},
		"free_M1": {"on"}, "free_M2": {"on"}, "free_M3": {"on"}})
	if st != http.StatusOK || !strings.Contains(body, "version 2") || !strings.Contains(body, `value="57.20"`) {
		t.Fatalf("rules saved: %d\n%.3000s", st, body)
	}
}

// TestFeePageOptInAndCredit: the office records a paper opt-in to a
// facultatif fee; once the line is on an issued statement the fee can no
// longer be corrected, only credited, and the credit shows on the page.
func TestFeePageOptInAndCredit(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	classes, err := f.store.Classes(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil {
		t.Fatal(err)
	}
	var p5 string
	for _, cl := range classes {
		if cl.Code == "P5B" {
			p5 = fmt.Sprint(cl.ID)
		}
	}
	today := testclock.Now().In(testclock.Brussels).Format("02/01/2006")
	st, body, loc := c.post("/admin/fees", url.Values{"school": {fmt.Sprint(f.demo.SchoolID)}, "object": {"Revue Tremplin"}, "category": {"abonnements"},
		"kind": {"facultatif"}, "dates": {today}, "amount": {"18,00"}, "class": {p5}})
	if st != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", st, body)
	}
	arthur := f.pupil("Arthur")
	if st, body = c.get(loc); st != http.StatusOK || !strings.Contains(body, "en attente d&#39;accord") || !strings.Contains(body, "Enregistrer la réponse") {
		t.Fatalf("fee page: %d\n%s", st, body)
	}
	if st, body, _ = c.post(loc+"/opt-in", url.Values{"pupil": {fmt.Sprint(arthur.ID)}, "answer": {"yes"}}); st != http.StatusUnprocessableEntity {
		t.Fatalf("opt-in without saying how: %d, want 422", st)
	}
	if st, body = c.follow(loc+"/opt-in", url.Values{"pupil": {fmt.Sprint(arthur.ID)}, "answer": {"yes"}, "note": {"talon papier"}}); st != http.StatusOK || !strings.Contains(body, "Accord enregistré") || !strings.Contains(body, "talon papier") {
		t.Fatalf("opt-in: %d\n%s", st, body)
	}
	// The statements package issues Arthur's line.
	id, _ := strconv.ParseInt(strings.TrimPrefix(loc, "/admin/fees/"), 10, 64)
	lines, err := fees.UnissuedBefore(f.ctx, f.pool, f.demo.TenantID, []int64{arthur.ID}, testclock.Now().AddDate(0, 0, 1))
	if err != nil || len(lines) != 1 || lines[0].FeeID != id {
		t.Fatalf("lines = %+v, %v", lines, err)
	}
	if err := fees.MarkIssued(f.ctx, f.pool, f.demo.TenantID, []int64{lines[0].ID}, "D-2026-0001"); err != nil {
		t.Fatal(err)
	}
	if st, body, _ = c.post(loc+"/cancel", url.Values{"reason": {"erreur"}}); st != http.StatusUnprocessableEntity || !strings.Contains(body, "note de crédit") {
		t.Fatalf("cancel after issue: %d\n%s", st, body)
	}
	st, body = c.follow(fmt.Sprintf("%s/lines/%d/credit", loc, lines[0].ID), url.Values{"amount": {"4,50"}, "reason": {"numéro manquant"}})
	if st != http.StatusOK || !strings.Contains(body, "Note de crédit de 4,50\u00a0€ ajoutée") || !strings.Contains(body, "numéro manquant") || !strings.Contains(body, "D-2026-0001") {
		t.Fatalf("credit: %d\n%s", st, body)
	}
}

func FuzzParseDays(f *testing.F) {
	for _, s := range []string{"05/11/2025", "2025-11-05, 12/11/2025", "1/2/2026;3/2/2026", "", "31/02/2026", "05/11/2025,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		days, ok := parseDays(s)
		if ok != (len(days) > 0) {
			t.Fatalf("parseDays(%q) = %v, %v", s, days, ok)
		}
		for _, d := range days {
			if d.Year() < 2000 || d.Year() >= 2100 || d.Hour() != 0 {
				t.Fatalf("parseDays(%q) gave %v", s, d)
			}
		}
	})
}
