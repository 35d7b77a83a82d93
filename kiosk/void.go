package kiosk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

// Voiding a cash receipt
//
// A receipt taken by mistake (wrong pupil, wrong amount) is voided, once,
// with a reason: the top-up's ledger transfer is reversed (key
// "kiosk-void:<reference>", kind "reversal"): the money leaves the wallet
// and the drawer, and the receipt records when, by whom, why and the
// reversal. The cashier may void a receipt of the same school day; after
// that only the accountant may, as a correcting entry dated the day it is
// made (VoidRequest.Correction). The reversal comes first and is
// idempotent on its key, so a void interrupted between the reversal and
// the receipt's update completes when it is asked again.

// Errors of a void.
var (
	// ErrVoidTooLate: a cashier voids a receipt of another day (only the
	// accountant may, by a correcting entry).
	ErrVoidTooLate = errors.New("kiosk: the receipt is of another day: only the accountant may correct it")
	// ErrAlreadyVoided: the receipt was voided before.
	ErrAlreadyVoided = errors.New("kiosk: receipt already voided")
	// ErrVoidReason: the reason is missing, too short or too long.
	ErrVoidReason = errors.New("kiosk: a void needs a reason (3 to 200 characters)")
	// ErrVoidFunds: the wallet no longer holds the amount (spent since).
	ErrVoidFunds = errors.New("kiosk: the wallet no longer holds the amount")
)

// VoidRequest voids a cash receipt.
type VoidRequest struct {
	TenantID  int64
	Station   string // kiosk station code; the receipt must be of it
	Reference string
	Reason    string
	Actor     string // "staff:<id>"
	// Correction: the accountant's correcting entry, allowed on any day;
	// false (a cashier) only on the receipt's school day.
	Correction bool
}

// VoidReceipt voids a receipt: the ledger reverses its top-up and the
// receipt records the void. It returns the voided receipt, or
// ErrVoidReason, ErrNotFound (station or receipt of another station),
// ErrNotKiosk, ErrAlreadyVoided, ErrVoidTooLate, ErrVoidFunds,
// ledger.ErrPeriodClosed, or a database error; on an error nothing is
// recorded on the receipt.
func (s *Service) VoidReceipt(ctx context.Context, req VoidRequest) (Receipt, error) {
	reason := strings.TrimSpace(req.Reason)
	if n := utf8.RuneCountInString(reason); n < 3 || n > 200 {
		return Receipt{}, ErrVoidReason
	}
	st, err := s.Station(ctx, req.TenantID, req.Station)
	if err != nil {
		return Receipt{}, err
	}
	rc, err := s.ReceiptByReference(ctx, req.TenantID, req.Reference)
	if err != nil {
		return Receipt{}, err
	}
	if rc.StationID != st.ID {
		return Receipt{}, fmt.Errorf("%w: receipt %q at station %q", ErrNotFound, req.Reference, st.Code)
	}
	if rc.VoidedAt != nil {
		return rc, fmt.Errorf("%w: %s", ErrAlreadyVoided, rc.Reference)
	}
	_, loc, err := s.SchoolLoc(ctx, req.TenantID, st.SchoolID)
	if err != nil {
		return Receipt{}, err
	}
	now := s.now()
	from, to := DayBounds(now, loc)
	if !req.Correction && (rc.CreatedAt.Before(from) || !rc.CreatedAt.Before(to)) {
		return Receipt{}, fmt.Errorf("%w: %s", ErrVoidTooLate, rc.Reference)
	}
	memo := "Annulation du reçu " + rc.Reference + " : " + reason
	if req.Correction {
		memo = "Correction (comptable) du reçu " + rc.Reference + " : " + reason
	}
	tr, err := s.ledger.Reverse(ctx, req.TenantID, rc.TransferID, "kiosk-void:"+rc.Reference, req.Actor, memo)
	var fe *ledger.FloorError
	switch {
	case errors.As(err, &fe):
		return Receipt{}, fmt.Errorf("%w: %v", ErrVoidFunds, err)
	case err != nil:
		return Receipt{}, fmt.Errorf("void %s: %w", rc.Reference, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockDrawer(ctx, tx, st.ID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE kiosk_receipts SET voided_at = $3, voided_by = $4, void_reason = $5, void_transfer_id = $6
			WHERE tenant_id = $1 AND id = $2 AND voided_at IS NULL`, req.TenantID, rc.ID, now, req.Actor, reason, tr.ID)
		if err != nil {
			return fmt.Errorf("record void of %s: %w", rc.Reference, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %s", ErrAlreadyVoided, rc.Reference)
		}
		return nil
	})
	if err != nil {
		return Receipt{}, err
	}
	return s.ReceiptByReference(ctx, req.TenantID, rc.Reference)
}

// voidsOf returns the receipts of a station voided in [from, to), in the
// order they were voided.
func (s *Service) voidsOf(ctx context.Context, tenantID, stationID int64, from, to time.Time) ([]Receipt, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+receiptCols+` WHERE r.tenant_id = $1 AND r.station_id = $2 AND r.voided_at >= $3 AND r.voided_at < $4
		ORDER BY r.voided_at, r.id`, tenantID, stationID, from, to)
	if err != nil {
		return nil, fmt.Errorf("voided receipts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Receipt, error) { return scanReceipt(r) })
	if err != nil {
		return nil, fmt.Errorf("voided receipts: %w", err)
	}
	return out, nil
}

// ClosedBy reports whether actor closed the station's drawer in [from, to):
// a cashier may reopen the Z-report of a day on which they closed it.
func (s *Service) ClosedBy(ctx context.Context, tenantID, stationID int64, actor string, from, to time.Time) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM drawer_closings WHERE tenant_id = $1 AND station_id = $2 AND actor = $3
		AND closed_at >= $4 AND closed_at < $5)`, tenantID, stationID, actor, from, to).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("closings by %s: %w", actor, err)
	}
	return ok, nil
}

// VoidedTime is when the receipt was voided (zero when it stands).
func (r Receipt) VoidedTime() time.Time {
	if r.VoidedAt == nil {
		return time.Time{}
	}
	return *r.VoidedAt
}
