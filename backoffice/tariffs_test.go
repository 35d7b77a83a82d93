package backoffice

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/i18n"
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
	today := civilDay(time.Now().In(brussels()))
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
	from := civilDay(time.Now().In(brussels())).AddDate(0, 0, 3)
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
			"unbooked": {"1"}, "period": {"30"}, "price": {"1"}, "opens": {"07:00"}, "closes": {"18:00"}, "from": {time.Now().AddDate(0, 0, 1).Format(time.DateOnly)}})
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
	today := civilDay(time.Now().In(brussels()))
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
	for i := 1; i < 30 && booked.IsZero(); i++ {
		if _, err := f.book.Book(f.ctx, booking.BookRequest{TenantID: f.demo.TenantID, PupilID: emma, Day: today.AddDate(0, 0, i), Service: "potage", Actor: "test"}); err == nil {
			booked = today.AddDate(0, 0, i)
		}
	}
	if booked.IsZero() {
		t.Fatal("Emma could not book soup in the next 30 days")
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
	if strings.Contains(body, `action="`+path(potage)+`"`) {
		t.Errorf("an ended tariff still offers the end form")
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
	tomorrow := civilDay(time.Now().In(brussels())).AddDate(0, 0, 1)
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
