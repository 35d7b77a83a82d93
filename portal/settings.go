package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
)

type settingsData struct {
	Threshold string
	Alert     bool
	Language  string
	Phone     string
	Address   string
}

// contact reads the phone and address of the account's guardian rows (the
// first one; saving writes them all).
func (a *App) settingsData(c *gin.Context, acct *account) (settingsData, error) {
	d := settingsData{Threshold: acct.Threshold.StringFixed(2), Alert: acct.Alert, Language: acct.Language}
	err := a.Pool.QueryRow(c.Request.Context(), `SELECT coalesce(max(g.phone), ''), coalesce(max(g.address), '')
		FROM portal_account_guardians ag JOIN guardians g ON g.tenant_id = ag.tenant_id AND g.id = ag.guardian_id
		WHERE ag.account_id = $1`, acct.ID).Scan(&d.Phone, &d.Address)
	return d, err
}

func (a *App) settingsForm(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	d, err := a.settingsData(c, acct)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "settings", "portal.settings.title", d, acct)
}

func (a *App) saveSettings(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	lang := a.lang(c, acct)
	d := settingsData{Threshold: c.PostForm("threshold"), Alert: c.PostForm("alert") == "on", Language: c.PostForm("language"),
		Phone: strings.TrimSpace(c.PostForm("phone")), Address: strings.TrimSpace(c.PostForm("address"))}
	bad := func(msg string) {
		a.formError(c, http.StatusUnprocessableEntity, "settings", "portal.settings.title", msg, d, acct)
	}
	th, err := i18n.ParseAmount(d.Threshold, i18n.RejectNegative)
	var ae *i18n.AmountError
	if errors.As(err, &ae) {
		bad(ae.Message(a.Catalog, lang))
		return
	}
	if err != nil || th.GreaterThan(decimal.NewFromInt(1000)) {
		bad(a.Catalog.T(lang, "error.amount.too_large"))
		return
	}
	if d.Language != i18n.FR && d.Language != i18n.EN {
		d.Language = i18n.FR
	}
	if len(d.Phone) > 40 || strings.ContainsAny(d.Phone, "<>\r\n") {
		bad(a.Catalog.T(lang, "portal.settings.bad_phone"))
		return
	}
	if len(d.Address) > 300 {
		bad(a.Catalog.T(lang, "portal.settings.bad_address"))
		return
	}
	ctx := c.Request.Context()
	tx, err := a.Pool.Begin(ctx)
	if err != nil {
		a.fail(c, err)
		return
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE portal_accounts SET low_balance_threshold = $2, low_balance_alert = $3, language = $4 WHERE id = $1`,
		acct.ID, th, d.Alert, d.Language); err != nil {
		a.fail(c, err)
		return
	}
	// Contact details live on the school's guardian rows: package school
	// writes and audits them, in this transaction.
	rows, err := tx.Query(ctx, `SELECT tenant_id, guardian_id FROM portal_account_guardians WHERE account_id = $1 ORDER BY tenant_id, guardian_id`, acct.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	var tenant, guardian int64
	var mine [][2]int64
	if _, err := pgx.ForEachRow(rows, []any{&tenant, &guardian}, func() error { mine = append(mine, [2]int64{tenant, guardian}); return nil }); err != nil {
		a.fail(c, err)
		return
	}
	for _, g := range mine {
		if err := a.School.SetGuardianContactTx(ctx, tx, g[0], g[1], d.Phone, d.Address, fmt.Sprint("guardian:", g[1])); err != nil {
			a.fail(c, err)
			return
		}
	}
	if err := tx.Commit(ctx); err != nil {
		a.fail(c, err)
		return
	}
	c.SetCookie("lang", d.Language, 365*24*3600, "/", "", strings.HasPrefix(a.BaseURL, "https:"), true)
	a.flash(c, "/portal/settings", "saved")
}
