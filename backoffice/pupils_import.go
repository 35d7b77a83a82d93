package backoffice

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tartine/school"
)

// maxPupilsCSV is the largest pupils file taken in the browser (its copy
// travels back base64 in the preview's form, under websession.UploadLimit).
const maxPupilsCSV = 4 << 20

// pupilsImportData is the import page: the form, then the preview (a dry
// run) or the refusal with every line's problem.
type pupilsImportData struct {
	Schools  []school.School
	SchoolID int64
	Report   *school.ImportReport
	Errors   []school.RowError
	Content  string // the previewed file, base64, posted back to apply it
	Filename string
}

// pupilsImportPage shows the upload form.
func (a *App) pupilsImportPage(c *gin.Context) {
	schools, err := a.visibleSchools(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "pupils_import", "admin.pupils_import.title", "pupils", pupilsImportData{Schools: schools})
}

// pupilsImport previews (action "preview", a dry run of school.ImportPupils
// as `tartine import pupils --dry-run` does) or applies (action "apply",
// the previewed file posted back) a pupils CSV, all or nothing.
func (a *App) pupilsImport(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	sc, schools, err := a.schoolFor(c, sid)
	if err != nil || sid == 0 {
		a.notFound(c)
		return
	}
	d := pupilsImportData{Schools: schools, SchoolID: sc.ID}
	apply := c.PostForm("action") == "apply"
	var data []byte
	if apply {
		data, err = base64.StdEncoding.DecodeString(c.PostForm("content"))
		d.Filename = c.PostForm("filename")
	} else {
		fh, ferr := c.FormFile("csv")
		if ferr != nil {
			a.formError(c, "pupils_import", "admin.pupils_import.title", "pupils", a.Catalog.T(l, "admin.pupils_import.no_file"), d)
			return
		}
		d.Filename = fh.Filename
		if fh.Size > maxPupilsCSV {
			err = errTooLarge
		} else {
			f, oerr := fh.Open()
			if oerr != nil {
				a.fail(c, oerr)
				return
			}
			data, err = io.ReadAll(io.LimitReader(f, maxPupilsCSV+1))
			f.Close()
		}
	}
	if err != nil || len(data) == 0 || len(data) > maxPupilsCSV {
		a.formError(c, "pupils_import", "admin.pupils_import.title", "pupils", a.Catalog.T(l, "admin.pupils_import.no_file"), d)
		return
	}
	rep, err := a.School.ImportPupils(ctx, bytes.NewReader(data), school.ImportOptions{TenantID: u.TenantID, SchoolID: sc.ID, DryRun: !apply, Actor: u.Actor()})
	var ie *school.ImportError
	switch {
	case errors.As(err, &ie):
		d.Errors = ie.Rows
		a.formError(c, "pupils_import", "admin.pupils_import.title", "pupils", a.Catalog.T(l, "admin.pupils_import.refused", len(ie.Rows)), d)
		return
	case errors.Is(err, school.ErrInvalid):
		a.formError(c, "pupils_import", "admin.pupils_import.title", "pupils", a.Catalog.T(l, "admin.pupils_import.unreadable"), d)
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	if apply {
		a.flash(c, fmt.Sprint("/admin/pupils?school=", sc.ID), "admin.pupils_import.done",
			strconv.Itoa(rep.PupilsCreated), strconv.Itoa(rep.PupilsUpdated), strconv.Itoa(rep.GuardiansCreated))
		return
	}
	d.Report = &rep
	d.Content = base64.StdEncoding.EncodeToString(data)
	a.render(c, http.StatusOK, "pupils_import", "admin.pupils_import.title", "pupils", d)
}

var errTooLarge = errors.New("backoffice: file too large")
