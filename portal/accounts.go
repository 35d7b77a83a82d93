package portal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/internal/websession"
	"tartine/school"
)

// Errors of the account services.
var (
	// ErrBadCode: the invitation code is unknown, used or expired.
	ErrBadCode = errors.New("portal: invalid invitation code")
	// ErrEmailTaken: another account has this email.
	ErrEmailTaken = errors.New("portal: email already registered")
	// ErrBadToken: the reset link is unknown, used or expired.
	ErrBadToken = errors.New("portal: invalid reset link")
	// ErrNotFound: no such account.
	ErrNotFound = errors.New("portal: not found")
)

// account is a portal login.
type account struct {
	ID        int64
	Email     string
	Language  string
	Threshold decimal.Decimal
	Alert     bool
	// The emails the account chose on the settings page (wants).
	emailTopUps, emailBookings bool
	hash                       string
	// family is the account's guardian rows (portal_account_guardians),
	// read with the account: its children are theirs (school.FamilyPupils).
	family []school.GuardianRef
}

const accountCols = `id, email, language, low_balance_threshold, low_balance_alert, password_hash, email_topups, email_bookings`

// familyCols are the account's guardian rows, after accountCols in a query
// of portal_accounts (scanAccountFamily).
const familyCols = `,
	ARRAY(SELECT ag.tenant_id FROM portal_account_guardians ag WHERE ag.account_id = portal_accounts.id ORDER BY ag.tenant_id, ag.guardian_id),
	ARRAY(SELECT ag.guardian_id FROM portal_account_guardians ag WHERE ag.account_id = portal_accounts.id ORDER BY ag.tenant_id, ag.guardian_id)`

func scanAccount(row pgx.Row) (*account, error) {
	var a account
	if err := row.Scan(&a.ID, &a.Email, &a.Language, &a.Threshold, &a.Alert, &a.hash, &a.emailTopUps, &a.emailBookings); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("portal: read account: %w", err)
	}
	return &a, nil
}

// scanAccountFamily reads accountCols and familyCols.
func scanAccountFamily(row pgx.Row) (*account, error) {
	var a account
	var tenants, guardians []int64
	if err := row.Scan(&a.ID, &a.Email, &a.Language, &a.Threshold, &a.Alert, &a.hash, &a.emailTopUps, &a.emailBookings, &tenants, &guardians); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("portal: read account: %w", err)
	}
	if len(tenants) != len(guardians) {
		return nil, fmt.Errorf("portal: read account %d: %d tenants for %d guardians", a.ID, len(tenants), len(guardians))
	}
	a.family = make([]school.GuardianRef, len(tenants))
	for i := range tenants {
		a.family[i] = school.GuardianRef{TenantID: tenants[i], ID: guardians[i]}
	}
	return &a, nil
}

func (a *App) accountByID(ctx context.Context, id int64) (*account, error) {
	return scanAccountFamily(a.Pool.QueryRow(ctx, `SELECT `+accountCols+familyCols+` FROM portal_accounts WHERE id = $1`, id))
}

func (a *App) accountByEmail(ctx context.Context, email string) (*account, error) {
	return scanAccountFamily(a.Pool.QueryRow(ctx, `SELECT `+accountCols+familyCols+` FROM portal_accounts WHERE lower(email) = lower($1)`, email))
}

// Accounts in memory (issue 17: every request of the rush read its
// account). An account read by id is kept accountTTL, without its password
// hash (passwordHash reads it when needed); every write of the portal's
// accounts forgets it once its transaction has ended (forgetAccount), so
// that only another process's writes are seen late, at most accountTTL.
const accountTTL = 10 * time.Second

type cachedAccount struct {
	acct account
	at   time.Time
}

type accountCache struct {
	mu sync.Mutex
	m  map[int64]cachedAccount
}

// cachedAccount returns a copy of the account if it is fresh in memory.
func (a *App) cachedAccount(id int64) (*account, bool) {
	a.accounts.mu.Lock()
	defer a.accounts.mu.Unlock()
	e, ok := a.accounts.m[id]
	if !ok || time.Since(e.at) >= accountTTL {
		return nil, false
	}
	acct := e.acct
	return &acct, true
}

// rememberAccount keeps acct, without its hash.
func (a *App) rememberAccount(acct *account) {
	kept := *acct
	kept.hash = ""
	a.accounts.mu.Lock()
	defer a.accounts.mu.Unlock()
	if a.accounts.m == nil || len(a.accounts.m) >= 50_000 {
		a.accounts.m = map[int64]cachedAccount{}
	}
	a.accounts.m[acct.ID] = cachedAccount{acct: kept, at: time.Now()}
}

// forgetAccount drops the account from memory: call it after a write to
// portal_accounts has committed (or rolled back).
func (a *App) forgetAccount(id int64) {
	a.accounts.mu.Lock()
	defer a.accounts.mu.Unlock()
	delete(a.accounts.m, id)
}

// passwordHash reads the account's password hash (never kept in memory).
func (a *App) passwordHash(ctx context.Context, id int64) (string, error) {
	var h string
	if err := a.Pool.QueryRow(ctx, `SELECT password_hash FROM portal_accounts WHERE id = $1`, id).Scan(&h); err != nil {
		return "", fmt.Errorf("portal: read password hash: %w", err)
	}
	return h, nil
}

// currentAccount returns the logged-in account, or nil.
func (a *App) currentAccount(c *gin.Context) (*account, error) {
	if v, ok := c.Get("portal_account"); ok {
		return v.(*account), nil
	}
	p := websession.CurrentPrincipal(c)
	if p == nil || p.Kind != websession.KindGuardian {
		return nil, nil
	}
	if acct, ok := a.cachedAccount(p.ID); ok {
		c.Set("portal_account", acct)
		return acct, nil
	}
	acct, err := a.accountByID(c.Request.Context(), p.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a.rememberAccount(acct)
	c.Set("portal_account", acct)
	return acct, nil
}

// mustAccount returns the logged-in account or answers the request.
func (a *App) mustAccount(c *gin.Context) (*account, bool) {
	acct, err := a.currentAccount(c)
	if err != nil {
		a.fail(c, err)
		return nil, false
	}
	if acct == nil {
		a.toLogin(c)
		c.Abort()
		return nil, false
	}
	return acct, true
}

// Invitation codes: 12 characters of an alphabet without look-alikes
// (no 0/O, 1/I/L), shown as XXXX-XXXX-XXXX: about 59 bits.
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// NewInvitationCode returns a random invitation code "XXXX-XXXX-XXXX".
func NewInvitationCode() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("portal: random code: %w", err)
	}
	var s strings.Builder
	for i, v := range b {
		if i > 0 && i%4 == 0 {
			s.WriteByte('-')
		}
		// 256 % 31 bias is negligible for a code that is also throttled.
		s.WriteByte(codeAlphabet[int(v)%len(codeAlphabet)])
	}
	return s.String(), nil
}

// NormaliseCode reads a typed invitation code: case, spaces and dashes are
// ignored, look-alike letters are mapped (O→0 is not in the alphabet, so O is
// refused). It returns ErrBadCode when the input cannot be a code.
func NormaliseCode(s string) (string, error) {
	var out []byte
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r < 128 && strings.IndexByte(codeAlphabet, byte(r)) >= 0:
			out = append(out, byte(r))
		default:
			return "", fmt.Errorf("%w: character %q", ErrBadCode, r)
		}
		if len(out) > 12 {
			return "", fmt.Errorf("%w: too long", ErrBadCode)
		}
	}
	if len(out) != 12 {
		return "", fmt.Errorf("%w: want 12 characters", ErrBadCode)
	}
	return string(out[:4]) + "-" + string(out[4:8]) + "-" + string(out[8:]), nil
}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// Invitation is a freshly issued invitation (the code is shown once).
type Invitation struct {
	TenantID   int64
	GuardianID int64
	Code       string
	Expires    time.Time
}

// IssueInvitation creates a new one-time code for the guardian and cancels
// its unused older codes. The code is valid for 180 days.
func (a *App) IssueInvitation(ctx context.Context, tenantID, guardianID int64) (Invitation, error) {
	code, err := NewInvitationCode()
	if err != nil {
		return Invitation{}, err
	}
	now := a.Now()
	inv := Invitation{TenantID: tenantID, GuardianID: guardianID, Code: code, Expires: now.AddDate(0, 0, 180)}
	err = pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE portal_invitations SET expires_at = $3 WHERE tenant_id = $1 AND guardian_id = $2
			AND used_at IS NULL AND expires_at > $3`, tenantID, guardianID, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO portal_invitations (tenant_id, guardian_id, code_hash, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, tenantID, guardianID, hashSecret(code), now, inv.Expires)
		return err
	})
	if err != nil {
		return Invitation{}, fmt.Errorf("portal: issue invitation: %w", err)
	}
	return inv, nil
}

// redeem links the guardian of a valid code to the account, in tx.
func (a *App) redeem(ctx context.Context, tx pgx.Tx, code string, accountID int64) error {
	now := a.Now()
	var tenantID, guardianID, invID int64
	err := tx.QueryRow(ctx, `SELECT tenant_id, id, guardian_id FROM portal_invitations
		WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE`, hashSecret(code), now).Scan(&tenantID, &invID, &guardianID)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrBadCode
	}
	if err != nil {
		return err
	}
	var owner int64
	err = tx.QueryRow(ctx, `SELECT account_id FROM portal_account_guardians WHERE tenant_id = $1 AND guardian_id = $2`, tenantID, guardianID).Scan(&owner)
	switch {
	case err == nil && owner != accountID:
		// The guardian already has another login: a code cannot move it.
		return ErrBadCode
	case err == nil:
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO portal_account_guardians (tenant_id, guardian_id, account_id, linked_at) VALUES ($1, $2, $3, $4)`,
			tenantID, guardianID, accountID, now); err != nil {
			return err
		}
	default:
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE portal_invitations SET used_at = $3, account_id = $4 WHERE tenant_id = $1 AND id = $2`, tenantID, invID, now, accountID)
	return err
}

// register creates an account from an invitation code.
func (a *App) registerAccount(ctx context.Context, code, email, hash, lang string) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM portal_accounts WHERE lower(email) = lower($1)`, email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrEmailTaken
		}
		if err := tx.QueryRow(ctx, `INSERT INTO portal_accounts (email, password_hash, language, created_at, password_changed_at)
			VALUES ($1, $2, $3, $4, $4) RETURNING id`, email, hash, lang, a.Now()).Scan(&id); err != nil {
			return err
		}
		return a.redeem(ctx, tx, code, id)
	})
	if err != nil {
		if errors.Is(err, ErrBadCode) || errors.Is(err, ErrEmailTaken) {
			return 0, err
		}
		if strings.Contains(err.Error(), "portal_accounts_email") {
			return 0, ErrEmailTaken
		}
		return 0, fmt.Errorf("portal: register: %w", err)
	}
	return id, nil
}

// resetToken creates a password reset token valid for an hour.
func (a *App) resetToken(ctx context.Context, accountID int64) (string, time.Time, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, err
	}
	tok := fmt.Sprintf("%x", b)
	now := a.Now()
	exp := now.Add(time.Hour)
	if _, err := a.Pool.Exec(ctx, `INSERT INTO portal_password_resets (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hashSecret(tok), accountID, now, exp); err != nil {
		return "", time.Time{}, fmt.Errorf("portal: reset token: %w", err)
	}
	return tok, exp, nil
}

// checkResetToken returns the account of a valid, unused token.
func (a *App) checkResetToken(ctx context.Context, tok string) (int64, error) {
	var id int64
	err := a.Pool.QueryRow(ctx, `SELECT account_id FROM portal_password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`,
		hashSecret(tok), a.Now()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrBadToken
	}
	if err != nil {
		return 0, fmt.Errorf("portal: reset token: %w", err)
	}
	return id, nil
}

// useResetToken sets the new password and burns the token (and every other
// token of the account) in one transaction; it returns the account id.
func (a *App) useResetToken(ctx context.Context, tok, hash string) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE portal_password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
			RETURNING account_id`, hashSecret(tok), a.Now()).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrBadToken
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE portal_password_resets SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL`, id, a.Now()); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE portal_accounts SET password_hash = $2, password_changed_at = $3 WHERE id = $1`, id, hash, a.Now())
		return err
	})
	a.forgetAccount(id)
	if err != nil && !errors.Is(err, ErrBadToken) {
		return 0, fmt.Errorf("portal: reset password: %w", err)
	}
	return id, err
}

// child is a pupil as the portal shows it to a guardian: school's family
// view of the pupil (GuardianID is the account's guardian linked to it).
type child struct {
	school.FamilyPupil
	Allergens []string // the pupil's allergen codes, as the menu's Contains takes them
}

// Path is the URL prefix of the child's pages.
func (ch child) Path() string {
	return "/portal/c/" + strconv.FormatInt(ch.TenantID, 10) + "/" + strconv.FormatInt(ch.ID, 10)
}

// Name is the first name and last name.
func (ch child) Name() string { return ch.FirstName + " " + ch.LastName }

// Actor is the booking and ledger actor for the guardian.
func (ch child) Actor() string { return "guardian:" + strconv.FormatInt(ch.GuardianID, 10) }

// childOf is the portal's view of the school's pupil of the family.
func childOf(p school.FamilyPupil) child {
	ch := child{FamilyPupil: p, Allergens: make([]string, len(p.Allergens))}
	for i, al := range p.Allergens {
		ch.Allergens[i] = string(al)
	}
	return ch
}

func childrenOf(ps []school.FamilyPupil, err error) ([]child, error) {
	if err != nil {
		return nil, fmt.Errorf("portal: children: %w", err)
	}
	out := make([]child, len(ps))
	for i, p := range ps {
		out[i] = childOf(p)
	}
	return out, nil
}

// children lists the account's children, all tenants, by first name.
func (a *App) children(ctx context.Context, acct *account) ([]child, error) {
	return childrenOf(a.School.FamilyPupils(ctx, acct.family, false))
}

// childrenAll is children with the inactive ones (the family export).
func (a *App) childrenAll(ctx context.Context, acct *account) ([]child, error) {
	return childrenOf(a.School.FamilyPupils(ctx, acct.family, true))
}

// childByID returns the pupil when the account is linked to it in the tenant;
// ErrNotFound otherwise. This is the one access check of the portal.
func (a *App) childByID(ctx context.Context, acct *account, tenantID, pupilID int64) (child, error) {
	p, err := a.School.FamilyPupil(ctx, acct.family, tenantID, pupilID)
	if errors.Is(err, school.ErrNotFound) {
		return child{}, ErrNotFound
	}
	if err != nil {
		return child{}, fmt.Errorf("portal: child: %w", err)
	}
	return childOf(p), nil
}

// child reads :tenant and :pupil from the URL and returns the pupil if the
// logged-in account may see it; otherwise it answers 404 (or redirects to
// the login) and returns false. Every per-pupil handler starts with it.
func (a *App) child(c *gin.Context) (*account, child, bool) {
	tenantID, err1 := strconv.ParseInt(c.Param("tenant"), 10, 64)
	pupilID, err2 := strconv.ParseInt(c.Param("pupil"), 10, 64)
	valid := err1 == nil && err2 == nil && tenantID > 0 && pupilID > 0
	acct, ok := a.mustAccount(c)
	if !ok {
		return nil, child{}, false
	}
	if !valid {
		a.notFound(c)
		return nil, child{}, false
	}
	ch, err := a.childByID(c.Request.Context(), acct, tenantID, pupilID)
	if errors.Is(err, ErrNotFound) {
		a.notFound(c)
		return nil, child{}, false
	}
	if err != nil {
		a.fail(c, err)
		return nil, child{}, false
	}
	return acct, ch, true
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
