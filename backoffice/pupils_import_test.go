package backoffice

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"tartine/school"
)

// TestPupilsImportInTheBrowser: a pupils CSV uploaded in the back office
// is first previewed (a dry run: nothing written), a bad file is refused
// with each line's problem in French and nothing written, and the
// previewed file is applied all at once.
func TestPupilsImportInTheBrowser(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	if st, body := c.get("/admin/pupils"); st != http.StatusOK || !strings.Contains(body, `href="/admin/pupils/import"`) {
		t.Fatalf("pupils page: %d, no link to the import", st)
	}
	if st, body := c.get("/admin/pupils/import"); st != http.StatusOK || !strings.Contains(body, `name="csv"`) {
		t.Fatalf("import page: %d", st)
	}
	upload := func(csv string) (int, string) {
		t.Helper()
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.WriteField("csrf_token", c.csrf)
		_ = w.WriteField("school", fmt.Sprint(f.demo.SchoolID))
		_ = w.WriteField("action", "preview")
		fw, _ := w.CreateFormFile("csv", "eleves.csv")
		_, _ = fw.Write([]byte(csv))
		_ = w.Close()
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/admin/pupils/import", &b)
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.Header.Set("Origin", f.srv.URL)
		resp, body := c.do(req)
		return resp.StatusCode, body
	}
	count := func() int {
		var n int
		if err := f.pool.QueryRow(f.ctx, `SELECT count(*) FROM pupils WHERE tenant_id = $1`, f.demo.TenantID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()

	bad := "matricule;nom;prénom;date_naissance;classe\nX01;Martin;Léa;12/05/2016;P4A\nX02;;Tom;31/02/2016;P4A\n"
	st, body := upload(bad)
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "Import refusé") || !strings.Contains(body, "ligne 3") {
		t.Errorf("bad file: %d\n%s", st, body)
	}
	if strings.Contains(body, `id="import-apply"`) {
		t.Error("a refused file can be applied")
	}
	if n := count(); n != before {
		t.Errorf("a refused file wrote %d pupils", n-before)
	}

	good := "matricule;nom;prénom;date_naissance;classe;allergies;responsable1_nom;responsable1_prénom;responsable1_email\n" +
		"X01;Martin;Léa;12/05/2016;P4A;arachides;Martin;Paul;paul.martin@example.be\n" +
		"X02;Martin;Tom;02/09/2018;P2A;;Martin;Paul;paul.martin@example.be\n"
	st, body = upload(good)
	if st != http.StatusOK || !strings.Contains(body, `id="import-preview"`) || !strings.Contains(body, "2 à créer") {
		t.Fatalf("preview: %d\n%s", st, body)
	}
	if n := count(); n != before {
		t.Errorf("the preview wrote %d pupils", n-before)
	}
	m := regexp.MustCompile(`name="content" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no file to apply in the preview")
	}
	st, _, loc := c.post("/admin/pupils/import", url.Values{"school": {fmt.Sprint(f.demo.SchoolID)}, "action": {"apply"}, "content": {m[1]}, "filename": {"eleves.csv"}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/pupils") {
		t.Fatalf("apply: %d to %q", st, loc)
	}
	if n := count(); n != before+2 {
		t.Errorf("after apply: %d pupils more, want 2", n-before)
	}
	if _, body = c.get(loc); !strings.Contains(body, "Import appliqué : 2 élève(s) créé(s)") {
		t.Errorf("no notice after apply")
	}
	var id int64
	if err := f.pool.QueryRow(f.ctx, `SELECT id FROM pupils WHERE tenant_id = $1 AND external_ref = 'X01'`, f.demo.TenantID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	lea, err := f.store.Pupil(f.ctx, f.demo.TenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(lea.Allergens) != 1 || lea.Allergens[0] != school.Peanuts {
		t.Errorf("Léa's allergies: %v", lea.Allergens)
	}
}
