package main

import (
	"context"
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
// reads the flags and prints what the domain did: school.Store.FirstRun
// creates, or completes (safe to run again), the organising body, the
// school, the four usual stations and the first admin, whose generated
// password is printed once; booking.Manager.FirstRun the FWB calendar of
// this school year and the next and the canteen meal and daycare tariffs
// when the school has none.
//
//	tartine setup --tenant CODE --tenant-name NAME --school CODE --school-name NAME
//	    --admin LOGIN [--admin-name NAME] [--address …] [--iban … --bic … --beneficiary …]
//	    [--meal-price 3.70] [--meal-price-nursery …] [--unbooked-price 4.50]
//	    [--daycare-price 0.75] [--daycare-period 30] [--daycare-cap 6.00] [--opens 07:00] [--closes 18:00]
func cmdSetup(ctx context.Context, e env, args []string) error {
	fs, df := dbFlagSet(e, "setup", "./var/pg")
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

	d, err := openCurrent(ctx, e, *df, newLogger(e), true)
	if err != nil {
		return err
	}
	defer d.Close()
	led := ledger.New(d.Pool, e.now)
	out := e.stdout
	first, err := school.New(d.Pool, led, e.now).FirstRun(ctx, school.FirstRun{TenantCode: *tenantCode, TenantName: *tenantName,
		School:     school.SchoolInput{Code: *schoolCode, Name: *schoolName, Address: *address, IBAN: *iban, BIC: *bic, Beneficiary: *beneficiary},
		AdminLogin: *admin, AdminName: *adminName}, "system:setup")
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	ten, sc := first.Tenant, first.School
	fmt.Fprintf(out, "organising body %s (%s), school %s (%s)\n", ten.Code, ten.Name, sc.Code, sc.Name)
	tariffs := booking.FirstRunTariffs{MealPrice: *amounts["--meal-price"], NurseryMealPrice: amounts["--meal-price-nursery"],
		UnbookedPrice: *amounts["--unbooked-price"], DaycarePrice: *amounts["--daycare-price"], DaycarePeriod: *dayPeriod,
		DaycareCap: amounts["--daycare-cap"], Opens: open, Closes: close}
	rep, err := booking.New(d.Pool, led, e.now).FirstRun(ctx, ten.ID, sc.ID, tariffs)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	year := rep.Year
	fmt.Fprintf(out, "calendar: school years %d-%d and %d-%d (FWB template; closed days at /admin/calendar)\n", year, year+1, year+1, year+2)
	for _, t := range rep.MealTariffs {
		fmt.Fprintf(out, "meal tariff (%s): %s booked, %s unbooked, from %s\n", t.Level, i18n.FormatEUR(t.BookedPrice, "fr"),
			i18n.FormatEUR(t.UnbookedPrice, "fr"), t.ValidFrom.Format(time.DateOnly))
	}
	if rep.MealTariffsKept > 0 {
		fmt.Fprintf(out, "meal tariffs: %d already, kept\n", rep.MealTariffsKept)
	}
	if t := rep.Daycare; t != nil {
		fmt.Fprintf(out, "daycare tariff: %s per started %d min, %s–%s\n", i18n.FormatEUR(t.PeriodPrice, "fr"), t.PeriodMinutes, *opens, *closes)
	} else {
		fmt.Fprintf(out, "daycare tariffs: %d already, kept\n", rep.DaycareKept)
	}
	fmt.Fprintln(out, "stations: canteen-1, daycare-1, kiosk-1, enrolment-1 (rename or add at /admin/stations)")
	if first.AdminPassword == "" {
		u := first.Admin
		fmt.Fprintf(out, "admin %s exists already (password unchanged; `tartine staff password --login %s` sets a new one)\n", u.Login, u.Login)
	} else {
		fmt.Fprintf(out, "%s / %s   (shown once: the first admin; log in at /staff/login)\n", first.Admin.Login, first.AdminPassword)
	}
	fmt.Fprintln(out, "next: tartine import pupils FILE.csv; tartine serve; enrol the readers' bridges at /admin/devices")
	return nil
}
