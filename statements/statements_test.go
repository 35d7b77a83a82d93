package statements

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/ledger"
	"tartine/school"
	"tartine/sepa"
)

func ruleOf(t *testing.T, err error) string {
	t.Helper()
	var re *RuleError
	if !errors.As(err, &re) {
		t.Fatalf("got error %v, want a *RuleError", err)
	}
	if re.Source == "" {
		t.Errorf("rule %s has no source", re.Rule)
	}
	if !errors.Is(err, ErrRefused) {
		t.Errorf("rule error does not match ErrRefused")
	}
	return re.Rule
}

// Rule: each statement period covers at least 1 and at most 4 months, and
// the periods are set before the school year starts (FEES.md §7).
func TestRulePeriodsOneToFourMonths(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name     string
		from, to time.Time
		rule     string // "" when accepted
	}{
		{"one month exactly", day(2026, 9, 1), day(2026, 9, 30), ""},
		{"four months exactly", day(2026, 9, 1), day(2026, 12, 31), ""},
		{"two months mid-month", day(2026, 9, 15), day(2026, 11, 14), ""},
		{"a day short of a month", day(2026, 9, 1), day(2026, 9, 29), RulePeriodLength},
		{"a day over four months", day(2026, 9, 1), day(2027, 1, 1), RulePeriodLength},
		{"a whole year", day(2026, 9, 1), day(2027, 6, 30), RulePeriodLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.svc.SetPeriods(f.ctx, f.tenant.ID, "2026-27", []PeriodInput{{From: c.from, To: c.to}}, "test")
			if c.rule == "" {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				return
			}
			if got := ruleOf(t, err); got != c.rule {
				t.Errorf("got rule %s, want %s", got, c.rule)
			}
		})
	}
	t.Run("announced before the year", func(t *testing.T) {
		f.clock.set(at(2026, time.August, 31, 8)) // last Monday of August 2026: the year has started
		_, err := f.svc.SetPeriods(f.ctx, f.tenant.ID, "2026-27", []PeriodInput{{From: day(2026, 9, 1), To: day(2026, 10, 31)}}, "test")
		if got := ruleOf(t, err); got != RulePeriodAnnounced {
			t.Errorf("got rule %s, want %s", got, RulePeriodAnnounced)
		}
		ps, err := f.svc.Periods(f.ctx, f.tenant.ID, "2026-27")
		if err != nil || len(ps) != 1 || !ps[0].To.Equal(day(2026, 11, 14)) {
			t.Errorf("periods after a refused change: %v %v, want the last accepted one", ps, err)
		}
	})
	f.clock.set(at(2026, time.June, 15, 10))
	if _, err := f.svc.SetPeriods(f.ctx, f.tenant.ID, "2026-27", []PeriodInput{{From: day(2026, 9, 1), To: day(2026, 10, 31)}, {From: day(2026, 10, 1), To: day(2026, 11, 30)}}, "test"); !errors.Is(err, ErrInvalid) {
		t.Errorf("overlapping periods: got %v, want ErrInvalid", err)
	}
}

// Rule: no statement for a year whose estimate was never sent, unless an
// admin overrides it with a reason (FEES.md §6, JP Namur 29-10-2019).
func TestRuleEstimateSentBeforeStatements(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	p := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	f.fee("Piscine — septembre", "piscine", "12.00", day(2026, 9, 15), p.ID)
	f.clock.set(at(2026, time.November, 3, 9))
	if _, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil); ruleOf(t, err) != RuleEstimateSent {
		t.Fatalf("issue without an estimate: %v", err)
	}
	if err := f.svc.OverrideEstimate(f.ctx, f.tenant.ID, "2026-27", "", "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("override without a reason: got %v, want ErrInvalid", err)
	}
	// Sending the estimate (proof kept) lifts the refusal.
	f.clock.set(at(2026, time.June, 20, 9))
	e, err := f.svc.SaveEstimate(f.ctx, f.tenant.ID, EstimateInput{SchoolYear: "2026-27", SchoolID: f.sch.ID, Scope: "P4",
		Headings: []EstimateHeading{{Heading: "Piscine", Kind: "obligatoire", Amount: decimal.RequireFromString("36")}, {Heading: "Abonnement revue", Kind: "facultatif", Amount: decimal.RequireFromString("18.50")}}}, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.SendEstimate(f.ctx, f.tenant.ID, e.ID, "https://portail.example.be", "staff:1"); err != nil || n != 1 {
		t.Fatalf("send estimate: %d %v", n, err)
	}
	sends, err := f.svc.EstimateSends(f.ctx, f.tenant.ID, e.ID)
	if err != nil || len(sends) != 1 || sends[0].SentBy != "staff:1" || sends[0].Version != 1 || !sends[0].SentAt.Equal(at(2026, time.June, 20, 9)) {
		t.Errorf("proof of sending: %+v %v, want who, when and version", sends, err)
	}
	f.clock.set(at(2026, time.November, 3, 9))
	if _, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil); err != nil {
		t.Fatalf("issue after the estimate was sent: %v", err)
	}
}

// Rule: an issued statement is immutable (snapshot + hash, append-only
// tables); a re-issue is a new version that says what changed.
func TestRuleStatementImmutable(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	p := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	f.fee("Piscine — septembre", "piscine", "60.00", day(2026, 9, 15), p.ID)
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	run, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	sts, err := f.svc.OfRun(f.ctx, f.tenant.ID, run.ID)
	if err != nil || len(sts) != 1 {
		t.Fatalf("run statements: %v %v", sts, err)
	}
	v1 := sts[0]
	if !v1.HashOK() || v1.Number != "ST-2026-000001" || v1.Version != 1 || !v1.TotalDue.Equal(decimal.RequireFromString("60")) {
		t.Fatalf("issued statement: %+v", v1)
	}
	for _, sql := range []string{`UPDATE statements SET total_due = 0 WHERE id = $1`, `DELETE FROM statements WHERE id = $1`,
		`UPDATE statement_payers SET amount = 1 WHERE statement_id = $1`} {
		if _, err := f.school.Pool().Exec(f.ctx, sql, v1.ID); err == nil {
			t.Errorf("%s: accepted, want refused (append-only)", sql)
		}
	}
	// The fee line is frozen in package fees.
	lines, err := fees.LinesForPeriod(f.ctx, f.school.Pool(), f.tenant.ID, []int64{p.ID}, day(2026, 9, 1), day(2026, 10, 31))
	if err != nil || len(lines) != 1 || lines[0].IssuedRef != v1.Number {
		t.Fatalf("fee line after issue: %+v %v, want issued on %s", lines, err, v1.Number)
	}
	// Issuing the period again issues nothing new.
	if _, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("second issue: got %v, want ErrInvalid", err)
	}
	if _, err := f.svc.Reissue(f.ctx, f.tenant.ID, v1.ID, "staff:1"); !errors.Is(err, ErrUnchanged) {
		t.Errorf("re-issue with nothing changed: got %v, want ErrUnchanged", err)
	}
	// A fee of the period recorded late: the re-issue is version 2 and says so.
	f.fee("Théâtre « Le Petit Prince »", "activites", "8.50", day(2026, 10, 20), p.ID)
	v2, err := f.svc.Reissue(f.ctx, f.tenant.ID, v1.ID, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if v2.Number != v1.Number || v2.Version != 2 || !v2.TotalDue.Equal(decimal.RequireFromString("68.5")) || !strings.Contains(v2.Content.Changes, "Le Petit Prince") {
		t.Errorf("version 2: %s v%d total %s changes %q", v2.Number, v2.Version, v2.TotalDue, v2.Content.Changes)
	}
	old, err := f.svc.Get(f.ctx, f.tenant.ID, v1.ID)
	if err != nil || old.Latest || !old.HashOK() || !old.TotalDue.Equal(decimal.RequireFromString("60")) || len(old.Content.Lines) != 1 {
		t.Errorf("version 1 after the re-issue: %+v %v, want unchanged and not latest", old, err)
	}
	if v2.Content.Payers[0].OGM == v1.Content.Payers[0].OGM {
		t.Errorf("version 2 reuses the communication of version 1")
	}
}

// Rule: over 50 € the statement offers payment facilities; every
// statement says non-payment has no consequence on schooling.
func TestRuleFacilitiesOver50(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	over := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	at50 := f.pupil("Léon", "Dupont", [2]string{"Marc", "marc@example.be"})
	f.fee("Classe de dépaysement", "sejours", "50.01", day(2026, 10, 5), over.ID)
	f.fee("Classe de dépaysement", "sejours", "50.00", day(2026, 10, 5), at50.ID)
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	pv, err := f.svc.Preview(f.ctx, f.tenant.ID, ps[0].ID)
	if err != nil || len(pv.Statements) != 2 || pv.Facilities != 1 {
		t.Fatalf("preview: %d statements, %d with facilities, %v", len(pv.Statements), pv.Facilities, err)
	}
	for _, c := range pv.Statements {
		want := c.Pupil.ID == over.ID
		if c.Facilities != want {
			t.Errorf("%s (%s): facilities %v, want %v", c.Pupil.FirstName, c.TotalDue, c.Facilities, want)
		}
		html, err := f.svc.HTML(c, "fr")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(html), "facilités de paiement"); got != want {
			t.Errorf("%s: HTML offers facilities %v, want %v", c.Pupil.FirstName, got, want)
		}
		if !strings.Contains(string(html), "aucune conséquence sur la scolarité") {
			t.Errorf("%s: HTML lacks the no-consequence sentence", c.Pupil.FirstName)
		}
	}
}

// Rule: statements go to every guardian (separated parents each), never
// to the pupil; a split gives each payer an amount and a communication.
func TestRuleGuardiansOnlyAndSplit(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	equal := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"}, [2]string{"Paul", "paul@example.be"})
	byLine := f.pupil("Léon", "Dupont", [2]string{"Marc", "marc@example.be"}, [2]string{"Inès", "ines@example.be"})
	orphan := f.pupil("Noé", "Martin") // no guardian: never sent to the pupil
	f.fee("Piscine", "piscine", "61.01", day(2026, 9, 15), equal.ID)
	f.fee("Piscine", "piscine", "20.00", day(2026, 9, 15), byLine.ID, orphan.ID)
	f.fee("Musée", "activites", "15.00", day(2026, 10, 2), byLine.ID)
	if err := f.svc.SetSplit(f.ctx, f.tenant.ID, equal.ID, SplitEqual, nil, "staff:1"); err != nil {
		t.Fatal(err)
	}
	gs, err := f.school.GuardiansOfPupil(f.ctx, f.tenant.ID, byLine.ID)
	if err != nil {
		t.Fatal(err)
	}
	ines, marc := gs[0].ID, gs[1].ID // by last name then first name: both Dupont, Inès first
	if err := f.svc.SetSplit(f.ctx, f.tenant.ID, byLine.ID, SplitLines, map[string]int64{"piscine": ines, "*": marc}, "staff:1"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetSplit(f.ctx, f.tenant.ID, byLine.ID, SplitLines, map[string]int64{"*": 999999}, "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("split to a stranger: got %v, want ErrInvalid", err)
	}
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	run, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := f.svc.Preview(f.ctx, f.tenant.ID, ps[0].ID)
	if err != nil || len(pv.Skipped) != 1 || pv.Skipped[0].PupilID != orphan.ID {
		t.Errorf("pupil without guardian: skipped %+v %v", pv.Skipped, err)
	}
	sts, err := f.svc.OfRun(f.ctx, f.tenant.ID, run.ID)
	if err != nil || len(sts) != 2 {
		t.Fatalf("statements: %d %v, want 2 (none for the pupil without guardian)", len(sts), err)
	}
	ogms := map[string]bool{}
	for _, st := range sts {
		c := st.Content
		if len(c.Addressees) != 2 {
			t.Errorf("%s: %d addressees, want both guardians", c.Pupil.FirstName, len(c.Addressees))
		}
		got := map[int64]string{}
		for _, py := range c.Payers {
			if _, err := sepa.ParseOGM(py.OGM); err != nil || ogms[py.OGM] {
				t.Errorf("%s: payer communication %q invalid or shared", c.Pupil.FirstName, py.OGM)
			}
			ogms[py.OGM] = true
			got[py.GuardianID] = py.Amount.StringFixed(2)
			ref, err := f.svc.ByCommunication(f.ctx, f.tenant.ID, py.OGM)
			if err != nil || ref.StatementID != st.ID || !ref.Amount.Equal(py.Amount) || ref.ReceivableAccountID == 0 {
				t.Errorf("ByCommunication(%s): %+v %v", py.OGM, ref, err)
			}
		}
		switch st.PupilID {
		case equal.ID:
			if c.Split != SplitEqual || len(got) != 2 || got[c.Addressees[0].GuardianID] != "30.51" || got[c.Addressees[1].GuardianID] != "30.50" {
				t.Errorf("equal split of 61.01: %v", got)
			}
		case byLine.ID:
			if c.Split != SplitLines || got[ines] != "20.00" || got[marc] != "15.00" {
				t.Errorf("split by line: %v, want piscine 20.00 to Inès and the rest 15.00 to Marc", got)
			}
		}
	}
	rep, err := f.svc.Send(f.ctx, f.tenant.ID, run.ID, "https://portail.example.be", "staff:1", nil)
	if err != nil || rep.Sent != 4 {
		t.Fatalf("send: %+v %v, want 4 emails", rep, err)
	}
	to := strings.Join(f.mail.to(), ",")
	for _, want := range []string{"anne@", "paul@", "marc@", "ines@"} {
		if !strings.Contains(to, want) {
			t.Errorf("no statement email to %s (sent to %s)", want, to)
		}
	}
	for _, m := range f.mail.msgs {
		if !strings.Contains(m.Text, "https://portail.example.be/statements/") {
			t.Errorf("email to %s has no link to the statement", m.To)
		}
	}
	// Sending again sends nothing twice.
	if rep, err := f.svc.Send(f.ctx, f.tenant.ID, run.ID, "https://portail.example.be", "staff:1", nil); err != nil || rep.Sent != 0 {
		t.Errorf("second send: %+v %v, want nothing sent", rep, err)
	}
}

// Rule: a fee never put on an issued statement cannot be claimed: it is
// listed for the accountant, left out of receivables and refused for
// reminders.
func TestRuleUnclaimableFee(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	p := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	f.fee("Piscine", "piscine", "60.00", day(2026, 9, 15), p.ID)
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	run, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	late := f.fee("Excursion oubliée", "activites", "25.00", day(2026, 10, 10), p.ID)
	un, err := f.svc.UnclaimableLines(f.ctx, f.tenant.ID, day(2026, 11, 1))
	if err != nil || len(un) != 1 || un[0].FeeID != late.ID {
		t.Fatalf("unclaimable lines: %+v %v, want the late fee", un, err)
	}
	if _, err := f.svc.RemindFeeLine(f.ctx, f.tenant.ID, un[0].ID); ruleOf(t, err) != RuleUnclaimable {
		t.Errorf("reminding an unissued fee: %v", err)
	}
	rs, err := f.svc.AgedReceivables(f.ctx, f.tenant.ID, at(2026, time.November, 20, 9))
	if err != nil || len(rs) != 1 || !rs[0].Outstanding.Equal(decimal.RequireFromString("60")) {
		t.Fatalf("aged receivables: %+v %v, want 60 (the late fee is no debt)", rs, err)
	}
	sts, _ := f.svc.OfRun(f.ctx, f.tenant.ID, run.ID)
	if rep, err := f.svc.Remind(f.ctx, f.tenant.ID, sts[0].ID, "https://portail.example.be", "staff:1"); err != nil || rep.Sent != 1 {
		t.Errorf("reminder of an issued statement: %+v %v", rep, err)
	}
	if m := f.mail.msgs[len(f.mail.msgs)-1]; m.To != "anne@example.be" || !strings.Contains(m.Text, "aucune conséquence") {
		t.Errorf("reminder: to %s, text %q", m.To, m.Text)
	}
	// Paid in full (a bank transfer with the statement's communication):
	// nothing left to remind.
	ref, err := f.svc.ByCommunication(f.ctx, f.tenant.ID, sts[0].Content.Payers[0].OGM)
	if err != nil {
		t.Fatal(err)
	}
	bank, err := f.led.AccountByCode(f.ctx, f.tenant.ID, school.AccountBank)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.tenant.ID, IdempotencyKey: "pay-1", Kind: "statement-payment", OccurredAt: at(2026, time.November, 10, 9),
		Postings: []ledger.Posting{{AccountID: bank.ID, Amount: decimal.RequireFromString("60")}, {AccountID: ref.ReceivableAccountID, Amount: decimal.RequireFromString("-60")}}}); err != nil {
		t.Fatal(err)
	}
	f.clock.set(at(2026, time.November, 20, 9))
	if _, err := f.svc.Remind(f.ctx, f.tenant.ID, sts[0].ID, "https://portail.example.be", "staff:1"); ruleOf(t, err) != RuleUnclaimable {
		t.Errorf("reminding a paid statement: %v", err)
	}
}

// Aged receivables by age band, the warning near the one-year
// prescription, and the audited write-off to expense:write-off.
func TestAgedReceivablesAndWriteOff(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	p := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	f.fee("Piscine", "piscine", "40.00", day(2026, 9, 15), p.ID)
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	if _, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil); err != nil {
		t.Fatal(err)
	}
	f.fee("Théâtre", "activites", "10.00", day(2026, 11, 15), p.ID)
	f.clock.set(at(2027, time.January, 5, 9))
	if _, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[1].ID, "staff:1", nil); err != nil {
		t.Fatal(err)
	}
	rs, err := f.svc.AgedReceivables(f.ctx, f.tenant.ID, at(2027, time.September, 15, 9))
	if err != nil || len(rs) != 1 {
		t.Fatalf("aged: %+v %v", rs, err)
	}
	r := rs[0]
	// 10 € issued 5 Jan (253 days), 40 € issued 3 Nov (316 days: warned).
	if !r.Outstanding.Equal(decimal.RequireFromString("50")) || !r.Bands[3].Equal(decimal.RequireFromString("10")) || !r.Bands[4].Equal(decimal.RequireFromString("40")) || !r.Warn {
		t.Errorf("aged: outstanding %s bands %v warn %v", r.Outstanding, r.Bands, r.Warn)
	}
	f.clock.set(at(2027, time.September, 15, 9))
	if _, err := f.svc.WriteOff(f.ctx, f.tenant.ID, p.ID, decimal.RequireFromString("51"), "famille injoignable", "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("write-off over the debt: got %v, want ErrInvalid", err)
	}
	tr, err := f.svc.WriteOff(f.ctx, f.tenant.ID, p.ID, decimal.RequireFromString("40"), "famille injoignable", "staff:1")
	if err != nil || tr.Kind != KindWriteOff {
		t.Fatalf("write-off: %+v %v", tr, err)
	}
	exp, _ := f.led.AccountByCode(f.ctx, f.tenant.ID, school.AccountWriteOff)
	if b, _ := f.led.Balance(f.ctx, f.tenant.ID, exp.ID); !b.Posted.Equal(decimal.RequireFromString("40")) {
		t.Errorf("expense:write-off balance %s, want 40", b.Posted)
	}
	rs, _ = f.svc.AgedReceivables(f.ctx, f.tenant.ID, at(2027, time.September, 16, 9))
	if len(rs) != 1 || !rs[0].Outstanding.Equal(decimal.RequireFromString("10")) {
		t.Errorf("after write-off: %+v, want 10 outstanding", rs)
	}
	log, err := f.school.AuditLog(f.ctx, f.tenant.ID, 20)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range log {
		found = found || e.Action == "statements.write_off"
	}
	if !found {
		t.Errorf("write-off not audited")
	}
}

// The PDF prints on A4 with correct accents (checked with pdftotext) and
// its EPC QR code pays the amount due with the statement's communication
// (decoded with zbarimg).
func TestPDFTextAndEPCQR(t *testing.T) {
	for _, tool := range []string{"pdftotext", "pdftoppm", "zbarimg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: run scripts/install-deps.sh test (poppler-utils, zbar-tools)", tool)
		}
	}
	f := newFixture(t)
	ps := f.periods()
	p := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	f.fee("Piscine — séance d'été", "piscine", "1234.56", day(2026, 9, 15), p.ID)
	if err := f.svc.SetContact(f.ctx, f.tenant.ID, f.sch.ID, "Mme Hélène Noël, 081 22 33 44", "staff:1"); err != nil {
		t.Fatal(err)
	}
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	run, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	sts, _ := f.svc.OfRun(f.ctx, f.tenant.ID, run.ID)
	c := sts[0].Content
	pdf, err := f.svc.PDF(c, "fr")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "st.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	text := string(out)
	for _, want := range []string{"Décompte de frais scolaires", "École Saint-Aubain", "Zoé Lefèvre", "Piscine — séance d'été", "obligatoire",
		"1 234,56 €", "Total à payer", c.Number, "+++", "facilités de paiement", "aucune conséquence sur la scolarité", "Hélène Noël", "Anne Lefèvre"} {
		if !strings.Contains(strings.ReplaceAll(text, "\u00a0", " "), want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
	info, _ := exec.Command("pdfinfo", file).CombinedOutput()
	if !strings.Contains(string(info), "595.28 x 841.89") {
		t.Errorf("PDF page is not A4: %s", info)
	}
	if out, err := exec.Command("pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", file, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	if len(pngs) == 0 {
		t.Fatal("pdftoppm wrote no page")
	}
	qr, err := exec.Command("zbarimg", "--quiet", "--raw", pngs[0]).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(qr)), "\n")
	if len(lines) < 10 || lines[0] != "BCD" || lines[6] != "BE68539007547034" || lines[7] != "EUR1234.56" || lines[9] != c.Payers[0].OGM {
		t.Errorf("EPC QR payload %q: want BCD, the school's IBAN, EUR1234.56 and the communication %s", lines, c.Payers[0].OGM)
	}
}

// The estimate prints on A4 with its headings, kinds and total.
func TestEstimatePDFAndHTML(t *testing.T) {
	f := newFixture(t)
	e, err := f.svc.SaveEstimate(f.ctx, f.tenant.ID, EstimateInput{SchoolYear: "2026-27", SchoolID: f.sch.ID, Scope: "p4a",
		Headings: []EstimateHeading{{Heading: "Piscine (10 séances)", Kind: "obligatoire", Amount: decimal.RequireFromString("36")},
			{Heading: "Revue « Wakou »", Kind: "facultatif", Amount: decimal.RequireFromString("18.50")}}}, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if e.Content.Scope != "P4A" || e.Content.Version != 1 || !e.Content.Total.Equal(decimal.RequireFromString("54.5")) {
		t.Fatalf("estimate: %+v", e.Content)
	}
	if _, err := f.svc.SaveEstimate(f.ctx, f.tenant.ID, EstimateInput{SchoolYear: "2026-27", SchoolID: f.sch.ID, Scope: "Z9",
		Headings: []EstimateHeading{{Heading: "x", Kind: "obligatoire"}}}, "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown scope: got %v, want ErrInvalid", err)
	}
	pdf, err := f.svc.EstimatePDF(e.Content, "fr")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "e.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	text := strings.ReplaceAll(string(out), "\u00a0", " ")
	for _, want := range []string{"Estimation des frais scolaires 2026-27", "Piscine (10 séances)", "Revue « Wakou »", "facultatif", "54,50 €"} {
		if !strings.Contains(text, want) {
			t.Errorf("estimate PDF lacks %q:\n%s", want, text)
		}
	}
	html, err := f.svc.EstimateHTML(e.Content, "en")
	if err != nil || !strings.Contains(string(html), "Estimate of school fees 2026-27") {
		t.Errorf("estimate HTML: %v %s", err, html)
	}
}

// A statement whose balance a later statement carries cannot be re-issued:
// the correction is a credit note on the next statement.
func TestReissueRefusedOnceALaterStatementExists(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	p := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	fe := f.fee("Piscine", "piscine", "30.00", day(2026, 9, 15), p.ID)
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	run1, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := f.fees.FeeLines(f.ctx, f.tenant.ID, fe.ID)
	if err != nil || len(lines) != 1 {
		t.Fatalf("fee lines: %v %v", lines, err)
	}
	f.clock.set(at(2026, time.November, 20, 9))
	if _, err := f.fees.Credit(f.ctx, f.tenant.ID, lines[0].ID, decimal.RequireFromString("5"), "séance annulée", "staff:1"); err != nil {
		t.Fatal(err)
	}
	f.clock.set(at(2027, time.January, 5, 9))
	run2, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[1].ID, "staff:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := f.svc.OfRun(f.ctx, f.tenant.ID, run2.ID)
	c := s2[0].Content
	if !c.Previous.Equal(decimal.RequireFromString("30")) || len(c.Lines) != 1 || !c.Lines[0].Credit || !c.TotalDue.Equal(decimal.RequireFromString("25")) {
		t.Errorf("second statement: previous %s, lines %+v, total %s; want 30, the credit note, 25", c.Previous, c.Lines, c.TotalDue)
	}
	s1, _ := f.svc.OfRun(f.ctx, f.tenant.ID, run1.ID)
	if _, err := f.svc.Reissue(f.ctx, f.tenant.ID, s1[0].ID, "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("re-issue under a later statement: got %v, want ErrInvalid", err)
	}
}

// Services (meals, daycare) are shown apart with quantities and totals
// from the ledger, never added to the fees due.
func TestServicesShownApart(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	p := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	f.fee("Piscine", "piscine", "10.00", day(2026, 9, 15), p.ID)
	bank, _ := f.led.AccountByCode(f.ctx, f.tenant.ID, school.AccountBank)
	meals, _ := f.led.AccountByCode(f.ctx, f.tenant.ID, school.AccountRevenueMeals)
	daycare, _ := f.led.AccountByCode(f.ctx, f.tenant.ID, school.AccountRevenueDaycare)
	post := func(key, kind string, on time.Time, from, to int64, amount string) ledger.Transfer {
		t.Helper()
		a := decimal.RequireFromString(amount)
		tr, err := f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.tenant.ID, IdempotencyKey: key, Kind: kind, OccurredAt: on,
			Postings: []ledger.Posting{{AccountID: from, Amount: a}, {AccountID: to, Amount: a.Neg()}}})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	post("topup", "topup", at(2026, time.September, 1, 8), bank.ID, p.WalletAccountID, "100")
	post("m1", "meal", at(2026, time.September, 14, 12), p.WalletAccountID, meals.ID, "3.70")
	post("m2", "meal", at(2026, time.September, 15, 12), p.WalletAccountID, meals.ID, "3.70")
	m3 := post("m3", "meal", at(2026, time.October, 1, 12), p.WalletAccountID, meals.ID, "3.70")
	post("m4", "meal-noshow", at(2026, time.October, 2, 18), p.WalletAccountID, meals.ID, "3.70")
	post("d1", "daycare", at(2026, time.October, 5, 17), p.WalletAccountID, daycare.ID, "2.40")
	post("m-next", "meal", at(2026, time.November, 2, 12), p.WalletAccountID, meals.ID, "3.70") // next period
	f.clock.set(at(2026, time.October, 3, 9))                                                   // the reversal is dated the day it is made
	if _, err := f.led.Reverse(f.ctx, f.tenant.ID, m3.ID, "m3-rev", "test", "repas annulé"); err != nil {
		t.Fatal(err)
	}
	f.clock.set(at(2026, time.November, 3, 9))
	pv, err := f.svc.Preview(f.ctx, f.tenant.ID, ps[0].ID)
	if err != nil || len(pv.Statements) != 1 {
		t.Fatalf("preview: %v %v", pv, err)
	}
	c := pv.Statements[0]
	got := map[string]string{}
	for _, s := range c.Services {
		got[s.Service] = fmt.Sprintf("%d × %s", s.Quantity, s.Total.StringFixed(2))
	}
	if got[ServiceMeals] != "3 × 11.10" || got[ServiceDaycare] != "1 × 2.40" || len(got) != 2 {
		t.Errorf("services: %v, want meals 3 × 11.10 (a reversed meal out, the no-show in) and daycare 1 × 2.40", got)
	}
	if !c.TotalDue.Equal(decimal.RequireFromString("10")) {
		t.Errorf("total due %s, want 10.00 (services are not fees)", c.TotalDue)
	}
}

// A guardian may choose to pay a statement from the prepaid account:
// wallet → receivable, once, never below the wallet's floor.
func TestPayFromWallet(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	p := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	poor := f.pupil("Léon", "Dupont", [2]string{"Marc", "marc@example.be"})
	f.fee("Piscine", "piscine", "60.00", day(2026, 9, 15), p.ID, poor.ID)
	bank, _ := f.led.AccountByCode(f.ctx, f.tenant.ID, school.AccountBank)
	if _, err := f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.tenant.ID, IdempotencyKey: "topup", Kind: "topup",
		Postings: []ledger.Posting{{AccountID: bank.ID, Amount: decimal.RequireFromString("100")}, {AccountID: p.WalletAccountID, Amount: decimal.RequireFromString("-100")}}}); err != nil {
		t.Fatal(err)
	}
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	run, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	sts, _ := f.svc.OfRun(f.ctx, f.tenant.ID, run.ID)
	byPupil := map[int64]Statement{}
	for _, st := range sts {
		byPupil[st.PupilID] = st
	}
	anne := byPupil[p.ID].Content.Addressees[0].GuardianID
	marc := byPupil[poor.ID].Content.Addressees[0].GuardianID
	if _, err := f.svc.PayFromWallet(f.ctx, f.tenant.ID, byPupil[p.ID].ID, marc, "guardian:x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("paying another family's statement: got %v, want ErrNotFound", err)
	}
	if _, err := f.svc.PayFromWallet(f.ctx, f.tenant.ID, byPupil[poor.ID].ID, marc, "guardian:x"); !errors.Is(err, ErrWalletShort) {
		t.Errorf("paying from an empty wallet: got %v, want ErrWalletShort", err)
	}
	tr, err := f.svc.PayFromWallet(f.ctx, f.tenant.ID, byPupil[p.ID].ID, anne, "guardian:1")
	if err != nil || tr.Kind != KindWalletPayment {
		t.Fatalf("pay from wallet: %+v %v", tr, err)
	}
	if b, _ := f.led.Balance(f.ctx, f.tenant.ID, p.WalletAccountID); !b.Posted.Equal(decimal.RequireFromString("40")) {
		t.Errorf("wallet after paying 60: %s, want 40", b.Posted)
	}
	if o, _ := f.svc.Outstanding(f.ctx, f.tenant.ID, p.ID, f.clock.now()); !o.IsZero() {
		t.Errorf("outstanding after paying: %s, want 0", o)
	}
	if _, err := f.svc.PayFromWallet(f.ctx, f.tenant.ID, byPupil[p.ID].ID, anne, "guardian:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("paying twice: got %v, want ErrInvalid", err)
	}
}

// The demo: periods as set before the year, estimates sent, the period of
// the demo fees issued and sent.
func TestSeedDemo(t *testing.T) {
	f := newFixture(t)
	f.clock.set(at(2026, time.December, 5, 10))
	demo, err := school.SeedDemo(f.ctx, f.school)
	if err != nil {
		t.Fatal(err)
	}
	if err := fees.SeedDemo(f.ctx, f.fees, demo.TenantID, demo.SchoolID, demo.Pupils); err != nil {
		t.Fatal(err)
	}
	if err := SeedDemo(f.ctx, f.svc, demo.TenantID, demo.SchoolID, "http://127.0.0.1:8080/portal"); err != nil {
		t.Fatal(err)
	}
	ps, err := f.svc.Periods(f.ctx, demo.TenantID, "2026-27")
	if err != nil || len(ps) != 5 {
		t.Fatalf("periods: %v %v", ps, err)
	}
	if ok, _ := f.svc.EstimateSentOrOverridden(f.ctx, demo.TenantID, "2026-27"); !ok {
		t.Errorf("demo estimate not sent")
	}
	runs, err := f.svc.Runs(f.ctx, demo.TenantID, 0)
	if err != nil || len(runs) != 1 || runs[0].Statements == 0 || runs[0].Status != "sent" {
		t.Fatalf("demo runs: %+v %v", runs, err)
	}
	if err := SeedDemo(f.ctx, f.svc, demo.TenantID, demo.SchoolID, ""); err != nil {
		t.Errorf("second seed: %v", err)
	}
	if runs, _ := f.svc.Runs(f.ctx, demo.TenantID, 0); len(runs) != 1 {
		t.Errorf("second seed issued again: %d runs", len(runs))
	}
}

// A statement's fees sit on the pupil's fees receivable (fees:<pupil>),
// apart from receivable:<pupil> where the canteen books service debts, and
// a bank transfer with the payer's structured communication is booked on
// it (payments.WithStatements(BankLookup)), so the statement is paid.
func TestBankTransferPaysTheStatement(t *testing.T) {
	f := newFixture(t)
	ps := f.periods()
	p := f.pupil("Zoé", "Lefèvre", [2]string{"Anne", "anne@example.be"})
	f.fee("Piscine", "piscine", "60.00", day(2026, 9, 15), p.ID)
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	run, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "staff:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	sts, _ := f.svc.OfRun(f.ctx, f.tenant.ID, run.ID)
	if len(sts) != 1 || len(sts[0].Content.Payers) != 1 {
		t.Fatalf("statements: %+v", sts)
	}
	st := sts[0]
	feesAcct, err := f.led.AccountByCode(f.ctx, f.tenant.ID, fees.ReceivableAccountCode(p.ID))
	if err != nil {
		t.Fatalf("no fees receivable: %v", err)
	}
	if feesAcct.ID == p.ReceivableAccountID {
		t.Fatal("fees share the account of the service debts")
	}
	if b, _ := f.led.Balance(f.ctx, f.tenant.ID, p.ReceivableAccountID); !b.Posted.IsZero() {
		t.Errorf("receivable:<pupil> holds %s of fees, want 0 (service debts only)", b.Posted)
	}
	var acct int64
	var number string
	err = pgx.BeginFunc(f.ctx, f.led.Pool(), func(tx pgx.Tx) error {
		if a, _, err := f.svc.BankLookup(f.ctx, tx, f.tenant.ID, "+++000/0000/00097+++"); err != nil || a != 0 {
			t.Errorf("unknown communication: %d, %v; want 0 and no error", a, err)
		}
		acct, number, err = f.svc.BankLookup(f.ctx, tx, f.tenant.ID, st.Content.Payers[0].OGM)
		return err
	})
	if err != nil || acct != feesAcct.ID || number != st.Number {
		t.Fatalf("BankLookup = %d %q, %v; want %d %q", acct, number, err, feesAcct.ID, st.Number)
	}
	bank, _ := f.led.AccountByCode(f.ctx, f.tenant.ID, school.AccountBank)
	if _, err := f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.tenant.ID, IdempotencyKey: "coda:1", Kind: "statement-payment",
		Postings: []ledger.Posting{{AccountID: bank.ID, Amount: decimal.RequireFromString("60")}, {AccountID: acct, Amount: decimal.RequireFromString("-60")}}}); err != nil {
		t.Fatal(err)
	}
	if o, _ := f.svc.Outstanding(f.ctx, f.tenant.ID, p.ID, f.clock.now()); !o.IsZero() {
		t.Errorf("outstanding after the transfer: %s, want 0", o)
	}
}
