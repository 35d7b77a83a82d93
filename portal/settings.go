package portal

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/internal/mail"
	"tartine/internal/password"
	"tartine/internal/web"
)

type settingsData struct {
	Threshold string
	Alert     bool // low-balance emails
	Language  string
	Phone     string
	Address   string
	// The other emails a parent may switch off (migration 00099).
	EmailTopUps   bool
	EmailBookings bool
	MinPassword   int
}

// settingsData reads the account's choices and the phone and address of
// its guardian rows (the greatest of them; saving writes them all).
func (a *App) settingsData(c *gin.Context, acct *account) (settingsData, error) {
	ctx := c.Request.Context()
	d := settingsData{Threshold: acct.Threshold.StringFixed(2), Alert: acct.Alert, Language: acct.Language, MinPassword: minPassword()}
	err := a.Pool.QueryRow(ctx, `SELECT email_topups, email_bookings FROM portal_accounts WHERE id = $1`, acct.ID).Scan(&d.EmailTopUps, &d.EmailBookings)
	if err != nil {
		return d, err
	}
	guardians, err := a.School.FamilyGuardians(ctx, acct.family)
	if err != nil {
		return d, err
	}
	for _, g := range guardians {
		d.Phone, d.Address = max(d.Phone, g.Phone), max(d.Address, g.Address)
	}
	return d, nil
}

func minPassword() int { return passwordArgs("portal.password.short")[0].(int) }

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

// saveSettings saves the settings form, or changes the password when the
// password form (form=password) was sent.
func (a *App) saveSettings(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	if c.PostForm("form") == "password" {
		a.changePassword(c, acct)
		return
	}
	lang := a.lang(c, acct)
	d := settingsData{Threshold: c.PostForm("threshold"), Alert: c.PostForm("alert") == "on", Language: c.PostForm("language"),
		Phone: strings.TrimSpace(c.PostForm("phone")), Address: strings.TrimSpace(c.PostForm("address")),
		EmailTopUps: c.PostForm("email_topups") == "on", EmailBookings: c.PostForm("email_bookings") == "on", MinPassword: minPassword()}
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
	defer a.forgetAccount(acct.ID) // once the transaction has ended
	if _, err := tx.Exec(ctx, `UPDATE portal_accounts SET low_balance_threshold = $2, low_balance_alert = $3, language = $4,
		email_topups = $5, email_bookings = $6 WHERE id = $1`,
		acct.ID, th, d.Alert, d.Language, d.EmailTopUps, d.EmailBookings); err != nil {
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

// changePassword changes the password of the logged-in parent: the current
// one first (wrong guesses are throttled like logins), the new one under
// the registration's rules. The other sessions end, this one is renewed,
// and an email tells the parent (enqueued with the change).
func (a *App) changePassword(c *gin.Context, acct *account) {
	ctx := c.Request.Context()
	lang := a.lang(c, acct)
	d, err := a.settingsData(c, acct)
	if err != nil {
		a.fail(c, err)
		return
	}
	bad := func(status int, msg string) {
		a.formError(c, status, "settings", "portal.settings.title", msg, d, acct)
	}
	current, pw := c.PostForm("current"), c.PostForm("password")
	// The new password's rules first: a mistake there is no guess.
	if key := checkPassword(pw, c.PostForm("password2")); key != "" {
		bad(http.StatusUnprocessableEntity, a.Catalog.T(lang, key, passwordArgs(key)...))
		return
	}
	throttle := a.Throttle.WithScope("password-change")
	ok, wait, err := throttle.Check(ctx, acct.Email, c.ClientIP())
	if err != nil {
		a.fail(c, err)
		return
	}
	if !ok {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		bad(http.StatusTooManyRequests, a.throttledText(lang, wait))
		return
	}
	stored, err := a.passwordHash(ctx, acct.ID) // never kept in memory (accounts.go)
	if err != nil {
		a.fail(c, err)
		return
	}
	verr := password.Shared().Verify(ctx, current, stored)
	if isBusy(verr) {
		web.Shed(c)
		c.Header("Retry-After", strconv.Itoa(retryAfterSeconds))
		bad(http.StatusServiceUnavailable, a.Catalog.T(lang, "portal.busy.login"))
		return
	}
	if current == "" || verr != nil {
		if err := throttle.Failed(ctx, acct.Email, c.ClientIP()); err != nil {
			a.fail(c, err)
			return
		}
		bad(http.StatusUnprocessableEntity, a.Catalog.T(lang, "portal.settings.pw.wrong"))
		return
	}
	if err := throttle.Succeeded(ctx, acct.Email); err != nil {
		a.fail(c, err)
		return
	}
	if pw == current {
		bad(http.StatusUnprocessableEntity, a.Catalog.T(lang, "portal.settings.pw.same"))
		return
	}
	hash, err := password.Hash(pw)
	if err != nil {
		a.fail(c, err)
		return
	}
	now := a.Now()
	e := mail.PasswordChanged{At: now.In(brussels()), Link: a.BaseURL + "/portal/forgot"}
	queued := false
	err = pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE portal_accounts SET password_hash = $2, password_changed_at = $3 WHERE id = $1`, acct.ID, hash, now); err != nil {
			return err
		}
		q, ok := a.Mail.(TxSender)
		if !ok {
			return nil
		}
		msg, err := a.emails.Render(acct.Email, acct.Language, e)
		if err != nil {
			return err
		}
		queued = true
		return q.SendTx(ctx, tx, msg)
	})
	a.forgetAccount(acct.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	if err := a.sessionsAfterPasswordChange(c, acct.ID); err != nil {
		a.fail(c, err)
		return
	}
	if !queued {
		// No queue (tests, tools): sent now, after the change.
		a.sendToAccount(ctx, acct, e)
	}
	a.flash(c, "/portal/settings", "password_changed")
}
