package backoffice

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"tartine/school"
)

// maxPhoto is the largest pupil photo the back office takes (school.SetPhoto's bound).
const maxPhoto = 2 << 20

// savePhoto stores (action=upload, file "photo": JPEG or PNG, 2 MiB at
// most) or removes (action=remove) the pupil's photo, keeping its consent
// as it is: the photo is shown on the staff screens only with the consent
// ticked on the pupil's form (school.PupilPhoto).
func (a *App) savePhoto(c *gin.Context) {
	p, ok := a.pupilParam(c)
	if !ok {
		return
	}
	u := user(c)
	back := fmt.Sprintf("/admin/pupils/%d", p.ID)
	var photo []byte
	if c.PostForm("action") != "remove" {
		fh, err := c.FormFile("photo")
		if err != nil || fh.Size > maxPhoto {
			a.flash(c, back, "admin.photo.bad")
			return
		}
		f, err := fh.Open()
		if err != nil {
			a.fail(c, err)
			return
		}
		photo, err = io.ReadAll(io.LimitReader(f, maxPhoto+1))
		f.Close()
		if err != nil {
			a.fail(c, err)
			return
		}
		if ct := http.DetectContentType(photo); len(photo) == 0 || len(photo) > maxPhoto || (ct != "image/jpeg" && ct != "image/png") {
			a.flash(c, back, "admin.photo.bad")
			return
		}
	}
	err := a.School.SetPhoto(c.Request.Context(), u.TenantID, p.ID, photo, p.PhotoConsent, u.Actor())
	if errors.Is(err, school.ErrInvalid) {
		a.flash(c, back, "admin.photo.bad")
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	if photo == nil {
		a.flash(c, back, "admin.photo.removed")
		return
	}
	a.flash(c, back, "admin.photo.saved")
}
