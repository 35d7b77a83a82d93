package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/payments"
	"tartine/school"
)

// Refunds by SEPA credit transfer (/admin/books/refunds, accountants and
// admins; payments/refunds.go): refund a leaving pupil's balance or a
// transfer waiting in suspense to an IBAN (the money moves to
// refunds-payable at once), approve the requested refunds as a batch from a
// school's account, and download each batch's pain.001 file for the bank.
// The bank statement import (CODA) marks a refund paid when it shows it
// leaving.

// leaver is a pupil who left with money on the wallet.
type leaver struct {
	school.Pupil
	Balance decimal.Decimal
}

type refundsData struct {
	Leavers   []leaver
	Suspense  []payments.BankLine
	Requested []payments.Refund
	Others    []payments.Refund // approved or paid
	Batches   []payments.RefundBatch
	Schools   []school.School // with an IBAN: the batch's account
	Execution string          // default execution day
}

func (a *App) refunds(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	d := refundsData{Execution: nextWeekday(civilDay(a.Now().In(brussels()))).Format(time.DateOnly)}
	schools, err := a.School.Schools(ctx, u.TenantID)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, s := range schools {
		if s.IBAN != "" {
			d.Schools = append(d.Schools, s)
		}
		pupils, err := a.School.PupilsOfSchool(ctx, u.TenantID, s.ID, true)
		if err != nil {
			a.fail(c, err)
			return
		}
		for _, p := range pupils {
			if p.Active || p.WalletAccountID == 0 {
				continue
			}
			b, err := a.Ledger.Balance(ctx, u.TenantID, p.WalletAccountID)
			if err != nil {
				a.fail(c, err)
				return
			}
			if b.Available.IsPositive() {
				d.Leavers = append(d.Leavers, leaver{Pupil: p, Balance: b.Available})
			}
		}
	}
	if d.Suspense, err = a.bank.Unallocated(ctx, u.TenantID); err != nil {
		a.fail(c, err)
		return
	}
	all, err := a.bank.Refunds(ctx, u.TenantID)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, r := range all {
		if r.Status == payments.RefundRequested {
			d.Requested = append(d.Requested, r)
		} else {
			d.Others = append(d.Others, r)
		}
	}
	if d.Batches, err = a.bank.RefundBatches(ctx, u.TenantID); err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "refunds", "refunds.title", "refunds", d)
}

// requestRefund records a refund of a leaver's wallet (pupil=) or of a
// movement in suspense (movement=).
func (a *App) requestRefund(c *gin.Context) {
	u := user(c)
	pupil, _ := strconv.ParseInt(c.PostForm("pupil"), 10, 64)
	r, err := a.bank.RequestRefund(c.Request.Context(), payments.RefundRequest{TenantID: u.TenantID, PupilID: pupil,
		MovementKey: strings.TrimSpace(c.PostForm("movement")), Beneficiary: c.PostForm("beneficiary"), IBAN: c.PostForm("iban"),
		Reason: c.PostForm("reason"), Actor: u.Actor()}, a.Now())
	switch {
	case errors.Is(err, payments.ErrRefundIBAN):
		a.flash(c, refundsPath, "admin.refunds.error.iban")
		return
	case errors.Is(err, payments.ErrRefundNothing), errors.Is(err, payments.ErrPupilNotFound), errors.Is(err, payments.ErrInvalidRequest):
		a.flash(c, refundsPath, "admin.refunds.error.nothing")
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(c.Request.Context(), u.TenantID, u.Actor(), "refund.request", refundSubject(r),
		map[string]any{"refund": r.ID, "amount": r.Amount.StringFixed(2), "iban": r.IBAN, "beneficiary": r.Beneficiary})
	a.flash(c, refundsPath, "admin.refunds.requested", i18n.FormatEUR(r.Amount, lang(c)), r.Beneficiary)
}

func refundSubject(r payments.Refund) string {
	if r.PupilID != 0 {
		return "pupil:" + strconv.FormatInt(r.PupilID, 10)
	}
	return "bank:" + r.BankMovementKey
}

const refundsPath = "/admin/books/refunds"

// approveRefunds puts the ticked refunds in a batch from the chosen
// school's account and shows the batch's download link.
func (a *App) approveRefunds(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	var ids []int64
	for _, v := range c.PostFormArray("refund") {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	sc, err := a.School.School(ctx, u.TenantID, sid)
	if err != nil || sc.IBAN == "" {
		a.flash(c, refundsPath, "admin.refunds.error.school")
		return
	}
	day, ok := parseDay(c.PostForm("execution"))
	if !ok || day.Before(civilDay(a.Now().In(brussels()))) {
		a.flash(c, refundsPath, "admin.error.day", c.PostForm("execution"))
		return
	}
	debtor := sc.Beneficiary
	if debtor == "" {
		debtor = sc.Name
	}
	batch, err := a.bank.ApproveRefunds(ctx, payments.BatchRequest{TenantID: u.TenantID, RefundIDs: ids, DebtorName: debtor,
		DebtorIBAN: sc.IBAN, DebtorBIC: sc.BIC, ExecutionDate: day, Actor: u.Actor()}, a.Now())
	if errors.Is(err, payments.ErrRefundBatch) {
		a.flash(c, refundsPath, "admin.refunds.error.batch")
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "refund.approve", "refund-batch:"+strconv.FormatInt(batch.ID, 10),
		map[string]any{"message_id": batch.MessageID, "count": batch.Count, "total": batch.Total.StringFixed(2)})
	a.flash(c, refundsPath, "admin.refunds.approved", strconv.Itoa(batch.Count), batch.MessageID)
}

// refundFile downloads a batch's pain.001 file.
func (a *App) refundFile(c *gin.Context) {
	u := user(c)
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	b, err := a.bank.RefundBatchFile(c.Request.Context(), u.TenantID, id)
	if errors.Is(err, payments.ErrNotFound) {
		a.notFound(c)
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.xml"`, b.MessageID))
	c.Data(http.StatusOK, "application/xml; charset=utf-8", b.File)
}
