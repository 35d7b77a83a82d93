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
//   - a booked meal (any meal type) is consumed through booking.Consume: its
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
	bs := st.bookings // read under the pupil lock (queueLocked)
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
	if booked != nil && st.grp != nil {
		return s.consumeInGroup(ctx, st, *booked)
	}
	if booked != nil {
		c, err := s.booking.ConsumeTx(ctx, tx, *booked, t.ID, t.ReadAt)
		switch {
		case errors.Is(err, ledger.ErrTxAborted):
			return err // rolled back and retried by apply
		case errors.Is(err, booking.ErrAlreadyConsumed) || errors.Is(err, booking.ErrBookingEnded):
			// Lost a race with the day-end job or another line: serve as
			// unbooked below.
			booked = nil
		case err != nil:
			return err
		default:
			st.charged = c.Charged
			if c.TransferID != nil {
				st.transfer = *c.TransferID
			}
			st.ev.Booking = BookingBooked
			if c.Booking.FreeMeal {
				st.ev.Booking = BookingFreeMeal
			}
			st.ev.LowBalance = lowBalance(st, p.Available)
			return nil
		}
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
		id, err := s.subsidise(ctx, tx, st, tariff, meta)
		if r := ledgerReason(err); r != "" {
			st.res = refused(t.ID, r)
			return nil
		}
		if err != nil {
			return err
		}
		st.transfer = id
		return nil
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
	st.transfer, st.charged = ch.transfer, price
	st.ev.LowBalance = lowBalance(st, p.Available.Sub(ch.owed))
	if ch.floorHit {
		st.res.Reason, st.res.Feedback = ReasonLowBalance, FeedbackWarn
	}
	return nil
}

// consumeInGroup consumes a booked meal with the writes of the tap's group:
// the booking was read locked, with its hold (QueueDayBookings). Anything
// unexpected (a booking not booked, a hold not pending) applies the tap
// alone.
func (s *Service) consumeInGroup(ctx context.Context, st *tapState, b booking.Booking) error {
	t, grp := st.tap, st.grp
	if b.Status != booking.StatusBooked {
		return errLeaveGroup
	}
	w, err := s.booking.PlanConsume(ctx, b, t.ID, t.ReadAt)
	if err != nil {
		return errLeaveGroup
	}
	if w.Post != nil {
		h, ok := grp.holds[w.Post.HoldID]
		if !ok || h.Status != ledger.HoldPending {
			return errLeaveGroup
		}
		grp.posts = append(grp.posts, ledger.HoldPost{Hold: h, Request: *w.Post})
	}
	if w.Transfer != nil {
		grp.addTransfer(*w.Transfer)
	}
	booking.QueueConsumed(grp.late, b, t.ID, t.ReadAt)
	st.charged = w.Consumption.Charged
	st.ev.Booking = BookingBooked
	if b.FreeMeal {
		st.ev.Booking = BookingFreeMeal
	}
	st.ev.LowBalance = lowBalance(st, st.pupil.Available)
	return nil
}

// subsidise charges a free meal to subsidy:fwb-meals at the booked price:
// the family pays nothing.
func (s *Service) subsidise(ctx context.Context, tx pgx.Tx, st *tapState, tariff booking.MealTariff, meta map[string]string) (int64, error) {
	if !tariff.BookedPrice.IsPositive() {
		return 0, nil
	}
	if st.hints != nil && st.hints.periodClosed {
		return 0, fmt.Errorf("charge free meal to subsidy: %w", ledger.ErrPeriodClosed)
	}
	rev, err := s.accountID(ctx, st.tenantID, booking.AccountRevenueMeals)
	if err != nil {
		return 0, err
	}
	sub, err := s.accountID(ctx, st.tenantID, booking.AccountSubsidyMeals)
	if err != nil {
		return 0, err
	}
	req := ledgerTransfer(st, "tap:"+st.tap.ID, booking.KindMeal,
		fmt.Sprintf("Repas gratuit FWB (%s) du %s", tariff.MealType, st.day.Format(time.DateOnly)), meta,
		sub, rev, tariff.BookedPrice)
	if st.grp != nil {
		st.grp.addTransfer(req)
		return 0, nil
	}
	tr, err := s.ledger.TransferTx(ctx, tx, req)
	if err != nil {
		return 0, fmt.Errorf("charge free meal to subsidy: %w", err)
	}
	return tr.ID, nil
}

type tenantKey int64

// defaultMealType is the meal an unbooked pupil is served: the tenant's
// first meal type by position. Zero when the tenant has none.
func (s *Service) defaultMealType(ctx context.Context, tenantID int64) (booking.MealType, error) {
	return s.mealTypes.get(tenantKey(tenantID), func() (booking.MealType, error) {
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
	return s.mealTariffs.get(tariffKey{tenantID, schoolID, mealType, level, day.Format(time.DateOnly)}, func() (booking.MealTariff, error) {
		return s.booking.MealTariffFor(ctx, tenantID, schoolID, mealType, level, day)
	})
}

func (s *Service) daycareTariff(ctx context.Context, tenantID, schoolID int64, level string, day time.Time) (booking.DaycareTariff, error) {
	return s.daycareTariffs.get(tariffKey{tenantID, schoolID, "daycare", level, day.Format(time.DateOnly)}, func() (booking.DaycareTariff, error) {
		return s.booking.DaycareTariffFor(ctx, tenantID, schoolID, level, day)
	})
}

type dayKey struct {
	tenant, school int64
	day            string
}

func (s *Service) isOpen(ctx context.Context, tenantID, schoolID int64, day time.Time) (bool, error) {
	return s.openDays.get(dayKey{tenantID, schoolID, day.Format(time.DateOnly)}, func() (bool, error) {
		open, _, err := s.booking.IsOpen(ctx, tenantID, schoolID, day)
		if err != nil {
			return false, fmt.Errorf("calendar of %s: %w", day.Format(time.DateOnly), err)
		}
		return open, nil
	})
}
