package portal_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"tartine/school"
)

// TestLeavingDayNotOffered (issue 14): Lucas leaves on Thursday
// 10 December (set ahead in the back office); his calendar offers the days
// before it only, and a booking sent for a later day is refused with the
// reason in French.
func TestLeavingDayNotOffered(t *testing.T) {
	f := newFixture(t) // Thursday 26 November 2026, 20:00
	st := school.New(f.led.Pool(), f.led, f.clk.Now)
	if _, err := st.Leave(context.Background(), f.tenant, f.lucas.ID, time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), "test"); err != nil {
		t.Fatal(err)
	}
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	lucas := childPath(f.tenant, f.lucas)
	_, body := anne.get(lucas + "/bookings?month=2026-12")
	if !strings.Contains(body, `data-action="book-2026-12-08-repas"`) {
		t.Error("the day before leaving is not offered")
	}
	for _, day := range []string{"2026-12-10", "2026-12-11", "2026-12-14"} {
		if strings.Contains(body, `data-action="book-`+day+`-repas"`) {
			t.Errorf("%s, on or after the leaving day, is offered", day)
		}
	}
	_, page := anne.post(lucas+"/bookings/book", url.Values{"day": {"2026-12-14"}, "service": {"repas"}})
	if want := "L&#39;élève quitte l&#39;école avant ce jour"; !strings.Contains(page, want) {
		t.Errorf("booking after leaving: no French refusal %q", want)
	}
}
