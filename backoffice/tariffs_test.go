package backoffice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/internal/mail"
	"tartine/internal/mail/mailtest"
	"tartine/internal/testclock"
	"tartine/internal/websession"
	"tartine/ledger"
	"tartine/portal"
	"tartine/school"
)

// eur writes "3,70" as the pages write amounts in French.
func eur(s string) string {
	return i18nEUR(decimal.RequireFromString(strings.ReplaceAll(s, ",", ".")))
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// dateFR writes a day as the pages do in French.
func dateFR(d time.Time) string { return i18n.FormatDate(d, "fr") }

// tariffCounts returns how many meal and daycare tariffs the demo school has.
func (f *fixture) tariffCounts() (meals, daycare int) {
	f.t.Helper()
	m, err := f.book.MealTariffs(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil {
		f.t.Fatal(err)
	}
	d, err := f.book.DaycareTariffs(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(m), len(d)
}

func TestTariffsPage(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	st, body := c.get("/admin/tariffs")
	if st != http.StatusOK {
		t.Fatalf("GET /admin/tariffs: %d", st)
	}
	for _, want := range []string{
		"Repas complet", "Potage", eur("3,70"), eur("3,20"), eur("4,50"), eur("0,60"), "Primaire (P)", "Maternelle (M)", "Tous les niveaux (*)",
		eur("0,75") + " par 30 min", eur("6,00"), "07:00 – 18:00", "15:30 – 15:45 (sortie des classes)", "En vigueur", "à partir du ",
		`action="/admin/tariffs/meal"`, `action="/admin/tariffs/daycare"`, `name="csrf_token"`, `<label for="meal-booked">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("tariffs page lacks %q", want)
		}
	}
	if _, home := c.get("/admin"); !strings.Contains(home, `href="/admin/tariffs"`) {
		t.Errorf("the home page has no link to the tariffs page")
	}
	if st, _ := c.get("/admin/tariffs?school=999999"); st != http.StatusNotFound {
		t.Errorf("another school: %d, want 404", st)
	}
}

func TestAddMealTariff(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	today := civilDay(testclock.Now().In(brussels()))
	from := today.AddDate(0, 0, 7)
	school := f.demo.SchoolID
	form := func(booked, unbooked, day string) url.Values {
		return url.Values{"school": {itoa(school)}, "meal_type": {"repas"}, "level": {"p"}, "booked": {booked}, "unbooked": {unbooked}, "from": {day}}
	}
	meals0, _ := f.tariffCounts()

	for _, tc := range []struct {
		name  string
		form  url.Values
		want  []string
		field string
	}{
		{"bad booked amount", form("trois", "4,80", from.Format(time.DateOnly)),
			[]string{"Prix réservé : « trois » refusé.", `value="trois"`, `value="4,80"`}, `id="meal-booked"`},
		{"bad unbooked amount", form("3,90", "4,801", from.Format(time.DateOnly)),
			[]string{"Prix non réservé : « 4,801 » refusé. Le montant a plus de deux décimales.", `value="3,90"`}, `id="meal-unbooked"`},
		{"negative amount", form("-3,90", "4,80", from.Format(time.DateOnly)),
			[]string{"Prix réservé : « -3,90 » refusé."}, `id="meal-booked"`},
		{"bad date", form("3,90", "4,80", "31/02/2027"),
			[]string{"Date de début : « 31/02/2027 » n&#39;est pas une date.", `value="3,90"`, `value="4,80"`}, `id="meal-from"`},
		{"past date", form("3,90", "4,80", today.AddDate(0, 0, -1).Format(time.DateOnly)),
			[]string{"Date de début : le ", "est passé"}, `id="meal-from"`},
		{"bad level", url.Values{"school": {itoa(school)}, "meal_type": {"repas"}, "level": {"P9"}, "booked": {"3,90"}, "unbooked": {"4,80"}, "from": {from.Format(time.DateOnly)}},
			[]string{"Niveau : « P9 » refusé.", `value="P9"`}, `id="meal-level"`},
		{"unknown meal type", url.Values{"school": {itoa(school)}, "meal_type": {"frites"}, "level": {"P"}, "booked": {"3,90"}, "unbooked": {"4,80"}, "from": {from.Format(time.DateOnly)}},
			[]string{"Repas : type de repas inconnu « frites »."}, `id="meal-type"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := c.post("/admin/tariffs/meal", tc.form)
			if st != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", st)
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("answer lacks %q", want)
				}
			}
			if i := strings.Index(body, tc.field); i < 0 || !strings.Contains(body[i:i+400], `aria-invalid="true"`) {
				t.Errorf("field %s is not marked invalid", tc.field)
			}
			if n, _ := f.tariffCounts(); n != meals0 {
				t.Errorf("%d meal tariffs after a refusal, want %d", n, meals0)
			}
		})
	}

	st, body, loc := c.post("/admin/tariffs/meal", form(" 3,90 ", eur("4,80"), from.Format("02/01/2006")))
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/tariffs?school=") {
		t.Fatalf("add: %d to %q (%.300s)", st, loc, body)
	}
	_, page := c.get(loc)
	for _, want := range []string{"Tarif de repas ajouté : il s&#39;applique à partir du " + dateFR(from), eur("3,90"), eur("4,80"), "À venir"} {
		if !strings.Contains(page, want) {
			t.Errorf("page after adding lacks %q", want)
		}
	}
	got, err := f.book.MealTariffFor(f.ctx, f.demo.TenantID, school, "repas", "P3", from)
	if err != nil || !got.BookedPrice.Equal(decimal.RequireFromString("3.90")) || !got.UnbookedPrice.Equal(decimal.RequireFromString("4.80")) || got.Level != "P" {
		t.Errorf("MealTariffFor(P3, %s) = %+v, %v; want the new 3.90/4.80 tariff", from.Format(time.DateOnly), got, err)
	}
	if old, err := f.book.MealTariffFor(f.ctx, f.demo.TenantID, school, "repas", "P3", today); err != nil || !old.BookedPrice.Equal(decimal.RequireFromString("3.70")) {
		t.Errorf("MealTariffFor(P3, today) = %+v, %v; want the old 3.70 tariff", old, err)
	}
	if n, _ := f.tariffCounts(); n != meals0+1 {
		t.Errorf("%d meal tariffs, want %d", n, meals0+1)
	}
}

func TestAddDaycareTariff(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	from := civilDay(testclock.Now().In(brussels())).AddDate(0, 0, 3)
	school := itoa(f.demo.SchoolID)
	_, care0 := f.tariffCounts()
	base := func(edit func(url.Values)) url.Values {
		v := url.Values{"school": {school}, "level": {"M"}, "period": {"15"}, "price": {"0,40"}, "cap": {""}, "opens": {"07:30"},
			"closes": {"17:30"}, "free_from": {"15:20"}, "free_to": {"15:40"}, "from": {from.Format(time.DateOnly)}}
		if edit != nil {
			edit(v)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"bad price", base(func(v url.Values) { v.Set("price", "zéro") }), "Prix par période commencée : « zéro » refusé."},
		{"bad cap", base(func(v url.Values) { v.Set("cap", "6,001") }), "Plafond par jour : « 6,001 » refusé."},
		{"bad period", base(func(v url.Values) { v.Set("period", "0") }), "Période : « 0 » refusé."},
		{"closes before opens", base(func(v url.Values) { v.Set("closes", "07:00") }), "Fermeture : 07:00 ne suit pas l&#39;ouverture 07:30."},
		{"bad time", base(func(v url.Values) { v.Set("opens", "25:00") }), "Ouverture : « 25:00 » n&#39;est pas une heure."},
		{"half a free window", base(func(v url.Values) { v.Set("free_to", "") }), "Moment gratuit : indiquez le début et la fin"},
		{"bad date", base(func(v url.Values) { v.Set("from", "demain") }), "Date de début : « demain » n&#39;est pas une date."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := c.post("/admin/tariffs/daycare", tc.form)
			if st != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", st)
			}
			if !strings.Contains(body, tc.want) {
				t.Errorf("answer lacks %q", tc.want)
			}
			if !strings.Contains(body, `value="15:20"`) {
				t.Errorf("typed values are not kept")
			}
			if _, n := f.tariffCounts(); n != care0 {
				t.Errorf("%d daycare tariffs after a refusal, want %d", n, care0)
			}
		})
	}
	st, page := c.follow("/admin/tariffs/daycare", base(func(v url.Values) { v.Set("cap", "4,50") }))
	if st != http.StatusOK || !strings.Contains(page, "Tarif de garderie ajouté") || !strings.Contains(page, eur("0,40")+" par 15 min") {
		t.Fatalf("add daycare tariff: %d, page without confirmation or new tariff", st)
	}
	got, err := f.book.DaycareTariffFor(f.ctx, f.demo.TenantID, f.demo.SchoolID, "M2", from)
	if err != nil || got.Level != "M" || got.PeriodMinutes != 15 || !got.PeriodPrice.Equal(decimal.RequireFromString("0.40")) ||
		got.DailyCap == nil || !got.DailyCap.Equal(decimal.RequireFromString("4.50")) || got.Opens != booking.MustClock("07:30") ||
		got.Closes != booking.MustClock("17:30") || len(got.FreeWindows) != 1 || got.FreeWindows[0].From != booking.MustClock("15:20") {
		t.Errorf("DaycareTariffFor(M2) = %+v, %v", got, err)
	}
	// Primary pupils keep the every-level tariff.
	if p, err := f.book.DaycareTariffFor(f.ctx, f.demo.TenantID, f.demo.SchoolID, "P2", from); err != nil || p.Level != "*" {
		t.Errorf("DaycareTariffFor(P2) = %+v, %v; want the * tariff", p, err)
	}
}

func TestTariffsForbidden(t *testing.T) {
	f := newFixture(t)
	c := f.login("canteen", "demo-canteen")
	if st, _ := c.get("/admin/tariffs"); st != http.StatusForbidden {
		t.Errorf("GET /admin/tariffs as canteen: %d, want 403", st)
	}
	meals0, care0 := f.tariffCounts()
	for _, p := range []string{"/admin/tariffs/meal", "/admin/tariffs/daycare"} {
		st, _, _ := c.post(p, url.Values{"school": {itoa(f.demo.SchoolID)}, "meal_type": {"repas"}, "level": {"*"}, "booked": {"1"},
			"unbooked": {"1"}, "period": {"30"}, "price": {"1"}, "opens": {"07:00"}, "closes": {"18:00"}, "from": {testclock.Now().AddDate(0, 0, 1).Format(time.DateOnly)}})
		if st != http.StatusForbidden {
			t.Errorf("POST %s as canteen: %d, want 403", p, st)
		}
	}
	if m, d := f.tariffCounts(); m != meals0 || d != care0 {
		t.Errorf("tariffs changed by a canteen user: %d/%d, want %d/%d", m, d, meals0, care0)
	}
}

func TestTariffStates(t *testing.T) {
	day := func(s string) time.Time { v, _ := time.Parse(time.DateOnly, s); return v }
	end := day("2026-12-31")
	type row struct {
		key  string
		from string
		to   *time.Time
		id   int64
	}
	rows := []row{
		{"P", "2026-08-31", nil, 1},  // superseded by 2
		{"P", "2026-11-01", nil, 2},  // current
		{"P", "2027-01-01", nil, 3},  // future
		{"M", "2026-08-31", &end, 4}, // current until the end of December
		{"S", "2026-01-01", nil, 5},  // ended on 31 October (below)
		{"*", "2025-08-31", nil, 6},  // current
		{"*", "2025-08-31", nil, 7},  // same day, higher id: wins
	}
	rows[4].to = func() *time.Time { v := day("2026-10-31"); return &v }() // ended
	got := tariffStates(day("2026-11-16"), len(rows), func(i int) (tariffKey, time.Time, *time.Time, int64) {
		return tariffKey{"repas", rows[i].key}, day(rows[i].from), rows[i].to, rows[i].id
	})
	want := []tariffState{tariffPast, tariffCurrent, tariffFuture, tariffCurrent, tariffPast, tariffPast, tariffCurrent}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("tariff %d: state %d, want %d", rows[i].id, got[i], want[i])
		}
	}
}

// mealTariffID returns the id of the demo school's meal tariff of that meal
// type and level valid from the earliest day.
func (f *fixture) mealTariffID(mealType, level string) int64 {
	f.t.Helper()
	list, err := f.book.MealTariffs(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil {
		f.t.Fatal(err)
	}
	var id int64
	for _, t := range list {
		if t.MealType == mealType && t.Level == level && t.ValidTo == nil {
			id = t.ID
		}
	}
	if id == 0 {
		f.t.Fatalf("no open %s tariff for %s", mealType, level)
	}
	return id
}

func TestEndMealTariff(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	today := civilDay(testclock.Now().In(brussels()))
	tomorrow := today.AddDate(0, 0, 1)
	sch := itoa(f.demo.SchoolID)
	potage := f.mealTariffID("potage", "*")
	repasP := f.mealTariffID("repas", "P")
	future, err := f.book.AddMealTariff(f.ctx, f.demo.TenantID, booking.MealTariff{SchoolID: f.demo.SchoolID, MealType: "repas", Level: "P",
		BookedPrice: decimal.RequireFromString("3.90"), UnbookedPrice: decimal.RequireFromString("4.70"), ValidFrom: today.AddDate(0, 0, 30)})
	if err != nil {
		t.Fatal(err)
	}
	end := func(day string) url.Values { return url.Values{"school": {sch}, "from": {day}} }
	path := func(id int64) string { return "/admin/tariffs/meal/" + itoa(id) + "/end" }

	_, page := c.get("/admin/tariffs")
	for _, want := range []string{`action="` + path(potage) + `"`, `action="` + path(future) + `"`, "Terminer un tarif sans le remplacer",
		`min="` + tomorrow.Format(time.DateOnly) + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("tariffs page lacks %q", want)
		}
	}

	for _, tc := range []struct {
		name string
		id   int64
		day  string
		want string
	}{
		{"not a date", potage, "bientôt", "Fin : « bientôt » n&#39;est pas une date."},
		{"today", potage, today.Format(time.DateOnly), "Fin : un tarif se termine au plus tôt demain (" + dateFR(tomorrow) + ")"},
		{"backdated", potage, today.AddDate(0, 0, -10).Format("02/01/2006"), "au plus tôt demain"},
		{"on its first day", future, today.AddDate(0, 0, 30).Format(time.DateOnly), "Fin : ce tarif commence le " + dateFR(today.AddDate(0, 0, 30))},
		{"replaced by a future tariff", repasP, today.AddDate(0, 0, 10).Format(time.DateOnly),
			"Ce tarif est remplacé à partir du " + dateFR(today.AddDate(0, 0, 30)) + " par un tarif plus récent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := c.post(path(tc.id), end(tc.day))
			if st != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", st)
			}
			if !strings.Contains(body, tc.want) {
				t.Errorf("answer lacks %q", tc.want)
			}
			field := `id="end-meal-` + itoa(tc.id) + `"`
			if i := strings.Index(body, field); i < 0 || !strings.Contains(body[i:i+400], `aria-invalid="true"`) {
				t.Errorf("the end field of tariff %d is not marked invalid", tc.id)
			}
			if i := strings.Index(body, field); i >= 0 && !strings.Contains(body[i:i+200], `value="`+tc.day+`"`) {
				t.Errorf("the typed day %q is not kept", tc.day)
			}
		})
	}
	for _, tc := range []struct {
		mealType string
		day      time.Time
		want     int64
	}{{"potage", today.AddDate(0, 0, 60), potage}, {"repas", today.AddDate(0, 0, 10), repasP}, {"repas", today.AddDate(0, 0, 60), future}} {
		if mt, err := f.book.MealTariffFor(f.ctx, f.demo.TenantID, f.demo.SchoolID, tc.mealType, "P3", tc.day); err != nil || mt.ID != tc.want || mt.ValidTo != nil {
			t.Errorf("after refusals, %s on %s: %+v, %v; want tariff %d without end", tc.mealType, tc.day.Format(time.DateOnly), mt, err, tc.want)
		}
	}
	if st, _, _ := c.post(path(999999), end(tomorrow.Format(time.DateOnly))); st != http.StatusNotFound {
		t.Errorf("unknown tariff: %d, want 404", st)
	}
	if st, _, _ := c.post(path(potage), url.Values{"school": {"999999"}, "from": {tomorrow.Format(time.DateOnly)}}); st != http.StatusNotFound {
		t.Errorf("another school: %d, want 404", st)
	}
	// Emma books soup on the first day she can; the soup then stops from
	// tomorrow: the page warns about her booking.
	emma := f.demo.Pupils["Emma"]
	var booked time.Time
	// (up to 90 days ahead: the summer holidays last eight weeks)
	for i := 1; i < 90 && booked.IsZero(); i++ {
		if _, err := f.book.Book(f.ctx, booking.BookRequest{TenantID: f.demo.TenantID, PupilID: emma, Day: today.AddDate(0, 0, i), Service: "potage", Actor: "test"}); err == nil {
			booked = today.AddDate(0, 0, i)
		}
	}
	if booked.IsZero() {
		t.Fatal("Emma could not book soup in the next 90 days")
	}
	st, body := c.follow(path(potage), end(tomorrow.Format("02/01/2006")))
	if st != http.StatusOK {
		t.Fatalf("end soup: %d (%.300s)", st, body)
	}
	for _, want := range []string{"Tarif terminé : il ne s&#39;applique plus à partir du " + dateFR(tomorrow), "Attention : 1 réservation(s) déjà faite(s)",
		" au " + dateFR(today)} {
		if !strings.Contains(body, want) {
			t.Errorf("page after ending lacks %q", want)
		}
	}
	// The end form is gone; the cancellation of the bookings left is offered.
	if strings.Contains(body, `action="/admin/tariffs/meal/`+itoa(potage)+`/end"`) || strings.Contains(body, `id="end-meal-`+itoa(potage)+`"`) {
		t.Errorf("an ended tariff still offers the end form")
	}
	if !strings.Contains(body, "Annuler la réservation concernée et libérer le montant réservé") ||
		!strings.Contains(body, `action="/admin/tariffs/meal/`+itoa(potage)+`/cancel-bookings"`) {
		t.Errorf("the confirmation does not offer to cancel Emma's booking")
	}
	if _, err := f.book.MealTariffFor(f.ctx, f.demo.TenantID, f.demo.SchoolID, "potage", "P3", tomorrow); !errors.Is(err, booking.ErrNoTariff) {
		t.Errorf("soup tomorrow: %v, want ErrNoTariff", err)
	}
	if _, err := f.book.MealTariffFor(f.ctx, f.demo.TenantID, f.demo.SchoolID, "potage", "P3", today); err != nil {
		t.Errorf("soup today: %v, want today's price kept", err)
	}
	_, err = f.book.Book(f.ctx, booking.BookRequest{TenantID: f.demo.TenantID, PupilID: emma, Day: booked.AddDate(0, 0, 1), Service: "potage", Actor: "test"})
	if !errors.Is(err, booking.ErrNoTariff) {
		t.Errorf("booking soup after the end: %v, want ErrNoTariff", err)
	}
	entries, err := f.store.AuditLog(f.ctx, f.demo.TenantID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAudit(entries, "tariff.meal.end", "school:"+sch) {
		t.Errorf("no audit entry tariff.meal.end")
	}
	// Twice: a clear answer, nothing changes.
	st, body, _ = c.post(path(potage), end(today.AddDate(0, 0, 5).Format(time.DateOnly)))
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "Ce tarif est déjà terminé : son dernier jour est le "+dateFR(today)) {
		t.Errorf("ending twice: %d", st)
	}
}

func TestEndDaycareTariff(t *testing.T) {
	f := newFixture(t)
	c := f.login("admin", "demo-admin")
	tomorrow := civilDay(testclock.Now().In(brussels())).AddDate(0, 0, 1)
	care, err := f.book.DaycareTariffs(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil || len(care) != 1 {
		t.Fatalf("demo daycare tariffs: %+v, %v", care, err)
	}
	p := "/admin/tariffs/daycare/" + itoa(care[0].ID) + "/end"
	form := func() url.Values {
		return url.Values{"school": {itoa(f.demo.SchoolID)}, "from": {tomorrow.AddDate(0, 0, 6).Format(time.DateOnly)}}
	}
	// A canteen member may not, nor a forged form.
	if st, _, _ := f.login("canteen", "demo-canteen").post(p, form()); st != http.StatusForbidden {
		t.Errorf("canteen member: %d, want 403", st)
	}
	forged := form()
	forged.Set("csrf_token", "forged")
	if st, _, _ := c.post(p, forged); st != http.StatusForbidden {
		t.Errorf("forged token: %d, want 403", st)
	}
	if _, err := f.book.DaycareTariffFor(f.ctx, f.demo.TenantID, f.demo.SchoolID, "P3", tomorrow.AddDate(0, 0, 6)); err != nil {
		t.Fatalf("a refused form ended the daycare tariff: %v", err)
	}
	st, body := c.follow(p, form())
	if st != http.StatusOK || !strings.Contains(body, "Tarif terminé") || strings.Contains(body, "Attention :") {
		t.Fatalf("end daycare: %d", st)
	}
	if _, err := f.book.DaycareTariffFor(f.ctx, f.demo.TenantID, f.demo.SchoolID, "P3", tomorrow.AddDate(0, 0, 6)); !errors.Is(err, booking.ErrNoTariff) {
		t.Errorf("daycare after the end: %v, want ErrNoTariff", err)
	}
	if _, err := f.book.DaycareTariffFor(f.ctx, f.demo.TenantID, f.demo.SchoolID, "P3", tomorrow.AddDate(0, 0, 5)); err != nil {
		t.Errorf("daycare on the last day: %v", err)
	}
	entries, err := f.store.AuditLog(f.ctx, f.demo.TenantID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAudit(entries, "tariff.daycare.end", "school:"+itoa(f.demo.SchoolID)) {
		t.Errorf("no audit entry tariff.daycare.end")
	}
}

// familiesRelay is the fixture's Deps.Families: it forwards to the
// notifier a test sets (the real portal), or drops the notice.
type familiesRelay struct {
	mu sync.Mutex
	to CancellationNotifier
}

func (r *familiesRelay) set(n CancellationNotifier) { r.mu.Lock(); r.to = n; r.mu.Unlock() }

func (r *familiesRelay) BookingsCancelledBySchool(ctx context.Context, tenantID int64, cancelled []booking.Cancellation) error {
	r.mu.Lock()
	to := r.to
	r.mu.Unlock()
	if to == nil {
		return nil
	}
	return to.BookingsCancelledBySchool(ctx, tenantID, cancelled)
}

// withPortalMail plugs the real portal's mailer, sending to a real SMTP
// listener, into the back office's notices to the families.
func (f *fixture) withPortalMail() *mailtest.Server {
	f.t.Helper()
	srv := mailtest.Start(f.t, "", "")
	sender, err := mail.NewSMTP(mail.Config{Addr: srv.Addr, From: "Tartine <noreply@ecole.be>"}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	sessions, err := websession.New(f.pool, websession.Config{BaseURL: f.srv.URL, CookieName: "tartine_portal"})
	if err != nil {
		f.t.Fatal(err)
	}
	cat, err := i18n.New()
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := portal.New(portal.Deps{Pool: f.pool, Ledger: f.led, School: f.store, Booking: f.book, Sessions: sessions, Catalog: cat,
		Mail: sender, BaseURL: f.srv.URL, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.t.Fatal(err)
	}
	f.families.set(p)
	return srv
}

// TestCancelBookingsOfEndedTariff: soup stops; the confirmation offers to
// cancel the bookings left without a price; the button cancels them (holds
// voided, the families' cut-off ignored), each guardian gets one email in
// their language, and pressing it again cancels nothing more.
func TestCancelBookingsOfEndedTariff(t *testing.T) {
	f := newFixture(t)
	smtp := f.withPortalMail()
	c := f.login("admin", "demo-admin")
	today := civilDay(testclock.Now().In(brussels()))
	sch := itoa(f.demo.SchoolID)
	bank, err := f.led.AccountByCode(f.ctx, f.demo.TenantID, school.AccountBank)
	if err != nil {
		t.Fatal(err)
	}
	emma, noah, olivia := f.pupil("Emma"), f.pupil("Noah"), f.pupil("Olivia")
	if _, err := f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.demo.TenantID, IdempotencyKey: "test:olivia", Kind: "topup", Actor: "test",
		Postings: []ledger.Posting{{AccountID: bank.ID, Amount: decimal.RequireFromString("10.00")}, {AccountID: olivia.WalletAccountID, Amount: decimal.RequireFromString("-10.00")}}}); err != nil {
		t.Fatal(err)
	}
	avail := func(p school.Pupil) string {
		t.Helper()
		b, err := f.led.Balance(f.ctx, f.demo.TenantID, p.WalletAccountID)
		if err != nil {
			t.Fatal(err)
		}
		return b.Available.StringFixed(2)
	}
	book := func(p school.Pupil, day time.Time) (booking.Booking, error) {
		return f.book.Book(f.ctx, booking.BookRequest{TenantID: f.demo.TenantID, PupilID: p.ID, Day: day, Service: "potage", Actor: "guardian:test"})
	}
	// Emma's soup on the first two days she can book: the first stays
	// (before the end), the second is cancelled with Noah's and Olivia's.
	var days []time.Time
	before := map[string]string{"Noah": avail(noah), "Olivia": avail(olivia)}
	for i := 1; i < 90 && len(days) < 2; i++ { // the summer holidays last eight weeks
		if _, err := book(emma, today.AddDate(0, 0, i)); err == nil {
			days = append(days, today.AddDate(0, 0, i))
			if len(days) == 1 {
				before["Emma"] = avail(emma) // with the first day's hold
			}
		}
	}
	if len(days) < 2 {
		t.Fatal("Emma could not book soup on two days in the next 90")
	}
	cancelled := map[string]int64{}
	for name, p := range map[string]school.Pupil{"Emma": emma, "Noah": noah, "Olivia": olivia} {
		b, err := book(p, days[1])
		if err != nil {
			t.Fatalf("book %s's soup on %s: %v", name, days[1].Format(time.DateOnly), err)
		}
		cancelled[name] = b.ID
	}
	first, err := f.book.BookingFor(f.ctx, f.demo.TenantID, emma.ID, days[0], "potage")
	if err != nil {
		t.Fatal(err)
	}
	var potage int64
	meals, err := f.book.MealTariffs(f.ctx, f.demo.TenantID, f.demo.SchoolID)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range meals {
		if mt.MealType == "potage" {
			potage = mt.ID
		}
	}
	endPath := "/admin/tariffs/meal/" + itoa(potage) + "/end"
	cancelPath := "/admin/tariffs/meal/" + itoa(potage) + "/cancel-bookings"
	cancelForm := url.Values{"school": {sch}}

	// Cancelling before the tariff ended: refused, nothing cancelled.
	if st, body, _ := c.post(cancelPath, cancelForm); st != http.StatusUnprocessableEntity || !strings.Contains(body, "Ce tarif n&#39;est pas terminé") {
		t.Errorf("cancel before the end: %d", st)
	}

	st, page := c.follow(endPath, url.Values{"school": {sch}, "from": {days[0].AddDate(0, 0, 1).Format(time.DateOnly)}})
	if st != http.StatusOK {
		t.Fatalf("end soup: %d", st)
	}
	for _, want := range []string{"Attention : 3 réservation(s)", `action="` + cancelPath + `"`,
		"Annuler les 3 réservations concernées et libérer les montants réservés", "même après leur heure limite"} {
		if !strings.Contains(page, want) {
			t.Errorf("confirmation lacks %q", want)
		}
	}
	// Later, the tariffs page still offers the cancellation (an admin
	// who left the confirmation comes back to it), without the warning.
	if st, later := c.get("/admin/tariffs?school=" + sch); st != http.StatusOK || !strings.Contains(later, `action="`+cancelPath+`"`) ||
		!strings.Contains(later, "3 réservation(s) à venir sans tarif") || strings.Contains(later, "Attention : 3 réservation(s)") {
		t.Errorf("tariffs page after the end: status %d, want the cancellation of the 3 bookings offered without the warning", st)
	}
	if len(smtp.Messages()) != 0 {
		t.Fatalf("ending the tariff sent %d emails, want none before the cancellation", len(smtp.Messages()))
	}

	// A forged form and a canteen member cancel nothing.
	forged := url.Values{"school": {sch}, "csrf_token": {"forged"}}
	if st, _, _ := c.post(cancelPath, forged); st != http.StatusForbidden {
		t.Errorf("forged token: %d, want 403", st)
	}
	if st, _, _ := f.login("canteen", "demo-canteen").post(cancelPath, cancelForm); st != http.StatusForbidden {
		t.Errorf("canteen member: %d, want 403", st)
	}
	if b, _ := f.book.Get(f.ctx, f.demo.TenantID, cancelled["Noah"]); b.Status != booking.StatusBooked {
		t.Fatalf("a refused form cancelled Noah's booking: %s", b.Status)
	}

	st, page = c.follow(cancelPath, cancelForm)
	if st != http.StatusOK {
		t.Fatalf("cancel the bookings: %d", st)
	}
	if want := "3 réservation(s) annulée(s) : " + eur("1,80") + " libéré(s)"; !strings.Contains(page, want) {
		t.Errorf("page after the cancellation lacks %q", want)
	}
	if strings.Contains(page, `action="`+cancelPath+`"`) {
		t.Errorf("the cancel form is still offered after the cancellation")
	}
	for name, id := range cancelled {
		b, err := f.book.Get(f.ctx, f.demo.TenantID, id)
		if err != nil || b.Status != booking.StatusCancelled || !strings.HasPrefix(b.CancelledBy, "staff:") {
			t.Errorf("%s's booking: %+v, %v; want cancelled by staff", name, b, err)
		}
	}
	if b, _ := f.book.Get(f.ctx, f.demo.TenantID, first.ID); b.Status != booking.StatusBooked {
		t.Errorf("Emma's booking before the end: %s, want still booked", b.Status)
	}
	for name, p := range map[string]school.Pupil{"Emma": emma, "Noah": noah, "Olivia": olivia} {
		if got := avail(p); got != before[name] {
			t.Errorf("%s's available balance %s, want %s back", name, got, before[name])
		}
	}
	if v, _, err := f.led.Verify(f.ctx); err != nil || len(v) > 0 {
		t.Errorf("ledger.Verify: %+v, %v", v, err)
	}
	entries, err := f.store.AuditLog(f.ctx, f.demo.TenantID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAudit(entries, "tariff.meal.cancel_bookings", "school:"+sch) {
		t.Errorf("no audit entry tariff.meal.cancel_bookings")
	}

	// One email per guardian: Sophie (Emma, French), Marc and An (Noah,
	// Dutch on record: French), Tom (Olivia, English).
	msgs := smtp.Wait(t, 4)
	if len(msgs) != 4 {
		t.Errorf("%d emails, want 4", len(msgs))
	}
	for _, tc := range []struct{ to, subject, want, not string }{
		{"sophie.dubois@example.be", "Tartine : réservations annulées par l'école", "Emma :", "Noah"},
		{"marc.janssens@example.be", "Tartine : réservations annulées par l'école", "Noah :", "Emma"},
		{"an.peeters@example.be", "Tartine : réservations annulées par l'école", "Montant libéré : " + eur("0,60"), "Olivia"},
		{"tom.martin@example.com", "Tartine: bookings cancelled by the school", "Olivia:", "Emma"},
	} {
		m := smtp.Last(t, tc.to)
		if m.Subject != tc.subject || !strings.Contains(m.Text, tc.want) || strings.Contains(m.Text, tc.not) {
			t.Errorf("email to %s: %q\n%s\nwant %q, not %q", tc.to, m.Subject, m.Text, tc.want, tc.not)
		}
	}
	if m := smtp.Last(t, "sophie.dubois@example.be"); strings.Contains(m.Text, i18n.FormatDate(days[0], "fr")) ||
		!strings.Contains(m.Text, i18n.FormatDate(days[1], "fr")) {
		t.Errorf("Sophie's email lists the wrong days:\n%s", m.Text)
	}

	// Again: nothing more is cancelled, nobody is written to.
	st, page = c.follow(cancelPath, cancelForm)
	if st != http.StatusOK || !strings.Contains(page, "Aucune réservation à annuler") {
		t.Errorf("cancelling again: %d", st)
	}
	if n := len(smtp.Messages()); n != 4 {
		t.Errorf("%d emails after cancelling again, want 4", n)
	}
	if got := avail(emma); got != before["Emma"] {
		t.Errorf("Emma's available balance %s after cancelling again, want %s", got, before["Emma"])
	}
}

// Closing days that have bookings (issue 11: "no charge for a closed day"):
// the first submit previews how many bookings the closing cancels and
// closes nothing; the confirmation closes the days, cancels the bookings
// (holds released) and emails each family with the closure's label.
func TestCloseDaysWithBookings(t *testing.T) {
	f := newFixture(t)
	smtp := f.withPortalMail()
	c := f.login("admin", "demo-admin")
	today := civilDay(testclock.Now().In(brussels()))
	emma := f.pupil("Emma")
	var booked booking.Booking
	for i := 2; i < 90 && booked.ID == 0; i++ { // the summer holidays last eight weeks
		b, err := f.book.Book(f.ctx, booking.BookRequest{TenantID: f.demo.TenantID, PupilID: emma.ID, Day: today.AddDate(0, 0, i), Service: "potage", Actor: "guardian:test"})
		if err == nil {
			booked = b
		}
	}
	if booked.ID == 0 {
		t.Fatal("Emma could not book soup in the next 90 days")
	}
	n, err := f.book.BookedBetween(f.ctx, f.demo.TenantID, f.demo.SchoolID, booked.Day, booked.Day)
	if err != nil || n == 0 {
		t.Fatalf("BookedBetween = %d, %v", n, err)
	}
	year := booking.SchoolYearOf(booked.Day)
	form := url.Values{"school": {itoa(f.demo.SchoolID)}, "year": {fmt.Sprintf("%d-%d", year, year+1)}, "day": {booked.Day.Format(time.DateOnly)},
		"to": {booked.Day.Format(time.DateOnly)}, "kind": {"closure"}, "label": {"Grève"}}
	st, body, _ := c.post("/admin/calendar/closed", form)
	if st != http.StatusOK || !strings.Contains(body, fmt.Sprintf("%d réservation(s) sont prévues", n)) || !strings.Contains(body, `name="confirm" value="yes"`) {
		t.Fatalf("preview: %d\n%.500s", st, body)
	}
	if open, _, _ := f.book.IsOpen(f.ctx, f.demo.TenantID, f.demo.SchoolID, booked.Day); !open {
		t.Fatal("the preview closed the day")
	}
	form.Set("confirm", "yes")
	st, body = c.follow("/admin/calendar/closed", form)
	if st != http.StatusOK || !strings.Contains(body, "réservation(s) annulée(s), familles prévenues") {
		t.Fatalf("confirm: %d\n%.500s", st, body)
	}
	if open, _, _ := f.book.IsOpen(f.ctx, f.demo.TenantID, f.demo.SchoolID, booked.Day); open {
		t.Error("the day is still open")
	}
	if b, err := f.book.Get(f.ctx, f.demo.TenantID, booked.ID); err != nil || b.Status != booking.StatusCancelled {
		t.Errorf("Emma's booking: %+v, %v; want cancelled", b, err)
	}
	// Every family with a booking that day is written to; Emma's among them.
	smtp.Wait(t, 1)
	var toEmma string
	deadline := time.Now().Add(10 * time.Second)
	for toEmma == "" && time.Now().Before(deadline) {
		for _, m := range smtp.Messages() {
			if !strings.Contains(m.Text, "L'école sera fermée (Grève)") {
				t.Errorf("families' email without the closure:\n%s", m.Text)
			}
			if strings.Contains(m.Text, "Emma :") {
				toEmma = m.Text
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if toEmma == "" {
		t.Errorf("no email names Emma's cancelled booking")
	}
	if v, _, err := f.led.Verify(f.ctx); err != nil || len(v) > 0 {
		t.Errorf("verify: %v, %v", v, err)
	}
}
