package statements

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/fees"
	"tartine/school"
)

// KindWriteOff is the ledger kind of a write-off this package books to a
// pupil's receivable.
const KindWriteOff = "write-off"

// kindDaycare is terminal.LedgerKindDaycare (not imported: the terminal
// is a web package above this one).
const kindDaycare = "daycare"

// Skipped is a pupil with something to show who gets no statement, and why.
type Skipped struct {
	PupilID int64
	Name    string
	Reason  string // "no_guardian"
}

// build is the work of one period: every pupil with anything to show.
type build struct {
	period  Period
	drafts  []Content
	lineIDs map[int64][]int64 // pupil → fee line ids on its draft
	skipped []Skipped
	// existing: pupils that already have a statement for the period
	// (number), left to Reissue.
	existing map[int64]string
}

// splitRule is a pupil's split setting.
type splitRule struct {
	mode  string
	lines map[string]int64 // category ('*' default) → guardian
}

// draft builds the unsaved statements of a period for the given pupils
// (nil: every pupil of the tenant). Numbers and communications are left
// empty: Issue gives them.
func (s *Service) draft(ctx context.Context, p Period, only []int64) (*build, error) {
	tenantID := p.TenantID
	tenant, err := s.school.Tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	schools, err := s.school.Schools(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	schoolInfo := map[int64]SchoolInfo{}
	var pupils []school.Pupil
	want := map[int64]bool{}
	for _, id := range only {
		want[id] = true
	}
	for _, sc := range schools {
		schoolInfo[sc.ID] = SchoolInfo{ID: sc.ID, Name: sc.Name, Address: sc.Address, IBAN: sc.IBAN, BIC: sc.BIC, Beneficiary: sc.Beneficiary}
		ps, err := s.school.PupilsOfSchool(ctx, tenantID, sc.ID, true)
		if err != nil {
			return nil, err
		}
		for _, pu := range ps {
			if only == nil || want[pu.ID] {
				pupils = append(pupils, pu)
			}
		}
	}
	contacts, err := s.contacts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(pupils))
	var wallets, receivables []int64
	for i, pu := range pupils {
		ids[i] = pu.ID
		if pu.WalletAccountID != 0 {
			wallets = append(wallets, pu.WalletAccountID)
		}
	}
	// The fees receivables (fees:<pupil>), not receivable:<pupil> where the
	// canteen books service debts: a statement shows school fees alone.
	feesAccount, err := fees.ReceivableAccounts(ctx, s.ledger, tenantID, ids)
	if err != nil {
		return nil, err
	}
	for _, a := range feesAccount {
		receivables = append(receivables, a)
	}
	b := &build{period: p, lineIDs: map[int64][]int64{}, existing: map[int64]string{}}
	if len(ids) == 0 {
		return b, nil
	}
	// Already issued for this period: their numbers (a re-issue keeps it).
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT pupil_id, number FROM statements WHERE tenant_id = $1 AND period_id = $2`, tenantID, p.ID)
	if err != nil {
		return nil, fmt.Errorf("issued statements: %w", err)
	}
	var pid int64
	var num string
	if _, err := pgx.ForEachRow(rows, []any{&pid, &num}, func() error { b.existing[pid] = num; return nil }); err != nil {
		return nil, fmt.Errorf("issued statements: %w", err)
	}
	// Fee lines: every line up to the period's end that is on no statement
	// yet (or on this pupil's statement of this period: a re-issue).
	first, _ := ParseSchoolYear(p.SchoolYear)
	yearFrom := time.Date(first-1, time.August, 1, 0, 0, 0, 0, time.UTC) // a year back: late lines are caught up
	lines, err := fees.LinesForPeriod(ctx, s.pool, tenantID, ids, yearFrom, p.To)
	if err != nil {
		return nil, err
	}
	byPupil := map[int64][]fees.Line{}
	for _, l := range lines {
		if l.IssuedRef != "" && l.IssuedRef != b.existing[l.PupilID] {
			continue
		}
		byPupil[l.PupilID] = append(byPupil[l.PupilID], l)
	}
	prev, err := s.previousTotals(ctx, tenantID, p)
	if err != nil {
		return nil, err
	}
	// Money booked to the receivable between the previous period's end and
	// this one's: payments and write-offs (fee kinds are the lines above).
	from := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if pp, ok, err := s.previous(ctx, p); err != nil {
		return nil, err
	} else if ok {
		from = startOfDay(pp.To.AddDate(0, 0, 1))
	}
	to := startOfDay(p.To.AddDate(0, 0, 1))
	recv, err := s.ledger.KindTotals(ctx, tenantID, receivables, from, to)
	if err != nil {
		return nil, err
	}
	type money struct{ payments, writeOffs decimal.Decimal }
	moneyOf := map[int64]*money{}
	for _, k := range recv {
		switch k.Kind {
		case "fee", "fee-cancel", "fee-credit":
			continue
		}
		m := moneyOf[k.AccountID]
		if m == nil {
			m = &money{}
			moneyOf[k.AccountID] = m
		}
		if k.Kind == KindWriteOff {
			m.writeOffs = m.writeOffs.Sub(k.Amount)
		} else {
			m.payments = m.payments.Sub(k.Amount)
		}
	}
	svc, err := s.ledger.KindTotals(ctx, tenantID, wallets, startOfDay(p.From), to)
	if err != nil {
		return nil, err
	}
	services := map[int64]map[string]*ServiceLine{}
	for _, k := range svc {
		var name string
		switch k.Kind {
		case booking.KindMeal, booking.KindMealNoShow:
			name = ServiceMeals
		case kindDaycare:
			name = ServiceDaycare
		default:
			continue
		}
		m := services[k.AccountID]
		if m == nil {
			m = map[string]*ServiceLine{}
			services[k.AccountID] = m
		}
		sl := m[name]
		if sl == nil {
			sl = &ServiceLine{Service: name}
			m[name] = sl
		}
		sl.Quantity += k.Count
		sl.Total = sl.Total.Sub(k.Amount)
	}
	guardians, err := s.school.GuardiansOfPupils(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	splits, err := s.splits(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	partsDue, err := s.partsDue(ctx, tenantID, p.From, p.To)
	if err != nil {
		return nil, err
	}
	issued := civil(s.now().In(brussels()))
	for _, pu := range pupils {
		c := Content{
			IssuedOn:  issued,
			DueOn:     issued.AddDate(0, 0, p.DueDays),
			Organiser: tenant.Name,
			School:    schoolInfo[pu.SchoolID],
			Pupil:     PupilInfo{ID: pu.ID, FirstName: pu.FirstName, LastName: pu.LastName, Class: pu.ClassCode, Level: pu.Level},
			Period:    PeriodInfo{ID: p.ID, SchoolYear: p.SchoolYear, Seq: p.Seq, From: p.From, To: p.To},
			Previous:  prev[pu.ID],
			Lines:     []Line{},
			Services:  []ServiceLine{},
		}
		c.School.Contact = contacts[pu.SchoolID]
		c.Instalments = partsDue[pu.ID]
		for _, l := range byPupil[pu.ID] {
			c.Lines = append(c.Lines, Line{ID: l.ID, Date: l.Date, Object: l.Object, Category: l.Category, Kind: string(l.Kind), Amount: l.Amount, Credit: l.Credit})
			c.Fees = c.Fees.Add(l.Signed())
			b.lineIDs[pu.ID] = append(b.lineIDs[pu.ID], l.ID)
		}
		if m := moneyOf[feesAccount[pu.ID]]; feesAccount[pu.ID] != 0 && m != nil {
			c.Payments, c.WriteOffs = m.payments, m.writeOffs
		}
		for _, name := range []string{ServiceMeals, ServiceDaycare} {
			if sl := services[pu.WalletAccountID][name]; sl != nil && (sl.Quantity != 0 || !sl.Total.IsZero()) {
				c.Services = append(c.Services, *sl)
			}
		}
		if len(c.Lines) == 0 && len(c.Services) == 0 && c.Previous.IsZero() && c.Payments.IsZero() && c.WriteOffs.IsZero() {
			continue // nothing to show
		}
		c.TotalDue = c.Previous.Add(c.Fees).Sub(c.Payments).Sub(c.WriteOffs)
		c.Facilities = c.TotalDue.GreaterThan(FacilitiesThreshold)
		gs := guardians[pu.ID]
		if len(gs) == 0 {
			b.skipped = append(b.skipped, Skipped{PupilID: pu.ID, Name: pu.FirstName + " " + pu.LastName, Reason: "no_guardian"})
			continue
		}
		for _, g := range gs {
			c.Addressees = append(c.Addressees, Addressee{GuardianID: g.ID, Name: g.FirstName + " " + g.LastName, Address: g.Address})
		}
		c.Split, c.Payers = payersOf(c, splits[pu.ID])
		b.drafts = append(b.drafts, c)
	}
	sort.SliceStable(b.drafts, func(i, j int) bool { return b.drafts[i].Pupil.ID < b.drafts[j].Pupil.ID })
	return b, nil
}

// payersOf splits what is due between the guardians (communications are
// given at issue). Nothing due: no payer.
func payersOf(c Content, rule *splitRule) (string, []Payer) {
	mode := "none"
	if rule != nil && len(c.Addressees) > 1 {
		mode = rule.mode
	}
	if !c.TotalDue.IsPositive() {
		return mode, []Payer{}
	}
	name := map[int64]string{}
	for _, a := range c.Addressees {
		name[a.GuardianID] = a.Name
	}
	switch mode {
	case "equal":
		return mode, share(c.TotalDue, c.Addressees, nil)
	case "lines":
		// Each line to its category's guardian ('*' for the rest); what is
		// not a line (previous balance, payments) shared equally.
		own := map[int64]decimal.Decimal{}
		for _, l := range c.Lines {
			g, ok := rule.lines[l.Category]
			if !ok {
				g = rule.lines["*"]
			}
			if _, known := name[g]; !known {
				g = c.Addressees[0].GuardianID
			}
			own[g] = own[g].Add(l.Signed())
		}
		rest := c.TotalDue.Sub(c.Fees)
		return mode, share(rest, c.Addressees, own)
	}
	return "none", []Payer{{Amount: c.TotalDue}}
}

// share divides amount equally between the addressees (cents left over go
// to the first ones), adds each one's own part, and keeps payers with a
// positive amount.
func share(amount decimal.Decimal, to []Addressee, own map[int64]decimal.Decimal) []Payer {
	n := int64(len(to))
	cents := amount.Shift(2).IntPart()
	each, left := cents/n, cents%n
	out := []Payer{}
	for i, a := range to {
		c := each
		if int64(i) < left {
			c++
		} else if left < 0 && int64(i) < -left {
			c--
		}
		amt := decimal.New(c, -2).Add(own[a.GuardianID])
		if amt.IsPositive() {
			out = append(out, Payer{GuardianID: a.GuardianID, Name: a.Name, Amount: amt})
		}
	}
	return out
}

// previousTotals returns, per pupil, the total due on the latest version of
// its latest statement of a period before p.
func (s *Service) previousTotals(ctx context.Context, tenantID int64, p Period) (map[int64]decimal.Decimal, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (st.pupil_id) st.pupil_id, st.total_due
		FROM statements st JOIN statement_periods sp ON sp.tenant_id = st.tenant_id AND sp.id = st.period_id
		WHERE st.tenant_id = $1 AND sp.starts_on < $2
		ORDER BY st.pupil_id, sp.starts_on DESC, st.version DESC`, tenantID, p.From)
	if err != nil {
		return nil, fmt.Errorf("previous totals: %w", err)
	}
	out := map[int64]decimal.Decimal{}
	var id int64
	var d decimal.Decimal
	if _, err := pgx.ForEachRow(rows, []any{&id, &d}, func() error { out[id] = d; return nil }); err != nil {
		return nil, fmt.Errorf("previous totals: %w", err)
	}
	return out, nil
}

func (s *Service) contacts(ctx context.Context, tenantID int64) (map[int64]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT school_id, contact FROM statement_settings WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("statement settings: %w", err)
	}
	out := map[int64]string{}
	var id int64
	var c string
	if _, err := pgx.ForEachRow(rows, []any{&id, &c}, func() error { out[id] = c; return nil }); err != nil {
		return nil, fmt.Errorf("statement settings: %w", err)
	}
	return out, nil
}

func (s *Service) splits(ctx context.Context, tenantID int64) (map[int64]*splitRule, error) {
	rows, err := s.pool.Query(ctx, `SELECT sp.pupil_id, sp.mode, coalesce(l.category, ''), coalesce(l.guardian_id, 0)
		FROM statement_splits sp LEFT JOIN statement_split_lines l ON l.tenant_id = sp.tenant_id AND l.pupil_id = sp.pupil_id
		WHERE sp.tenant_id = $1`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("splits: %w", err)
	}
	out := map[int64]*splitRule{}
	var id, g int64
	var mode, cat string
	if _, err := pgx.ForEachRow(rows, []any{&id, &mode, &cat, &g}, func() error {
		r := out[id]
		if r == nil {
			r = &splitRule{mode: mode, lines: map[string]int64{}}
			out[id] = r
		}
		if cat != "" {
			r.lines[cat] = g
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("splits: %w", err)
	}
	return out, nil
}
