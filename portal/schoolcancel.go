package portal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/internal/mail"
	"tartine/school"
)

// BookingsCancelledBySchool tells the families about bookings the school
// cancelled because it stopped a service (booking.Manager.CancelUnpriced)
// or closed the day (booking.Manager.CloseDays, the closure's label named):
// one email per guardian of the pupils concerned, listing each of their
// children's cancelled days and the amount released, in the guardian's
// language. A guardian with a portal account is written to at the
// account's address and language; one without, at the address and
// language the school recorded; a guardian with neither address is
// skipped. Two guardians sharing an address get one email. The back office
// calls it after the cancellation; an error (a pupil or address that
// cannot be read, a message the mail server refused) never undoes it, and
// the other emails are still sent.
func (a *App) BookingsCancelledBySchool(ctx context.Context, tenantID int64, cancelled []booking.Cancellation) error {
	if len(cancelled) == 0 {
		return nil
	}
	byPupil := map[int64][]booking.Cancellation{}
	var pupils []int64
	for _, c := range cancelled {
		if _, ok := byPupil[c.Booking.PupilID]; !ok {
			pupils = append(pupils, c.Booking.PupilID)
		}
		byPupil[c.Booking.PupilID] = append(byPupil[c.Booking.PupilID], c)
	}
	read, err := school.ReadPupils(ctx, a.Pool, tenantID, pupils)
	if err != nil {
		return fmt.Errorf("read pupils: %w", err)
	}
	names := make(map[int64]string, len(read))
	for id, p := range read {
		names[id] = p.FirstName
	}
	meals := map[string]string{}
	types, err := a.Booking.MealTypes(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, mt := range types {
		meals[mt.Code] = mt.Name
	}

	// Recipients: lower-case address → language and the pupils concerned.
	type recipient struct {
		email, lang string
		pupils      []int64
	}
	rcpts := map[string]*recipient{}
	var order []string
	// The guardians' own addresses and languages, those of their portal
	// accounts first.
	links, err := a.School.GuardiansOfPupilsAll(ctx, tenantID, pupils)
	if err != nil {
		return fmt.Errorf("read the guardians' addresses: %w", err)
	}
	ids := make([]int64, 0, len(links))
	for i, g := range links {
		if i == 0 || links[i-1].ID != g.ID { // by guardian id
			ids = append(ids, g.ID)
		}
	}
	type login struct{ email, lang string }
	logins := map[int64]login{}
	rows, _ := a.Pool.Query(ctx, `SELECT ag.guardian_id, pa.email, pa.language
		FROM portal_account_guardians ag JOIN portal_accounts pa ON pa.id = ag.account_id
		WHERE ag.tenant_id = $1 AND ag.guardian_id = ANY($2)`, tenantID, ids)
	var guardian int64
	var l login
	if _, err := pgx.ForEachRow(rows, []any{&guardian, &l.email, &l.lang}, func() error { logins[guardian] = l; return nil }); err != nil {
		return fmt.Errorf("read the guardians' addresses: %w", err)
	}
	for _, g := range links {
		email, lang := g.Email, g.Language
		if l, ok := logins[g.ID]; ok {
			email, lang = l.email, l.lang
		}
		email = strings.TrimSpace(email)
		if email == "" {
			continue
		}
		k := strings.ToLower(email)
		r, ok := rcpts[k]
		if !ok {
			// Dates and amounts in the language of the words: a language
			// without a catalogue (nl) falls back to French.
			r = &recipient{email: email, lang: i18n.Negotiate(lang)}
			rcpts[k] = r
			order = append(order, k)
		}
		if !slices.Contains(r.pupils, g.PupilID) {
			r.pupils = append(r.pupils, g.PupilID)
		}
	}

	var errs []error
	for _, k := range order {
		r := rcpts[k]
		slices.SortFunc(r.pupils, func(x, y int64) int { return strings.Compare(names[x], names[y]) })
		msg := mail.Message{To: r.email, Subject: a.Catalog.T(r.lang, "portal.school_cancel.subject"),
			Text: a.schoolCancelText(r.lang, r.pupils, names, byPupil, meals)}
		if err := a.Mail.Send(ctx, msg); err != nil {
			errs = append(errs, fmt.Errorf("email %s: %w", r.email, err))
		}
	}
	return errors.Join(errs...)
}

// schoolCancelText is the body of BookingsCancelledBySchool's email in
// lang: the cancelled days of each child, then the total released.
func (a *App) schoolCancelText(lang string, pupils []int64, names map[int64]string, byPupil map[int64][]booking.Cancellation, meals map[string]string) string {
	t := func(key string, args ...any) string { return a.Catalog.T(lang, key, args...) }
	var b strings.Builder
	line := func(s string) { b.WriteString(s); b.WriteByte('\n') }
	line(t("portal.school_cancel.hello"))
	line("")
	// A closed day says so; a stopped service gives the general reason.
	closure := ""
	for _, p := range pupils {
		for _, c := range byPupil[p] {
			if c.Closure != "" {
				closure = c.Closure
			}
		}
	}
	if closure != "" {
		line(t("portal.school_cancel.intro_closed", closure))
	} else {
		line(t("portal.school_cancel.intro"))
	}
	total := decimal.Zero
	for _, p := range pupils {
		line("")
		line(t("portal.school_cancel.child", names[p]))
		for _, c := range byPupil[p] {
			day := i18n.FormatDate(c.Booking.Day, lang)
			svc := meals[string(c.Booking.Service)]
			switch {
			case c.Booking.Service.IsDaycare():
				svc = t("booking.service." + string(c.Booking.Service))
			case svc == "":
				svc = string(c.Booking.Service)
			}
			if c.Released.IsPositive() {
				line(t("portal.school_cancel.line_amount", day, svc, i18n.FormatEUR(c.Released, lang)))
				total = total.Add(c.Released)
			} else {
				line(t("portal.school_cancel.line", day, svc))
			}
		}
	}
	if total.IsPositive() {
		line("")
		line(t("portal.school_cancel.total", i18n.FormatEUR(total, lang)))
	}
	line("")
	line(t("portal.school_cancel.link", a.BaseURL+"/portal/"))
	line("")
	line(t("portal.school_cancel.signature"))
	return b.String()
}
