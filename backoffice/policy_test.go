package backoffice

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"tartine/internal/policy"
)

// demoPolicy reads the demo school's policy back through the school store.
func (f *fixture) demoPolicy() policy.Policy {
	f.t.Helper()
	sc, err := f.store.School(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil {
		f.t.Fatal(err)
	}
	if sc.PolicyErr != nil {
		f.t.Fatalf("stored policy unreadable: %v", sc.PolicyErr)
	}
	return sc.Policy
}

// policyValues is the policy form filled with the defaults.
func (f *fixture) policyValues(edit func(url.Values)) url.Values {
	v := url.Values{"school": {itoa(f.demo.SchoolID)}, "grace": {"10,00"}, "duplicate": {"90"}, "unbooked": {"normal"}, "surcharge": {"0,00"},
		"cutoff": {"09:00"}, "cutoff_days": {"1"}, "meal_no_show": {"charge"}, "daycare_no_show": {"release"}, "sick_day_after_cutoff": {"charge"}, "low_balance": {"5,00"}}
	if edit != nil {
		edit(v)
	}
	return v
}

func TestPolicyPage(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	st, body := c.get("/admin/policy")
	if st != http.StatusOK {
		t.Fatalf("GET /admin/policy: %d", st)
	}
	for _, want := range []string{
		`name="grace" value="10,00"`, `name="duplicate" value="90"`, `name="unbooked" value="normal" checked`, `name="cutoff" value="09:00"`,
		`name="cutoff_days" value="1"`, `name="meal_no_show" value="charge" checked`, `name="daycare_no_show" value="release" checked`,
		`name="low_balance" value="5,00"`, "un enfant n&#39;est jamais privé de repas pour une question d&#39;argent",
		"la cantine REFUSE le repas quand il est vide", `name="csrf_token"`, `<label for="grace">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("policy page lacks %q", want)
		}
	}
	for _, unwanted := range []string{`name="hard_floor" value="1" checked`, `name="refund" value="1" checked`} {
		if strings.Contains(body, unwanted) {
			t.Errorf("policy page has %q by default", unwanted)
		}
	}
	if _, home := c.get("/admin"); !strings.Contains(home, `href="/admin/policy"`) {
		t.Errorf("the home page has no link to the policy page")
	}
}

func TestSavePolicy(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	st, body, loc := c.post("/admin/policy", f.policyValues(func(v url.Values) {
		v.Set("duplicate", "45")
		v.Set("unbooked", "surcharge")
		v.Set("surcharge", "0,50")
		v.Set("cutoff", "8:30")
		v.Set("refund", "1")
		v.Set("daycare_no_show", "charge")
	}))
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/policy?") {
		t.Fatalf("save: %d to %q (%.300s)", st, loc, body)
	}
	p := f.demoPolicy()
	if p.DuplicateWindowSeconds != 45 || p.UnbookedMeal != policy.UnbookedSurcharge || !p.UnbookedSurcharge.Equal(decimal.RequireFromString("0.50")) ||
		p.BookingCutoff != "08:30" || !p.RefundAfterCutoff || p.DaycareNoShow != policy.NoShowCharge || p.MealNoShow != policy.NoShowCharge ||
		!p.GraceAmount.Equal(decimal.NewFromInt(10)) || p.HardFloor {
		t.Errorf("stored policy = %+v", p)
	}
	_, page := c.get(loc)
	for _, want := range []string{"Règles de ", " enregistrées.", `name="duplicate" value="45"`, `name="unbooked" value="surcharge" checked`,
		`name="surcharge" value="0,50"`, `name="refund" value="1" checked`} {
		if !strings.Contains(page, want) {
			t.Errorf("page after saving lacks %q", want)
		}
	}
	if strings.Contains(page, "gardent leur ancien plancher") {
		t.Errorf("no wallet kept its floor, yet the page says so")
	}

	// A hard floor: demo wallets already below zero keep their old floor, and the page says how many.
	st, _, loc = c.post("/admin/policy", f.policyValues(func(v url.Values) { v.Set("hard_floor", "1") }))
	if st != http.StatusSeeOther {
		t.Fatalf("save hard floor: %d", st)
	}
	if !f.demoPolicy().HardFloor {
		t.Errorf("hard floor not stored")
	}
	if !strings.Contains(loc, "kept=") {
		t.Errorf("redirect %q does not carry the wallets that kept their floor", loc)
	}
	if _, page := c.get("/admin/policy?done=saved&kept=2"); !strings.Contains(page, "2 porte-monnaie, déjà sous le nouveau plancher, gardent leur ancien plancher") {
		t.Errorf("the confirmation does not say that 2 wallets kept their floor")
	}
}

func TestSavePolicyRefused(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	before := f.demoPolicy()
	for _, tc := range []struct {
		name, field, value, want string
	}{
		{"negative grace", "grace", "-5", "Marge de tolérance sous zéro : « -5 » refusé."},
		{"grace not an amount", "grace", "dix", "Marge de tolérance sous zéro : « dix » refusé."},
		{"grace too large", "grace", "1000", "Indiquez un montant de 0 à 999,99."},
		{"cut-off 25:00", "cutoff", "25:00", "Heure limite de réservation : « 25:00 » n&#39;est pas une heure."},
		{"duplicate window", "duplicate", "3601", "Double passage ignoré pendant (secondes) : « 3601 » refusé. Indiquez un nombre entier de 0 à 3600."},
		{"days before", "cutoff_days", "15", "Jours d&#39;école avant le jour du repas : « 15 » refusé."},
		{"unbooked", "unbooked", "maybe", "Repas non réservé : choix inconnu « maybe »."},
		{"no-show", "meal_no_show", "forgive", "Repas réservé mais pas pris : choix inconnu « forgive »."},
		{"surcharge without amount", "unbooked", "surcharge", "Supplément pour un repas non réservé : indiquez un montant plus grand que zéro"},
		{"low balance", "low_balance", "5,001", "Seuil de solde bas : « 5,001 » refusé. Le montant a plus de deux décimales."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := c.post("/admin/policy", f.policyValues(func(v url.Values) {
				v.Set(tc.field, tc.value)
				v.Set("duplicate", map[bool]string{true: v.Get("duplicate"), false: "60"}[tc.field == "duplicate"])
			}))
			if st != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", st)
			}
			if !strings.Contains(body, tc.want) {
				t.Errorf("answer lacks %q", tc.want)
			}
			if tc.field != "duplicate" && !strings.Contains(body, `name="duplicate" value="60"`) {
				t.Errorf("typed values are not kept")
			}
			if after := f.demoPolicy(); after.DuplicateWindowSeconds != before.DuplicateWindowSeconds || !after.GraceAmount.Equal(before.GraceAmount) {
				t.Errorf("policy changed by a refused form: %+v", after)
			}
		})
	}
	if st, _, _ := c.post("/admin/policy", f.policyValues(func(v url.Values) { v.Set("school", "999999") })); st != http.StatusNotFound {
		t.Errorf("another school: %d, want 404", st)
	}
}

func TestPolicyForbidden(t *testing.T) {
	f := newFixture(t)
	c := f.login("canteen", "demo-canteen")
	if st, _ := c.get("/admin/policy"); st != http.StatusForbidden {
		t.Errorf("GET /admin/policy as canteen: %d, want 403", st)
	}
	if st, _, _ := c.post("/admin/policy", f.policyValues(func(v url.Values) { v.Set("duplicate", "10") })); st != http.StatusForbidden {
		t.Errorf("POST /admin/policy as canteen: %d, want 403", st)
	}
	if p := f.demoPolicy(); p.DuplicateWindowSeconds != 90 {
		t.Errorf("policy changed by a canteen user: %+v", p)
	}
}

// The Wednesday-meal and short-wallet rules have their place on the policy
// page, and saving the page keeps the keys that booking reads (one column,
// one policy): a school that serves Wednesday meals can say so, and the
// booking rules see it.
func TestPolicyWednesdayMealsAndShortWallet(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	if _, page := c.get("/admin/policy"); !strings.Contains(page, `name="wednesday_meals"`) || !strings.Contains(page, `name="refuse_short"`) {
		t.Fatal("the policy page has no Wednesday-meal or short-wallet field")
	}
	for _, on := range []bool{true, false} {
		st, body, _ := c.post("/admin/policy", f.policyValues(func(v url.Values) {
			if on {
				v.Set("wednesday_meals", "1")
				v.Set("refuse_short", "1")
			}
		}))
		if st != http.StatusSeeOther {
			t.Fatalf("save (on=%v): %d (%.300s)", on, st, body)
		}
		var settings []byte
		if err := f.pool.QueryRow(f.ctx, `SELECT settings FROM schools WHERE tenant_id = $1 AND id = $2`, f.demo.TenantID, f.demo.SchoolID).Scan(&settings); err != nil {
			t.Fatal(err)
		}
		bp, err := policy.Decode(settings)
		if err != nil {
			t.Fatal(err)
		}
		if bp.WednesdayMeals != on || (bp.InsufficientFunds == policy.FundsRefuse) != on {
			t.Errorf("on=%v: booking reads wednesday meals %v, insufficient funds %q", on, bp.WednesdayMeals, bp.InsufficientFunds)
		}
		if _, page := c.get("/admin/policy"); strings.Contains(page, `name="wednesday_meals" value="1" checked`) != on {
			t.Errorf("on=%v: the page does not show the stored Wednesday rule", on)
		}
	}
}

// policyFormFields is the policy page's form field of every key of
// policy.Policy.
var policyFormFields = map[string]string{
	"grace_amount": "grace", "hard_floor": "hard_floor", "duplicate_window_seconds": "duplicate",
	"unbooked_meal": "unbooked", "unbooked_surcharge": "surcharge", "booking_cutoff": "cutoff",
	"booking_cutoff_days_before": "cutoff_days", "refund_after_cutoff": "refund", "meal_no_show": "meal_no_show",
	"daycare_no_show": "daycare_no_show", "low_balance_threshold": "low_balance", "wednesday_meals": "wednesday_meals",
	"insufficient_funds": "refuse_short", "sick_day_after_cutoff": "sick_day_after_cutoff",
}

// Every key of the one policy type has its place on the policy page, and
// saving the page merges into the stored settings: a key the page does not
// know is kept, each key the page shows is written.
func TestPolicyPageEveryKeyAndMerge(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	_, page := c.get("/admin/policy")
	for _, k := range policy.Keys() {
		field, ok := policyFormFields[k]
		if !ok {
			t.Errorf("policy key %q has no field on the policy page", k)
			continue
		}
		if !strings.Contains(page, `name="`+field+`"`) {
			t.Errorf("the policy page has no field %q for key %q", field, k)
		}
	}
	if _, err := f.pool.Exec(f.ctx, `UPDATE schools SET settings = settings || '{"a_later_key": "kept"}' WHERE tenant_id = $1 AND id = $2`,
		f.demo.TenantID, f.demo.SchoolID); err != nil {
		t.Fatal(err)
	}
	st, body, _ := c.post("/admin/policy", f.policyValues(func(v url.Values) { v.Set("sick_day_after_cutoff", "release") }))
	if st != http.StatusSeeOther {
		t.Fatalf("save: %d (%.300s)", st, body)
	}
	var later, sick string
	if err := f.pool.QueryRow(f.ctx, `SELECT COALESCE(settings->>'a_later_key', ''), settings->>'sick_day_after_cutoff' FROM schools WHERE tenant_id = $1 AND id = $2`,
		f.demo.TenantID, f.demo.SchoolID).Scan(&later, &sick); err != nil {
		t.Fatal(err)
	}
	if later != "kept" || sick != "release" {
		t.Errorf("after save: a_later_key %q, sick_day_after_cutoff %q; want kept, release", later, sick)
	}
	if p := f.demoPolicy(); p.SickDayAfterCutoff != policy.NoShowRelease {
		t.Errorf("stored sick-day rule = %q, want release", p.SickDayAfterCutoff)
	}
	if _, page := c.get("/admin/policy"); !strings.Contains(page, `name="sick_day_after_cutoff" value="release" checked`) {
		t.Errorf("the page does not show the stored sick-day rule")
	}
	st, body, _ = c.post("/admin/policy", f.policyValues(func(v url.Values) { v.Set("sick_day_after_cutoff", "maybe") }))
	if st != http.StatusUnprocessableEntity {
		t.Errorf("save with a bad sick-day rule: %d, want a refusal (%.200s)", st, body)
	}
}
