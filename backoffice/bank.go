package backoffice

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tartine/internal/i18n"
	"tartine/payments"
	"tartine/school"
	"tartine/sepa"
)

// Bank reconciliation (/admin/books/bank, accountants and admins): upload a
// CODA statement file (payments.Bank.ImportCODA) and see what it booked; the
// credits waiting in suspense, each with a form to allocate it to a pupil's
// wallet (payments.Bank.Allocate) or, when a paid Stripe payout of the same
// amount is not reconciled yet, to that payout
// (payments.Bank.AllocatePayout), or, when a cash remittance of the same
// amount is in transit, to that remittance
// (payments.Bank.AllocateRemittance); the Stripe payouts no bank line has
// matched yet; and the cash remittances in transit (taken from a kiosk
// drawer, not seen on a statement yet), those older than
// remittanceOldDays highlighted.
//
// The import answers with its report directly (not a redirect): importing
// the same file again books nothing twice, so a resubmitted form is
// harmless. A file the parser refuses is answered 422 with the line and the
// reason, and books nothing. ImportCODA is all-or-nothing: a bad file is
// refused before anything is booked, and a failure half-way rolls the whole
// import back (importing the file again books it all). An allocation is one ledger transfer under an
// idempotency key; a refused one (line already allocated, unknown pupil,
// payout of another amount) books nothing and is answered 422.

// maxCODASize is the largest CODA file accepted (a year of daily statements
// of a school account is far below it).
const maxCODASize = 5 << 20

// bankImportPath is where the CODA upload form posts.
const bankImportPath = "/admin/books/bank/import"

// remittanceOldDays is the age in days above which a remittance in
// transit is highlighted: a deposit normally shows on the statement within
// a few working days.
const remittanceOldDays = 5

// candidateLimit is how many pupils a line's allocation list offers from a
// name search.
const candidateLimit = 10

// bankLineView is a credit waiting in suspense with what it may be
// allocated to.
type bankLineView struct {
	payments.BankLine
	Pupils      []school.Pupil        // candidates: the suggested pupil, then name matches
	Payouts     []payments.Payout     // unreconciled payouts of the same amount
	Remittances []payments.Remittance // cash remittances in transit of the same amount
	Query       string                // the name search that gave Pupils
}

// remittanceView is a cash remittance in transit with its age.
type remittanceView struct {
	payments.Remittance
	Age int  // days since the remittance day
	Old bool // older than remittanceOldDays
}

// ID is an HTML id for the line's form fields.
func (l bankLineView) ID() string {
	return "l" + strings.NewReplacer(":", "-", ".", "-").Replace(l.Key)
}

type bankData struct {
	Report    *payments.CODAReport // after an upload
	FileName  string
	Names     map[int64]string // names of the pupils the report credited
	Lines     []bankLineView
	Payouts   []payments.Payout
	Transit   []remittanceView // cash remittances in transit, oldest first
	OldDays   int
	Done      string // confirmation after a redirect
	MaxSizeMB int
}

// bankDone are the confirmations a redirect may ask for (?done=…).
var bankDone = map[string]string{
	"allocated":  "bank.done.allocated",
	"payout":     "bank.done.payout",
	"remittance": "bank.done.remittance",
}

// limitUpload refuses a CODA upload larger than maxCODASize before the
// session middleware reads the form, and caps what it may read.
func (a *App) limitUpload(c *gin.Context) {
	if c.Request.Method == http.MethodPost && c.Request.URL.Path == bankImportPath {
		if c.Request.ContentLength > maxCODASize+64<<10 {
			c.String(http.StatusRequestEntityTooLarge, "%s", a.Catalog.T(lang(c), "bank.error.too_large", maxCODASize>>20))
			c.Abort()
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxCODASize+64<<10)
	}
	c.Next()
}

// bankData loads the lines in suspense, their candidates and the
// unreconciled payouts.
func (a *App) bankData(c *gin.Context) (bankData, error) {
	ctx := c.Request.Context()
	u := user(c)
	d := bankData{MaxSizeMB: maxCODASize >> 20, OldDays: remittanceOldDays}
	var err error
	if d.Payouts, err = a.bank.UnreconciledPayouts(ctx, u.TenantID); err != nil {
		return d, err
	}
	transit, err := a.bank.RemittancesInTransit(ctx, u.TenantID)
	if err != nil {
		return d, err
	}
	today := civilDay(a.Now().In(brussels()))
	for _, r := range transit {
		age := r.AgeDays(today)
		d.Transit = append(d.Transit, remittanceView{Remittance: r, Age: age, Old: age > remittanceOldDays})
	}
	lines, err := a.bank.Unallocated(ctx, u.TenantID)
	if err != nil {
		return d, err
	}
	search := c.Query("line")
	for _, l := range lines {
		v := bankLineView{BankLine: l}
		seen := map[int64]bool{}
		add := func(p school.Pupil) {
			if !seen[p.ID] && p.WalletAccountID != 0 && mayManagePupil(u, p) {
				seen[p.ID] = true
				v.Pupils = append(v.Pupils, p)
			}
		}
		if l.SuggestedPupilID != 0 {
			p, err := a.School.Pupil(ctx, u.TenantID, l.SuggestedPupilID)
			if err != nil && !errors.Is(err, school.ErrNotFound) {
				return d, err
			}
			if err == nil {
				add(p)
			}
		}
		v.Query = defaultQuery(l.CounterpartyName)
		if search == l.Key {
			v.Query = strings.TrimSpace(c.Query("q"))
		}
		if v.Query != "" {
			found, err := a.School.SearchPupils(ctx, u.TenantID, v.Query, candidateLimit)
			if err != nil {
				return d, err
			}
			for _, p := range found {
				add(p)
			}
		}
		for _, p := range d.Payouts {
			if p.Amount.Equal(l.Amount) && !p.MixedTenants {
				v.Payouts = append(v.Payouts, p)
			}
		}
		for _, r := range transit {
			if r.Amount.Equal(l.Amount) {
				v.Remittances = append(v.Remittances, r)
			}
		}
		d.Lines = append(d.Lines, v)
	}
	return d, nil
}

// defaultQuery is a first search for a line's pupil: the counterparty's
// first name-like word ("DUBOIS-LEROY FRANÇOIS" → "dubois").
func defaultQuery(name string) string {
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == '-' || r == ',' }) {
		if len([]rune(w)) >= 3 && !strings.ContainsAny(w, "0123456789") {
			switch strings.ToLower(w) {
			case "mr", "mme", "m.", "mevr", "dhr", "monsieur", "madame", "famille", "fam", "epoux", "époux":
				continue
			}
			return strings.ToLower(w)
		}
	}
	return ""
}

// bankPage shows the upload form, the lines in suspense and the payouts.
func (a *App) bankPage(c *gin.Context) {
	d, err := a.bankData(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	if key, ok := bankDone[c.Query("done")]; ok {
		d.Done = a.Catalog.T(lang(c), key)
	}
	a.render(c, http.StatusOK, "bank", "bank.title", "bank", d)
}

// bankError re-renders the page with a refusal (422 unless status says
// otherwise); nothing was booked.
func (a *App) bankError(c *gin.Context, status int, msg string) {
	d, err := a.bankData(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Set("form_error", msg)
	a.render(c, status, "bank", "bank.title", "bank", d)
}

// importCODA books an uploaded CODA file and shows its report.
func (a *App) importCODA(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	fh, err := c.FormFile("coda")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.bankError(c, http.StatusRequestEntityTooLarge, a.Catalog.T(l, "bank.error.too_large", maxCODASize>>20))
			return
		}
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.no_file"))
		return
	}
	if fh.Size > maxCODASize {
		a.bankError(c, http.StatusRequestEntityTooLarge, a.Catalog.T(l, "bank.error.too_large", maxCODASize>>20))
		return
	}
	f, err := fh.Open()
	if err != nil {
		a.fail(c, err)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCODASize+1))
	f.Close()
	if err != nil {
		a.fail(c, err)
		return
	}
	if len(data) == 0 {
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.empty", fh.Filename))
		return
	}
	rep, err := a.bank.ImportCODA(ctx, u.TenantID, data, u.Actor())
	if errors.Is(err, payments.ErrBadFile) {
		a.bankError(c, http.StatusUnprocessableEntity, a.badFileMessage(l, fh.Filename, err))
		return
	}
	if err != nil {
		a.Log.Error("back office: CODA import stopped", "tenant_id", u.TenantID, "file", fh.Filename, "err", err)
		a.bankError(c, http.StatusInternalServerError, a.Catalog.T(l, "bank.error.stopped", fh.Filename))
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "bank.import", "", map[string]any{
		"file": fh.Filename, "statements": rep.Statements,
		"credited": len(rep.Credited), "credited_total": rep.CreditedTotal.StringFixed(2),
		"suspense": len(rep.Suspense), "suspense_total": rep.SuspenseTotal.StringFixed(2),
		"payouts": len(rep.Payouts), "payouts_total": rep.PayoutsTotal.StringFixed(2),
		"remittances": len(rep.Remittances), "remittances_total": rep.RemittancesTotal.StringFixed(2),
		"already_imported": rep.AlreadyImported,
	})
	d, err := a.bankData(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	d.Report, d.FileName, d.Names = &rep, fh.Filename, map[int64]string{}
	for _, l := range rep.Credited {
		if p, err := a.School.Pupil(ctx, u.TenantID, l.PupilID); err == nil {
			d.Names[p.ID] = p.LastName + " " + p.FirstName
		}
	}
	a.render(c, http.StatusOK, "bank", "bank.title", "bank", d)
}

// badFileMessage says where and why the file was refused.
func (a *App) badFileMessage(l, name string, err error) string {
	var ce *sepa.CODAError
	if errors.As(err, &ce) {
		if ce.Record != "" {
			return a.Catalog.T(l, "bank.error.parse_record", name, ce.Line, ce.Record, ce.Msg)
		}
		return a.Catalog.T(l, "bank.error.parse", name, ce.Line, ce.Msg)
	}
	msg := strings.TrimPrefix(err.Error(), payments.ErrBadFile.Error()+": ")
	return a.Catalog.T(l, "bank.error.refused", name, msg)
}

// suspenseLine returns the line in suspense with this key.
func (a *App) suspenseLine(c *gin.Context, key string) (payments.BankLine, bool, error) {
	lines, err := a.bank.Unallocated(c.Request.Context(), user(c).TenantID)
	if err != nil {
		return payments.BankLine{}, false, err
	}
	for _, l := range lines {
		if l.Key == key {
			return l, true, nil
		}
	}
	return payments.BankLine{}, false, nil
}

// postedSuspenseLine finds the line in suspense a form names, or answers
// (422: allocated meanwhile or unknown; 500) and reports false.
func (a *App) postedSuspenseLine(c *gin.Context, key string) (payments.BankLine, bool) {
	line, ok, err := a.suspenseLine(c, key)
	if err != nil {
		a.fail(c, err)
		return line, false
	}
	if !ok {
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(lang(c), "bank.error.not_in_suspense"))
	}
	return line, ok
}

// allocateBankLine moves a line in suspense to a pupil's wallet.
func (a *App) allocateBankLine(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	key := c.PostForm("key")
	line, ok := a.postedSuspenseLine(c, key)
	if !ok {
		return
	}
	raw := strings.TrimSpace(c.PostForm("pupil"))
	id, err := strconv.ParseInt(raw, 10, 64)
	if raw == "" || err != nil || id <= 0 {
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.no_pupil"))
		return
	}
	p, err := a.School.Pupil(ctx, u.TenantID, id)
	if errors.Is(err, school.ErrNotFound) || (err == nil && !mayManagePupil(u, p)) {
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.unknown_pupil", raw))
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	if p.WalletAccountID == 0 {
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.no_wallet", p.FirstName+" "+p.LastName))
		return
	}
	tr, err := a.bank.Allocate(ctx, u.TenantID, key, p.ID, u.Actor())
	if errors.Is(err, payments.ErrNotFound) {
		// Allocated meanwhile by someone else: nothing booked by this request.
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.not_in_suspense"))
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "bank.allocate", fmt.Sprint("pupil:", p.ID), map[string]any{
		"bank_movement": key, "amount": line.Amount.StringFixed(2), "transfer_id": tr})
	c.Redirect(http.StatusSeeOther, "/admin/books/bank?done=allocated")
}

// allocatePayout reconciles a line in suspense with a Stripe payout of the
// same amount.
func (a *App) allocatePayout(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	key := c.PostForm("key")
	line, ok := a.postedSuspenseLine(c, key)
	if !ok {
		return
	}
	id := strings.TrimSpace(c.PostForm("payout"))
	payouts, err := a.bank.UnreconciledPayouts(ctx, u.TenantID)
	if err != nil {
		a.fail(c, err)
		return
	}
	var po *payments.Payout
	for i := range payouts {
		if payouts[i].ID == id {
			po = &payouts[i]
		}
	}
	switch {
	case id == "":
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.no_payout"))
		return
	case po == nil:
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.unknown_payout", id))
		return
	case !po.Amount.Equal(line.Amount):
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.payout_amount", id,
			i18n.FormatEUR(po.Amount, l), i18n.FormatEUR(line.Amount, l)))
		return
	}
	tr, err := a.bank.AllocatePayout(ctx, u.TenantID, key, id, u.Actor())
	if errors.Is(err, payments.ErrNotFound) {
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.payout_taken", id))
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "bank.allocate_payout", "payout:"+id, map[string]any{
		"bank_movement": key, "amount": line.Amount.StringFixed(2), "transfer_id": tr})
	c.Redirect(http.StatusSeeOther, "/admin/books/bank?done=payout")
}

// allocateRemittance reconciles a line in suspense with a cash remittance
// in transit of the same amount.
func (a *App) allocateRemittance(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	key := c.PostForm("key")
	line, ok := a.postedSuspenseLine(c, key)
	if !ok {
		return
	}
	ref := strings.TrimSpace(c.PostForm("remittance"))
	if ref == "" {
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.no_remittance"))
		return
	}
	r, err := a.bank.RemittanceByReference(ctx, u.TenantID, ref)
	switch {
	case errors.Is(err, payments.ErrNotFound) || (err == nil && r.Arrived()):
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.unknown_remittance", ref))
		return
	case err != nil:
		a.fail(c, err)
		return
	case !r.Amount.Equal(line.Amount):
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.remittance_amount", ref,
			i18n.FormatEUR(r.Amount, l), i18n.FormatEUR(line.Amount, l)))
		return
	}
	tr, err := a.bank.AllocateRemittance(ctx, u.TenantID, key, ref, u.Actor())
	if errors.Is(err, payments.ErrNotFound) {
		a.bankError(c, http.StatusUnprocessableEntity, a.Catalog.T(l, "bank.error.remittance_taken", ref))
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "bank.allocate_remittance", "remittance:"+ref, map[string]any{
		"bank_movement": key, "amount": line.Amount.StringFixed(2), "transfer_id": tr})
	c.Redirect(http.StatusSeeOther, "/admin/books/bank?done=remittance")
}
