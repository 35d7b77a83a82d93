package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/ledger"
	"tartine/school"
)

// cmdSetup is `tartine setup`: a school's first run on a real database. It
// creates, or completes (safe to run again), the organising body, the
// school, the FWB calendar of this school year and the next, the canteen
// meal and daycare tariffs when the school has none, the four usual
// stations and the first admin, whose generated password it prints once.
//
//	tartine setup --tenant CODE --tenant-name NAME --school CODE --school-name NAME
//	    --admin LOGIN [--admin-name NAME] [--address …] [--iban … --bic … --beneficiary …]
//	    [--meal-price 3.70] [--meal-price-nursery …] [--unbooked-price 4.50]
//	    [--daycare-price 0.75] [--daycare-period 30] [--daycare-cap 6.00] [--opens 07:00] [--closes 18:00]
func cmdSetup(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var df dbFlags
	df.register(fs, "./var/pg")
	tenantCode := fs.String("tenant", "", "organising body code (letters, digits, '-', '_', '.')")
	tenantName := fs.String("tenant-name", "", "organising body name (pouvoir organisateur)")
	schoolCode := fs.String("school", "", "school code")
	schoolName := fs.String("school-name", "", "school name")
	address := fs.String("address", "", "school address (on letters and receipts)")
	iban := fs.String("iban", "", "account receiving the parents' bank transfers (BE…)")
	bic := fs.String("bic", "", "BIC of that account")
	beneficiary := fs.String("beneficiary", "", "account holder's name (default: the school name)")
	admin := fs.String("admin", "", "login of the first admin")
	adminName := fs.String("admin-name", "", "name of the first admin")
	mealPrice := fs.String("meal-price", "3.70", "booked meal, every level")
	nurseryPrice := fs.String("meal-price-nursery", "", "booked meal in maternelle, when it differs")
	unbookedPrice := fs.String("unbooked-price", "4.50", "meal taken without a booking")
	dayPrice := fs.String("daycare-price", "0.75", "daycare, per started period")
	dayPeriod := fs.Int("daycare-period", 30, "daycare period in minutes")
	dayCap := fs.String("daycare-cap", "6.00", "daycare, most charged per day (empty: no cap)")
	opens := fs.String("opens", "07:00", "daycare opening time")
	closes := fs.String("closes", "18:00", "daycare closing time (forgotten sessions close then)")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	var missing []string
	for name, v := range map[string]string{"--tenant": *tenantCode, "--tenant-name": *tenantName, "--school": *schoolCode,
		"--school-name": *schoolName, "--admin": *admin} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 || fs.NArg() > 0 {
		fmt.Fprintln(e.stderr, "usage: tartine setup --tenant CODE --tenant-name NAME --school CODE --school-name NAME --admin LOGIN [flags]")
		if len(missing) > 0 {
			slices.Sort(missing)
			fmt.Fprintf(e.stderr, "missing: %s\n", strings.Join(missing, ", "))
		}
		return exitCode(2)
	}
	amounts := map[string]*decimal.Decimal{}
	for _, a := range []struct{ flag, v string }{{"--meal-price", *mealPrice}, {"--meal-price-nursery", *nurseryPrice},
		{"--unbooked-price", *unbookedPrice}, {"--daycare-price", *dayPrice}, {"--daycare-cap", *dayCap}} {
		if a.v == "" {
			continue
		}
		d, err := i18n.ParseAmount(a.v, i18n.RejectNegative)
		if err != nil {
			return fmt.Errorf("setup: %s %q: %w", a.flag, a.v, err)
		}
		amounts[a.flag] = &d
	}
	open, err := booking.ParseClock(*opens)
	if err != nil {
		return fmt.Errorf("setup: --opens %q: %w", *opens, err)
	}
	close, err := booking.ParseClock(*closes)
	if err != nil {
		return fmt.Errorf("setup: --closes %q: %w", *closes, err)
	}
	if *beneficiary == "" {
		*beneficiary = *schoolName
	}

	d, err := openCurrent(ctx, e, df, newLogger(e), true)
	if err != nil {
		return err
	}
	defer d.Close()
	const actor = "system:setup"
	led := ledger.New(d.Pool, e.now)
	store := school.New(d.Pool, led, e.now)
	books := booking.New(d.Pool, led, e.now)
	out := e.stdout

	ten, err := store.EnsureTenant(ctx, *tenantCode, *tenantName)
	if err != nil {
		return fmt.Errorf("setup: organising body: %w", err)
	}
	sc, err := store.EnsureSchool(ctx, ten.ID, school.SchoolInput{Code: *schoolCode, Name: *schoolName, Address: *address,
		IBAN: *iban, BIC: *bic, Beneficiary: *beneficiary})
	if err != nil {
		return fmt.Errorf("setup: school: %w", err)
	}
	fmt.Fprintf(out, "organising body %s (%s), school %s (%s)\n", ten.Code, ten.Name, sc.Code, sc.Name)

	// The school year that holds today (from 1 August) and the next.
	year := booking.SchoolYearOf(e.now().In(sc.Location()))
	for _, y := range []int{year, year + 1} {
		if _, err := books.GenerateYear(ctx, ten.ID, sc.ID, y); err != nil {
			return fmt.Errorf("setup: calendar %d-%d: %w", y, y+1, err)
		}
	}
	fmt.Fprintf(out, "calendar: school years %d-%d and %d-%d (FWB template; closed days at /admin/calendar)\n", year, year+1, year+1, year+2)

	if err := books.EnsureMealType(ctx, ten.ID, booking.MealType{Code: "repas", Name: "Repas complet", Subsidised: true}); err != nil {
		return fmt.Errorf("setup: meal type: %w", err)
	}
	from := time.Date(year, time.August, 1, 0, 0, 0, 0, time.UTC)
	meals, err := books.MealTariffs(ctx, ten.ID, sc.ID)
	if err != nil {
		return fmt.Errorf("setup: meal tariffs: %w", err)
	}
	if len(meals) == 0 {
		tariffs := []booking.MealTariff{{Level: "*", BookedPrice: *amounts["--meal-price"], UnbookedPrice: *amounts["--unbooked-price"]}}
		if p := amounts["--meal-price-nursery"]; p != nil {
			tariffs = append(tariffs, booking.MealTariff{Level: "M", BookedPrice: *p, UnbookedPrice: *amounts["--unbooked-price"]})
		}
		for _, t := range tariffs {
			t.SchoolID, t.MealType, t.ValidFrom = sc.ID, "repas", from
			if _, err := books.AddMealTariff(ctx, ten.ID, t); err != nil {
				return fmt.Errorf("setup: meal tariff %s: %w", t.Level, err)
			}
			fmt.Fprintf(out, "meal tariff (%s): %s booked, %s unbooked, from %s\n", t.Level, i18n.FormatEUR(t.BookedPrice, "fr"),
				i18n.FormatEUR(t.UnbookedPrice, "fr"), from.Format(time.DateOnly))
		}
	} else {
		fmt.Fprintf(out, "meal tariffs: %d already, kept\n", len(meals))
	}
	care, err := books.DaycareTariffs(ctx, ten.ID, sc.ID)
	if err != nil {
		return fmt.Errorf("setup: daycare tariffs: %w", err)
	}
	if len(care) == 0 {
		t := booking.DaycareTariff{SchoolID: sc.ID, Level: "*", PeriodMinutes: *dayPeriod, PeriodPrice: *amounts["--daycare-price"],
			DailyCap: amounts["--daycare-cap"], Opens: open, Closes: close, ValidFrom: from}
		if _, err := books.AddDaycareTariff(ctx, ten.ID, t); err != nil {
			return fmt.Errorf("setup: daycare tariff: %w", err)
		}
		fmt.Fprintf(out, "daycare tariff: %s per started %d min, %s–%s\n", i18n.FormatEUR(t.PeriodPrice, "fr"), t.PeriodMinutes, *opens, *closes)
	} else {
		fmt.Fprintf(out, "daycare tariffs: %d already, kept\n", len(care))
	}

	for _, st := range []school.StationInput{
		{SchoolID: sc.ID, Code: "canteen-1", Name: "Cantine", Kind: school.Canteen},
		{SchoolID: sc.ID, Code: "daycare-1", Name: "Garderie", Kind: school.Daycare},
		{SchoolID: sc.ID, Code: "kiosk-1", Name: "Caisse", Kind: school.Kiosk},
		{SchoolID: sc.ID, Code: "enrolment-1", Name: "Secrétariat, badges", Kind: school.EnrolmentDesk},
	} {
		if _, err := store.StationByCode(ctx, ten.ID, st.Code); err == nil {
			continue // kept as the school named it
		} else if !errors.Is(err, school.ErrNotFound) {
			return fmt.Errorf("setup: station %s: %w", st.Code, err)
		}
		if _, err := store.EnsureStation(ctx, ten.ID, st, actor); err != nil {
			return fmt.Errorf("setup: station %s: %w", st.Code, err)
		}
	}
	fmt.Fprintln(out, "stations: canteen-1, daycare-1, kiosk-1, enrolment-1 (rename or add at /admin/stations)")

	if u, err := store.StaffByLogin(ctx, *admin); err == nil {
		fmt.Fprintf(out, "admin %s exists already (password unchanged; `tartine staff password --login %s` sets a new one)\n", u.Login, u.Login)
	} else if !errors.Is(err, school.ErrNotFound) {
		return fmt.Errorf("setup: admin: %w", err)
	} else {
		pw := school.NewStaffPassword()
		u, err := store.CreateStaff(ctx, ten.ID, school.StaffInput{Login: *admin, Name: *adminName, Password: pw, Roles: []school.Role{school.RoleAdmin}}, actor)
		if err != nil {
			return fmt.Errorf("setup: admin: %w", err)
		}
		fmt.Fprintf(out, "%s / %s   (shown once: the first admin; log in at /staff/login)\n", u.Login, pw)
	}
	fmt.Fprintln(out, "next: tartine import pupils FILE.csv; tartine serve; enrol the readers' bridges at /admin/devices")
	return nil
}
