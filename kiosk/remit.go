package kiosk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/payments"
)

// Cash remittances (dépôts d'espèces)
//
// A kiosk cashier or an accountant records cash taken from a drawer to the
// bank. The service takes the drawer's lock (the same as top-ups and
// closings), so that the drawer balance it checks the amount against stays
// true, then lets payments.Bank record the remittance in the same
// transaction: cash:<kiosk> → cash-in-transit under the key
// kiosk-remit:<form token>, and a reference (DEP-2026-7KQ4XM) printed on
// the slip. The bank import (payments.Bank.ImportCODA) books its arrival.

// RemitRequest is cash taken from a kiosk drawer to the bank.
type RemitRequest struct {
	TenantID  int64
	Station   string // kiosk station code
	Amount    decimal.Decimal
	Carrier   string // who takes it to the bank (optional)
	FormToken string // one-time token of the form (hex, 16–64 characters)
	Actor     string // "staff:<id>"
}

// Remit records a cash remittance from a kiosk drawer. A request repeated
// with the same form token returns the first remittance (Replay set,
// nothing written); with another amount or carrier it returns ErrFormUsed.
// Errors: ErrBadFormToken, ErrAmountRange (not positive, more than two
// decimals or above KioskMaxCountCents), ErrNotFound, ErrNotKiosk, a
// *payments.DrawerShortError (payments.ErrDrawerShort) when the drawer
// holds less, payments.ErrInvalidRequest (carrier name too long or with
// control characters), ledger.ErrPeriodClosed, or a database error.
// Nothing is written when it returns an error.
func (s *Service) Remit(ctx context.Context, req RemitRequest) (payments.Remittance, error) {
	if !ValidFormToken(req.FormToken) {
		return payments.Remittance{}, ErrBadFormToken
	}
	if !req.Amount.IsPositive() || req.Amount.GreaterThan(Cents(KioskMaxCountCents)) || !req.Amount.Equal(req.Amount.Round(2)) {
		return payments.Remittance{}, fmt.Errorf("%w: remittance %s is not between 0.01 and %s", ErrAmountRange, req.Amount.String(), Cents(KioskMaxCountCents).StringFixed(2))
	}
	st, err := s.Station(ctx, req.TenantID, req.Station)
	if err != nil {
		return payments.Remittance{}, err
	}
	_, loc, err := s.SchoolLoc(ctx, req.TenantID, st.SchoolID)
	if err != nil {
		return payments.Remittance{}, err
	}
	bank := payments.NewBank(s.ledger, s.log)
	var out payments.Remittance
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockDrawer(ctx, tx, st.ID); err != nil {
			return err
		}
		now := s.now()
		out, err = bank.RecordRemittanceTx(ctx, tx, payments.RemittanceRequest{
			TenantID: req.TenantID, StationID: st.ID, Station: st.Code, CashAccountID: st.CashAccountID,
			Amount: req.Amount, Carrier: req.Carrier, FormToken: req.FormToken, Actor: req.Actor,
			At: now, Day: now.In(loc),
		})
		return err
	})
	if errors.Is(err, payments.ErrFormUsed) {
		return payments.Remittance{}, fmt.Errorf("%w: %w", ErrFormUsed, err)
	}
	if err != nil {
		return payments.Remittance{}, err
	}
	return out, nil
}

// RemittanceByReference returns the tenant's remittance with this
// reference, or ErrNotFound.
func (s *Service) RemittanceByReference(ctx context.Context, tenantID int64, ref string) (payments.Remittance, error) {
	r, err := payments.NewBank(s.ledger, s.log).RemittanceByReference(ctx, tenantID, ref)
	if errors.Is(err, payments.ErrNotFound) {
		return payments.Remittance{}, fmt.Errorf("%w: remittance %q", ErrNotFound, ref)
	}
	return r, err
}

// StationRemittances returns the remittances taken from a kiosk's drawer
// in [from, to).
func (s *Service) StationRemittances(ctx context.Context, tenantID, stationID int64, from, to time.Time) ([]payments.Remittance, error) {
	return payments.NewBank(s.ledger, s.log).StationRemittances(ctx, tenantID, stationID, from, to)
}
