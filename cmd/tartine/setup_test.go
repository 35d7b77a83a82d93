package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/testclock"
	"tartine/ledger"
	"tartine/school"
)

var shownPassword = regexp.MustCompile(`(?m)^(\S+) / (\S{16})\s+\(shown once`)

// TestSetupAndStaff: `tartine setup` makes an empty database a school that
// takes taps (calendar, tariffs, stations) with an admin who can log in;
// run again it changes nothing and shows no password; `tartine staff`
// adds, lists and resets staff logins; bad flags are usage errors.
func TestSetupAndStaff(t *testing.T) {
	ctx := context.Background()
	getenv, pool, _ := testLedger(t)
	cmd := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := runEnv(ctx, args, env{getenv: getenv, stdout: &out, stderr: &errs, now: testclock.Now})
		return out.String() + errs.String(), err
	}
	setup := []string{"setup", "--tenant", "po-ixelles", "--tenant-name", "PO d'Ixelles", "--school", "ecole-1",
		"--school-name", "École n° 1", "--iban", "BE68539007547034", "--admin", "direction", "--admin-name", "Anne Direction",
		"--meal-price", "3,50", "--meal-price-nursery", "3.00"}
	out, err := cmd(setup...)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	m := shownPassword.FindStringSubmatch(out)
	if m == nil || m[1] != "direction" {
		t.Fatalf("setup output lacks the admin's password:\n%s", out)
	}
	store := school.New(pool, ledger.New(pool, testclock.Now), testclock.Now)
	u, err := store.AuthenticateStaff(ctx, "direction", m[2])
	if err != nil || !u.Has(school.RoleAdmin) || u.Name != "Anne Direction" {
		t.Fatalf("admin login: %+v, %v", u, err)
	}
	ten, err := store.TenantByCode(ctx, "po-ixelles")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := store.SchoolByCode(ctx, ten.ID, "ecole-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"canteen-1", "daycare-1", "kiosk-1", "enrolment-1"} {
		if _, err := store.StationByCode(ctx, ten.ID, code); err != nil {
			t.Errorf("station %s: %v", code, err)
		}
	}
	books := booking.New(pool, ledger.New(pool, testclock.Now), testclock.Now)
	// A Monday in October of the school year that holds today and of the
	// next one (setup creates both, whatever the day it runs): open in the
	// FWB template, priced by level.
	y := booking.SchoolYearOf(testclock.Today())
	for _, sy := range []int{y, y + 1} {
		day := time.Date(sy, time.October, 1, 0, 0, 0, 0, sc.Location())
		for day.Weekday() != time.Monday {
			day = day.AddDate(0, 0, 1)
		}
		if open, why, err := books.IsOpen(ctx, ten.ID, sc.ID, day); err != nil || !open {
			t.Errorf("%s open: %v (%s), %v", day.Format(time.DateOnly), open, why, err)
		}
		for level, want := range map[string]string{"P3": "3.5", "M2": "3"} {
			tr, err := books.MealTariffFor(ctx, ten.ID, sc.ID, "repas", level, day)
			if err != nil || !tr.BookedPrice.Equal(dec(want)) || !tr.UnbookedPrice.Equal(dec("4.5")) {
				t.Errorf("meal tariff %s on %s: %+v, %v; want %s booked", level, day.Format(time.DateOnly), tr, err, want)
			}
		}
		if _, err := books.DaycareTariffFor(ctx, ten.ID, sc.ID, "P3", day); err != nil {
			t.Errorf("daycare tariff on %s: %v", day.Format(time.DateOnly), err)
		}
	}
	// The year after those two was not created: its days are not open.
	if open, _, err := books.IsOpen(ctx, ten.ID, sc.ID, time.Date(y+2, time.October, 4, 0, 0, 0, 0, sc.Location())); err == nil && open {
		t.Errorf("a day of %d-%d is open, but setup creates only %d-%d and %d-%d", y+2, y+3, y, y+1, y+1, y+2)
	}

	// Again: nothing new, no password shown.
	out, err = cmd(setup...)
	if err != nil || shownPassword.MatchString(out) || !strings.Contains(out, "exists already") || !strings.Contains(out, "already, kept") {
		t.Errorf("setup again: %v\n%s", err, out)
	}

	out, err = cmd("staff", "add", "--login", "Cuisine", "--roles", "canteen, kiosk", "--name", "Marc")
	m = shownPassword.FindStringSubmatch(out)
	if err != nil || m == nil || m[1] != "cuisine" {
		t.Fatalf("staff add: %v\n%s", err, out)
	}
	if u, err := store.AuthenticateStaff(ctx, "cuisine", m[2]); err != nil || !u.Has(school.RoleKiosk) || u.Has(school.RoleAdmin) {
		t.Errorf("new member: %+v, %v", u, err)
	}
	out, err = cmd("staff", "password", "--login", "cuisine")
	m2 := shownPassword.FindStringSubmatch(out)
	if err != nil || m2 == nil || m2[2] == m[2] {
		t.Fatalf("staff password: %v\n%s", err, out)
	}
	if _, err := store.AuthenticateStaff(ctx, "cuisine", m[2]); err == nil {
		t.Error("the old password still works")
	}
	out, err = cmd("staff", "list")
	if err != nil || !regexp.MustCompile(`(?m)^cuisine\s+Marc\s+canteen,kiosk\s+active$`).MatchString(out) || !strings.Contains(out, "direction") {
		t.Errorf("staff list: %v\n%s", err, out)
	}

	for _, args := range [][]string{
		{"setup", "--tenant", "x"},
		{"staff"},
		{"staff", "add", "--login", "x"},
		{"staff", "fire", "--login", "x"},
	} {
		if out, err := cmd(args...); err == nil || !strings.Contains(out, "usage") {
			t.Errorf("%q: %v\n%s, want a usage error", args, err, out)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"staff", "add", "--login", "cuisine", "--roles", "canteen"}, "already exists"},
		{[]string{"staff", "add", "--login", "chef", "--roles", "cook"}, `role "cook"`},
		{[]string{"staff", "password", "--login", "nobody"}, "not found"},
		{append(append([]string{}, setup[:len(setup)-2]...), "--meal-price", "trois euros"), "--meal-price"},
	} {
		out, err := cmd(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v\n%s; want an error naming %q", c.args, err, out, c.want)
		}
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }
