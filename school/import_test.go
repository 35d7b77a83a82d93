package school

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func importFile(t *testing.T, f *fixture, name string, dry bool) (ImportReport, error) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return f.store.ImportPupils(context.Background(), bytes.NewReader(b), ImportOptions{TenantID: f.tenant.ID, SchoolID: f.school.ID, DryRun: dry, Actor: "test"})
}

func countPupils(t *testing.T, f *fixture) int {
	t.Helper()
	ps, err := f.store.PupilsOfSchool(context.Background(), f.tenant.ID, f.school.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	return len(ps)
}

func TestImportEncodingsAndDelimiters(t *testing.T) {
	for _, tc := range []struct {
		file, enc string
		delim     rune
		pupils    int
		guardians int
	}{
		{"pupils_semicolon.csv", "UTF-8", ';', 3, 3},
		{"pupils_bom.csv", "UTF-8 (BOM)", ';', 3, 3},
		{"pupils_comma.csv", "UTF-8", ',', 2, 1},
		{"pupils_cp1252.csv", "Windows-1252", ';', 2, 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := newFixture(t)
			rep, err := importFile(t, f, tc.file, false)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if rep.Encoding != tc.enc || rep.Delimiter != tc.delim || rep.PupilsCreated != tc.pupils || rep.GuardiansCreated != tc.guardians {
				t.Errorf("report = %+v, want enc %s delim %q pupils %d guardians %d", rep, tc.enc, tc.delim, tc.pupils, tc.guardians)
			}
			if n := countPupils(t, f); n != tc.pupils {
				t.Errorf("%d pupils in db, want %d", n, tc.pupils)
			}
		})
	}
}

func TestImportContent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := importFile(t, f, "pupils_semicolon.csv", false); err != nil {
		t.Fatal(err)
	}
	emma, err := f.store.PupilByExternalRef(ctx, f.tenant.ID, "E001")
	if err != nil {
		t.Fatal(err)
	}
	if emma.ClassCode != "P3A" || emma.Level != "P3" || emma.BirthDate.Format("2006-01-02") != "2017-03-14" ||
		!slices.Equal(emma.Allergens, []Allergen{Peanuts}) || emma.WalletOGM == "" || emma.WalletAccountID == 0 {
		t.Errorf("Emma = %+v", emma)
	}
	noah, _ := f.store.PupilByExternalRef(ctx, f.tenant.ID, "E003")
	if !noah.FreeMeals || !slices.Equal(noah.Allergens, []Allergen{Gluten, Milk}) {
		t.Errorf("Noah = %+v", noah)
	}
	lucas, _ := f.store.PupilByExternalRef(ctx, f.tenant.ID, "E002")
	if lucas.Level != "P1" || !slices.Equal(lucas.Diet, []Diet{Vegetarian}) {
		t.Errorf("Lucas = %+v", lucas)
	}
	// Siblings share one guardian.
	sophie, err := f.store.GuardianByEmail(ctx, f.tenant.ID, "Sophie.Dubois@example.be")
	if err != nil {
		t.Fatal(err)
	}
	kids, _ := f.store.PupilsOfGuardian(ctx, f.tenant.ID, sophie.ID)
	if len(kids) != 2 {
		t.Errorf("Sophie has %d pupils, want 2", len(kids))
	}
	gs, _ := f.store.GuardiansOfPupil(ctx, f.tenant.ID, noah.ID)
	if len(gs) != 2 || gs[0].Language != "nl" {
		t.Errorf("Noah's guardians = %+v", gs)
	}

	f2 := newFixture(t)
	if _, err := importFile(t, f2, "pupils_cp1252.csv", false); err != nil {
		t.Fatal(err)
	}
	chloe, err := f2.store.PupilByExternalRef(ctx, f2.tenant.ID, "W01")
	if err != nil {
		t.Fatal(err)
	}
	if chloe.FirstName != "Chloé" || chloe.LastName != "Müller" || !slices.Equal(chloe.Allergens, []Allergen{Celery}) || !slices.Equal(chloe.Diet, []Diet{NoPork}) {
		t.Errorf("Chloé = %+v", chloe)
	}
	mael, _ := f2.store.PupilByExternalRef(ctx, f2.tenant.ID, "W02")
	if mael.FirstName != "Maël" || !slices.Equal(mael.Allergens, []Allergen{Eggs}) || mael.Level != "M2" {
		t.Errorf("Maël = %+v", mael)
	}
}

func TestImportBadRowsAllOrNothing(t *testing.T) {
	f := newFixture(t)
	rep, err := importFile(t, f, "pupils_bad.csv", false)
	var ie *ImportError
	if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want *ImportError", err)
	}
	want := map[int][]string{
		3: {"nom vide", "31/02/2016", "peut-être"},
		4: {"X9", "paléo", "pas-une-adresse"},
		5: {"déjà présent ligne 2"},
		6: {"2016-13-01"},
	}
	got := map[int]string{}
	for _, r := range ie.Rows {
		got[r.Line] += r.String() + "\n"
	}
	for line, subs := range want {
		for _, sub := range subs {
			if !strings.Contains(got[line], sub) {
				t.Errorf("line %d errors %q lack %q", line, got[line], sub)
			}
		}
	}
	if _, ok := got[2]; ok {
		t.Errorf("line 2 is valid but reported: %s", got[2])
	}
	if rep.PupilsCreated != 0 || countPupils(t, f) != 0 {
		t.Errorf("something was written: report %+v", rep)
	}
	if g, err := f.store.GuardianByEmail(context.Background(), f.tenant.ID, "paul.martin@example.be"); !errors.Is(err, ErrNotFound) {
		t.Errorf("guardian of a valid row written: %+v, %v", g, err)
	}
}

func TestImportConflictInDatabaseRollsBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// A guardian already exists with reference G1 and another e-mail owns the
	// address the file gives G1: a database-level conflict on line 3.
	if _, err := f.store.CreateGuardian(ctx, f.tenant.ID, GuardianInput{FirstName: "A", LastName: "B", Email: "taken@example.be"}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateGuardian(ctx, f.tenant.ID, GuardianInput{ExternalRef: "G1", FirstName: "C", LastName: "D"}, "test"); err != nil {
		t.Fatal(err)
	}
	csv := "matricule;nom;prénom;classe;responsable1_matricule;responsable1_nom;responsable1_email\n" +
		"X1;Un;Ok;P1A;;Parent;ok@example.be\n" +
		"X2;Deux;Ko;P1A;G1;D;taken@example.be\n"
	_, err := f.store.ImportPupils(ctx, strings.NewReader(csv), ImportOptions{TenantID: f.tenant.ID, SchoolID: f.school.ID})
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Rows) != 1 || ie.Rows[0].Line != 3 {
		t.Fatalf("err = %v, want one error on line 3", err)
	}
	if n := countPupils(t, f); n != 0 {
		t.Errorf("%d pupils written, want 0", n)
	}
}

func TestReimportUpdates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := importFile(t, f, "pupils_semicolon.csv", false); err != nil {
		t.Fatal(err)
	}
	emma, _ := f.store.PupilByExternalRef(ctx, f.tenant.ID, "E001")
	rep, err := importFile(t, f, "pupils_semicolon.csv", false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.PupilsCreated != 0 || rep.PupilsUpdated != 0 || rep.PupilsUnchanged != 3 || rep.GuardiansCreated != 0 || rep.GuardiansUpdated != 0 || rep.LinksCreated != 0 {
		t.Errorf("second import report = %+v, want 3 unchanged", rep)
	}
	// Emma moves to P4A and gets a new phone number for her mother.
	b, _ := os.ReadFile("testdata/pupils_semicolon.csv")
	changed := strings.Replace(string(b), "E001;Dubois;Emma;14/03/2017;P3A;P3;arachides;;non;Dubois;Sophie;sophie.dubois@example.be;0470 12 34 56",
		"E001;Dubois;Emma;14/03/2017;P4A;P4;arachides, sésame;;non;Dubois;Sophie;SOPHIE.DUBOIS@example.be;0499 99 99 99", 1)
	changed = strings.ReplaceAll(changed, "0470 12 34 56", "0499 99 99 99")
	rep, err = f.store.ImportPupils(ctx, strings.NewReader(changed), ImportOptions{TenantID: f.tenant.ID, SchoolID: f.school.ID, DryRun: true})
	if err != nil || rep.PupilsUpdated != 1 || rep.ClassesCreated != 1 || !rep.DryRun {
		t.Fatalf("dry run = %+v, %v", rep, err)
	}
	if p, _ := f.store.PupilByExternalRef(ctx, f.tenant.ID, "E001"); p.ClassCode != "P3A" {
		t.Fatalf("dry run wrote: class %s", p.ClassCode)
	}
	rep, err = f.store.ImportPupils(ctx, strings.NewReader(changed), ImportOptions{TenantID: f.tenant.ID, SchoolID: f.school.ID})
	if err != nil || rep.PupilsUpdated != 1 || rep.PupilsUnchanged != 2 || rep.GuardiansUpdated != 1 || rep.GuardiansCreated != 0 {
		t.Fatalf("re-import = %+v, %v", rep, err)
	}
	p, _ := f.store.PupilByExternalRef(ctx, f.tenant.ID, "E001")
	if p.ID != emma.ID || p.WalletOGM != emma.WalletOGM || p.WalletAccountID != emma.WalletAccountID || p.ClassCode != "P4A" || p.Level != "P4" ||
		!slices.Equal(p.Allergens, []Allergen{Peanuts, Sesame}) {
		t.Errorf("after re-import Emma = %+v", p)
	}
	g, _ := f.store.GuardianByEmail(ctx, f.tenant.ID, "sophie.dubois@example.be")
	if g.Phone != "0499 99 99 99" {
		t.Errorf("phone = %q", g.Phone)
	}
	if n := countPupils(t, f); n != 3 {
		t.Errorf("%d pupils, want 3", n)
	}
}

func TestImportProgress(t *testing.T) {
	f := newFixture(t)
	var b strings.Builder
	b.WriteString("matricule,nom,prénom,classe\n")
	for i := 0; i < 250; i++ {
		fmt.Fprintf(&b, "R%04d,Nom%d,Prénom,P2B\n", i, i)
	}
	var calls [][2]int
	rep, err := f.store.ImportPupils(context.Background(), strings.NewReader(b.String()), ImportOptions{
		TenantID: f.tenant.ID, SchoolID: f.school.ID, ProgressEvery: 100, Progress: func(done, total int) { calls = append(calls, [2]int{done, total}) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.PupilsCreated != 250 {
		t.Errorf("created %d", rep.PupilsCreated)
	}
	want := [][2]int{{100, 250}, {200, 250}, {250, 250}}
	if !slices.Equal(calls, want) {
		t.Errorf("progress calls = %v, want %v", calls, want)
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]string{"P3": "P3", "3P": "P3", "3e primaire": "P3", "1ère maternelle": "M1", "s6": "S6", "2 M": "M2"} {
		if got, ok := parseLevel(in); !ok || got != want {
			t.Errorf("parseLevel(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"P7", "M4", "X1", "primaire"} {
		if got, ok := parseLevel(in); ok {
			t.Errorf("parseLevel(%q) = %q, want failure", in, got)
		}
	}
}

func FuzzImportParse(f *testing.F) {
	for _, name := range []string{"pupils_semicolon.csv", "pupils_comma.csv", "pupils_cp1252.csv", "pupils_bad.csv"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\xef\xbb\xbf"))
	f.Add([]byte("matricule;nom;prénom;classe\n\"a;b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The parsing stage (everything before the database) must never
		// panic and must either accept rows or explain every refusal.
		pf, errs := parseFile(b)
		for _, e := range errs {
			if e.Reason == "" {
				t.Fatalf("error without a reason: %+v", e)
			}
		}
		for _, r := range pf.rows {
			if r.pupil.FirstName == "" || r.pupil.LastName == "" || !ValidLevel(r.pupil.Level) {
				t.Fatalf("accepted an invalid row: %+v", r.pupil)
			}
		}
	})
}
