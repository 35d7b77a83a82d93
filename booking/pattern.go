package booking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Outcome is what a weekly pattern did on one day.
type Outcome string

// Pattern outcomes.
const (
	OutcomeBooked            Outcome = "booked"             // a new booking
	OutcomeAlreadyBooked     Outcome = "already_booked"     // the booking existed
	OutcomeClosed            Outcome = "closed"             // school or service closed
	OutcomeCutoffPassed      Outcome = "cutoff_passed"      // too late for that day
	OutcomeInsufficientFunds Outcome = "insufficient_funds" // the wallet cannot hold it
	OutcomeFailed            Outcome = "failed"             // another error (Err)
)

// PatternRequest books a service on some weekdays of a period, e.g. every
// Monday, Tuesday and Thursday until the end of the term.
type PatternRequest struct {
	TenantID int64
	PupilID  int64
	Service  Service
	Weekdays []time.Weekday
	From     time.Time // first day considered
	Until    time.Time // last day considered (inclusive); see TermEnd
	Actor    string
}

// DayResult is the outcome of a pattern on one day.
type DayResult struct {
	Day     time.Time
	Outcome Outcome
	Booking *Booking // booked or already booked
	Err     error    // why it was skipped (errors.Is-able; MessageKey explains it)
}

// PatternReport lists, per considered day, what the pattern did.
type PatternReport struct {
	Days []DayResult
}

// Count returns how many days had outcome o.
func (r PatternReport) Count(o Outcome) int {
	n := 0
	for _, d := range r.Days {
		if d.Outcome == o {
			n++
		}
	}
	return n
}

// BookPattern books req.Service on every req.Weekdays day from req.From to
// req.Until, each day on its own (Book's rules): a day that fails is
// reported and does not undo the others; days already booked are reported
// as such. It returns an error only for a bad request (ErrInvalid: no
// weekday, a range over 400 days) or when ctx ends.
func (m *Manager) BookPattern(ctx context.Context, req PatternRequest) (PatternReport, error) {
	from, until := civil(req.From), civil(req.Until)
	if len(req.Weekdays) == 0 {
		return PatternReport{}, invalid("weekly pattern needs at least one weekday")
	}
	if until.Before(from) || until.Sub(from) > 400*24*time.Hour {
		return PatternReport{}, invalid("weekly pattern %s–%s: want an end after the start, at most 400 days", from.Format(time.DateOnly), until.Format(time.DateOnly))
	}
	var rep PatternReport
	for d := from; !d.After(until); d = d.AddDate(0, 0, 1) {
		if !slices.Contains(req.Weekdays, d.Weekday()) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		b, created, err := m.book(ctx, BookRequest{TenantID: req.TenantID, PupilID: req.PupilID, Day: d, Service: req.Service, Actor: req.Actor})
		r := DayResult{Day: d, Err: err}
		switch {
		case err == nil && created:
			r.Outcome, r.Booking = OutcomeBooked, &b
		case err == nil:
			r.Outcome, r.Booking = OutcomeAlreadyBooked, &b
		case errors.Is(err, ErrClosedDay):
			r.Outcome = OutcomeClosed
		case errors.Is(err, ErrCutoffPassed):
			r.Outcome = OutcomeCutoffPassed
		case errors.Is(err, ErrInsufficientFunds):
			r.Outcome = OutcomeInsufficientFunds
		default:
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			r.Outcome = OutcomeFailed
		}
		rep.Days = append(rep.Days, r)
	}
	return rep, nil
}

// TermEnd returns the last open day of the term containing from (or of the
// next term when from is closed): the open day before the next break or
// the end of the school year. It returns ErrNotFound when no open day
// follows from within 200 days.
func (m *Manager) TermEnd(ctx context.Context, tenantID, schoolID int64, from time.Time) (time.Time, error) {
	f := civil(from)
	to := f.AddDate(0, 0, 200)
	cal, err := m.loadCalendar(ctx, m.pool, tenantID, schoolID, f, to)
	if err != nil {
		return time.Time{}, err
	}
	last := termEnd(cal, f, to)
	if last.IsZero() {
		return time.Time{}, fmt.Errorf("%w: no open day after %s at school %d", ErrNotFound, f.Format(time.DateOnly), schoolID)
	}
	return last, nil
}
