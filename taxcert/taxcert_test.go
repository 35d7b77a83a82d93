package taxcert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/dbtest"
	"tartine/internal/tz"
	"tartine/ledger"
	"tartine/school"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// nissFor makes a valid national number from a birth date and a serial.
func nissFor(birth time.Time, serial int) string {
	base := fmt.Sprintf("%02d%02d%02d%03d", birth.Year()%100, birth.Month(), birth.Day(), serial)
	n, _ := strconv.ParseInt(base, 10, 64)
	if birth.Year() >= 2000 {
		n += 2000000000
	}
	return fmt.Sprintf("%s%02d", base, 97-n%97)
}

func TestNISS(t *testing.T) {
	lea := nissFor(time.Date(2016, 3, 10, 0, 0, 0, 0, time.UTC), 12)
	anne := nissFor(time.Date(1985, 7, 30, 0, 0, 0, 0, time.UTC), 33)
	for _, tc := range []struct {
		in   string
		want string
	}{
		{lea, lea}, {FormatNISS(anne), anne}, {" " + anne[:6] + "-" + anne[6:9] + "." + anne[9:], anne},
	} {
		got, err := NormalizeNISS(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeNISS(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	bad := []string{"", "1234567890", anne[:10] + string('0'+(anne[10]-'0'+1)%10), "85O73003328", anne + "1"}
	for _, s := range bad {
		if _, err := NormalizeNISS(s); !errors.Is(err, ErrInvalidNISS) {
			t.Errorf("NormalizeNISS(%q): %v, want ErrInvalidNISS", s, err)
		}
		if _, err := NormalizeNISS(s); err != nil && strings.Contains(err.Error(), s) && s != "" {
			t.Errorf("the error names the number: %v", err)
		}
	}
	if b, ok := NISSBirthDate(lea); !ok || !b.Equal(time.Date(2016, 3, 10, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("birth date of %s: %v %v", lea, b, ok)
	}
	if MaskNISS(anne[9:]) != "••.••.••-•••."+anne[9:] {
		t.Errorf("mask: %s", MaskNISS(anne[9:]))
	}
}

// family is two separated parents (Anne and Marc) of Léa and of Tom (who
// turns 14 in June), and Carla, mother of Zoé whose wallet is short.
type family struct {
	t                    *testing.T
	ctx                  context.Context
	pool                 *pgxpool.Pool
	led                  *ledger.Ledger
	st                   *school.Store
	svc                  *Service
	tenant               int64
	lea, tom, zoe        school.Pupil
	anne, marc, carla    school.Guardian
	revenueDaycare, bank int64
	revenueMeals         int64
	key                  int
}

func at(y int, m time.Month, day int) time.Time {
	return time.Date(y, m, day, 17, 0, 0, 0, tz.Brussels)
}

func newFamily(t *testing.T) *family {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t)
	now := func() time.Time { return time.Date(2027, 2, 15, 10, 0, 0, 0, tz.Brussels) }
	f := &family{t: t, ctx: ctx, pool: pool}
	f.led = ledger.New(pool, now)
	f.st = school.New(pool, f.led, now)
	ten, err := f.st.EnsureTenant(ctx, "po-sj", "PO Saint-Joseph")
	if err != nil {
		t.Fatal(err)
	}
	f.tenant = ten.ID
	sc, err := f.st.EnsureSchool(ctx, f.tenant, school.SchoolInput{Code: "sj", Name: "École Saint-Joseph", Address: "Rue de l'École 1, 5000 Namur"})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	sealer, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = New(pool, f.led, f.st, sealer, Settings{IssuerName: "PO Saint-Joseph", IssuerAddress: "Rue de l'École 1", IssuerPostal: "5000",
		IssuerCity: "Namur", IssuerBCE: "0412.345.678", ContactName: "Secrétariat", ContactPhone: "081 00 00 00", ContactEmail: "po@example.be"}, now)
	pupil := func(first string, birth time.Time) school.Pupil {
		p, err := f.st.CreatePupil(ctx, f.tenant, school.PupilInput{SchoolID: sc.ID, FirstName: first, LastName: "Dupont", BirthDate: birth, Level: "P3"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.led.SetFloor(ctx, f.tenant, p.WalletAccountID, d("-50")); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.lea = pupil("Léa", time.Date(2016, 3, 10, 0, 0, 0, 0, time.UTC))
	f.tom = pupil("Tom", time.Date(2012, 6, 15, 0, 0, 0, 0, time.UTC))
	f.zoe = pupil("Zoé", time.Date(2018, 1, 5, 0, 0, 0, 0, time.UTC))
	guardian := func(first, last, addr string, kids ...school.Pupil) school.Guardian {
		g, err := f.st.CreateGuardian(ctx, f.tenant, school.GuardianInput{FirstName: first, LastName: last, Address: addr,
			Email: strings.ToLower(first) + "@example.be"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kids {
			if err := f.st.LinkGuardian(ctx, f.tenant, g.ID, k.ID, "parent", "test"); err != nil {
				t.Fatal(err)
			}
		}
		return g
	}
	f.anne = guardian("Anne", "Dupont", "Rue des Lilas 4, 5000 Namur", f.lea, f.tom)
	f.marc = guardian("Marc", "Lambert", "Avenue Bourgmestre 12, 5100 Jambes", f.lea, f.tom)
	f.carla = guardian("Carla", "Dupont", "Rue Haute 8, 5020 Malonne", f.zoe)
	for code, dst := range map[string]*int64{"revenue:daycare": &f.revenueDaycare, "bank": &f.bank, "revenue:meals": &f.revenueMeals} {
		a, err := f.led.AccountByCode(ctx, f.tenant, code)
		if err != nil {
			t.Fatal(code, err)
		}
		*dst = a.ID
	}
	return f
}

// book moves amount between accounts (debit to, credit from).
func (f *family) book(kind string, when time.Time, to, from int64, amount string) ledger.Transfer {
	f.t.Helper()
	f.key++
	a := d(amount)
	tr, err := f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: fmt.Sprint("k", f.key), Kind: kind, OccurredAt: when,
		Actor: "test", Postings: []ledger.Posting{{AccountID: to, Amount: a}, {AccountID: from, Amount: a.Neg()}}})
	if err != nil {
		f.t.Fatalf("%s %s: %v", kind, amount, err)
	}
	return tr
}

func (f *family) year2026() {
	f.t.Helper()
	f.book("bank-transfer", at(2026, 1, 2), f.bank, f.lea.WalletAccountID, "100")
	f.book("bank-transfer", at(2026, 1, 2), f.bank, f.tom.WalletAccountID, "20")
	f.book("bank-transfer", at(2026, 1, 2), f.bank, f.zoe.WalletAccountID, "5")
	care := func(p school.Pupil, when time.Time, amount string) ledger.Transfer {
		return f.book("daycare", when, p.WalletAccountID, f.revenueDaycare, amount)
	}
	care(f.lea, at(2026, 1, 12), "3.00")
	care(f.lea, at(2026, 1, 13), "3.00")
	care(f.lea, at(2026, 4, 20), "4.50")
	f.book("meal", at(2026, 4, 20), f.lea.WalletAccountID, f.revenueMeals, "3.70") // meals never count
	care(f.lea, at(2026, 9, 7), "3.00")
	care(f.lea, at(2026, 11, 16), "2.00")
	wrong := care(f.lea, at(2026, 11, 17), "5.00")
	if _, err := f.led.Reverse(f.ctx, f.tenant, wrong.ID, "rev", "test", "erreur"); err != nil {
		f.t.Fatal(err)
	}
	care(f.tom, at(2026, 6, 12), "3.00") // 13 years old
	care(f.tom, at(2026, 6, 16), "3.00") // 14 since 15 June: not counted
	care(f.zoe, at(2026, 10, 5), "4.00")
	care(f.zoe, at(2026, 10, 6), "4.00") // wallet −3.00: 3.00 of this day unpaid
}

func TestCertificates(t *testing.T) {
	f := newFamily(t)
	f.year2026()
	// The reversal is dated now (2027): it must not touch 2026 — book it so
	// Léa's 17 November is net zero within 2026 instead.
	f.book("daycare", at(2026, 11, 17), f.revenueDaycare, f.lea.WalletAccountID, "5.00")
	if err := f.svc.SetShares(f.ctx, f.tenant, f.lea.ID, []Share{{f.anne.ID, d("60")}, {f.marc.ID, d("40")}}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetShares(f.ctx, f.tenant, f.lea.ID, []Share{{f.anne.ID, d("60")}, {f.marc.ID, d("30")}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("shares summing to 90: %v", err)
	}
	set := func(subject string, id int64, niss string) {
		t.Helper()
		if err := f.svc.SetNISS(f.ctx, f.tenant, subject, id, niss, "staff:1"); err != nil {
			t.Fatal(err)
		}
	}
	anneNISS := nissFor(time.Date(1985, 7, 30, 0, 0, 0, 0, time.UTC), 33)
	set(SubjectGuardian, f.anne.ID, FormatNISS(anneNISS))
	set(SubjectGuardian, f.carla.ID, nissFor(time.Date(1990, 2, 1, 0, 0, 0, 0, time.UTC), 48))
	set(SubjectPupil, f.lea.ID, nissFor(f.lea.BirthDate, 12))
	if err := f.svc.SetNISS(f.ctx, f.tenant, SubjectGuardian, f.marc.ID, "85073003300", "staff:1"); !errors.Is(err, ErrInvalidNISS) {
		t.Errorf("wrong check digits: %v", err)
	}
	// Sealed at rest, shown masked.
	var sealed []byte
	if err := f.pool.QueryRow(f.ctx, `SELECT sealed FROM taxcert_niss WHERE tenant_id = $1 AND subject = 'guardian' AND subject_id = $2`,
		f.tenant, f.anne.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(anneNISS)) || bytes.Contains(sealed, []byte(anneNISS[:6])) {
		t.Error("the national number is stored in clear")
	}
	if m, _ := f.svc.MaskedNISS(f.ctx, f.tenant, SubjectGuardian, f.anne.ID); m != "••.••.••-•••."+anneNISS[9:] {
		t.Errorf("masked = %q", m)
	}

	run, err := f.svc.Issue(f.ctx, f.tenant, 2026, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Issued) != 3 || len(run.Missing) != 2 {
		t.Fatalf("first run: %d issued, %d missing (%+v), want 3 and 2 (Marc has no national number)", len(run.Issued), len(run.Missing), run.Missing)
	}
	for _, m := range run.Missing {
		if m.GuardianID != f.marc.ID || m.Missing != "national number of the payer" {
			t.Errorf("missing %+v", m)
		}
	}
	byPair := func() map[string]Certificate {
		cs, err := f.svc.Certificates(f.ctx, f.tenant, 2026, 0)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Certificate{}
		for _, c := range cs {
			out[fmt.Sprint(c.PupilID, "/", c.GuardianID)] = c
		}
		return out
	}
	certs := byPair()
	leaAnne := certs[fmt.Sprint(f.lea.ID, "/", f.anne.ID)]
	// Léa: 15.50 € over four quarters (the meal and the cancelled day left out), 60 % for Anne.
	if !leaAnne.Total.Equal(d("9.30")) || len(leaAnne.Content.Periods) != 4 || leaAnne.Days != 5 {
		t.Errorf("Léa/Anne = %s over %d periods, %d days; want 9.30 over 4 periods, 5 days: %+v", leaAnne.Total, len(leaAnne.Content.Periods), leaAnne.Days, leaAnne.Content.Periods)
	}
	if p := leaAnne.Content.Periods[0]; p.Days != 2 || !p.Amount.Equal(d("3.60")) || !p.DailyRate.Equal(d("1.80")) {
		t.Errorf("Léa/Anne first quarter = %+v", p)
	}
	// Tom turned 14 on 15 June: only 12 June counts, half for Anne.
	if c := certs[fmt.Sprint(f.tom.ID, "/", f.anne.ID)]; !c.Total.Equal(d("1.50")) || c.Days != 1 {
		t.Errorf("Tom/Anne = %s, %d days; want 1.50, 1 day", c.Total, c.Days)
	}
	// Zoé's wallet is 3.00 short: 8.00 of care, 5.00 paid.
	if c := certs[fmt.Sprint(f.zoe.ID, "/", f.carla.ID)]; !c.Total.Equal(d("5.00")) || c.Days != 2 {
		t.Errorf("Zoé/Carla = %s, %d days; want 5.00 paid, 2 days", c.Total, c.Days)
	}
	// Sequence numbers 1..3.
	seqs := map[int]bool{}
	for _, c := range certs {
		seqs[c.Seq] = true
	}
	if !seqs[1] || !seqs[2] || !seqs[3] || len(seqs) != 3 {
		t.Errorf("sequence numbers %v", seqs)
	}

	// Each payer sees only their own.
	if own, _ := f.svc.Certificates(f.ctx, f.tenant, 2026, f.carla.ID); len(own) != 1 || own[0].PupilID != f.zoe.ID {
		t.Errorf("Carla sees %+v", own)
	}
	if _, err := f.svc.Certificate(f.ctx, f.tenant, leaAnne.ID, f.carla.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Carla opens Anne's certificate: %v", err)
	}
	if _, err := f.svc.Certificate(f.ctx, f.tenant+1, leaAnne.ID, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant opens it: %v", err)
	}

	// Frozen: no update; unchanged figures issue nothing.
	if _, err := f.pool.Exec(f.ctx, `UPDATE taxcert_certificates SET total = 1 WHERE tenant_id = $1`, f.tenant); err == nil {
		t.Error("an issued certificate was changed")
	}
	set(SubjectGuardian, f.marc.ID, nissFor(time.Date(1983, 11, 2, 0, 0, 0, 0, time.UTC), 71))
	run, err = f.svc.Issue(f.ctx, f.tenant, 2026, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Issued) != 2 || run.Unchanged != 3 || len(run.Missing) != 0 {
		t.Errorf("second run: %d issued, %d unchanged, %d missing; want 2, 3, 0", len(run.Issued), run.Unchanged, len(run.Missing))
	}
	if c := byPair()[fmt.Sprint(f.lea.ID, "/", f.marc.ID)]; !c.Total.Equal(d("6.20")) || c.Seq < 4 {
		t.Errorf("Léa/Marc = %s seq %d; want the remaining 6.20 under a new number", c.Total, c.Seq)
	}
	// A late charge found for Léa: a corrected version under the same number.
	f.book("daycare", at(2026, 12, 14), f.lea.WalletAccountID, f.revenueDaycare, "2.00")
	run, err = f.svc.Issue(f.ctx, f.tenant, 2026, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Issued) != 2 {
		t.Fatalf("correction run issued %d, want Léa's two", len(run.Issued))
	}
	now := byPair()[fmt.Sprint(f.lea.ID, "/", f.anne.ID)]
	if now.Seq != leaAnne.Seq || now.Version != 2 || !now.Total.Equal(d("10.50")) {
		t.Errorf("corrected = seq %d v%d %s; want seq %d v2 10.50", now.Seq, now.Version, now.Total, leaAnne.Seq)
	}
	if old, err := f.svc.Certificate(f.ctx, f.tenant, leaAnne.ID, f.anne.ID); err != nil || !old.Total.Equal(d("9.30")) {
		t.Errorf("the first version changed: %v %v", old.Total, err)
	}

	// PDF and Belcotax XML.
	pdf, err := f.svc.PDF(now)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("pdf: %v", err)
	}
	all, err := f.svc.Certificates(f.ctx, f.tenant, 2026, 0)
	if err != nil {
		t.Fatal(err)
	}
	x, err := f.svc.Belcotax(all, BelcotaxOptions{Test: true, Created: time.Date(2027, 2, 15, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	sch, err := loadSchema("testdata/belcotax-28186.xsd")
	if err != nil {
		t.Fatal(err)
	}
	if errs := sch.validate(x); len(errs) > 0 {
		t.Errorf("Belcotax XML does not validate:\n%s\n%s", strings.Join(errs, "\n"), x)
	}
	validateOfficial(t, x)
	// Without the company number on the certificates, the service's is
	// used; without either, no file (v0024 is required).
	noBCE := append([]Certificate(nil), all...)
	noBCE[0].Content.Issuer.IssuerBCE = ""
	if x2, err := f.svc.Belcotax(noBCE, BelcotaxOptions{Created: time.Date(2027, 2, 15, 0, 0, 0, 0, time.UTC)}); err != nil ||
		!strings.Contains(string(x2), "<v0024_nationaalnr>0412345678</v0024_nationaalnr>") {
		t.Errorf("Belcotax with the service's company number: %v", err)
	}
	bare := *f.svc
	bare.settings.IssuerBCE = ""
	if _, err := bare.Belcotax(noBCE, BelcotaxOptions{Created: time.Date(2027, 2, 15, 0, 0, 0, 0, time.UTC)}); !errors.Is(err, ErrNoBCE) {
		t.Errorf("Belcotax without any company number: %v, want ErrNoBCE (v0024 is required)", err)
	}
	body := string(x)
	for _, want := range []string{"<Fiche28186>", "<f86_2064_totalamount>1050</f86_2064_totalamount>", "<f86_2059_totaalcontrole>2100</f86_2059_totaalcontrole>",
		"<f2011_nationaalnr>" + anneNISS + "</f2011_nationaalnr>", "<r8011_controletotaal>15</r8011_controletotaal>",
		"<f86_2163_childbirthdate>10-03-2016</f86_2163_childbirthdate>", "<f2028_typetraitement>1</f2028_typetraitement>",
		"<f2016_postcodebelgisch>5100</f2016_postcodebelgisch>", "<f86_2031_certificationautorisation>4</f86_2031_certificationautorisation>",
		"<v0010_bestandtype>BCTEST</v0010_bestandtype>", "<v0024_nationaalnr>0412345678</v0024_nationaalnr>"} {
		if !strings.Contains(body, want) {
			t.Errorf("XML lacks %s", want)
		}
	}
	if n := strings.Count(body, "<Fiche28186>"); n != 5 {
		t.Errorf("%d fiches, want 5", n)
	}
	// The validator itself refuses a broken file.
	broken := strings.Replace(body, "<f86_2163_childbirthdate>10-03-2016</f86_2163_childbirthdate>", "", 1)
	broken = strings.Replace(broken, "<f2008_typefiche>28186</f2008_typefiche>", "<f2008_typefiche>28150</f2008_typefiche>", 1)
	if errs := sch.validate([]byte(broken)); len(errs) < 2 {
		t.Errorf("a broken file validates: %v", errs)
	}
}
