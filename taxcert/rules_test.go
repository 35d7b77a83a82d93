package taxcert

import (
	"testing"
	"time"

	"tartine/school"
)

func day(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }

// TestPeriodsOf: the daily rate of a period is the rate actually charged; a
// rate that changes within a quarter splits it; more than four periods
// merge the closest neighbours, never changing the amounts.
func TestPeriodsOf(t *testing.T) {
	type want struct {
		from, to  time.Time
		days      int
		rate, amt string
	}
	tests := []struct {
		name string
		in   []dayAmount
		want []want
	}{
		{"one rate per quarter", []dayAmount{{day(1, 12), d("3")}, {day(1, 13), d("3")}, {day(4, 20), d("4.5")}},
			[]want{{day(1, 12), day(1, 13), 2, "3", "6"}, {day(4, 20), day(4, 20), 1, "4.5", "4.5"}}},
		{"a rate change within a quarter splits it (no average)", []dayAmount{{day(1, 12), d("3")}, {day(1, 13), d("3")}, {day(2, 2), d("6")}, {day(2, 3), d("6")}, {day(2, 4), d("6")}},
			[]want{{day(1, 12), day(1, 13), 2, "3", "6"}, {day(2, 2), day(2, 4), 3, "6", "18"}}},
		{"same rate across quarters: two periods", []dayAmount{{day(3, 31), d("2")}, {day(4, 1), d("2")}},
			[]want{{day(3, 31), day(3, 31), 1, "2", "2"}, {day(4, 1), day(4, 1), 1, "2", "2"}}},
		{"six runs: the neighbours with the closest rates merge (equal rates first)", []dayAmount{
			{day(1, 5), d("1.50")}, {day(1, 6), d("1.50")}, {day(1, 7), d("6.00")}, {day(1, 8), d("2.25")}, {day(4, 7), d("0.75")}, {day(7, 7), d("0.75")}, {day(10, 5), d("3.00")}},
			[]want{{day(1, 5), day(1, 6), 2, "1.5", "3"}, {day(1, 7), day(1, 7), 1, "6", "6"}, {day(1, 8), day(7, 7), 3, "1.25", "3.75"}, {day(10, 5), day(10, 5), 1, "3", "3"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := periodsOf(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("periods = %+v, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if !g.From.Equal(w.from) || !g.To.Equal(w.to) || g.Days != w.days || !g.DailyRate.Equal(d(w.rate)) || !g.Amount.Equal(d(w.amt)) {
					t.Errorf("period %d = %s–%s %d days at %s = %s; want %s–%s %d days at %s = %s", i+1, g.From.Format(time.DateOnly), g.To.Format(time.DateOnly),
						g.Days, g.DailyRate, g.Amount, w.from.Format(time.DateOnly), w.to.Format(time.DateOnly), w.days, w.rate, w.amt)
				}
			}
		})
	}
}

// TestSevereHandicapUntil21: Tom turned 14 on 15 June 2026; with a severe
// handicap his care after that day counts too (until 21).
func TestSevereHandicapUntil21(t *testing.T) {
	f := newFamily(t)
	f.year2026()
	tomAnne := func() Draft {
		ds, err := f.svc.Drafts(f.ctx, f.tenant, 2026)
		if err != nil {
			t.Fatal(err)
		}
		for _, dr := range ds {
			if dr.PupilID == f.tom.ID && dr.GuardianID == f.anne.ID {
				return dr
			}
		}
		t.Fatal("no draft for Tom and Anne")
		return Draft{}
	}
	if dr := tomAnne(); dr.Days != 1 || !dr.Content.Total.Equal(d("1.50")) {
		t.Fatalf("without the flag: %d days, %s; want 1 day, 1.50", dr.Days, dr.Content.Total)
	}
	on := true
	if _, err := f.st.UpdatePupil(f.ctx, f.tenant, f.tom.ID, school.PupilInput{SchoolID: f.tom.SchoolID, FirstName: f.tom.FirstName, LastName: f.tom.LastName,
		BirthDate: f.tom.BirthDate, Level: f.tom.Level, SevereHandicap: &on}, "staff:1"); err != nil {
		t.Fatal(err)
	}
	if dr := tomAnne(); dr.Days != 2 || !dr.Content.Total.Equal(d("3.00")) {
		t.Errorf("with a severe handicap: %d days, %s; want 2 days, 3.00 (16 June counts)", dr.Days, dr.Content.Total)
	}
	p, _ := f.st.Pupil(f.ctx, f.tenant, f.tom.ID)
	if got, want := AgeLimit(p), time.Date(2033, 6, 15, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("AgeLimit = %s, want %s", got, want)
	}
}
