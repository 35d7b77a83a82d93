package staff

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"tartine/internal/i18n"
	"tartine/school"
	"tartine/terminal"
)

// An allergy outside the EU 14 lives in the notes only (kiwi, « épipen dans
// le cartable »): the device API flags it and the canteen and daycare
// screens show it with its note, as for a listed allergen.
func TestAllergyNotesShownAtTheLine(t *testing.T) {
	f := newFixture(t)
	const uidLea = "0100CDA4F7"
	const note = "kiwi — épipen dans le cartable"
	cls, err := f.store.EnsureClass(f.ctx, f.tenant, f.school, "P3A", "P3")
	must(t, err)
	lea, err := f.store.CreatePupil(f.ctx, f.tenant, school.PupilInput{SchoolID: f.school, ClassID: cls.ID,
		FirstName: "Léa", LastName: "Kiwi", AllergyNotes: note}, "test")
	must(t, err)
	_, err = f.store.CreateBadge(f.ctx, f.tenant, school.BadgeInput{UID: uidLea, Tech: school.TechEM4100, PupilID: lea.ID}, "test")
	must(t, err)

	r := f.one(tapAt("canteen-1", uidLea, monday))
	if r.Display == nil || !slices.Contains(r.Display.Flags, "allergy:notes") {
		t.Fatalf("display = %+v, want the allergy:notes flag", r.Display)
	}
	// The badge list for offline decisions says the same.
	bi, err := f.store.BadgeByUID(f.ctx, f.tenant, uidLea)
	must(t, err)
	if !slices.Contains(bi.Flags(), "allergy:notes") {
		t.Errorf("badge list flags = %v, want allergy:notes", bi.Flags())
	}

	cat, err := i18n.New()
	must(t, err)
	web, err := New(Deps{Taps: f.svc, Kiosk: f.kiosk, School: f.store, Ledger: f.led, Catalog: cat, Now: f.clk.Now})
	must(t, err)
	for _, tc := range []struct {
		name  string
		event terminal.Event
		want  []string
	}{
		{"notes only", terminal.Event{Name: "Léa K.", Verdict: "accepted", AllergyNotes: note}, []string{"ALLERGIE", note}},
		{"allergen and notes", terminal.Event{Name: "Emma D.", Verdict: "accepted", Allergens: []string{"peanuts"}, AllergyNotes: "épipen"},
			[]string{"ALLERGIE : Arachides", "épipen"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			must(t, web.tmpl.ExecuteTemplate(&buf, "tap", tapView{Event: tc.event, Lang: "fr"}))
			got := buf.String()
			if !strings.Contains(got, `class="allergy"`) {
				t.Fatalf("tap card has no allergy banner:\n%s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("tap card misses %q:\n%s", w, got)
				}
			}
		})
	}

	// Daycare: who is present now carries the note.
	if r := f.one(tapAt("daycare-1", uidLea, monday)); r.Verdict != terminal.VerdictAccepted {
		t.Fatalf("daycare check-in: %+v", r)
	}
	present, err := f.svc.Present(f.ctx, f.tenant, f.station["daycare-1"])
	must(t, err)
	var found bool
	for _, p := range present {
		if p.PupilID == lea.ID {
			found = p.Notes == note
		}
	}
	if !found {
		t.Errorf("present = %+v, want Léa with her note", present)
	}
}
