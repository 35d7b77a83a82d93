package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"tartine/booking"

	"github.com/gin-gonic/gin"

	"tartine/internal/i18n"
	"tartine/ledger"
)

// KindSiblingTransfer is the ledger kind of a transfer between siblings' wallets.
const KindSiblingTransfer = "sibling-transfer"

type transferData struct {
	Child    child
	Balance  booking.WalletBalance
	Siblings []child
	Amount   string
	To       string
	Nonce    string
}

func (a *App) transferData(c *gin.Context, acct *account, ch child) (transferData, error) {
	d := transferData{Child: ch}
	var err error
	if d.Balance, err = a.balanceOf(c, ch); err != nil {
		return d, err
	}
	kids, err := a.children(c.Request.Context(), acct)
	if err != nil {
		return d, err
	}
	for _, k := range kids {
		// Same tenant only: the money stays with one organising body.
		if k.TenantID == ch.TenantID && k.ID != ch.ID && k.WalletID != 0 {
			d.Siblings = append(d.Siblings, k)
		}
	}
	if d.Nonce, err = NewInvitationCode(); err != nil {
		return d, err
	}
	return d, nil
}

func (a *App) transferForm(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	d, err := a.transferData(c, acct, ch)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "transfer", "portal.transfer.title", d, acct)
}

func (a *App) transfer(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	lang := a.lang(c, acct)
	d, err := a.transferData(c, acct, ch)
	if err != nil {
		a.fail(c, err)
		return
	}
	d.Amount, d.To = c.PostForm("amount"), c.PostForm("to")
	bad := func(msg string) {
		a.formError(c, http.StatusUnprocessableEntity, "transfer", "portal.transfer.title", msg, d, acct)
	}
	toID, err := strconv.ParseInt(d.To, 10, 64)
	if err != nil {
		bad(a.Catalog.T(lang, "portal.transfer.choose"))
		return
	}
	// The target goes through the same access check as any pupil.
	to, err := a.childByID(ctx, acct, ch.TenantID, toID)
	if errors.Is(err, ErrNotFound) || (err == nil && (to.ID == ch.ID || to.WalletID == 0)) {
		a.notFound(c)
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	amount, err := i18n.ParseAmount(d.Amount, i18n.RejectNegative)
	var ae *i18n.AmountError
	if errors.As(err, &ae) {
		bad(ae.Message(a.Catalog, lang))
		return
	}
	if err != nil || !amount.IsPositive() {
		bad(a.Catalog.T(lang, "error.amount.empty"))
		return
	}
	if amount.GreaterThan(d.Balance.Available) {
		bad(a.Catalog.T(lang, "portal.transfer.too_much", i18n.FormatEUR(d.Balance.Available, lang)))
		return
	}
	nonce, err := NormaliseCode(c.PostForm("nonce"))
	if err != nil {
		bad(a.Catalog.T(lang, "error.invalid_form", "nonce"))
		return
	}
	_, err = a.Ledger.Transfer(ctx, ledger.TransferRequest{
		TenantID:       ch.TenantID,
		IdempotencyKey: fmt.Sprintf("sibling:%d:%s", acct.ID, nonce),
		Kind:           KindSiblingTransfer,
		Actor:          ch.Actor(),
		Memo:           fmt.Sprintf("%s → %s", ch.FirstName, to.FirstName),
		Metadata:       map[string]string{"from_pupil": strconv.FormatInt(ch.ID, 10), "to_pupil": strconv.FormatInt(to.ID, 10)},
		Postings: []ledger.Posting{
			{AccountID: ch.WalletID, Amount: amount},       // debit: the family spends from this wallet
			{AccountID: to.WalletID, Amount: amount.Neg()}, // credit: the sibling's wallet grows
		},
	})
	var fe *ledger.FloorError
	switch {
	case errors.As(err, &fe):
		bad(a.Catalog.T(lang, "portal.transfer.too_much", i18n.FormatEUR(fe.Available, lang)))
		return
	case errors.Is(err, ledger.ErrIdempotencyConflict):
		bad(a.Catalog.T(lang, "error.invalid_form", "nonce"))
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	a.lowBalanceCheckChild(ctx, ch)
	a.flash(c, ch.Path()+"/history", "transferred", i18n.FormatEUR(amount, lang), to.FirstName)
}
