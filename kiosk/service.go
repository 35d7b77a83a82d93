// Package kiosk is the cash desk of a school: cash top-ups at a kiosk
// station with their printed receipts (kiosk_receipts), voiding a receipt
// taken by mistake, the drawer closing with its over/short
// (drawer_closings), the day's Z-report, and cash remittances to the bank
// (recorded by payments). The staff screens (package staff) are its pages.
package kiosk

import (
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/ledger"
	"tartine/school"
)

// Config holds the dependencies of a Service.
type Config struct {
	Pool   *pgxpool.Pool
	Ledger *ledger.Ledger
	School *school.Store
	Log    *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service records the cash desk's top-ups, voids, closings and
// remittances. It is safe for concurrent use.
type Service struct {
	pool   *pgxpool.Pool
	ledger *ledger.Ledger
	store  *school.Store
	log    *slog.Logger
	now    func() time.Time
}

// ErrNotFound: no such station, receipt, closing or remittance.
var ErrNotFound = errors.New("kiosk: not found")

// New returns a Service. It returns an error when a dependency is missing.
func New(cfg Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Ledger == nil || cfg.School == nil {
		return nil, errors.New("kiosk: Pool, Ledger and School are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{pool: cfg.Pool, ledger: cfg.Ledger, store: cfg.School, log: cfg.Log, now: cfg.Now}, nil
}
