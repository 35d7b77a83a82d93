package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// calendarSQL reads a school's years and closed days from $3 to $4 as one
// row of arrays ($1 the tenant, $2 the school): loadCalendar's two
// queries in one statement, to queue in a batch.
const calendarSQL = `
	SELECT ARRAY(SELECT y.label FROM school_years y WHERE y.tenant_id = $1 AND y.school_id = $2 AND y.ends_on >= $3 AND y.starts_on <= $4 ORDER BY y.starts_on),
	       ARRAY(SELECT y.starts_on FROM school_years y WHERE y.tenant_id = $1 AND y.school_id = $2 AND y.ends_on >= $3 AND y.starts_on <= $4 ORDER BY y.starts_on),
	       ARRAY(SELECT y.ends_on FROM school_years y WHERE y.tenant_id = $1 AND y.school_id = $2 AND y.ends_on >= $3 AND y.starts_on <= $4 ORDER BY y.starts_on),
	       ARRAY(SELECT c.day FROM school_closures c WHERE c.tenant_id = $1 AND c.school_id = $2 AND c.day BETWEEN $3 AND $4 ORDER BY c.day),
	       ARRAY(SELECT c.kind FROM school_closures c WHERE c.tenant_id = $1 AND c.school_id = $2 AND c.day BETWEEN $3 AND $4 ORDER BY c.day),
	       ARRAY(SELECT c.label FROM school_closures c WHERE c.tenant_id = $1 AND c.school_id = $2 AND c.day BETWEEN $3 AND $4 ORDER BY c.day)`

// scanCalendar reads a row of calendarSQL into cal.
func scanCalendar(row pgx.Row, cal *calendar) error {
	var labels, kinds, clabels []string
	var starts, ends, days []time.Time
	if err := row.Scan(&labels, &starts, &ends, &days, &kinds, &clabels); err != nil {
		return fmt.Errorf("read school calendar: %w", err)
	}
	cal.years = make([]SchoolYear, len(labels))
	for i := range labels {
		cal.years[i] = SchoolYear{Label: labels[i], Start: starts[i], End: ends[i]}
	}
	cal.closures = make(map[time.Time]Closure, len(days))
	for i := range days {
		cal.closures[civil(days[i])] = Closure{Day: days[i], Kind: ClosureKind(kinds[i]), Label: clabels[i]}
	}
	return nil
}

// queueCalendar queues into b the read of the school's calendar from from
// to to into cal (what loadCalendar reads, in one statement).
func queueCalendar(b *pgx.Batch, tenantID, schoolID int64, from, to time.Time, cal *calendar) {
	b.Queue(calendarSQL, tenantID, schoolID, civil(from), civil(to)).QueryRow(func(row pgx.Row) error {
		return scanCalendar(row, cal)
	})
}

// bookReads is what Book reads of the package's own tables once it knows
// the pupil and its school: sent together, one round trip.
type bookReads struct {
	cal      calendar
	meal     *MealType   // nil: no such meal type (or a daycare service)
	tariff   *MealTariff // the meal's tariff that day; nil: none
	existing *Booking    // the live booking of the same pupil, day and service
}

// batcher is what both a pool and a transaction offer to send a batch.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// readForBook reads through q, in one round trip, the school's calendar
// for the cut-off (60 days back), the meal type of service with its tariff
// for the pupil's level on day (meals only), and the pupil's live booking
// of that service on day.
func readForBook(ctx context.Context, q batcher, tenantID, schoolID, pupilID int64, level string, day time.Time, service Service) (bookReads, error) {
	var r bookReads
	b := &pgx.Batch{}
	queueCalendar(b, tenantID, schoolID, day.AddDate(0, 0, -60), day, &r.cal)
	if !service.IsDaycare() {
		b.Queue(`
			SELECT mt.name, mt.subsidised, mt.position, t.id, t.level, t.booked_price, t.unbooked_price, t.valid_from, t.valid_to
			FROM meal_types mt LEFT JOIN LATERAL (
				SELECT id, level, booked_price, unbooked_price, valid_from, valid_to FROM meal_tariffs
				WHERE tenant_id = $1 AND school_id = $3 AND meal_type = mt.code
				  AND level IN ('*', left($4, 1), $4)
				  AND valid_from <= $5 AND (valid_to IS NULL OR valid_to >= $5)
				ORDER BY `+specificitySQL+` DESC, valid_from DESC, id DESC LIMIT 1) t ON true
			WHERE mt.tenant_id = $1 AND mt.code = $2`, tenantID, string(service), schoolID, level, day).QueryRow(func(row pgx.Row) error {
			mt := MealType{Code: string(service)}
			var id *int64
			var lvl *string
			var booked, unbooked decimal.NullDecimal
			var from *time.Time
			var to *time.Time
			err := row.Scan(&mt.Name, &mt.Subsidised, &mt.Position, &id, &lvl, &booked, &unbooked, &from, &to)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read meal type %s and its tariff: %w", service, err)
			}
			r.meal = &mt
			if id != nil {
				r.tariff = &MealTariff{ID: *id, SchoolID: schoolID, MealType: mt.Code, Level: *lvl, BookedPrice: booked.Decimal,
					UnbookedPrice: unbooked.Decimal, ValidFrom: *from, ValidTo: to}
			}
			return nil
		})
	}
	b.Queue(`SELECT `+bookingCols+` FROM bookings
		WHERE tenant_id = $1 AND pupil_id = $2 AND day = $3 AND service = $4 AND status <> 'cancelled'`,
		tenantID, pupilID, day, string(service)).QueryRow(func(row pgx.Row) error {
		bk, err := scanBooking(row)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read booking: %w", err)
		}
		r.existing = &bk
		return nil
	})
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return bookReads{}, err
	}
	return r, nil
}
