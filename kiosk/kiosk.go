package kiosk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/ledger"
	"tartine/payments"
	"tartine/school"
)

// Kiosk cash desk
//
// A cash top-up moves money from the kiosk's cash drawer account
// cash:<station> (asset, debited) to the pupil's wallet (liability,
// credited), with the idempotency key "kiosk-topup:<form token>": the form
// carries a one-time token, so a double submit records one top-up and one
// receipt. A drawer closing compares the counted cash with the drawer's
// ledger balance (the previous count plus every posting since, which is
// what the drawer should hold) and posts the difference to
// expense:cash-over-short with the key "drawer-close:<form token>".
//
// Top-ups and closings of one drawer are serialised by a transaction-scoped
// advisory lock (class 21, station id), so a closing never misses a top-up
// that was being recorded and receipt numbers are gap-free per drawer and
// day.

// Limits of the kiosk, in cents: one cash top-up is between 1 € and
// 500 €; a drawer count is at most 100 000 € (to catch a misplaced comma).
const (
	KioskMinTopUpCents = 100
	KioskMaxTopUpCents = 50000
	KioskMaxCountCents = 10000000
)

// Cents is an amount of n cents.
func Cents(n int64) decimal.Decimal { return decimal.New(n, -2) }

// Ledger transfer kinds of the kiosk.
const (
	KindKioskTopUp    = "kiosk-topup"
	KindCashOverShort = "cash-over-short"
)

// Errors of the kiosk.
var (
	// ErrNotKiosk: the station is not a kiosk or has no cash drawer.
	ErrNotKiosk = errors.New("kiosk: not a kiosk station with a cash drawer")
	// ErrAmountRange: a top-up outside [KioskMinTopUpCents, KioskMaxTopUpCents] or a
	// count above KioskMaxCountCents.
	ErrAmountRange = errors.New("kiosk: amount out of range")
	// ErrFormUsed: the one-time form token was already used for another
	// request (another pupil or amount).
	ErrFormUsed = errors.New("kiosk: form already submitted with other values")
	// ErrBadFormToken: the one-time form token is missing or malformed.
	ErrBadFormToken = errors.New("kiosk: missing or malformed form token")
	// ErrPupilUnavailable: the pupil is inactive, of another school or has
	// no wallet.
	ErrPupilUnavailable = errors.New("kiosk: pupil cannot be topped up here")
)

// TopUpRequest is a cash top-up at a kiosk.
type TopUpRequest struct {
	TenantID  int64
	Station   string // kiosk station code
	PupilID   int64
	Amount    decimal.Decimal
	FormToken string // one-time token of the form (hex, 16–64 characters)
	Actor     string // "staff:<id>"
}

// Receipt is a recorded cash top-up.
type Receipt struct {
	TenantID   int64
	ID         int64
	Reference  string // K-<station>-<yyyymmdd>-<seq>
	StationID  int64
	Station    string
	PupilID    int64
	Amount     decimal.Decimal
	TransferID int64
	Actor      string
	CreatedAt  time.Time
	FormToken  string
	// Void (kiosk_void.go): when, by whom, why, and the ledger reversal;
	// VoidedAt is nil for a receipt that stands.
	VoidedAt       *time.Time
	VoidedBy       string
	VoidReason     string
	VoidTransferID int64
	// Read back with the receipt (not stored on it).
	FirstName, LastName, Class string
	// Replay is true when a repeated request returned this receipt.
	Replay bool
}

// PupilName is the pupil's "First L." display name.
func (r Receipt) PupilName() string { return school.DisplayName(r.FirstName, r.LastName) }

// CloseRequest is a cash drawer closing.
type CloseRequest struct {
	TenantID  int64
	Station   string
	Counted   decimal.Decimal // cash counted in the drawer
	FormToken string
	Actor     string
}

// Closing is a recorded drawer closing.
type Closing struct {
	TenantID   int64
	ID         int64
	StationID  int64
	Station    string
	ClosedAt   time.Time
	Since      time.Time       // previous closing; zero for the first
	Opening    decimal.Decimal // what the previous closing counted (0 for the first)
	Expected   decimal.Decimal // drawer's ledger balance at closing, before the over/short
	Counted    decimal.Decimal
	Difference decimal.Decimal // counted − expected: > 0 over, < 0 short
	TransferID int64           // over/short transfer; 0 when exact
	Actor      string
	FormToken  string
	// Replay is true when a repeated request returned this closing.
	Replay bool
}

// Movements is what entered or left the drawer since the previous closing.
func (c Closing) Movements() decimal.Decimal { return c.Expected.Sub(c.Opening) }

// ValidFormToken reports whether tok looks like a token the kiosk forms
// issue (hex, 16 to 64 characters).
func ValidFormToken(tok string) bool {
	if len(tok) < 16 || len(tok) > 64 {
		return false
	}
	for _, r := range tok {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// Station returns the tenant's kiosk station with this code, or
// ErrNotFound / ErrNotKiosk.
func (s *Service) Station(ctx context.Context, tenantID int64, code string) (school.Station, error) {
	st, err := s.store.StationByCode(ctx, tenantID, code)
	if errors.Is(err, school.ErrNotFound) {
		return school.Station{}, fmt.Errorf("%w: station %q", ErrNotFound, code)
	}
	if err != nil {
		return school.Station{}, err
	}
	if st.Kind != school.Kiosk || st.CashAccountID == 0 {
		return school.Station{}, fmt.Errorf("%w: %q", ErrNotKiosk, code)
	}
	return st, nil
}

// SchoolLoc returns the school's time zone (Europe/Brussels by default).
func (s *Service) SchoolLoc(ctx context.Context, tenantID, schoolID int64) (school.School, *time.Location, error) {
	sc, err := s.store.School(ctx, tenantID, schoolID)
	if err != nil {
		return school.School{}, nil, fmt.Errorf("school %d: %w", schoolID, err)
	}
	return sc, sc.Location(), nil
}

// DayBounds returns the local midnight of t's day and of the next day.
func DayBounds(t time.Time, loc *time.Location) (time.Time, time.Time) {
	y, m, d := t.In(loc).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	return start, start.AddDate(0, 0, 1)
}

// lockDrawer takes the drawer's transaction-scoped advisory lock.
func lockDrawer(ctx context.Context, tx pgx.Tx, stationID int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(21, $1::int4)`, int32(stationID)); err != nil {
		return fmt.Errorf("lock drawer %d: %w", stationID, err)
	}
	return nil
}

// CheckTopUpAmount returns ErrAmountRange (wrapped, saying the limits) when
// a top-up amount is outside [KioskMinTopUpCents, KioskMaxTopUpCents] or has more than
// two decimals.
func CheckTopUpAmount(a decimal.Decimal) error {
	if a.LessThan(Cents(KioskMinTopUpCents)) || a.GreaterThan(Cents(KioskMaxTopUpCents)) || !a.Equal(a.Round(2)) {
		return fmt.Errorf("%w: %s is not between %s and %s", ErrAmountRange, a.StringFixed(2), Cents(KioskMinTopUpCents).StringFixed(2), Cents(KioskMaxTopUpCents).StringFixed(2))
	}
	return nil
}

// KioskTopUp records a cash top-up and its receipt. A request repeated with
// the same form token returns the first receipt (and writes nothing); with
// the same token but another pupil or amount it returns ErrFormUsed.
// Errors: ErrBadFormToken, ErrAmountRange, ErrNotFound (station or pupil),
// ErrNotKiosk, ErrPupilUnavailable, ledger.ErrPeriodClosed, or a database
// error. Nothing is written when it returns an error.
func (s *Service) KioskTopUp(ctx context.Context, req TopUpRequest) (Receipt, error) {
	if !ValidFormToken(req.FormToken) {
		return Receipt{}, ErrBadFormToken
	}
	if err := CheckTopUpAmount(req.Amount); err != nil {
		return Receipt{}, err
	}
	st, err := s.Station(ctx, req.TenantID, req.Station)
	if err != nil {
		return Receipt{}, err
	}
	p, err := s.store.Pupil(ctx, req.TenantID, req.PupilID)
	if errors.Is(err, school.ErrNotFound) {
		return Receipt{}, fmt.Errorf("%w: pupil %d", ErrNotFound, req.PupilID)
	}
	if err != nil {
		return Receipt{}, err
	}
	if !p.Active || p.WalletAccountID == 0 || p.SchoolID != st.SchoolID {
		return Receipt{}, fmt.Errorf("%w: pupil %d", ErrPupilUnavailable, p.ID)
	}
	_, loc, err := s.SchoolLoc(ctx, req.TenantID, st.SchoolID)
	if err != nil {
		return Receipt{}, err
	}
	amount := req.Amount.Round(2)
	var rc Receipt
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockDrawer(ctx, tx, st.ID); err != nil {
			return err
		}
		prev, err := receiptWhere(ctx, tx, `r.tenant_id = $1 AND r.form_token = $2`, req.TenantID, req.FormToken)
		if err == nil {
			if prev.PupilID != req.PupilID || !prev.Amount.Equal(amount) || prev.StationID != st.ID {
				return fmt.Errorf("%w: receipt %s", ErrFormUsed, prev.Reference)
			}
			// Its station and pupil are the request's, read above.
			prev.Station, prev.FirstName, prev.LastName, prev.Class = st.Code, p.FirstName, p.LastName, p.ClassCode
			rc, rc.Replay = prev, true
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		now := s.now()
		from, to := DayBounds(now, loc)
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM kiosk_receipts WHERE tenant_id = $1 AND station_id = $2 AND created_at >= $3 AND created_at < $4`,
			req.TenantID, st.ID, from, to).Scan(&n); err != nil {
			return fmt.Errorf("count receipts: %w", err)
		}
		ref := fmt.Sprintf("K-%s-%s-%03d", st.Code, now.In(loc).Format("20060102"), n+1)
		// The transfer and the receipt commit together (TransferTx).
		tr, err := s.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
			TenantID: req.TenantID, IdempotencyKey: "kiosk-topup:" + req.FormToken, Kind: KindKioskTopUp, Actor: req.Actor,
			Memo:     "Rechargement en espèces (" + st.Code + ")",
			Metadata: map[string]string{"station": st.Code, "pupil_id": strconv.FormatInt(p.ID, 10), "form_token": req.FormToken},
			Postings: []ledger.Posting{{AccountID: st.CashAccountID, Amount: amount}, {AccountID: p.WalletAccountID, Amount: amount.Neg()}},
		})
		if errors.Is(err, ledger.ErrIdempotencyConflict) {
			return fmt.Errorf("%w: %v", ErrFormUsed, err)
		}
		if err != nil {
			return fmt.Errorf("cash top-up: %w", err)
		}
		rc = Receipt{TenantID: req.TenantID, Reference: ref, StationID: st.ID, Station: st.Code, PupilID: p.ID, Amount: amount,
			TransferID: tr.ID, Actor: req.Actor, CreatedAt: now, FormToken: req.FormToken,
			FirstName: p.FirstName, LastName: p.LastName, Class: p.ClassCode}
		err = tx.QueryRow(ctx, `INSERT INTO kiosk_receipts (tenant_id, reference, form_token, station_id, pupil_id, amount, transfer_id, actor, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			req.TenantID, ref, req.FormToken, st.ID, p.ID, amount, tr.ID, req.Actor, now).Scan(&rc.ID)
		if err != nil {
			return fmt.Errorf("record receipt %s: %w", ref, err)
		}
		return nil
	})
	if err != nil {
		return Receipt{}, err
	}
	return rc, nil
}

// receiptCols are a receipt's columns, without its station's code and its
// pupil's name and class (read through school: withNames).
const receiptCols = `r.tenant_id, r.id, r.reference, r.station_id, r.pupil_id, r.amount, r.transfer_id, r.actor, r.created_at, r.form_token,
	r.voided_at, coalesce(r.voided_by, ''), coalesce(r.void_reason, ''), coalesce(r.void_transfer_id, 0)
	FROM kiosk_receipts r`

type kioskQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func scanReceipt(row pgx.Row) (Receipt, error) {
	var r Receipt
	err := row.Scan(&r.TenantID, &r.ID, &r.Reference, &r.StationID, &r.PupilID, &r.Amount, &r.TransferID, &r.Actor, &r.CreatedAt, &r.FormToken,
		&r.VoidedAt, &r.VoidedBy, &r.VoidReason, &r.VoidTransferID)
	return r, err
}

// receiptWhere returns the receipt where says, without its station's code
// and its pupil's name and class (withNames), or ErrNotFound.
func receiptWhere(ctx context.Context, q kioskQuerier, where string, args ...any) (Receipt, error) {
	r, err := scanReceipt(q.QueryRow(ctx, `SELECT `+receiptCols+` WHERE `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Receipt{}, ErrNotFound
	}
	if err != nil {
		return Receipt{}, fmt.Errorf("read receipt: %w", err)
	}
	return r, nil
}

// withNames fills in the receipts (of one tenant) their station's code and
// their pupil's name and class, read through school on q: two queries
// whatever the number of receipts.
func withNames(ctx context.Context, q school.Querier, rs []Receipt) error {
	if len(rs) == 0 {
		return nil
	}
	var stationIDs, pupilIDs []int64
	for _, r := range rs {
		stationIDs = append(stationIDs, r.StationID)
		pupilIDs = append(pupilIDs, r.PupilID)
	}
	slices.Sort(stationIDs)
	slices.Sort(pupilIDs)
	tenantID := rs[0].TenantID
	stations, err := school.ReadStations(ctx, q, tenantID, slices.Compact(stationIDs))
	if err != nil {
		return fmt.Errorf("receipts' stations: %w", err)
	}
	pupils, err := school.ReadPupils(ctx, q, tenantID, slices.Compact(pupilIDs))
	if err != nil {
		return fmt.Errorf("receipts' pupils: %w", err)
	}
	for i, r := range rs {
		st, ok := stations[r.StationID]
		if !ok {
			return fmt.Errorf("receipt %s: station %d not found", r.Reference, r.StationID)
		}
		p, ok := pupils[r.PupilID]
		if !ok {
			return fmt.Errorf("receipt %s: pupil %d not found", r.Reference, r.PupilID)
		}
		rs[i].Station, rs[i].FirstName, rs[i].LastName, rs[i].Class = st.Code, p.FirstName, p.LastName, p.ClassCode
	}
	return nil
}

// ReceiptByReference returns the tenant's receipt with this reference, or
// ErrNotFound.
func (s *Service) ReceiptByReference(ctx context.Context, tenantID int64, ref string) (Receipt, error) {
	r, err := receiptWhere(ctx, s.pool, `r.tenant_id = $1 AND r.reference = $2`, tenantID, ref)
	if errors.Is(err, ErrNotFound) {
		return Receipt{}, fmt.Errorf("%w: receipt %q", ErrNotFound, ref)
	}
	if err != nil {
		return Receipt{}, err
	}
	rs := []Receipt{r}
	if err := withNames(ctx, s.pool, rs); err != nil {
		return Receipt{}, err
	}
	return rs[0], nil
}

// Receipts returns the receipts of a kiosk station created in [from, to),
// oldest first.
func (s *Service) Receipts(ctx context.Context, tenantID, stationID int64, from, to time.Time) ([]Receipt, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+receiptCols+` WHERE r.tenant_id = $1 AND r.station_id = $2 AND r.created_at >= $3 AND r.created_at < $4
		ORDER BY r.created_at, r.id`, tenantID, stationID, from, to)
	if err != nil {
		return nil, fmt.Errorf("receipts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Receipt, error) { return scanReceipt(r) })
	if err != nil {
		return nil, fmt.Errorf("receipts: %w", err)
	}
	if err := withNames(ctx, s.pool, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CloseDrawer records a drawer closing: the expected amount is the drawer
// account's ledger balance (previous count plus every posting since), the
// difference counted − expected is posted to expense:cash-over-short (over:
// cash debited, over/short credited; short: the reverse). A request
// repeated with the same form token returns the first closing and posts
// nothing; with another count it returns ErrFormUsed. Errors also:
// ErrBadFormToken, ErrAmountRange (negative or above KioskMaxCountCents),
// ErrNotFound, ErrNotKiosk, ledger.ErrPeriodClosed, a database error.
func (s *Service) CloseDrawer(ctx context.Context, req CloseRequest) (Closing, error) {
	if !ValidFormToken(req.FormToken) {
		return Closing{}, ErrBadFormToken
	}
	if req.Counted.IsNegative() || req.Counted.GreaterThan(Cents(KioskMaxCountCents)) || !req.Counted.Equal(req.Counted.Round(2)) {
		return Closing{}, fmt.Errorf("%w: count %s is not between 0 and %s", ErrAmountRange, req.Counted.String(), Cents(KioskMaxCountCents).StringFixed(2))
	}
	st, err := s.Station(ctx, req.TenantID, req.Station)
	if err != nil {
		return Closing{}, err
	}
	overShort, err := s.ledger.AccountByCode(ctx, req.TenantID, school.AccountCashOverShort)
	if err != nil {
		return Closing{}, fmt.Errorf("account %s: %w", school.AccountCashOverShort, err)
	}
	counted := req.Counted.Round(2)
	key := "drawer-close:" + req.FormToken
	var out Closing
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockDrawer(ctx, tx, st.ID); err != nil {
			return err
		}
		prev, err := closingWhere(ctx, tx, `c.tenant_id = $1 AND c.form_token = $2`, req.TenantID, req.FormToken)
		if err == nil {
			if prev.StationID != st.ID || !prev.Counted.Equal(counted) {
				return fmt.Errorf("%w: closing %d", ErrFormUsed, prev.ID)
			}
			out, out.Replay = prev, true
			out.Station = st.Code
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		c := Closing{TenantID: req.TenantID, StationID: st.ID, Station: st.Code, Counted: counted, Actor: req.Actor, FormToken: req.FormToken}
		last, err := closingWhere(ctx, tx, `c.tenant_id = $1 AND c.station_id = $2 ORDER BY c.closed_at DESC, c.id DESC LIMIT 1`, req.TenantID, st.ID)
		switch {
		case err == nil:
			c.Since, c.Opening = last.ClosedAt, last.Counted
		case errors.Is(err, ErrNotFound):
			c.Opening = decimal.Zero
		default:
			return err
		}
		// Read under the drawer lock, in the transaction that records the
		// over/short transfer and the closing: they commit together.
		bal, err := s.ledger.BalanceTx(ctx, tx, req.TenantID, st.CashAccountID)
		if err != nil {
			return fmt.Errorf("drawer balance: %w", err)
		}
		c.Expected = bal.Posted
		c.Difference = counted.Sub(c.Expected)
		c.ClosedAt = s.now()
		if !c.Difference.IsZero() {
			tr, err := s.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
				TenantID: req.TenantID, IdempotencyKey: key, Kind: KindCashOverShort, Actor: req.Actor,
				Memo:     "Écart de caisse (" + st.Code + ")",
				Metadata: map[string]string{"station": st.Code, "expected": c.Expected.StringFixed(2), "counted": counted.StringFixed(2)},
				Postings: []ledger.Posting{{AccountID: st.CashAccountID, Amount: c.Difference}, {AccountID: overShort.ID, Amount: c.Difference.Neg()}},
			})
			if err != nil {
				return fmt.Errorf("over/short: %w", err)
			}
			c.TransferID = tr.ID
		}
		var since *time.Time
		if !c.Since.IsZero() {
			since = &c.Since
		}
		var trID *int64
		if c.TransferID != 0 {
			trID = &c.TransferID
		}
		err = tx.QueryRow(ctx, `INSERT INTO drawer_closings (tenant_id, station_id, closed_at, since, expected, counted, difference, transfer_id, actor, form_token)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			req.TenantID, st.ID, c.ClosedAt, since, c.Expected, c.Counted, c.Difference, trID, req.Actor, req.FormToken).Scan(&c.ID)
		if err != nil {
			return fmt.Errorf("record closing: %w", err)
		}
		out = c
		return nil
	})
	if err != nil {
		return Closing{}, err
	}
	return out, nil
}

// closingCols are a closing's columns, without its station's code (read
// through school: stationCode).
const closingCols = `c.tenant_id, c.id, c.station_id, c.closed_at, c.since, c.expected, c.counted, c.difference, coalesce(c.transfer_id, 0), c.actor, c.form_token,
	coalesce((SELECT p.counted FROM drawer_closings p WHERE p.tenant_id = c.tenant_id AND p.station_id = c.station_id AND p.closed_at = c.since
		ORDER BY p.id DESC LIMIT 1), 0)
	FROM drawer_closings c`

func scanClosing(row pgx.Row) (Closing, error) {
	var c Closing
	var since *time.Time
	err := row.Scan(&c.TenantID, &c.ID, &c.StationID, &c.ClosedAt, &since, &c.Expected, &c.Counted, &c.Difference, &c.TransferID, &c.Actor, &c.FormToken, &c.Opening)
	if since != nil {
		c.Since = *since
	}
	return c, err
}

func closingWhere(ctx context.Context, q kioskQuerier, where string, args ...any) (Closing, error) {
	c, err := scanClosing(q.QueryRow(ctx, `SELECT `+closingCols+` WHERE `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Closing{}, ErrNotFound
	}
	if err != nil {
		return Closing{}, fmt.Errorf("read closing: %w", err)
	}
	return c, nil
}

// ClosingByID returns the tenant's drawer closing with this id, or
// ErrNotFound.
func (s *Service) ClosingByID(ctx context.Context, tenantID, id int64) (Closing, error) {
	c, err := closingWhere(ctx, s.pool, `c.tenant_id = $1 AND c.id = $2`, tenantID, id)
	if errors.Is(err, ErrNotFound) {
		return Closing{}, fmt.Errorf("%w: closing %d", ErrNotFound, id)
	}
	if err != nil {
		return Closing{}, err
	}
	return s.withStationCode(ctx, c)
}

// withStationCode returns c with its station's code, read through school.
func (s *Service) withStationCode(ctx context.Context, c Closing) (Closing, error) {
	st, err := s.store.Station(ctx, c.TenantID, c.StationID)
	if err != nil {
		return Closing{}, fmt.Errorf("closing %d: %w", c.ID, err)
	}
	c.Station = st.Code
	return c, nil
}

// ZReport is the activity of one cash drawer on one school day.
type ZReport struct {
	Station       school.Station
	School        school.School
	Day           time.Time // local midnight
	Opening       decimal.Decimal
	Receipts      []Receipt
	ReceiptsTotal decimal.Decimal // every receipt of the day, voided or not
	// Voids are the receipts voided that day (their reversals left the
	// drawer that day, whatever the receipt's own day).
	Voids       []Receipt
	VoidsTotal  decimal.Decimal
	Closings    []Closing
	Differences decimal.Decimal // sum of the closings' differences
	// Remittances are the cash taken to the bank that day.
	Remittances      []payments.Remittance
	RemittancesTotal decimal.Decimal
	Closing          decimal.Decimal // drawer balance at the end of the day
}

// ZReport returns the Z-report of a kiosk drawer for the school-local day
// containing day: balance at the start, every receipt, the totals, every
// closing (expected, counted, difference, who), every remittance to the
// bank and the balance at the end.
func (s *Service) ZReport(ctx context.Context, tenantID int64, station string, day time.Time) (ZReport, error) {
	st, err := s.Station(ctx, tenantID, station)
	if err != nil {
		return ZReport{}, err
	}
	sc, loc, err := s.SchoolLoc(ctx, tenantID, st.SchoolID)
	if err != nil {
		return ZReport{}, err
	}
	from, to := DayBounds(day, loc)
	z := ZReport{Station: st, School: sc, Day: from, ReceiptsTotal: decimal.Zero, Differences: decimal.Zero}
	if z.Opening, err = s.ledger.BalanceAt(ctx, tenantID, st.CashAccountID, from); err != nil {
		return ZReport{}, fmt.Errorf("opening balance: %w", err)
	}
	if z.Closing, err = s.ledger.BalanceAt(ctx, tenantID, st.CashAccountID, to); err != nil {
		return ZReport{}, fmt.Errorf("closing balance: %w", err)
	}
	if z.Receipts, err = s.Receipts(ctx, tenantID, st.ID, from, to); err != nil {
		return ZReport{}, err
	}
	for _, r := range z.Receipts {
		z.ReceiptsTotal = z.ReceiptsTotal.Add(r.Amount)
	}
	if z.Voids, err = s.voidsOf(ctx, tenantID, st.ID, from, to); err != nil {
		return ZReport{}, err
	}
	if err := withNames(ctx, s.pool, z.Voids); err != nil {
		return ZReport{}, err
	}
	z.VoidsTotal = decimal.Zero
	for _, r := range z.Voids {
		z.VoidsTotal = z.VoidsTotal.Add(r.Amount)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+closingCols+` WHERE c.tenant_id = $1 AND c.station_id = $2 AND c.closed_at >= $3 AND c.closed_at < $4
		ORDER BY c.closed_at, c.id`, tenantID, st.ID, from, to)
	if err != nil {
		return ZReport{}, fmt.Errorf("closings: %w", err)
	}
	if z.Closings, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Closing, error) { return scanClosing(r) }); err != nil {
		return ZReport{}, fmt.Errorf("closings: %w", err)
	}
	for i, c := range z.Closings {
		z.Closings[i].Station = st.Code
		z.Differences = z.Differences.Add(c.Difference)
	}
	if z.Remittances, err = payments.NewBank(s.ledger, s.log).StationRemittances(ctx, tenantID, st.ID, from, to); err != nil {
		return ZReport{}, err
	}
	z.RemittancesTotal = decimal.Zero
	for _, r := range z.Remittances {
		z.RemittancesTotal = z.RemittancesTotal.Add(r.Amount)
	}
	return z, nil
}

// StaffName returns the name of a "staff:<id>" actor, or the actor itself.
func (s *Service) StaffName(ctx context.Context, tenantID int64, actor string) string {
	id, ok := strings.CutPrefix(actor, "staff:")
	if !ok {
		return actor
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return actor
	}
	u, err := s.store.StaffUser(ctx, tenantID, n)
	if err != nil {
		return actor
	}
	return u.Name
}

// LastClosing returns the station's latest drawer closing, or ErrNotFound
// when the drawer was never closed.
func (s *Service) LastClosing(ctx context.Context, tenantID, stationID int64) (Closing, error) {
	c, err := closingWhere(ctx, s.pool, `c.tenant_id = $1 AND c.station_id = $2 ORDER BY c.closed_at DESC, c.id DESC LIMIT 1`, tenantID, stationID)
	if err != nil {
		return Closing{}, err
	}
	return s.withStationCode(ctx, c)
}
