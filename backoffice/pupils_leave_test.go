package backoffice

import (
	"bytes"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"tartine/booking"
	"tartine/internal/testclock"
	"tartine/school"
)

// TestPupilPhotoConsentForm: the consent is ticked on the pupil's form and
// shown on the page.
func TestPupilPhotoConsentForm(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	emma := f.pupil("Emma")
	form := url.Values{"school": {fmt.Sprint(emma.SchoolID)}, "first_name": {emma.FirstName}, "last_name": {emma.LastName},
		"external_ref": {emma.ExternalRef}, "class": {fmt.Sprint(emma.ClassID)}, "allergen": {"peanuts"}, "photo_consent": {"on"}}
	if st, _, _ := c.post(fmt.Sprintf("/admin/pupils/%d/edit", emma.ID), form); st != http.StatusSeeOther {
		t.Fatalf("save: %d", st)
	}
	if p := f.pupil("Emma"); !p.PhotoConsent {
		t.Error("consent not saved")
	}
	if _, body := c.get(fmt.Sprintf("/admin/pupils/%d/edit", emma.ID)); !strings.Contains(body, `name="photo_consent" id="pf-photo" checked`) {
		t.Error("the form does not show the consent")
	}
	form.Del("photo_consent")
	c.post(fmt.Sprintf("/admin/pupils/%d/edit", emma.ID), form)
	if p := f.pupil("Emma"); p.PhotoConsent {
		t.Error("consent not withdrawn")
	}
}

// TestGuardianPages: an admin edits a guardian's contact and language,
// adds a second guardian (a separated parent), chooses who receives the
// statements (never nobody) and removes a guardian; each change is
// audited.
func TestGuardianPages(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	emma := f.pupil("Emma")
	links, err := f.store.GuardiansOfPupil(f.ctx, f.demo.TenantID, emma.ID)
	if err != nil || len(links) != 1 {
		t.Fatalf("Emma's guardians: %v %v", links, err)
	}
	mum := links[0]
	page := fmt.Sprintf("/admin/pupils/%d/guardians/%d", emma.ID, mum.ID)
	st, body := c.get(page)
	if st != http.StatusOK || !strings.Contains(body, mum.Email) || !strings.Contains(body, "Lucas") {
		t.Fatalf("guardian page: %d", st)
	}
	if st, _ := c.get(fmt.Sprintf("/admin/pupils/%d/guardians/%d", f.pupil("Mila").ID, mum.ID)); st != http.StatusNotFound {
		t.Errorf("guardian through another pupil: %d, want 404", st)
	}
	save := url.Values{"first_name": {mum.FirstName}, "last_name": {mum.LastName}, "email": {mum.Email}, "phone": {"0470 11 22 33"},
		"address": {"Rue Neuve 3, 1000 Bruxelles"}, "language": {"nl"}}
	if st, _, _ := c.post(page, save); st != http.StatusSeeOther {
		t.Fatalf("save: %d", st)
	}
	g, _ := f.store.Guardian(f.ctx, f.demo.TenantID, mum.ID)
	if g.Phone != "0470 11 22 33" || g.Language != "nl" || g.Address != "Rue Neuve 3, 1000 Bruxelles" {
		t.Errorf("saved: %+v", g)
	}
	save.Set("email", "pas-une-adresse")
	if st, body, _ := c.post(page, save); st != http.StatusUnprocessableEntity || !strings.Contains(body, "pas-une-adresse") {
		t.Errorf("bad email: %d", st)
	}
	// The only guardian cannot stop receiving the statements.
	c.post(page+"/statements", url.Values{"child": {fmt.Sprint(emma.ID)}, "statements": {"0"}})
	if l, _ := f.store.GuardiansOfPupil(f.ctx, f.demo.TenantID, emma.ID); !l[0].Statements {
		t.Error("the only guardian stopped receiving statements")
	}
	// A separated father, new.
	st, _, loc := c.post(fmt.Sprintf("/admin/pupils/%d/guardians", emma.ID), url.Values{"first_name": {"Marc"}, "last_name": {"Dubois"},
		"email": {"marc.dubois@example.be"}, "language": {"fr"}, "relation": {"père"}})
	if st != http.StatusSeeOther || loc != fmt.Sprintf("/admin/pupils/%d", emma.ID) {
		t.Fatalf("add guardian: %d %q", st, loc)
	}
	links, _ = f.store.GuardiansOfPupil(f.ctx, f.demo.TenantID, emma.ID)
	var dad school.GuardianLink
	for _, l := range links {
		if l.Email == "marc.dubois@example.be" {
			dad = l
		}
	}
	if dad.ID == 0 || dad.Relation != "père" {
		t.Fatalf("guardians after adding: %+v", links)
	}
	// Now the mother can stop receiving Emma's statements.
	if st, _, _ := c.post(page+"/statements", url.Values{"child": {fmt.Sprint(emma.ID)}, "statements": {"0"}}); st != http.StatusSeeOther {
		t.Fatalf("statements: %d", st)
	}
	to, err := f.store.GuardiansOfPupils(f.ctx, f.demo.TenantID, []int64{emma.ID})
	if err != nil || len(to[emma.ID]) != 1 || to[emma.ID][0].ID != dad.ID {
		t.Errorf("statements go to %+v, want the father only", to[emma.ID])
	}
	if _, body := c.get(fmt.Sprintf("/admin/pupils/%d", emma.ID)); !strings.Contains(body, "ne reçoit pas les relevés") {
		t.Error("the pupil's page does not say who does not receive the statements")
	}
	// Remove the father: the mother receives them again.
	if st, _, _ := c.post(fmt.Sprintf("/admin/pupils/%d/guardians/%d/unlink", emma.ID, dad.ID), url.Values{"confirm": {"on"}}); st != http.StatusSeeOther {
		t.Fatalf("unlink: %d", st)
	}
	if l, _ := f.store.GuardiansOfPupil(f.ctx, f.demo.TenantID, emma.ID); len(l) != 1 || !l[0].Statements {
		t.Errorf("after unlinking: %+v", l)
	}
	for _, action := range []string{"guardian.update", "guardian.create", "guardian.link", "guardian.statements", "guardian.unlink"} {
		e, err := f.store.AuditSearch(f.ctx, f.demo.TenantID, 0, school.AuditFilter{Action: action}, 5)
		if err != nil || len(e) == 0 || !strings.HasPrefix(e[0].Actor, "staff:") {
			t.Errorf("audit %s: %+v %v", action, e, err)
		}
	}
}

// TestPupilLeaving: an admin records that Emma leaves today: her bookings
// from today are cancelled, she is inactive, her badge is returned; her
// balance goes to her brother Lucas; the organising body's admin sets the
// retention period the page announces.
func TestPupilLeaving(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	emma, lucas := f.pupil("Emma"), f.pupil("Lucas")
	ty, tm, td := testclock.Today().Date()
	today := time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)
	before, err := f.book.Bookings(f.ctx, f.demo.TenantID, emma.ID, today, today.AddDate(0, 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	booked := 0
	for _, b := range before {
		if b.Status == booking.StatusBooked {
			booked++
		}
	}
	page := fmt.Sprintf("/admin/pupils/%d", emma.ID)
	// Settling before leaving is refused.
	c.post(page+"/balance", url.Values{"action": {"sibling"}, "sibling": {fmt.Sprint(lucas.ID)}})
	if b, _ := f.led.Balance(f.ctx, f.demo.TenantID, emma.WalletAccountID); b.Posted.IsZero() {
		t.Fatal("balance moved before leaving")
	}
	st, _, _ := c.post(page+"/leave", url.Values{"left_on": {today.Format(time.DateOnly)}, "confirm": {"on"}})
	if st != http.StatusSeeOther {
		t.Fatalf("leave: %d", st)
	}
	p := f.pupil("Emma")
	if p.Active || !p.LeftAt.Equal(today) {
		t.Errorf("after leaving: active %v left %v", p.Active, p.LeftAt)
	}
	after, _ := f.book.Bookings(f.ctx, f.demo.TenantID, emma.ID, today, today.AddDate(0, 2, 0))
	left := 0
	for _, b := range after {
		if b.Status == booking.StatusBooked {
			left++
		}
	}
	t.Logf("bookings from today: %d booked before, %d after", booked, left)
	if booked > 0 && left >= booked {
		t.Errorf("bookings still standing: %d of %d", left, booked)
	}
	badges, _ := f.store.BadgesOfPupil(f.ctx, f.demo.TenantID, emma.ID)
	for _, b := range badges {
		if b.Status != school.BadgeReturned || b.PupilID == emma.ID {
			t.Errorf("badge after leaving: %+v", b)
		}
	}
	_, body := c.get(page)
	if !strings.Contains(body, "Départ de Emma enregistré") || !strings.Contains(body, `id="balance-sibling"`) || !strings.Contains(body, "pseudonymisées le") {
		t.Errorf("page after leaving lacks the notice, the sibling form or the retention date")
	}
	// The notice counts what the leaving cancelled (in the domain's
	// transaction: school.WithBookingCanceller) and what it kept.
	if want := fmt.Sprintf("%d réservation(s) annulée(s), %d gardée(s)", booked-left, left); !strings.Contains(body, want) {
		t.Errorf("notice does not say %q", want)
	}
	eb, _ := f.led.Balance(f.ctx, f.demo.TenantID, emma.WalletAccountID)
	lb, _ := f.led.Balance(f.ctx, f.demo.TenantID, lucas.WalletAccountID)
	if st, _, _ := c.post(page+"/balance", url.Values{"action": {"sibling"}, "sibling": {fmt.Sprint(lucas.ID)}}); st != http.StatusSeeOther {
		t.Fatalf("to sibling: %d", st)
	}
	eb2, _ := f.led.Balance(f.ctx, f.demo.TenantID, emma.WalletAccountID)
	lb2, _ := f.led.Balance(f.ctx, f.demo.TenantID, lucas.WalletAccountID)
	if !eb2.Available.IsZero() || !lb2.Posted.Equal(lb.Posted.Add(eb.Available)) {
		t.Errorf("Emma %v → %v, Lucas %v → %v", eb.Available, eb2.Available, lb.Posted, lb2.Posted)
	}
	if _, body := c.get(fmt.Sprintf("/admin/audit?pupil=%d", emma.ID)); !strings.Contains(body, "Départ enregistré") ||
		!strings.Contains(body, "Solde transféré à un frère ou une sœur") {
		t.Error("the audit log does not say in words that Emma left and where her balance went")
	}
	// Retention period: the organising body's admin sets it, a bad one is refused.
	c.post("/admin/retention", url.Values{"months": {"500"}, "pupil": {fmt.Sprint(emma.ID)}})
	if m, _ := f.store.RetentionMonths(f.ctx, f.demo.TenantID); m != school.DefaultRetentionMonths {
		t.Errorf("500 months accepted: %d", m)
	}
	c.post("/admin/retention", url.Values{"months": {"13"}, "pupil": {fmt.Sprint(emma.ID)}})
	if m, _ := f.store.RetentionMonths(f.ctx, f.demo.TenantID); m != 13 {
		t.Errorf("months = %d, want 13", m)
	}
	due := today.AddDate(0, 13, 0)
	if _, body := c.get(page); !strings.Contains(body, "13 mois") || !strings.Contains(body, strings.ToLower(due.Format("2006"))) {
		t.Error("the page does not announce the new period")
	}
}

// postPhoto uploads a photo file to the pupil's page as a browser would.
func (c *client) postPhoto(path string, photo []byte) int {
	c.f.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.WriteField("csrf_token", c.csrf)
	_ = w.WriteField("action", "upload")
	fw, _ := w.CreateFormFile("photo", "photo.png")
	_, _ = fw.Write(photo)
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.f.srv.URL+path, &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Origin", c.f.srv.URL)
	resp, _ := c.do(req)
	return resp.StatusCode
}

// TestPupilPhotoShownOnlyWithConsent: a photo uploaded in the back office
// reaches the canteen's screen only while the pupil's photo consent is
// ticked; withdrawing it hides the photo at once, and the tap's pupil
// reads without it.
func TestPupilPhotoShownOnlyWithConsent(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin", "demo-admin")
	canteen := f.login("canteen", "demo-canteen")
	emma := f.pupil("Emma")
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")
	page := fmt.Sprintf("/admin/pupils/%d", emma.ID)
	photo := fmt.Sprintf("/staff/pupils/%d/photo", emma.ID)
	if st := admin.postPhoto(page+"/photo", []byte("<html>not a photo</html>")); st != http.StatusSeeOther {
		t.Fatalf("upload: %d", st)
	}
	if _, err := f.store.PupilPhoto(f.ctx, f.demo.TenantID, emma.ID); !errors.Is(err, school.ErrNoPhoto) {
		t.Errorf("a non-image was stored: %v", err)
	}
	if st := admin.postPhoto(page+"/photo", png); st != http.StatusSeeOther {
		t.Fatalf("upload: %d", st)
	}
	if st, _ := canteen.get(photo); st != http.StatusNotFound {
		t.Errorf("photo without consent: %d, want 404", st)
	}
	if p := f.pupil("Emma"); p.HasPhoto {
		t.Error("HasPhoto without consent: the screens would ask for it")
	}
	form := url.Values{"school": {fmt.Sprint(emma.SchoolID)}, "first_name": {emma.FirstName}, "last_name": {emma.LastName},
		"external_ref": {emma.ExternalRef}, "class": {fmt.Sprint(emma.ClassID)}, "allergen": {"peanuts"}, "photo_consent": {"on"}}
	admin.post(page+"/edit", form)
	if st, _ := canteen.get(photo); st != http.StatusOK {
		t.Errorf("photo with consent: %d, want 200", st)
	}
	if _, body := admin.get(page); !strings.Contains(body, `src="`+photo+`"`) {
		t.Error("the pupil's page does not show the consented photo")
	}
	form.Del("photo_consent")
	admin.post(page+"/edit", form)
	if st, _ := canteen.get(photo); st != http.StatusNotFound {
		t.Errorf("photo after the consent was withdrawn: %d, want 404", st)
	}
}
