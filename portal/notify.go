package portal

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/mail"
	"tartine/payments"
	"tartine/school"
)

// Notices sends the family emails that other services ask for ("top-up
// received": payments' card top-ups, the kiosk cash desk) and those the
// portal sends itself. It needs no portal: it is built first, before the
// payments that notify and the portal that starts their top-ups.
type Notices struct {
	pool    *pgxpool.Pool
	school  *school.Store
	booking *booking.Manager
	mail    Sender
	emails  *mail.Templates
	log     *slog.Logger
	baseURL string
}

// NewNotices returns the notices on the portal's dependencies (Pool,
// School, Booking, Mail, Log and BaseURL are used).
func NewNotices(d Deps) (*Notices, error) {
	if d.Pool == nil || d.School == nil || d.Booking == nil || d.Mail == nil {
		return nil, errors.New("portal notices: missing dependency")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	emails, err := mail.LoadTemplates()
	if err != nil {
		return nil, err
	}
	return &Notices{pool: d.Pool, school: d.School, booking: d.Booking, mail: d.Mail, emails: emails, log: d.Log,
		baseURL: strings.TrimRight(d.BaseURL, "/")}, nil
}

// notices are the portal's own, on its dependencies.
func (a *App) notices() *Notices {
	return &Notices{pool: a.Pool, school: a.School, booking: a.Booking, mail: a.Mail, emails: a.emails, log: a.Log, baseURL: a.BaseURL}
}

// sendToAccount renders e in the account's language and sends it, unless
// the account switched such emails off; errors are logged (an email never
// undoes what the family did).
func (a *App) sendToAccount(ctx context.Context, acct *account, e mail.Email) {
	a.notices().sendToAccount(ctx, acct, e)
}

func (n *Notices) sendToAccount(ctx context.Context, acct *account, e mail.Email) {
	// Emails the parent switched off on the settings page are not sent.
	if ok, err := wantsEmailIn(ctx, n.pool, acct.ID, e); err != nil || !ok {
		if err != nil {
			n.log.Error("portal email choices", "account", acct.ID, "err", err)
		}
		return
	}
	msg, err := n.emails.Render(acct.Email, acct.Language, e)
	if err == nil {
		err = n.mail.Send(ctx, msg)
	}
	if err != nil {
		n.log.Error("portal email", "account", acct.ID, "err", err)
	}
}

// accountsOfPupil returns the portal accounts linked to the pupil.
func (a *App) accountsOfPupil(ctx context.Context, tenantID, pupilID int64) ([]*account, error) {
	return a.notices().accountsOfPupil(ctx, tenantID, pupilID)
}

func (n *Notices) accountsOfPupil(ctx context.Context, tenantID, pupilID int64) ([]*account, error) {
	guardians, err := n.school.GuardiansOfPupil(ctx, tenantID, pupilID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(guardians))
	for i, g := range guardians {
		ids[i] = g.ID
	}
	rows, err := n.pool.Query(ctx, `SELECT DISTINCT `+accountCols+`
		FROM portal_account_guardians ag JOIN portal_accounts a ON a.id = ag.account_id
		WHERE ag.tenant_id = $1 AND ag.guardian_id = ANY($2)`, tenantID, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*account, error) { return scanAccount(r) })
}

// LowBalanceCheck emails every account linked to the pupil whose alert is on
// and whose threshold is above the wallet's available balance, at most once
// per 24 hours per account and pupil. The terminal and payments may call it
// after charging a wallet. Errors are logged.
func (a *App) LowBalanceCheck(ctx context.Context, tenantID, pupilID int64) {
	if err := a.lowBalanceCheck(ctx, tenantID, pupilID); err != nil {
		a.Log.Error("low balance check", "tenant", tenantID, "pupil", pupilID, "err", err)
	}
}

// lowBalanceCheckChild is LowBalanceCheck for a child the page has read
// already (its wallet and first name): no read of the pupil again.
func (a *App) lowBalanceCheckChild(ctx context.Context, ch child) {
	if err := a.lowBalanceFor(ctx, ch.TenantID, ch.ID, ch.WalletID, ch.FirstName); err != nil {
		a.Log.Error("low balance check", "tenant", ch.TenantID, "pupil", ch.ID, "err", err)
	}
}

func (a *App) lowBalanceCheck(ctx context.Context, tenantID, pupilID int64) error {
	p, err := a.School.Pupil(ctx, tenantID, pupilID)
	if err != nil {
		return err
	}
	return a.lowBalanceFor(ctx, tenantID, pupilID, p.WalletAccountID, p.FirstName)
}

func (a *App) lowBalanceFor(ctx context.Context, tenantID, pupilID, wallet int64, first string) error {
	if wallet == 0 {
		return nil
	}
	bal, err := a.Booking.Wallet(ctx, tenantID, wallet)
	if err != nil {
		return err
	}
	return a.lowBalanceWith(ctx, tenantID, pupilID, first, bal)
}

// lowBalanceAfter is lowBalanceCheckChild after a booking that read the
// child's wallet in its transaction (bal, its hold included), for acct, the
// account that booked: the wallet is not read again, and a balance at or
// above the highest threshold with alerts on (WalletDebited's filter, read
// at most once a minute) and above acct's own threshold is dismissed
// without a query. acct's own threshold is the one just saved (the account
// in memory is dropped on every change of it); another account's new
// threshold counts within a minute (ceilingTTL).
func (a *App) lowBalanceAfter(ctx context.Context, ch child, acct *account, bal booking.WalletBalance) {
	if !acct.Alert || !bal.Available.LessThan(acct.Threshold) {
		top, err := a.ceiling.get(ctx, a)
		if err != nil {
			a.Log.Error("low balance check", "tenant", ch.TenantID, "pupil", ch.ID, "err", err)
			return
		}
		if top == nil || !bal.Available.LessThan(*top) {
			return
		}
	}
	if err := a.lowBalanceWith(ctx, ch.TenantID, ch.ID, ch.FirstName, bal); err != nil {
		a.Log.Error("low balance check", "tenant", ch.TenantID, "pupil", ch.ID, "err", err)
	}
}

// lowBalanceWith is the low-balance check of a pupil whose wallet balance
// is bal: every linked account with alerts on and a threshold above the
// available balance is emailed, at most once per 24 hours.
func (a *App) lowBalanceWith(ctx context.Context, tenantID, pupilID int64, first string, bal booking.WalletBalance) error {
	accts, err := a.accountsOfPupil(ctx, tenantID, pupilID)
	if err != nil {
		return err
	}
	now := a.Now()
	for _, acct := range accts {
		if !acct.Alert || !bal.Available.LessThan(acct.Threshold) {
			continue
		}
		e := mail.LowBalance{Child: first, Balance: bal.Balance, Available: bal.Available, Threshold: acct.Threshold,
			Link: a.BaseURL + "/portal/c/" + itoa(tenantID) + "/" + itoa(pupilID) + "/topup"}
		// The alert is marked sent in the transaction that enqueues it
		// (with a queue, TxSender): marked exactly when it will be sent.
		err := pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO portal_low_balance_alerts (tenant_id, pupil_id, account_id, sent_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (tenant_id, pupil_id, account_id) DO UPDATE SET sent_at = excluded.sent_at
				WHERE portal_low_balance_alerts.sent_at <= $5`, tenantID, pupilID, acct.ID, now, now.Add(-24*time.Hour))
			if err != nil || tag.RowsAffected() == 0 {
				return err // nil: alerted recently
			}
			q, ok := a.Mail.(TxSender)
			if !ok {
				a.sendToAccount(ctx, acct, e)
				return nil
			}
			msg, err := a.emails.Render(acct.Email, acct.Language, e)
			if err != nil {
				return err
			}
			return q.SendTx(ctx, tx, msg)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// enqueueInTx enqueues e for acct in tx, the transaction of what it
// confirms, when the portal's mailer is a queue (TxSender), unless the
// account switched such emails off (as acct was read for the request: a
// change made through another server process counts within accountTTL;
// issue 17: no query of its own in the booking's transaction): true when it was so
// handled (enqueued, not wanted, or not renderable: logged), false when the
// caller must send it itself (no queue). An error leaves tx to roll back.
func (a *App) enqueueInTx(ctx context.Context, tx pgx.Tx, acct *account, e mail.Email) (bool, error) {
	q, ok := a.Mail.(TxSender)
	if !ok {
		return false, nil
	}
	if !acct.wants(e) {
		return true, nil
	}
	msg, err := a.emails.Render(acct.Email, acct.Language, e)
	if err != nil {
		a.Log.Error("portal email", "account", acct.ID, "err", err)
		return true, nil
	}
	return true, q.SendTx(ctx, tx, msg)
}

// rowReader is a pool or a transaction.
type rowReader interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// wantsEmailIn reports, read through q (the pool or the caller's
// transaction), whether the account chose to get emails like e: top-up and
// booking emails can be switched off on the settings page (low-balance
// alerts have their own check); every other email is always sent. An
// account gone is no.
func wantsEmailIn(ctx context.Context, q rowReader, accountID int64, e mail.Email) (bool, error) {
	which := emailChoice(e)
	if which == "" {
		return true, nil
	}
	var on bool
	err := q.QueryRow(ctx, `SELECT CASE $2 WHEN 'topups' THEN email_topups ELSE email_bookings END FROM portal_accounts WHERE id = $1`,
		accountID, which).Scan(&on)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return on, err
}

// emailChoice is the settings page's choice that e depends on: "topups",
// "bookings", or "" (always sent).
func emailChoice(e mail.Email) string {
	switch e.(type) {
	case mail.TopUpReceived:
		return "topups"
	case mail.BookingConfirmation:
		return "bookings"
	}
	return ""
}

// wants is wantsEmailIn for the account as read.
func (acct *account) wants(e mail.Email) bool {
	switch emailChoice(e) {
	case "topups":
		return acct.emailTopUps
	case "bookings":
		return acct.emailBookings
	}
	return true
}

// WalletDebited is the terminal's notice that a tap (a meal, daycare)
// charged a pupil's wallet, available being what it has left: below the
// alert threshold of an account linked to the pupil, LowBalanceCheck emails
// that account (at most once per 24 hours). The canteen charges hundreds
// of wallets in half an hour, most of them far above every threshold: those
// are dismissed against the highest threshold of the accounts with alerts
// on, read at most once a minute, without a query of their own.
func (a *App) WalletDebited(ctx context.Context, tenantID, pupilID int64, available decimal.Decimal) {
	top, err := a.ceiling.get(ctx, a)
	if err != nil {
		a.Log.Error("low balance check", "tenant", tenantID, "pupil", pupilID, "err", err)
		return
	}
	if top == nil || !available.LessThan(*top) {
		return
	}
	a.LowBalanceCheck(ctx, tenantID, pupilID)
}

// alertCeiling caches the highest low-balance threshold of the accounts
// with alerts on (nil: no such account).
type alertCeiling struct {
	mu   sync.Mutex
	top  *decimal.Decimal
	read time.Time
}

// ceilingTTL is how long a threshold change may take to count in
// WalletDebited's filter.
const ceilingTTL = time.Minute

func (c *alertCeiling) get(ctx context.Context, a *App) (*decimal.Decimal, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := a.Now()
	if !c.read.IsZero() && now.Sub(c.read) < ceilingTTL && now.After(c.read) {
		return c.top, nil
	}
	var top *decimal.Decimal
	if err := a.Pool.QueryRow(ctx, `SELECT max(low_balance_threshold) FROM portal_accounts WHERE low_balance_alert`).Scan(&top); err != nil {
		return nil, err
	}
	c.top, c.read = top, now
	return top, nil
}

// TopUpReceived emails the accounts linked to the pupil that money arrived
// (it implements payments.Notifier).
func (a *App) TopUpReceived(ctx context.Context, n payments.TopUpNotice) error {
	return a.notices().TopUpReceived(ctx, n)
}

// TopUpReceivedBy is TopUpReceived for other methods (bank transfer, cash).
func (a *App) TopUpReceivedBy(ctx context.Context, tenantID, pupilID int64, amount decimal.Decimal, method string) error {
	return a.notices().TopUpReceivedBy(ctx, tenantID, pupilID, amount, method)
}

// TopUpReceived emails the accounts linked to the pupil that money arrived
// by card (it implements payments.Notifier).
func (n *Notices) TopUpReceived(ctx context.Context, t payments.TopUpNotice) error {
	return n.TopUpReceivedBy(ctx, t.TenantID, t.PupilID, t.Amount, "card")
}

// TopUpReceivedBy sends "top-up received" for any method (card,
// bancontact, transfer, cash).
func (n *Notices) TopUpReceivedBy(ctx context.Context, tenantID, pupilID int64, amount decimal.Decimal, method string) error {
	p, err := n.school.Pupil(ctx, tenantID, pupilID)
	if err != nil {
		return err
	}
	bal, err := n.booking.Wallet(ctx, tenantID, p.WalletAccountID)
	if err != nil {
		return err
	}
	accts, err := n.accountsOfPupil(ctx, tenantID, pupilID)
	if err != nil {
		return err
	}
	for _, acct := range accts {
		n.sendToAccount(ctx, acct, mail.TopUpReceived{Child: p.FirstName, Amount: amount, Balance: bal.Balance, Available: bal.Available, Method: method,
			Link: n.baseURL + "/portal/c/" + itoa(tenantID) + "/" + itoa(pupilID) + "/history"})
	}
	return nil
}
