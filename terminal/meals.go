package terminal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/booking"
	"tartine/internal/policy"
	"tartine/ledger"
)

// Booking statuses shown on the canteen screen (Event.Booking).
const (
	BookingBooked    = "booked"
	BookingNotBooked = "not_booked"
	BookingFreeMeal  = "free_meal"
)

// meal decides a canteen tap of a known, active pupil on an open day,
// outside the duplicate window:
//
//   - a booked meal (any meal type) is consumed (consume): its
//     hold is posted to revenue:meals, or, for a free meal, the list price is
//     charged to subsidy:fwb-meals;
//   - a meal already consumed today by another tap is a duplicate
//     ("already_served"), not charged;
//   - without a booking the school's policy applies: refuse (not_booked), or
//     serve at the unbooked price (plus the surcharge under "surcharge");
//     free-meal pupils are charged to the subsidy at the booked price;
//   - a wallet that cannot pay is never a refusal by default (see
//     chargeWallet); under the hard floor it is insufficient_funds.
func (s *Service) meal(ctx context.Context, tx pgx.Tx, st *tapState) error {
	t, p := st.tap, st.pupil
	bs := st.bookings // read locked, under the pupil lock (unitReads)
	var booked, consumed *booking.Booking
	for i := range bs {
		b := &bs[i]
		if b.Service.IsDaycare() {
			continue
		}
		switch b.Status {
		case booking.StatusBooked:
			if booked == nil {
				booked = b
			}
		case booking.StatusConsumed:
			if b.TapID == t.ID { // a retry after a crash: consume again replays
				booked = b
			} else if consumed == nil {
				consumed = b
			}
		}
	}
	st.res = Result{ID: t.ID, Verdict: VerdictAccepted, Feedback: FeedbackOK, Action: ActionMeal}
	if booked != nil && st.hints != nil && st.hints.periodClosed {
		st.res = refused(t.ID, "period_closed")
		return nil
	}
	if booked != nil {
		ok, err := s.consume(ctx, tx, st, *booked)
		if err != nil || ok {
			return err
		}
		// The booking's hold ended meanwhile: serve as unbooked below.
	}
	if consumed != nil {
		st.res = Result{ID: t.ID, Verdict: VerdictDuplicate, Reason: "already_served", Feedback: FeedbackWarn, Charged: "0.00"}
		st.ev.Booking = BookingBooked
		return nil
	}
	st.ev.Booking = BookingNotBooked
	pol := st.school.Policy
	if pol.UnbookedMeal == policy.UnbookedRefuse {
		st.res = refused(t.ID, ReasonNotBooked)
		return nil
	}
	mt, err := s.defaultMealType(ctx, st.tenantID)
	if err != nil {
		return err
	}
	if mt.Code == "" {
		st.res = refused(t.ID, ReasonNoTariff)
		return nil
	}
	tariff, err := s.mealTariff(ctx, st.tenantID, st.station.SchoolID, mt.Code, p.Level, st.day)
	if errors.Is(err, booking.ErrNoTariff) {
		st.res = refused(t.ID, ReasonNoTariff)
		return nil
	}
	if err != nil {
		return err
	}
	st.res.Reason = ReasonNotBooked // flagged, not refused
	meta := tapMeta(st)
	meta["meal_type"] = mt.Code
	free := mt.Subsidised && (p.FreeMeals || (st.school.FreeMeals && p.Level[0] != 'S'))
	if free {
		st.ev.Booking = BookingFreeMeal
		st.res.Reason = ""
		err := s.subsidise(ctx, tx, st, tariff, meta)
		if r := ledgerReason(err); r != "" {
			st.res = refused(t.ID, r)
			return nil
		}
		return err
	}
	price := tariff.UnbookedPrice
	if pol.UnbookedMeal == policy.UnbookedSurcharge {
		price = price.Add(pol.UnbookedSurcharge)
	}
	if !price.IsPositive() {
		return nil
	}
	ch, err := s.chargeWallet(ctx, tx, st, chargeRequest{
		key: "tap:" + t.ID, kind: booking.KindMeal, revenue: booking.AccountRevenueMeals, amount: price,
		memo: fmt.Sprintf("Repas non réservé (%s) du %s", mt.Code, st.day.Format(time.DateOnly)), metadata: meta,
	}, pol.HardFloor)
	if errors.Is(err, errHardFloor) {
		st.res = refused(t.ID, ReasonInsufficientFunds)
		st.ev.LowBalance = true
		return nil
	}
	if r := ledgerReason(err); r != "" {
		st.res = refused(t.ID, r)
		return nil
	}
	if err != nil {
		return err
	}
	st.transferKey, st.charged = "tap:"+t.ID, price
	st.ev.LowBalance = lowBalance(st, p.Available.Sub(ch.owed))
	if ch.floorHit {
		st.res.Reason, st.res.Feedback = ReasonLowBalance, FeedbackWarn
	}
	return nil
}

// consume consumes a booked meal, read locked with its hold
// (booking.QueueDayBookings): the hold posted to revenue:meals, or a free
// meal charged to the subsidy (booking.PlanConsumeTx), queued on the tap's
// unit with the booking's update (booking.QueueConsumed). It returns false
// when the booking cannot be consumed any more (its hold ended): the meal
// is then served as unbooked.
func (s *Service) consume(ctx context.Context, tx pgx.Tx, st *tapState, b booking.Booking) (bool, error) {
	t, u := st.tap, st.u
	w, err := s.booking.PlanConsumeTx(ctx, tx, b, t.ID, t.ReadAt)
	if errors.Is(err, booking.ErrBookingEnded) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if b.Status == booking.StatusBooked {
		if w.Post != nil {
			h, ok := u.holds[w.Post.HoldID]
			if !ok || h.Status != ledger.HoldPending {
				return false, nil
			}
			u.posts = append(u.posts, ledger.HoldPost{Hold: h, Request: *w.Post})
		}
		if w.Transfer != nil {
			u.addTransfer(*w.Transfer)
		}
		booking.QueueConsumed(u.late, b, t.ID, t.ReadAt)
	} // else consumed by this very tap before (a retry): its writes stand
	if w.Post != nil || w.Transfer != nil {
		st.transferKey = "tap:" + t.ID
	}
	st.charged = w.Consumption.Charged
	st.ev.Booking = BookingBooked
	if b.FreeMeal {
		st.ev.Booking = BookingFreeMeal
	}
	st.ev.LowBalance = lowBalance(st, st.pupil.Available)
	return true, nil
}

// subsidise charges a free meal to subsidy:fwb-meals at the booked price:
// the family pays nothing.
func (s *Service) subsidise(ctx context.Context, tx pgx.Tx, st *tapState, tariff booking.MealTariff, meta map[string]string) error {
	if !tariff.BookedPrice.IsPositive() {
		return nil
	}
	if st.hints != nil && st.hints.periodClosed {
		return fmt.Errorf("charge free meal to subsidy: %w", ledger.ErrPeriodClosed)
	}
	rev, err := s.accountID(ctx, tx, st.tenantID, booking.AccountRevenueMeals)
	if err != nil {
		return err
	}
	sub, err := s.accountID(ctx, tx, st.tenantID, booking.AccountSubsidyMeals)
	if err != nil {
		return err
	}
	key := "tap:" + st.tap.ID
	st.u.addTransfer(ledgerTransfer(st, key, booking.KindMeal,
		fmt.Sprintf("Repas gratuit FWB (%s) du %s", tariff.MealType, st.day.Format(time.DateOnly)), meta,
		sub, rev, tariff.BookedPrice))
	st.transferKey = key
	return nil
}

type tenantKey int64

// defaultMealType is the meal an unbooked pupil is served: the tenant's
// first meal type by position. Zero when the tenant has none.
func (s *Service) defaultMealType(ctx context.Context, tenantID int64) (booking.MealType, error) {
	return s.mealTypes.get(ctx, tenantKey(tenantID), func(ctx context.Context) (booking.MealType, error) {
		mts, err := s.booking.MealTypes(ctx, tenantID)
		if err != nil || len(mts) == 0 {
			return booking.MealType{}, err
		}
		return mts[0], nil
	})
}

type tariffKey struct {
	tenant, school int64
	service, level string
	day            string
}

func (s *Service) mealTariff(ctx context.Context, tenantID, schoolID int64, mealType, level string, day time.Time) (booking.MealTariff, error) {
	return s.mealTariffs.get(ctx, tariffKey{tenantID, schoolID, mealType, level, day.Format(time.DateOnly)}, func(ctx context.Context) (booking.MealTariff, error) {
		return s.booking.MealTariffFor(ctx, tenantID, schoolID, mealType, level, day)
	})
}

func (s *Service) daycareTariff(ctx context.Context, tenantID, schoolID int64, level string, day time.Time) (booking.DaycareTariff, error) {
	return s.daycareTariffs.get(ctx, tariffKey{tenantID, schoolID, "daycare", level, day.Format(time.DateOnly)}, func(ctx context.Context) (booking.DaycareTariff, error) {
		return s.booking.DaycareTariffFor(ctx, tenantID, schoolID, level, day)
	})
}

type dayKey struct {
	tenant, school int64
	day            string
}

func (s *Service) isOpen(ctx context.Context, tenantID, schoolID int64, day time.Time) (bool, error) {
	return s.openDays.get(ctx, dayKey{tenantID, schoolID, day.Format(time.DateOnly)}, func(ctx context.Context) (bool, error) {
		open, _, err := s.booking.IsOpen(ctx, tenantID, schoolID, day)
		if err != nil {
			return false, fmt.Errorf("calendar of %s: %w", day.Format(time.DateOnly), err)
		}
		return open, nil
	})
}
