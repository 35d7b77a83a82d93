package portal

import (
	"errors"
	"net/http"
	"strings"
	"tartine/booking"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/payments"
	"tartine/school"
	"tartine/sepa"
)

type topupData struct {
	Child       child
	Balance     booking.WalletBalance
	Min, Max    decimal.Decimal
	Amount      string
	Online      bool
	Status      string // success, cancel (back from Checkout)
	School      school.School
	IBAN        string // formatted for people
	OGM         string // +++…+++
	BankReady   bool
	Suggestions []string
	// The bank transfer's amount: as typed (or QRDefault), its value for
	// the QR code's address ("" when QRError says what is wrong).
	QRAmount string
	QRValue  string
	QR       decimal.Decimal
	QRError  string
}

// qrBase is the bank transfer's default amount when the wallet is not below
// zero.
var qrBase = decimal.NewFromInt(20)

// QRDefault is the bank transfer's amount offered first: 20 € plus what the
// wallet lacks to be at zero after the booked meals, rounded up to the
// euro, within the top-up limits.
func QRDefault(available, minimum, maximum decimal.Decimal) decimal.Decimal {
	d := qrBase
	if available.IsNegative() {
		d = d.Add(available.Neg()).Ceil()
	}
	return decimal.Min(decimal.Max(d, minimum), maximum)
}

func (a *App) limits() (decimal.Decimal, decimal.Decimal) {
	if a.TopUps != nil {
		return a.TopUps.Limits()
	}
	return payments.DefaultMinTopUp, payments.DefaultMaxTopUp
}

func (a *App) topupData(c *gin.Context, acct *account, ch child) (topupData, error) {
	d := topupData{Child: ch, Online: a.TopUps != nil, Suggestions: []string{"10", "20", "50"}}
	d.Min, d.Max = a.limits()
	var err error
	if d.Balance, err = a.balanceOf(c, ch); err != nil {
		return d, err
	}
	if d.School, err = a.School.School(c.Request.Context(), ch.TenantID, ch.SchoolID); err != nil {
		return d, err
	}
	def := QRDefault(d.Balance.Available, d.Min, d.Max)
	d.QR, d.QRAmount, d.QRValue = def, def.StringFixed(2), def.StringFixed(2)
	if a.lang(c, acct) == i18n.FR {
		d.QRAmount = strings.Replace(d.QRAmount, ".", ",", 1)
	}
	if iban, err := sepa.FormatIBAN(d.School.IBAN); err == nil && ch.OGM != "" {
		d.IBAN = iban
		if d.OGM, err = sepa.FormatOGM(ch.OGM); err == nil {
			d.BankReady = true
		}
	}
	return d, nil
}

func (a *App) topupForm(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	d, err := a.topupData(c, acct, ch)
	if err != nil {
		a.fail(c, err)
		return
	}
	if s := c.Query("status"); s == "success" || s == "cancel" {
		d.Status = s
	}
	status := http.StatusOK
	if typed, ok := c.GetQuery("qr_amount"); ok {
		// The bank transfer form (a GET: nothing changes, the QR code
		// follows the amount).
		d.QRAmount, d.QRValue = typed, ""
		amount, msg := a.qrAmount(typed, d.Min, d.Max, a.lang(c, acct))
		if msg != "" {
			d.QRError, status = msg, http.StatusUnprocessableEntity
		} else {
			d.QR, d.QRValue = amount, amount.StringFixed(2)
		}
	}
	a.render(c, status, "topup", "portal.topup.title", d, acct)
}

// qrAmount checks the amount of a bank transfer's QR code: a message for
// people when it is not an amount within the top-up limits.
func (a *App) qrAmount(s string, minimum, maximum decimal.Decimal, lang string) (decimal.Decimal, string) {
	amount, err := i18n.ParseAmount(s, i18n.RejectNegative)
	var ae *i18n.AmountError
	switch {
	case errors.As(err, &ae):
		return decimal.Zero, ae.Message(a.Catalog, lang)
	case err != nil:
		return decimal.Zero, a.Catalog.T(lang, "error.amount.empty")
	case amount.LessThan(minimum) || amount.GreaterThan(maximum):
		return decimal.Zero, a.Catalog.T(lang, "payments.error.amount_range", i18n.FormatEUR(minimum, lang), i18n.FormatEUR(maximum, lang))
	}
	return amount, ""
}

func (a *App) topup(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	lang := a.lang(c, acct)
	d, err := a.topupData(c, acct, ch)
	if err != nil {
		a.fail(c, err)
		return
	}
	d.Amount = c.PostForm("amount")
	bad := func(msg string) {
		a.formError(c, http.StatusUnprocessableEntity, "topup", "portal.topup.title", msg, d, acct)
	}
	amount, err := i18n.ParseAmount(d.Amount, i18n.RejectNegative)
	var ae *i18n.AmountError
	if errors.As(err, &ae) {
		bad(ae.Message(a.Catalog, lang))
		return
	}
	if err != nil {
		bad(a.Catalog.T(lang, "error.amount.empty"))
		return
	}
	if amount.LessThan(d.Min) || amount.GreaterThan(d.Max) {
		bad(a.Catalog.T(lang, "payments.error.amount_range", i18n.FormatEUR(d.Min, lang), i18n.FormatEUR(d.Max, lang)))
		return
	}
	if a.TopUps == nil {
		bad(a.Catalog.T(lang, "payments.error.checkout"))
		return
	}
	path := a.BaseURL + ch.Path() + "/topup"
	t, err := a.TopUps.StartTopUp(c.Request.Context(), payments.TopUpRequest{TenantID: ch.TenantID, PupilID: ch.ID,
		WalletAccountID: ch.WalletID, GuardianID: ch.GuardianID, Amount: amount,
		SuccessURL: path + "?status=success", CancelURL: path + "?status=cancel", Lang: lang})
	var pae *payments.AmountError
	switch {
	case errors.As(err, &pae):
		bad(a.Catalog.T(lang, "payments.error.amount_range", i18n.FormatEUR(pae.Min, lang), i18n.FormatEUR(pae.Max, lang)))
		return
	case errors.Is(err, payments.ErrCheckout):
		a.Log.Warn("checkout unavailable", "tenant", ch.TenantID, "pupil", ch.ID, "err", err)
		bad(a.Catalog.T(lang, "payments.error.checkout"))
		return
	case errors.Is(err, payments.ErrNotGuardian), errors.Is(err, payments.ErrPupilNotFound), errors.Is(err, payments.ErrWalletMismatch):
		a.notFound(c)
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, t.CheckoutURL)
}

// epcPNG serves the EPC QR code of a bank transfer to the child's wallet;
// ?amount= (optional) pre-fills the amount, within the top-up limits (400
// otherwise).
func (a *App) epcPNG(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	sch, err := a.School.School(c.Request.Context(), ch.TenantID, ch.SchoolID)
	if err != nil {
		a.fail(c, err)
		return
	}
	amount := decimal.Zero
	if s := c.Query("amount"); s != "" {
		lo, hi := a.limits()
		var msg string
		if amount, msg = a.qrAmount(s, lo, hi, a.lang(c, acct)); msg != "" {
			c.String(http.StatusBadRequest, msg)
			return
		}
	}
	name := sch.Beneficiary
	if name == "" {
		name = sch.Name
	}
	payload, err := sepa.EPCPayload{BIC: sch.BIC, Name: name, IBAN: sch.IBAN, Amount: amount, Reference: ch.OGM,
		Note: "Tartine " + ch.FirstName}.Payload()
	if err != nil {
		// The school has no valid IBAN yet, or the child no OGM.
		a.notFound(c)
		return
	}
	png, err := sepa.EPCQRPNG(payload, 320)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "private, max-age=300")
	c.Data(http.StatusOK, "image/png", png)
}
