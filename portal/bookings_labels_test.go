package portal_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"tartine/booking"
)

var tagRe = regexp.MustCompile(`<[^>]*>`)

// TestServiceNamesNotCodes (issue 14): the bookings pages name a meal type
// by its name (« Potage »), never by its code (`potage`), in the grid's
// legend, the day's buttons and the pattern's and family form's lists.
func TestServiceNamesNotCodes(t *testing.T) {
	f := newFixture(t)
	if err := f.bk.EnsureMealType(context.Background(), f.tenant, booking.MealType{Code: "potage", Name: "Potage", Position: 2}); err != nil {
		t.Fatal(err)
	}
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	for _, path := range []string{childPath(f.tenant, f.lucas) + "/bookings?month=2026-12", "/portal/bookings?month=2026-12"} {
		code, body := anne.get(path)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, code)
		}
		if !strings.Contains(body, `<option value="potage">Potage</option>`) {
			t.Errorf("%s: no « Potage » in the service list", path)
		}
		// What people read: the text, and the labels read aloud.
		text := tagRe.ReplaceAllString(body, " ")
		for _, m := range regexp.MustCompile(`aria-label="[^"]*"`).FindAllString(body, -1) {
			text += " " + m
		}
		if strings.Contains(text, "potage") {
			i := strings.Index(text, "potage")
			t.Errorf("%s shows the code `potage`: …%s…", path, text[max(0, i-80):min(len(text), i+40)])
		}
	}
	_, body := anne.get(childPath(f.tenant, f.lucas) + "/bookings?month=2026-12")
	if !strings.Contains(body, `aria-label="Réserver Potage `) {
		t.Error("the day's button does not name « Potage »")
	}
}
