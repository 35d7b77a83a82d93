package portal

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"tartine/internal/mail"
	"tartine/internal/password"
	"tartine/internal/web"
	"tartine/internal/websession"
	"tartine/school"
)

type authForm struct {
	Email string
	Code  string
	Token string
	Next  string // a local /portal address to land on after the login ("" for home)
}

// nextAfterLogin returns the page to land on after the login: next when it
// is a safe local address under /portal (websession.LocalRedirect), else "".
func nextAfterLogin(next string) string {
	if websession.LocalRedirect(next, "/portal", "") == "" || strings.HasPrefix(next, "/portal/login") {
		return ""
	}
	return next
}

func (a *App) loginForm(c *gin.Context) {
	next := nextAfterLogin(c.Query("next"))
	if acct, _ := a.currentAccount(c); acct != nil {
		c.Redirect(http.StatusSeeOther, websession.LocalRedirect(next, "/portal", "/portal/"))
		return
	}
	a.render(c, http.StatusOK, "login", "portal.login.title", authForm{Next: next}, nil)
}

func (a *App) login(c *gin.Context) {
	ctx := c.Request.Context()
	email := strings.TrimSpace(c.PostForm("email"))
	pw := c.PostForm("password")
	next := nextAfterLogin(c.PostForm("next"))
	form := authForm{Email: email, Next: next}
	lang := a.lang(c, nil)
	if !websession.PlausibleCredentials(email, pw) {
		a.formError(c, http.StatusBadRequest, "login", "portal.login.title", a.Catalog.T(lang, "portal.login.bad"), authForm{Next: next}, nil)
		return
	}
	ok, wait, err := a.Throttle.Check(ctx, email, c.ClientIP())
	if err != nil {
		a.fail(c, err)
		return
	}
	if !ok {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		a.formError(c, http.StatusTooManyRequests, "login", "portal.login.title", a.throttledText(lang, wait), form, nil)
		return
	}
	acct, err := a.accountByEmail(ctx, email)
	if err != nil && !errors.Is(err, ErrNotFound) {
		a.fail(c, err)
		return
	}
	hash := a.dummyHash // unknown email: same work, same answer
	if acct != nil {
		hash = acct.hash
	}
	verr := password.Shared().Verify(ctx, pw, hash)
	if isBusy(verr) {
		web.Shed(c)
		c.Header("Retry-After", strconv.Itoa(retryAfterSeconds))
		a.formError(c, http.StatusServiceUnavailable, "login", "portal.login.title", a.Catalog.T(lang, "portal.busy.login"), form, nil)
		return
	}
	if acct == nil || verr != nil {
		if err := a.Throttle.Failed(ctx, email, c.ClientIP()); err != nil {
			a.fail(c, err)
			return
		}
		a.formError(c, http.StatusUnauthorized, "login", "portal.login.title", a.Catalog.T(lang, "portal.login.bad"), form, nil)
		return
	}
	if err := a.Throttle.Succeeded(ctx, email); err != nil {
		a.fail(c, err)
		return
	}
	if _, err := a.Sessions.Login(c, websession.Principal{Kind: websession.KindGuardian, ID: acct.ID}); err != nil {
		a.fail(c, err)
		return
	}
	if password.NeedsRehash(acct.hash) {
		if h, err := password.Hash(pw); err == nil {
			_, _ = a.Pool.Exec(ctx, `UPDATE portal_accounts SET password_hash = $2 WHERE id = $1`, acct.ID, h)
		}
	}
	c.Redirect(http.StatusSeeOther, websession.LocalRedirect(next, "/portal", "/portal/"))
}

func (a *App) logout(c *gin.Context) {
	if err := a.Sessions.Logout(c); err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, "/portal/login", "logged_out")
}

func (a *App) logoutEverywhere(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	if _, err := a.Sessions.LogoutEverywhere(c.Request.Context(), websession.Principal{Kind: websession.KindGuardian, ID: acct.ID}); err != nil {
		a.fail(c, err)
		return
	}
	if err := a.Sessions.Logout(c); err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, "/portal/login", "logged_out_everywhere")
}

func (a *App) registerForm(c *gin.Context) {
	a.render(c, http.StatusOK, "register", "portal.register.title", authForm{Code: c.Query("code")}, nil)
}

// throttledText says how long to wait before another attempt.
func (a *App) throttledText(lang string, wait time.Duration) string {
	if wait < time.Minute {
		return a.Catalog.T(lang, "portal.sec.throttled_seconds", int(math.Ceil(wait.Seconds())))
	}
	return a.Catalog.T(lang, "portal.login.throttled", int(math.Ceil(wait.Minutes())))
}

// checkPassword returns the message key of what is wrong with a new password.
func checkPassword(pw, again string) string {
	switch {
	case len([]rune(pw)) < school.MinPasswordLen:
		return "portal.password.short"
	case len(pw) > 256:
		return "portal.password.long"
	case pw != again:
		return "portal.password.mismatch"
	case school.CommonPassword(pw):
		return "portal.sec.password_common"
	}
	return ""
}

func passwordArgs(key string) []any {
	if key == "portal.password.short" {
		return []any{school.MinPasswordLen}
	}
	return nil
}

func (a *App) register(c *gin.Context) {
	ctx := c.Request.Context()
	lang := a.lang(c, nil)
	form := authForm{Email: strings.TrimSpace(c.PostForm("email")), Code: strings.TrimSpace(c.PostForm("code"))}
	bad := func(status int, key string, args ...any) {
		a.formError(c, status, "register", "portal.register.title", a.Catalog.T(lang, key, args...), form, nil)
	}
	// Registration attempts count apart from logins; a bad code and an
	// email that already has an account get the same answer (422, one
	// message), so the form tells nothing about who has an account.
	throttle := a.Throttle.WithScope("register")
	throttleKey := "register:" + c.ClientIP()
	ok, wait, err := throttle.Check(ctx, throttleKey, c.ClientIP())
	if err != nil {
		a.fail(c, err)
		return
	}
	if !ok {
		a.formError(c, http.StatusTooManyRequests, "register", "portal.register.title", a.throttledText(lang, wait), form, nil)
		return
	}
	code, err := NormaliseCode(form.Code)
	if err != nil {
		_ = throttle.Failed(ctx, throttleKey, c.ClientIP())
		bad(http.StatusUnprocessableEntity, "portal.sec.register_refused")
		return
	}
	email, err := school.NormaliseEmail(form.Email)
	if err != nil || email == "" {
		bad(http.StatusUnprocessableEntity, "portal.register.bad_email")
		return
	}
	if key := checkPassword(c.PostForm("password"), c.PostForm("password2")); key != "" {
		bad(http.StatusUnprocessableEntity, key, passwordArgs(key)...)
		return
	}
	hash, err := password.Hash(c.PostForm("password"))
	if err != nil {
		a.fail(c, err)
		return
	}
	id, err := a.registerAccount(ctx, code, email, hash, lang)
	switch {
	case errors.Is(err, ErrBadCode), errors.Is(err, ErrEmailTaken):
		_ = throttle.Failed(ctx, throttleKey, c.ClientIP())
		bad(http.StatusUnprocessableEntity, "portal.sec.register_refused")
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	if _, err := a.Sessions.Login(c, websession.Principal{Kind: websession.KindGuardian, ID: id}); err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, "/portal/", "registered")
}

func (a *App) linkForm(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	a.render(c, http.StatusOK, "link", "portal.link.title", authForm{}, acct)
}

func (a *App) link(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	lang := a.lang(c, acct)
	throttleKey := fmt.Sprintf("link:%d", acct.ID)
	if ok, wait, err := a.Throttle.Check(ctx, throttleKey, c.ClientIP()); err != nil {
		a.fail(c, err)
		return
	} else if !ok {
		a.formError(c, http.StatusTooManyRequests, "link", "portal.link.title", a.throttledText(lang, wait), authForm{}, acct)
		return
	}
	code, err := NormaliseCode(c.PostForm("code"))
	if err == nil {
		err = pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error { return a.redeem(ctx, tx, code, acct.ID) })
		a.forgetAccount(acct.ID) // its guardians are kept with it
	}
	if errors.Is(err, ErrBadCode) {
		_ = a.Throttle.Failed(ctx, throttleKey, c.ClientIP())
		a.formError(c, http.StatusUnprocessableEntity, "link", "portal.link.title", a.Catalog.T(lang, "portal.register.bad_code"), authForm{Code: c.PostForm("code")}, acct)
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, "/portal/", "linked")
}

func (a *App) forgotForm(c *gin.Context) {
	a.render(c, http.StatusOK, "forgot", "portal.forgot.title", authForm{}, nil)
}

// forgotTimeout bounds the work of one password reset request after the
// answer (look-up, token, email).
const forgotTimeout = time.Minute

func (a *App) forgot(c *gin.Context) {
	ctx := c.Request.Context()
	email := strings.TrimSpace(c.PostForm("email"))
	if !websession.PlausibleCredentials(email, "") {
		a.flash(c, "/portal/login", "reset_sent")
		return
	}
	// Bound the emails one address can trigger, per address and per
	// client, apart from the logins (a reset request is no failed login).
	throttle := a.Throttle.WithScope("forgot")
	if ok, _, err := throttle.Check(ctx, email, c.ClientIP()); err != nil {
		a.fail(c, err)
		return
	} else if ok {
		if err := throttle.Failed(ctx, email, c.ClientIP()); err != nil {
			a.fail(c, err)
			return
		}
		// The same answer, in the same time, whether the email is known or
		// not: the look-up, the token and the email happen after the answer.
		// There is no job queue yet: a goroutine detached from the request,
		// with its own deadline, does it (lost if the server stops first;
		// the parent asks again).
		go a.sendReset(context.WithoutCancel(ctx), email)
	}
	a.flash(c, "/portal/login", "reset_sent")
}

// sendReset emails a password reset link to the account of email, if any.
func (a *App) sendReset(ctx context.Context, email string) {
	ctx, cancel := context.WithTimeout(ctx, forgotTimeout)
	defer cancel()
	acct, err := a.accountByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return
	}
	if err != nil {
		a.Log.Error("password reset: look up account", "err", err)
		return
	}
	tok, exp, err := a.resetToken(ctx, acct.ID)
	if err != nil {
		a.Log.Error("password reset: token", "account", acct.ID, "err", err)
		return
	}
	msg, err := a.emails.Render(acct.Email, acct.Language, mail.PasswordReset{Link: a.BaseURL + "/portal/reset/" + tok, Expires: exp.In(brussels())})
	if err == nil {
		err = a.Mail.Send(ctx, msg)
	}
	if err != nil {
		a.Log.Error("password reset email", "account", acct.ID, "err", err)
	}
}

func (a *App) resetForm(c *gin.Context) {
	if _, err := a.checkResetToken(c.Request.Context(), c.Param("token")); err != nil {
		if errors.Is(err, ErrBadToken) {
			a.render(c, http.StatusNotFound, "reset_invalid", "portal.reset.title", nil, nil)
			return
		}
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "reset", "portal.reset.title", authForm{Token: c.Param("token")}, nil)
}

func (a *App) reset(c *gin.Context) {
	ctx := c.Request.Context()
	tok := c.Param("token")
	lang := a.lang(c, nil)
	if key := checkPassword(c.PostForm("password"), c.PostForm("password2")); key != "" {
		a.formError(c, http.StatusUnprocessableEntity, "reset", "portal.reset.title", a.Catalog.T(lang, key, passwordArgs(key)...), authForm{Token: tok}, nil)
		return
	}
	hash, err := password.Hash(c.PostForm("password"))
	if err != nil {
		a.fail(c, err)
		return
	}
	id, err := a.useResetToken(ctx, tok, hash)
	if errors.Is(err, ErrBadToken) {
		a.render(c, http.StatusNotFound, "reset_invalid", "portal.reset.title", nil, nil)
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	if err := a.sessionsAfterPasswordChange(c, id); err != nil {
		a.fail(c, err)
		return
	}
	a.flash(c, "/portal/", "password_changed")
}

// sessionsAfterPasswordChange ends every session of the account (a stolen
// one among them) and logs this browser in on a fresh one.
func (a *App) sessionsAfterPasswordChange(c *gin.Context, accountID int64) error {
	p := websession.Principal{Kind: websession.KindGuardian, ID: accountID}
	if _, err := a.Sessions.LogoutEverywhere(c.Request.Context(), p); err != nil {
		return err
	}
	_, err := a.Sessions.Login(c, p)
	return err
}

func (a *App) setLang(c *gin.Context) {
	lang := web.SetLang(c, strings.HasPrefix(a.BaseURL, "https:"))
	if acct, _ := a.currentAccount(c); acct != nil {
		_, err := a.Pool.Exec(c.Request.Context(), `UPDATE portal_accounts SET language = $2 WHERE id = $1`, acct.ID, lang)
		a.forgetAccount(acct.ID)
		if err != nil {
			a.fail(c, err)
			return
		}
	}
	c.Redirect(http.StatusSeeOther, websession.LocalRedirect(c.PostForm("back"), "/portal", "/portal/"))
}
