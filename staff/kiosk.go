package staff

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"
	qrcode "github.com/skip2/go-qrcode"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/kiosk"
	"tartine/ledger"
	"tartine/school"
	"tartine/terminal"
)

// Kiosk screens (cashier: kiosk role or admin; Z-report: accountant or
// admin). Routes are registered by mountKiosk (routes.go).

// lastTapWindow is how old the last tap at a kiosk may be to select its
// pupil.
const lastTapWindow = 10 * time.Minute

// kioskFor loads the :code kiosk station and checks that the user holds one
// of roles (admins hold every role) and may see the station's school.
func (w *Web) kioskFor(c *gin.Context, roles ...school.Role) (school.Station, school.StaffUser, error) {
	u := user(c)
	st, err := w.kiosk.Station(c.Request.Context(), u.TenantID, c.Param("code"))
	if errors.Is(err, kiosk.ErrNotKiosk) {
		err = kiosk.ErrNotFound
	}
	if err != nil {
		return school.Station{}, u, err
	}
	if u.SchoolID != 0 && u.SchoolID != st.SchoolID {
		return school.Station{}, u, errForbidden
	}
	for _, r := range roles {
		if u.Can(r) {
			return st, u, nil
		}
	}
	return school.Station{}, u, errForbidden
}

// stationPage is what a kiosk page knows of its station: the station, the
// user, the school's name and zone.
type stationPage struct {
	st     school.Station
	u      school.StaffUser
	school string
	loc    *time.Location
}

// atStation loads the :code kiosk station for one of roles (kioskFor) and
// its school's name and zone. On an error it writes the error page and
// returns false.
func (w *Web) atStation(c *gin.Context, roles ...school.Role) (stationPage, bool) {
	st, u, err := w.kioskFor(c, roles...)
	if err != nil {
		w.fail(c, err)
		return stationPage{}, false
	}
	sc, loc, err := w.kiosk.SchoolLoc(c.Request.Context(), u.TenantID, st.SchoolID)
	if err != nil {
		w.fail(c, err)
		return stationPage{}, false
	}
	return stationPage{st: st, u: u, school: sc.Name, loc: loc}, true
}

// ofStation loads the record a kiosk page shows: the station (atStation),
// the record by find (which returns it with its station's id), a record
// of another station as not found. On an error it writes the error page
// and returns false.
func ofStation[T any](w *Web, c *gin.Context, find func(ctx context.Context, tenantID int64) (T, int64, error), roles ...school.Role) (T, stationPage, bool) {
	var none T
	s, ok := w.atStation(c, roles...)
	if !ok {
		return none, s, false
	}
	rec, stationID, err := find(c.Request.Context(), s.u.TenantID)
	if err == nil && stationID != s.st.ID {
		err = kiosk.ErrNotFound
	}
	if err != nil {
		w.fail(c, err)
		return none, s, false
	}
	return rec, s, true
}

func newFormToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// typedAmount parses the amount typed in a kiosk form. A bad amount calls
// again with the message for people, another error writes the error page;
// both return false.
func (w *Web) typedAmount(c *gin.Context, typed string, again func(msg string)) (decimal.Decimal, bool) {
	amount, err := i18n.ParseAmount(typed, i18n.RejectNegative)
	var ae *i18n.AmountError
	if errors.As(err, &ae) {
		again(ae.Message(w.cat, lang(c)))
		return decimal.Zero, false
	}
	if err != nil {
		w.fail(c, err)
		return decimal.Zero, false
	}
	return amount, true
}

// kioskPupil is the selected pupil as the cashier sees it.
type kioskPupil struct {
	ID       int64
	Name     string // "Emma D."
	Class    string
	HasPhoto bool
	// The wallet's two figures (booking.WalletBalance), formatted, shown
	// folded, named as on the portal and in the emails.
	Balance   string
	Available string
}

// kioskData is the cashier screen's data.
type kioskData struct {
	Station    school.Station
	Lang       string
	Query      string
	Searched   bool
	Results    []school.Pupil
	Badge      string
	Pupil      *kioskPupil
	Amount     string
	Token      string
	Today      []kiosk.Receipt
	TodayTotal decimal.Decimal
	CanReport  bool
	Events     string // SSE URL of the station's taps
	Min, Max   string
}

func (w *Web) kioskPage(c *gin.Context) {
	w.renderKiosk(c, http.StatusOK, kioskData{}, "", c.Query("notice"))
}

// renderKiosk renders the cashier screen. d may carry a selected pupil and
// the typed amount (after a refused top-up); the query string selects a
// pupil by id, badge, name search or the last tap.
func (w *Web) renderKiosk(c *gin.Context, status int, d kioskData, errMsg, notice string) {
	s, ok := w.atStation(c, school.RoleKiosk)
	if !ok {
		return
	}
	ctx, st, u, loc, l := c.Request.Context(), s.st, s.u, s.loc, lang(c)
	d.Station, d.Lang = st, l
	d.CanReport = u.Can(school.RoleAccountant)
	d.Min, d.Max = i18n.FormatEUR(kiosk.Cents(kiosk.KioskMinTopUpCents), l), i18n.FormatEUR(kiosk.Cents(kiosk.KioskMaxTopUpCents), l)
	var err error
	if d.Token, err = newFormToken(); err != nil {
		w.fail(c, err)
		return
	}
	after := int64(0)
	if ev := w.taps.Hub().Recent(u.TenantID, st.ID, 1); len(ev) > 0 {
		after = ev[0].Seq
	}
	d.Events = "/staff/stations/" + url.PathEscape(st.Code) + "/events?after=" + strconv.FormatInt(after, 10)
	pupilID := int64(0)
	if d.Pupil != nil {
		pupilID = d.Pupil.ID
	}
	var msg string // why the badge or the last tap selects no pupil
	switch {
	case pupilID != 0:
	case c.Query("pupil") != "":
		pupilID, _ = strconv.ParseInt(c.Query("pupil"), 10, 64)
	case strings.TrimSpace(c.Query("badge")) != "":
		d.Badge = strings.TrimSpace(c.Query("badge"))
		pupilID, msg, err = w.pupilByBadge(ctx, u.TenantID, d.Badge, l)
	case c.Query("last") != "":
		pupilID, msg, err = w.lastTapPupil(ctx, u.TenantID, st.ID, l)
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	if msg != "" {
		errMsg = msg
	}
	if q := strings.TrimSpace(c.Query("q")); q != "" {
		d.Query, d.Searched = q, true
		if d.Results, err = w.store.SearchPupilsIn(ctx, u.TenantID, st.SchoolID, q, 20); err != nil {
			w.fail(c, err)
			return
		}
	}
	if pupilID > 0 {
		p, err := w.store.Pupil(ctx, u.TenantID, pupilID)
		switch {
		case errors.Is(err, school.ErrNotFound) || (err == nil && (!p.Active || p.SchoolID != st.SchoolID || p.WalletAccountID == 0)):
			errMsg = w.cat.T(l, "terminal.kiosk.pupil_unavailable")
		case err != nil:
			w.fail(c, err)
			return
		default:
			kp := &kioskPupil{ID: p.ID, Name: p.DisplayName(), Class: p.ClassCode, HasPhoto: p.HasPhoto}
			b, err := w.ledger.Balance(ctx, u.TenantID, p.WalletAccountID)
			if err != nil {
				w.fail(c, err)
				return
			}
			wb := booking.WalletOf(b)
			kp.Balance, kp.Available = i18n.FormatEUR(wb.Balance, l), i18n.FormatEUR(wb.Available, l)
			d.Pupil = kp
		}
	}
	from, to := kiosk.DayBounds(w.now(), loc)
	if d.Today, err = w.kiosk.Receipts(ctx, u.TenantID, st.ID, from, to); err != nil {
		w.fail(c, err)
		return
	}
	d.TodayTotal = decimal.Zero
	for _, r := range d.Today {
		if r.VoidedAt == nil {
			d.TodayTotal = d.TodayTotal.Add(r.Amount)
		}
	}
	w.render(c, status, "kiosk.html", page{Title: st.Name, User: &u, Data: d, Error: errMsg, Notice: notice})
}

// pupilByBadge finds the pupil of a badge typed by the cashier: its printed
// number, or its uid in any technology. It returns a message for people when
// the badge is unknown, unassigned or not active.
func (w *Web) pupilByBadge(ctx context.Context, tenantID int64, typed, l string) (int64, string, error) {
	b, err := w.store.BadgeByPrintedNumber(ctx, tenantID, typed)
	if err == nil {
		return badgePupil(b.PupilID, string(b.Status), w, l)
	}
	if !errors.Is(err, school.ErrNotFound) {
		return 0, "", err
	}
	for _, tech := range []school.Tech{school.TechEM4100, school.TechISO14443A, school.TechQR, school.TechWiegand} {
		uid, err := school.CanonicalUID(typed, tech)
		if err != nil {
			continue
		}
		bi, err := w.store.BadgeByUID(ctx, tenantID, uid)
		if errors.Is(err, school.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, "", err
		}
		return badgePupil(bi.PupilID, string(bi.Status), w, l)
	}
	return 0, w.cat.T(l, "terminal.kiosk.badge_unknown", typed), nil
}

func badgePupil(pupilID int64, status string, w *Web, l string) (int64, string, error) {
	switch {
	case pupilID == 0:
		return 0, w.cat.T(l, "terminal.kiosk.badge_unassigned"), nil
	case status != string(school.BadgeActive):
		return 0, w.cat.T(l, "terminal.reason.blocked_badge"), nil
	}
	return pupilID, "", nil
}

// lastTapPupil returns the pupil identified by the latest tap at the
// station (at most lastTapWindow old), or a message for people.
func (w *Web) lastTapPupil(ctx context.Context, tenantID, stationID int64, l string) (int64, string, error) {
	pupil, verdict, reason, err := w.taps.LastTap(ctx, tenantID, stationID, w.now().Add(-lastTapWindow))
	if errors.Is(err, terminal.ErrNotFound) {
		return 0, w.cat.T(l, "terminal.kiosk.no_recent_tap"), nil
	}
	if err != nil {
		return 0, "", err
	}
	if verdict != terminal.VerdictAccepted || pupil == 0 {
		if reason == "" {
			reason = terminal.ReasonUnknownBadge
		}
		return 0, w.cat.T(l, "terminal.reason."+reason), nil
	}
	return pupil, "", nil
}

// kioskTopUpPost records a cash top-up and redirects to its receipt. A bad
// amount re-renders the screen with the typed amount and a message; nothing
// is written.
func (w *Web) kioskTopUpPost(c *gin.Context) {
	ctx := c.Request.Context()
	st, u, err := w.kioskFor(c, school.RoleKiosk)
	if err != nil {
		w.fail(c, err)
		return
	}
	l := lang(c)
	pupilID, perr := strconv.ParseInt(c.PostForm("pupil_id"), 10, 64)
	token := c.PostForm("form_token")
	if perr != nil || pupilID <= 0 || !kiosk.ValidFormToken(token) {
		c.String(http.StatusBadRequest, w.cat.T(l, "error.invalid_form", "pupil_id, form_token"))
		return
	}
	typed := c.PostForm("amount")
	again := func(msg string) {
		w.renderKiosk(c, http.StatusUnprocessableEntity, kioskData{Pupil: &kioskPupil{ID: pupilID}, Amount: typed}, msg, "")
	}
	amount, ok := w.typedAmount(c, typed, again)
	if !ok {
		return
	}
	if c.PostForm("confirm") != "1" {
		// A confirmation step before the cash is taken: amount and
		// pupil in full, the same one-time token (nothing written yet).
		if err := kiosk.CheckTopUpAmount(amount); err != nil {
			again(w.cat.T(l, "terminal.kiosk.amount_range", i18n.FormatEUR(kiosk.Cents(kiosk.KioskMinTopUpCents), l), i18n.FormatEUR(kiosk.Cents(kiosk.KioskMaxTopUpCents), l)))
			return
		}
		w.confirmTopUp(c, st, u, pupilID, amount, token)
		return
	}
	rc, err := w.kiosk.KioskTopUp(ctx, kiosk.TopUpRequest{TenantID: u.TenantID, Station: st.Code, PupilID: pupilID, Amount: amount, FormToken: token, Actor: u.Actor()})
	switch {
	case errors.Is(err, kiosk.ErrAmountRange):
		again(w.cat.T(l, "terminal.kiosk.amount_range", i18n.FormatEUR(kiosk.Cents(kiosk.KioskMinTopUpCents), l), i18n.FormatEUR(kiosk.Cents(kiosk.KioskMaxTopUpCents), l)))
		return
	case errors.Is(err, kiosk.ErrFormUsed):
		again(w.cat.T(l, "terminal.kiosk.form_used"))
		return
	case errors.Is(err, kiosk.ErrPupilUnavailable), errors.Is(err, kiosk.ErrNotFound):
		w.renderKiosk(c, http.StatusUnprocessableEntity, kioskData{}, w.cat.T(l, "terminal.kiosk.pupil_unavailable"), "")
		return
	case errors.Is(err, ledger.ErrPeriodClosed):
		again(w.cat.T(l, "terminal.reason.period_closed"))
		return
	case err != nil:
		w.fail(c, err)
		return
	}
	if !rc.Replay {
		_ = w.store.Audit(ctx, u.TenantID, u.Actor(), "kiosk.topup", "pupil:"+strconv.FormatInt(pupilID, 10),
			map[string]any{"station": st.Code, "amount": rc.Amount.StringFixed(2), "reference": rc.Reference, "transfer": rc.TransferID})
		if w.TopUps != nil {
			if err := w.TopUps.TopUpReceivedBy(ctx, u.TenantID, pupilID, rc.Amount, "cash"); err != nil {
				w.log.Error("kiosk top-up notice", "reference", rc.Reference, "err", err)
			}
		}
	}
	c.Redirect(http.StatusSeeOther, "/staff/kiosk/"+url.PathEscape(st.Code)+"/receipts/"+url.PathEscape(rc.Reference)+"?print=1")
}

// TopUpNotifier is told about money that reached a wallet (the portal's
// mailer implements it).
type TopUpNotifier interface {
	TopUpReceivedBy(ctx context.Context, tenantID, pupilID int64, amount decimal.Decimal, method string) error
}

// receiptView is the data of the printed receipt.
type receiptView struct {
	kiosk.Receipt
	Lang      string
	School    string
	Pupil     string // full name
	Amount    string
	When      string
	Cashier   string
	QR        template.URL
	AutoPrint bool
	Back      string
	// Void (kiosk_void_web.go): the form when the user may void it, or
	// what happened.
	CanVoid    bool
	Correction bool // the accountant's correcting entry (another day)
	VoidedWhen string
	VoidedBy   string
	CSRF       string
	Notice     string
	Error      string
}

// localWhen writes "lundi 30 novembre 2026 17:02" in the school's zone.
func localWhen(t time.Time, loc *time.Location, l string) string {
	t = t.In(loc)
	return i18n.FormatDate(t, l) + " " + i18n.FormatTime(t, l)
}

// qrDataURI returns a PNG QR code of s as a data: URI.
func qrDataURI(s string, size int) (template.URL, error) {
	png, err := qrcode.Encode(s, qrcode.Medium, size)
	if err != nil {
		return "", err
	}
	// The content is our own base64 PNG: safe as a URL.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil //nolint:gosec
}

func (w *Web) kioskReceipt(c *gin.Context) {
	w.renderReceipt(c, http.StatusOK, c.Query("notice"), "")
}

// renderReceipt renders the receipt page with a notice or an error (of a
// refused void).
func (w *Web) renderReceipt(c *gin.Context, status int, notice, errMsg string) {
	rc, s, ok := ofStation(w, c, func(ctx context.Context, tenantID int64) (kiosk.Receipt, int64, error) {
		rc, err := w.kiosk.ReceiptByReference(ctx, tenantID, c.Param("ref"))
		return rc, rc.StationID, err
	}, school.RoleKiosk, school.RoleAccountant)
	if !ok {
		return
	}
	ctx, st, u, loc, l := c.Request.Context(), s.st, s.u, s.loc, lang(c)
	v := receiptView{Receipt: rc, Lang: l, School: s.school, Pupil: strings.TrimSpace(rc.FirstName + " " + rc.LastName),
		Amount: i18n.FormatEUR(rc.Amount, l), When: localWhen(rc.CreatedAt, loc, l), Cashier: w.kiosk.StaffName(ctx, u.TenantID, rc.Actor),
		AutoPrint: c.Query("print") == "1", Back: "/staff/kiosk/" + url.PathEscape(st.Code), Error: errMsg}
	if notice != "" {
		v.Notice = w.cat.T(l, "terminal.kiosk.void_notice."+notice)
	}
	var err error
	if v.QR, err = qrDataURI(rc.Reference, 192); err != nil {
		w.fail(c, err)
		return
	}
	if err := w.voidView(c, &v, u, loc); err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, status, "kiosk_receipt.html", page{Title: rc.Reference, User: &u, Data: v})
}

// closeData is the data of the drawer closing form (a blind count: the
// expected amount is shown only after counting).
type closeData struct {
	Station  school.Station
	Token    string
	Counted  string
	LastWhen string // previous closing, "" for none
}

func (w *Web) kioskClosePage(c *gin.Context) {
	w.renderClose(c, http.StatusOK, "", "")
}

func (w *Web) renderClose(c *gin.Context, status int, counted, errMsg string) {
	ctx := c.Request.Context()
	st, u, err := w.kioskFor(c, school.RoleKiosk)
	if err != nil {
		w.fail(c, err)
		return
	}
	l := lang(c)
	d := closeData{Station: st, Counted: counted}
	if d.Token, err = newFormToken(); err != nil {
		w.fail(c, err)
		return
	}
	last, err := w.kiosk.LastClosing(ctx, u.TenantID, st.ID)
	switch {
	case err == nil:
		_, loc, err := w.kiosk.SchoolLoc(ctx, u.TenantID, st.SchoolID)
		if err != nil {
			w.fail(c, err)
			return
		}
		d.LastWhen = localWhen(last.ClosedAt, loc, l)
	case !errors.Is(err, kiosk.ErrNotFound):
		w.fail(c, err)
		return
	}
	w.render(c, status, "kiosk_close.html", page{Title: w.cat.T(l, "terminal.kiosk.close_title", st.Name), User: &u, Data: d, Error: errMsg})
}

func (w *Web) kioskClosePost(c *gin.Context) {
	ctx := c.Request.Context()
	st, u, err := w.kioskFor(c, school.RoleKiosk)
	if err != nil {
		w.fail(c, err)
		return
	}
	l := lang(c)
	token := c.PostForm("form_token")
	if !kiosk.ValidFormToken(token) {
		c.String(http.StatusBadRequest, w.cat.T(l, "error.invalid_form", "form_token"))
		return
	}
	typed := c.PostForm("counted")
	again := func(msg string) { w.renderClose(c, http.StatusUnprocessableEntity, typed, msg) }
	counted, ok := w.typedAmount(c, typed, again)
	if !ok {
		return
	}
	cl, err := w.kiosk.CloseDrawer(ctx, kiosk.CloseRequest{TenantID: u.TenantID, Station: st.Code, Counted: counted, FormToken: token, Actor: u.Actor()})
	switch {
	case errors.Is(err, kiosk.ErrAmountRange):
		again(w.cat.T(l, "terminal.kiosk.count_range", i18n.FormatEUR(kiosk.Cents(kiosk.KioskMaxCountCents), l)))
		return
	case errors.Is(err, kiosk.ErrFormUsed):
		again(w.cat.T(l, "terminal.kiosk.form_used"))
		return
	case errors.Is(err, ledger.ErrPeriodClosed):
		again(w.cat.T(l, "terminal.reason.period_closed"))
		return
	case err != nil:
		w.fail(c, err)
		return
	}
	if !cl.Replay {
		_ = w.store.Audit(ctx, u.TenantID, u.Actor(), "kiosk.drawer_close", "station:"+st.Code,
			map[string]any{"closing": cl.ID, "expected": cl.Expected.StringFixed(2), "counted": cl.Counted.StringFixed(2),
				"difference": cl.Difference.StringFixed(2), "transfer": cl.TransferID})
	}
	c.Redirect(http.StatusSeeOther, "/staff/kiosk/"+url.PathEscape(st.Code)+"/closings/"+strconv.FormatInt(cl.ID, 10))
}

// closingView is a closing as printed.
type closingView struct {
	kiosk.Closing
	When    string
	Since   string
	Cashier string
}

func (w *Web) closingViews(ctx context.Context, tenantID int64, cs []kiosk.Closing, loc *time.Location, l string) []closingView {
	out := make([]closingView, len(cs))
	for i, c := range cs {
		out[i] = closingView{Closing: c, When: localWhen(c.ClosedAt, loc, l), Cashier: w.kiosk.StaffName(ctx, tenantID, c.Actor)}
		if !c.Since.IsZero() {
			out[i].Since = localWhen(c.Since, loc, l)
		}
	}
	return out
}

// closingPage is the data of a closing slip.
type closingPage struct {
	Station   school.Station
	School    string
	C         closingView
	CanReport bool
	Day       string // yyyy-mm-dd of the closing, for the Z-report link
}

func (w *Web) kioskClosingPage(c *gin.Context) {
	cl, s, ok := ofStation(w, c, func(ctx context.Context, tenantID int64) (kiosk.Closing, int64, error) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			return kiosk.Closing{}, 0, kiosk.ErrNotFound
		}
		cl, err := w.kiosk.ClosingByID(ctx, tenantID, id)
		return cl, cl.StationID, err
	}, school.RoleKiosk, school.RoleAccountant)
	if !ok {
		return
	}
	ctx, st, u, loc, l := c.Request.Context(), s.st, s.u, s.loc, lang(c)
	d := closingPage{Station: st, School: s.school, C: w.closingViews(ctx, u.TenantID, []kiosk.Closing{cl}, loc, l)[0],
		CanReport: u.Can(school.RoleAccountant) || cl.Actor == u.Actor(), Day: cl.ClosedAt.In(loc).Format(time.DateOnly)}
	w.render(c, http.StatusOK, "kiosk_closing.html", page{Title: w.cat.T(l, "terminal.kiosk.closing_title", st.Name), User: &u, Data: d})
}

// zView is the data of the Z-report page.
type zView struct {
	kiosk.ZReport
	DayLabel  string
	DayISO    string
	Prev      string
	Next      string
	Receipts  []zReceipt
	Closings  []closingView
	Generated string
}

type zReceipt struct {
	kiosk.Receipt
	Time    string
	Cashier string
}

func (w *Web) kioskZReport(c *gin.Context) {
	// The accountant reads any day; a cashier reopens the Z-report of a
	// day on which they closed this drawer (checked below).
	s, ok := w.atStation(c, school.RoleAccountant, school.RoleKiosk)
	if !ok {
		return
	}
	ctx, st, u, loc, l := c.Request.Context(), s.st, s.u, s.loc, lang(c)
	day := w.now().In(loc)
	if q := c.Query("day"); q != "" {
		var err error
		if day, err = time.ParseInLocation(time.DateOnly, q, loc); err != nil {
			c.String(http.StatusBadRequest, w.cat.T(l, "error.invalid_form", "day (AAAA-MM-JJ)"))
			return
		}
	}
	if !u.Can(school.RoleAccountant) {
		from, to := kiosk.DayBounds(day, loc)
		closed, err := w.kiosk.ClosedBy(ctx, u.TenantID, st.ID, u.Actor(), from, to)
		if err != nil {
			w.fail(c, err)
			return
		}
		if !closed {
			w.fail(c, errForbidden)
			return
		}
	}
	z, err := w.kiosk.ZReport(ctx, u.TenantID, st.Code, day)
	if err != nil {
		w.fail(c, err)
		return
	}
	v := zView{ZReport: z, DayLabel: i18n.FormatDate(z.Day, l), DayISO: z.Day.Format(time.DateOnly),
		Prev: z.Day.AddDate(0, 0, -1).Format(time.DateOnly), Next: z.Day.AddDate(0, 0, 1).Format(time.DateOnly),
		Closings: w.closingViews(ctx, u.TenantID, z.Closings, loc, l), Generated: localWhen(w.now(), loc, l)}
	names := map[string]string{}
	for _, r := range z.Receipts {
		if _, ok := names[r.Actor]; !ok {
			names[r.Actor] = w.kiosk.StaffName(ctx, u.TenantID, r.Actor)
		}
		v.Receipts = append(v.Receipts, zReceipt{Receipt: r, Time: i18n.FormatTime(r.CreatedAt.In(loc), l), Cashier: names[r.Actor]})
	}
	_ = w.store.Audit(ctx, u.TenantID, u.Actor(), "kiosk.zreport_view", "station:"+st.Code, map[string]any{"day": v.DayISO})
	w.render(c, http.StatusOK, "kiosk_z.html", page{Title: w.cat.T(l, "terminal.kiosk.z_title", st.Name, v.DayLabel), User: &u, Data: v})
}
