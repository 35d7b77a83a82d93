package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tartine/school"
)

type devicesData struct {
	Devices  []school.Device
	Enrolled *enrolled
	Name     string
	Schools  []school.School // an admin of every school binds a new device to one of them
}

// enrolled is what the enrolment answer shows once.
type enrolled struct {
	school.Enrolment
	Name string
	TOML string
}

// visibleDevices returns the devices the user manages: all the tenant's
// for an admin of every school, else those bound to the user's school.
func (a *App) visibleDevices(c *gin.Context) ([]school.Device, error) {
	u := user(c)
	all, err := a.School.Devices(c.Request.Context(), u.TenantID)
	if err != nil || u.SchoolID == 0 {
		return all, err
	}
	var out []school.Device
	for _, d := range all {
		if d.SchoolID == u.SchoolID {
			out = append(out, d)
		}
	}
	return out, nil
}

// devices lists the bridges the user manages.
func (a *App) devices(c *gin.Context) {
	list, err := a.visibleDevices(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	d := devicesData{Devices: list}
	if user(c).SchoolID == 0 {
		if d.Schools, err = a.visibleSchools(c); err != nil {
			a.fail(c, err)
			return
		}
	}
	a.render(c, http.StatusOK, "devices", "admin.devices.title", "devices", d)
}

// enrolDevice creates a device and shows its id and secret once, with a
// bridge.toml snippet. The answer is not a redirect: the secret is kept
// nowhere the browser could fetch it again (no-store, no cookie).
func (a *App) enrolDevice(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	name := strings.TrimSpace(c.PostForm("name"))
	if name == "" || utf8.RuneCountInString(name) > 80 {
		list, err := a.visibleDevices(c)
		if err != nil {
			a.fail(c, err)
			return
		}
		a.formError(c, "devices", "admin.devices.title", "devices", a.Catalog.T(lang(c), "admin.error.device_name"), devicesData{Devices: list, Name: name})
		return
	}
	// A device is bound to a school: the admin's own, or the one chosen by
	// an admin of every school (none: every school).
	sid := u.SchoolID
	if sid == 0 {
		sid, _ = strconv.ParseInt(c.PostForm("school"), 10, 64)
	}
	e, err := a.School.EnrolDeviceAt(ctx, u.TenantID, sid, name, u.Actor())
	if err != nil {
		a.fail(c, err)
		return
	}
	list, err := a.visibleDevices(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	d := devicesData{Devices: list, Enrolled: &enrolled{Enrolment: e, Name: name, TOML: bridgeTOML(e, a.BaseURL)}}
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	a.render(c, http.StatusOK, "devices", "admin.devices.title", "devices", d)
}

// bridgeTOML is the start of a bridge.toml for the new device (see
// firmware-bridge/bridge.example.toml for the readers).
func bridgeTOML(e school.Enrolment, baseURL string) string {
	if baseURL == "" {
		baseURL = "https://tartine.example"
	}
	return fmt.Sprintf(`device_id  = %s
secret     = %s
server_url = %s
data_dir   = "/var/lib/tartine-bridge"

[[reader]]
name    = "lecteur-1"
station = "canteen-1"
driver  = "tartine"
path    = "/dev/ttyACM0"
`, strconv.Quote(e.DeviceID), strconv.Quote(e.Secret), strconv.Quote(baseURL))
}

// revokeDevice revokes a device: its requests are refused from then on.
func (a *App) revokeDevice(c *gin.Context) {
	u := user(c)
	id := c.Param("device")
	// Another school's device is not found for an admin of one school.
	d, err := a.School.DeviceByID(c.Request.Context(), id)
	if err == nil && (d.TenantID != u.TenantID || (u.SchoolID != 0 && d.SchoolID != u.SchoolID)) {
		err = school.ErrNotFound
	}
	if err == nil {
		err = a.School.RevokeDevice(c.Request.Context(), u.TenantID, id, u.Actor())
	}
	if errors.Is(err, school.ErrNotFound) {
		a.notFound(c)
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, "/admin/devices", "admin.flash.device_revoked", id)
}

type stationsData struct {
	Stations []school.Station
	Schools  []school.School
	Kinds    []school.StationKind
	Form     school.StationInput
}

func (a *App) stationsData(c *gin.Context) (stationsData, error) {
	u := user(c)
	d := stationsData{Kinds: []school.StationKind{school.Canteen, school.Daycare, school.Kiosk, school.EnrolmentDesk}}
	var err error
	if d.Schools, err = a.visibleSchools(c); err != nil {
		return d, err
	}
	all, err := a.School.Stations(c.Request.Context(), u.TenantID)
	if err != nil {
		return d, err
	}
	for _, s := range all {
		if u.SchoolID == 0 || s.SchoolID == u.SchoolID {
			d.Stations = append(d.Stations, s)
		}
	}
	return d, nil
}

// stations lists the stations and offers to create one.
func (a *App) stations(c *gin.Context) {
	d, err := a.stationsData(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "stations", "admin.stations.title", "stations", d)
}

// saveStation creates a station, or renames an existing one with the same
// code (its kind never changes).
func (a *App) saveStation(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	in := school.StationInput{SchoolID: sid, Code: strings.TrimSpace(c.PostForm("code")), Name: strings.TrimSpace(c.PostForm("name")),
		Kind: school.StationKind(c.PostForm("kind"))}
	if in.Name == "" {
		in.Name = in.Code
	}
	reject := func(msg string) {
		d, err := a.stationsData(c)
		if err != nil {
			a.fail(c, err)
			return
		}
		d.Form = in
		a.formError(c, "stations", "admin.stations.title", "stations", msg, d)
	}
	if _, _, err := a.schoolFor(c, sid); err != nil || sid == 0 {
		reject(a.Catalog.T(lang(c), "admin.error.school"))
		return
	}
	if old, err := a.School.StationByCode(ctx, u.TenantID, in.Code); err == nil {
		if old.Kind != in.Kind {
			reject(a.Catalog.T(lang(c), "admin.error.station_kind", in.Code, string(old.Kind)))
			return
		}
		if u.SchoolID != 0 && old.SchoolID != u.SchoolID {
			reject(a.Catalog.T(lang(c), "admin.error.station_taken", in.Code))
			return
		}
	} else if !errors.Is(err, school.ErrNotFound) {
		a.fail(c, err)
		return
	}
	st, err := a.School.EnsureStation(ctx, u.TenantID, in, u.Actor())
	if errors.Is(err, school.ErrInvalid) {
		reject(a.Catalog.T(lang(c), "admin.error.station_invalid", err.Error()))
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, "/admin/stations", "admin.flash.station_saved", st.Code)
}
