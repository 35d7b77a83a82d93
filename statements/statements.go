package statements

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/internal/db"
	"tartine/internal/i18n"
	"tartine/internal/mail"
	"tartine/internal/tz"
	"tartine/ledger"
	"tartine/school"
)

// Sender sends one email (mail.SMTP, or mail.LogSender without SMTP).
type Sender interface {
	Send(ctx context.Context, msg mail.Message) error
}

// Service is the statements domain on the database.
type Service struct {
	pool   *pgxpool.Pool
	ledger *ledger.Ledger
	school *school.Store
	now    func() time.Time
	// Catalog gives the labels of statements, estimates and emails.
	Catalog *i18n.Catalog
	// Mail sends the statement and estimate emails; nil: log them.
	Mail Sender
	// Log records what could not be sent; default slog.Default().
	Log *slog.Logger
}

// New returns the service on the school store's database. now gives the
// time (tests pass a fixed clock); opts set the mailer and the log.
func New(st *school.Store, cat *i18n.Catalog, now func() time.Time, opts ...Option) *Service {
	s := &Service{pool: st.Pool(), ledger: st.Ledger(), school: st, now: now, Catalog: cat, Log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) sender() Sender {
	if s.Mail != nil {
		return s.Mail
	}
	return mail.LogSender{Log: s.Log}
}

// mapErr maps a database error to the package's sentinels: a unique or
// check violation is invalid input here (the package has no conflict
// sentinel), told by the server's message.
func mapErr(err error, what string) error {
	return db.MapErr(err, what, ErrNotFound, func(e *pgconn.PgError) error {
		if e.Code == "23514" || e.Code == "23505" {
			return fmt.Errorf("%w: %s", ErrInvalid, e.Message)
		}
		return nil
	})
}

// civil returns t's calendar date (in t's own location) as UTC midnight.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// brussels is the zone of statement dates (the FWB's).
func brussels() *time.Location { return tz.Brussels }

// startOfDay is the instant a civil date begins in Brussels.
func startOfDay(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, brussels())
}
