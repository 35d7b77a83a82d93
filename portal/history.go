package portal

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/internal/web"
	"tartine/ledger"
	"tartine/statements"
)

// historyData is the history page. Its words and amounts are written in Go
// (issue 17: each template call costs; the same HTML).
type historyData struct {
	Child     child
	Path      string    // the child's pages
	Month     time.Time // first day, school-local
	MonthName string    // « novembre »
	Prev      string    // "2026-10"
	Next      string    // "" when the next month is in the future
	MonthArg  string
	Kind      string
	Kinds     []kindOption
	Opening   decimal.Decimal
	Closing   decimal.Decimal
	Wallet    booking.WalletBalance // now, not at the month's end
	Lines     []historyLine
	Chart     template.HTML
	// For people: the wallet now, the month's opening and closing
	// balances.
	Balance, Available, OpeningText, ClosingText string
	W                                            *historyWords
}

// historyWords are the history page's fixed words in one language.
type historyWords struct {
	Title, Months, PrevMonth, NextMonth, WalletHelp, Balance, Available string
	ChartTitle, FilterKind, All, Filter, Opening, Closing               string
	Date, What, Amount, Reversed, Empty, Back                           string
}

func historyWordsIn(p page) *historyWords {
	return cachedWords(p.Cat, p.Lang, "history", func(t func(string) string) *historyWords {
		return &historyWords{Title: t("portal.history.title"), Months: t("portal.history.months"),
			PrevMonth: t("portal.prev_month"), NextMonth: t("portal.next_month"), WalletHelp: t("wallet.help"),
			Balance: t("wallet.balance"), Available: t("wallet.available"), ChartTitle: t("portal.history.chart_title"),
			FilterKind: t("portal.history.filter_kind"), All: t("portal.history.all"), Filter: t("portal.history.filter"),
			Opening: t("portal.history.opening"), Closing: t("portal.history.closing"), Date: t("portal.history.date"),
			What: t("portal.history.what"), Amount: t("portal.history.amount"), Reversed: t("portal.history.reversed"),
			Empty: t("portal.history.empty"), Back: t("common.back")}
	})
}

// kindOption is a choice of the kind filter.
type kindOption struct {
	Kind, Label string
	Selected    bool // the kind shown
}

// historyLine is a wallet line as parents read it: words, never the codes
// the books keep (a station "kiosk-1", a meal type "potage", a receipt
// reference).
type historyLine struct {
	ledger.StatementLine
	What   string // "Repas", "Rechargement en espèces (accueil)"
	Detail string // "Potage"; "" when nothing to add
	// For the template (issue 17): the line's day in full, its amount,
	// whether it is a debit, whether it was reversed.
	When, Sum string
	Neg, Undo bool
}

// parseMonth reads "YYYY-MM" (school-local); empty or bad means the current month.
func (a *App) parseMonth(s string) time.Time {
	now := a.Now().In(brussels())
	cur := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, brussels())
	if s == "" {
		return cur
	}
	t, err := time.ParseInLocation("2006-01", s, brussels())
	if err != nil || t.Year() < 2000 || t.After(cur.AddDate(1, 0, 0)) {
		return cur
	}
	return t
}

// statement returns the child's wallet statement of the month.
func (a *App) statement(c *gin.Context, ch child, month time.Time) (ledger.Statement, error) {
	if ch.WalletID == 0 {
		return ledger.Statement{}, nil
	}
	return a.Ledger.Statement(c.Request.Context(), ch.TenantID, ch.WalletID, month, month.AddDate(0, 1, 0))
}

func (a *App) history(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	month := a.parseMonth(c.Query("month"))
	st, err := a.statement(c, ch, month)
	if err != nil {
		a.fail(c, err)
		return
	}
	d := historyData{Child: ch, Month: month, MonthArg: month.Format("2006-01"), Kind: c.Query("kind"),
		Opening: st.Opening, Closing: st.Closing, Prev: month.AddDate(0, -1, 0).Format("2006-01")}
	if next := month.AddDate(0, 1, 0); !next.After(a.Now()) {
		d.Next = next.Format("2006-01")
	}
	if d.Wallet, err = a.balanceOf(c, ch); err != nil {
		a.fail(c, err)
		return
	}
	lang := a.lang(c, acct)
	p := page{Page: web.Page{Lang: lang, Cat: a.Catalog}}
	d.Path, d.W = ch.Path(), historyWordsIn(p)
	d.MonthName = p.T("portal.month." + month.Month().String())
	d.Balance, d.Available = p.EUR(d.Wallet.Balance), p.EUR(d.Wallet.Available)
	d.OpeningText, d.ClosingText = p.EUR(d.Opening), p.EUR(d.Closing)
	names := a.serviceNames(lang)
	labels := map[string]string{} // each kind's name, once
	for _, l := range st.Lines {
		label, seen := labels[l.Kind]
		if !seen {
			label = a.kindLabel(lang, l.Kind)
			labels[l.Kind] = label
			d.Kinds = append(d.Kinds, kindOption{Kind: l.Kind, Label: label, Selected: l.Kind == d.Kind})
		}
		if d.Kind == "" || d.Kind == l.Kind {
			hl := historyLine{StatementLine: l, What: label, When: p.Date(l.OccurredAt), Sum: p.EUR(l.Amount),
				Neg: l.Amount.IsNegative(), Undo: l.Reversed}
			if hl.Detail, err = a.lineDetail(c.Request.Context(), lang, ch.TenantID, names, l); err != nil {
				a.fail(c, err)
				return
			}
			d.Lines = append(d.Lines, hl)
		}
	}
	sort.Slice(d.Kinds, func(i, j int) bool { return d.Kinds[i].Label < d.Kinds[j].Label })
	// Newest first for reading on a phone.
	for i, j := 0, len(d.Lines)-1; i < j; i, j = i+1, j-1 {
		d.Lines[i], d.Lines[j] = d.Lines[j], d.Lines[i]
	}
	d.Chart = spendingChart(a.Catalog, lang, st.Lines)
	a.render(c, http.StatusOK, "history", "portal.history.title", d, acct)
}

func (a *App) historyChart(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	st, err := a.statement(c, ch, a.parseMonth(c.Query("month")))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "image/svg+xml; charset=utf-8", []byte(spendingChart(a.Catalog, a.lang(c, acct), st.Lines)))
}

// kindLabel names a ledger transfer kind for parents; a kind without a
// name in the catalogue is "Opération", never its code.
func (a *App) kindLabel(lang, kind string) string {
	for _, prefix := range []string{"portal.history.kind.", "portal.kind.", "booking.kind.", "payments.kind."} {
		if a.Catalog.Has(i18n.Default, prefix+kind) {
			return a.Catalog.T(lang, prefix+kind)
		}
	}
	return a.Catalog.T(lang, "wallet.other_kind")
}

// memoKinds are the kinds whose memo is written for families (names of
// children, a statement number); every other memo is for the books and may
// hold codes (stations, receipts, meal type codes).
var memoKinds = map[string]bool{KindSiblingTransfer: true, statements.KindWalletPayment: true}

var hoursRe = regexp.MustCompile(`\d\d:\d\d–\d\d:\d\d`)

// lineDetail is what parents read under a line's kind: the service's name
// and day for a meal, the hours of a daycare session, the memo of the
// kinds written for them.
func (a *App) lineDetail(ctx context.Context, lang string, tenantID int64, names *serviceNamer, l ledger.StatementLine) (string, error) {
	service := l.Metadata["service"]
	if service == "" {
		service = l.Metadata["meal_type"]
	}
	switch {
	case service != "":
		name, err := names.name(ctx, a, tenantID, service)
		if err != nil {
			return "", err
		}
		if strings.EqualFold(name, a.kindLabel(lang, l.Kind)) {
			name = "" // « Repas », not « Repas — Repas »
		}
		// The service's day when it is not the line's (a meal charged
		// later).
		if l.Metadata["day"] != "" && l.Metadata["day"] != l.OccurredAt.In(brussels()).Format(time.DateOnly) {
			if day, err := time.ParseInLocation(time.DateOnly, l.Metadata["day"], brussels()); err == nil {
				return strings.TrimPrefix(name+" · "+i18n.FormatDate(day, lang), " · "), nil
			}
		}
		return name, nil
	case l.Kind == "daycare":
		return hoursRe.FindString(l.Memo), nil
	case memoKinds[l.Kind]:
		return l.Memo, nil
	}
	return "", nil
}

// serviceNamer names booking services for people (in one language),
// reading each tenant's meal types once.
type serviceNamer struct {
	lang  string
	meals map[int64]map[string]string // tenant → meal type code → name
}

func (a *App) serviceNames(lang string) *serviceNamer {
	return &serviceNamer{lang: lang, meals: map[int64]map[string]string{}}
}

// name is the service's name: the meal type's name ("Potage"), the daycare
// service's catalogue name, or "Repas" for a meal type that no longer
// exists — never its code.
func (n *serviceNamer) name(ctx context.Context, a *App, tenantID int64, service string) (string, error) {
	if a.Catalog.Has(i18n.Default, "booking.service."+service) {
		return a.Catalog.T(n.lang, "booking.service."+service), nil
	}
	m, ok := n.meals[tenantID]
	if !ok {
		mts, err := a.Booking.MealTypes(ctx, tenantID)
		if err != nil {
			return "", err
		}
		m = make(map[string]string, len(mts))
		for _, mt := range mts {
			m[mt.Code] = mt.Name
		}
		n.meals[tenantID] = m
	}
	if name := m[service]; name != "" {
		return name, nil
	}
	return a.Catalog.T(n.lang, "booking.kind.meal"), nil
}

// serviceOf groups a ledger kind into a service for the chart.
func serviceOf(kind string) string {
	switch {
	case strings.HasPrefix(kind, "meal"):
		return "meals"
	case strings.HasPrefix(kind, "daycare"):
		return "daycare"
	case strings.HasPrefix(kind, "sibling"):
		return "transfers"
	default:
		return "other"
	}
}

// spendingChart draws the month's spending (wallet debits) by service as a
// horizontal bar chart in SVG, with a text table-equivalent in <title>/<desc>
// for screen readers.
func spendingChart(cat *i18n.Catalog, lang string, lines []ledger.StatementLine) template.HTML {
	totals := map[string]decimal.Decimal{}
	for _, l := range lines {
		if l.Amount.IsNegative() && !l.Reversed {
			s := serviceOf(l.Kind)
			totals[s] = totals[s].Add(l.Amount.Neg())
		}
	}
	order := []string{"meals", "daycare", "transfers", "other"}
	max := decimal.Zero
	for _, s := range order {
		if totals[s].GreaterThan(max) {
			max = totals[s]
		}
	}
	const width, barH, gap, labelW = 340, 26, 12, 90
	height := len(order)*(barH+gap) + gap
	var b strings.Builder
	title := cat.T(lang, "portal.history.chart_title")
	var desc []string
	for _, s := range order {
		desc = append(desc, cat.T(lang, "portal.service."+s)+" "+i18n.FormatEUR(totals[s], lang))
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="chart-t chart-d" class="chart">`, width, height)
	fmt.Fprintf(&b, `<title id="chart-t">%s</title><desc id="chart-d">%s</desc>`, template.HTMLEscapeString(title), template.HTMLEscapeString(strings.Join(desc, ", ")))
	colors := map[string]string{"meals": "#1f6f50", "daycare": "#2c5d9e", "transfers": "#7a4b9a", "other": "#6b6b6b"}
	for i, s := range order {
		y := gap + i*(barH+gap)
		w := 0.0
		if max.IsPositive() {
			w, _ = totals[s].Div(max).Mul(decimal.NewFromInt(width - labelW - 80)).Float64()
		}
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="13" fill="#1a1a1a">%s</text>`, y+barH*2/3, template.HTMLEscapeString(cat.T(lang, "portal.service."+s)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" rx="3" fill="%s"/>`, labelW, y, w, barH, colors[s])
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="13" fill="#1a1a1a">%s</text>`, float64(labelW)+w+6, y+barH*2/3, template.HTMLEscapeString(i18n.FormatEUR(totals[s], lang)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
