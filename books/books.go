// Package books turns Tartine's ledger into books an accountant can import:
// every ledger account carries a number of the Belgian chart of accounts
// (PCMN, "plan comptable minimum normalisé") through a mapping the
// organising body can edit, the journal is exported by period and journal
// (bank, Stripe, kiosk cash, canteen, daycare, fees, miscellaneous) as a
// documented CSV and as a WinBooks import file (ACT.txt), and a year is
// closed: its result booked, its periods closed, the opening balances of
// the next year recorded (ledger.CloseYear).
//
// The mapping is a list of rules: a rule's pattern is a ledger account code
// ("bank") or a code prefix ending in ':' ("wallet:", "revenue:fees:"); an
// exact code wins over a prefix, a longer prefix over a shorter one, and a
// rule of the organising body (table books_pcmn_rules, append-only: the
// latest row per pattern is in force) over the built-in default of the same
// pattern. An account no rule matches falls back on its type's account
// (asset 416000, liability 489000, income 740000, expense 643000) so an
// export never lacks a number; the books page lists such accounts.
//
// Export totals by PCMN account equal the trial balance of the same window
// to the cent: each posting is written once, in its transfer's journal,
// with the transfer id as document number.
//
// The package owns table books_pcmn_rules and reads the ledger through its
// API (ledger.Journal, ledger.AccountTotals, ledger.CloseYear).
package books

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/ledger"
)

// Errors returned by the package.
var (
	// ErrInvalid is a rule or a request that cannot be accepted (a PCMN
	// number that is not 3 to 10 digits of classes 1–7, an empty pattern).
	ErrInvalid = errors.New("books: invalid request")
)

// Rule maps a ledger account code or code prefix to a PCMN account.
type Rule struct {
	Pattern string // "bank", or a prefix ending in ':' ("wallet:")
	PCMN    string // "550000"
	Label   string // the PCMN account's name, as written in exports
	// Default is true for a built-in rule the organising body has not
	// changed.
	Default bool
	Actor   string    // who changed it (empty for a default)
	At      time.Time // when (zero for a default)
}

// DefaultRules is the built-in mapping (docs/ACCOUNTING.md explains each
// choice). Six digits, as WinBooks and BOB number general accounts.
var DefaultRules = []Rule{
	{Pattern: "bank", PCMN: "550000", Label: "Banque, compte courant"},
	{Pattern: "cash:", PCMN: "570000", Label: "Caisse (espèces)"},
	{Pattern: "cash-in-transit", PCMN: "580000", Label: "Virements internes — espèces en transit"},
	{Pattern: "stripe-clearing", PCMN: "581000", Label: "Stripe — fonds en transit"},
	{Pattern: "suspense", PCMN: "499000", Label: "Compte d'attente"},
	{Pattern: "refunds-payable", PCMN: "489100", Label: "Remboursements dus aux familles"},
	{Pattern: "wallet:", PCMN: "460000", Label: "Acomptes reçus des familles (portefeuilles)"},
	{Pattern: "fees:", PCMN: "400000", Label: "Créances sur les familles (frais scolaires)"},
	{Pattern: "receivable:", PCMN: "400100", Label: "Créances sur les familles (repas et garderie au-delà du découvert)"},
	{Pattern: "subsidy:fwb-meals", PCMN: "416000", Label: "FWB — repas gratuits à recevoir"},
	{Pattern: "equity:result", PCMN: "140000", Label: "Résultat reporté"},
	{Pattern: "revenue:meals", PCMN: "700100", Label: "Repas (cantine)"},
	{Pattern: "revenue:daycare", PCMN: "700200", Label: "Garderie"},
	{Pattern: "revenue:fees:", PCMN: "700300", Label: "Frais scolaires refacturés"},
	{Pattern: "expense:stripe-fees", PCMN: "657000", Label: "Frais bancaires — Stripe"},
	{Pattern: "expense:cash-over-short", PCMN: "643000", Label: "Écarts de caisse"},
	{Pattern: "expense:write-off", PCMN: "642000", Label: "Pertes sur créances"},
}

// Prefix reports whether the rule matches a code prefix rather than one code.
func (r Rule) Prefix() bool { return strings.HasSuffix(r.Pattern, ":") }

// fallback is the PCMN account of an account no rule matches, by type.
var fallback = map[ledger.AccountType]Rule{
	ledger.Asset:     {Pattern: "*", PCMN: "416000", Label: "Créances diverses"},
	ledger.Liability: {Pattern: "*", PCMN: "489000", Label: "Autres dettes diverses"},
	ledger.Income:    {Pattern: "*", PCMN: "740000", Label: "Autres produits d'exploitation"},
	ledger.Expense:   {Pattern: "*", PCMN: "643000", Label: "Charges d'exploitation diverses"},
}

// ResultAccount is the ledger code of the equity account a year's result
// is booked to.
const ResultAccount = "equity:result"

// Chart is a tenant's mapping in force: defaults and its own rules.
type Chart struct {
	Rules []Rule // by pattern
}

// Lookup returns the rule of a ledger account: the exact code, else the
// longest matching prefix, else the fallback of its type (matched false).
func (c Chart) Lookup(code string, typ ledger.AccountType) (r Rule, matched bool) {
	best := -1
	for i, x := range c.Rules {
		switch {
		case x.Pattern == code:
			return x, true
		case strings.HasSuffix(x.Pattern, ":") && strings.HasPrefix(code, x.Pattern):
			if best < 0 || len(x.Pattern) > len(c.Rules[best].Pattern) {
				best = i
			}
		}
	}
	if best >= 0 {
		return c.Rules[best], true
	}
	return fallback[typ], false
}

// Service reads and edits the mapping and exports the books.
type Service struct {
	pool *pgxpool.Pool
	led  *ledger.Ledger
	now  func() time.Time
}

// New returns a Service. now may be nil (time.Now).
func New(led *ledger.Ledger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{pool: led.Pool(), led: led, now: now}
}

// Chart returns the tenant's mapping in force.
func (s *Service) Chart(ctx context.Context, tenantID int64) (Chart, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (pattern) pattern, pcmn, label, actor, created_at
		FROM books_pcmn_rules WHERE tenant_id = $1 ORDER BY pattern, id DESC`, tenantID)
	if err != nil {
		return Chart{}, fmt.Errorf("books: chart: %w", err)
	}
	own, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rule, error) {
		var x Rule
		err := r.Scan(&x.Pattern, &x.PCMN, &x.Label, &x.Actor, &x.At)
		return x, err
	})
	if err != nil {
		return Chart{}, fmt.Errorf("books: chart: %w", err)
	}
	byPattern := map[string]Rule{}
	for _, d := range DefaultRules {
		d.Default = true
		byPattern[d.Pattern] = d
	}
	for _, x := range own {
		byPattern[x.Pattern] = x
	}
	c := Chart{}
	for _, x := range byPattern {
		c.Rules = append(c.Rules, x)
	}
	sort.Slice(c.Rules, func(i, j int) bool { return c.Rules[i].Pattern < c.Rules[j].Pattern })
	return c, nil
}

var (
	pcmnNumber  = regexp.MustCompile(`^[1-7][0-9]{2,9}$`)
	codePattern = regexp.MustCompile(`^[a-z0-9:_-]+$`)
)

// SetRule records the organising body's PCMN number and label for a ledger
// code or prefix (a new row: earlier rules stay as history). It returns
// ErrInvalid for a pattern or number that is not acceptable.
func (s *Service) SetRule(ctx context.Context, tenantID int64, pattern, pcmn, label, actor string) error {
	pattern, pcmn, label = strings.TrimSpace(pattern), strings.TrimSpace(pcmn), strings.TrimSpace(label)
	if !codePattern.MatchString(pattern) {
		return fmt.Errorf("%w: account code %q", ErrInvalid, pattern)
	}
	if !pcmnNumber.MatchString(pcmn) {
		return fmt.Errorf("%w: PCMN number %q (3 to 10 digits, classes 1 to 7)", ErrInvalid, pcmn)
	}
	if len(label) > 120 || actor == "" {
		return fmt.Errorf("%w: label or actor", ErrInvalid)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO books_pcmn_rules (tenant_id, pattern, pcmn, label, actor, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, tenantID, pattern, pcmn, label, actor, s.now()); err != nil {
		return fmt.Errorf("books: set rule %s: %w", pattern, err)
	}
	return nil
}

// Unmapped returns the tenant's account codes that no rule matches (they
// are exported on their type's fallback account).
func (s *Service) Unmapped(ctx context.Context, tenantID int64) ([]string, error) {
	c, err := s.Chart(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	totals, err := s.led.AccountTotals(ctx, tenantID, time.Time{}, s.now().Add(100*365*24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("books: %w", err)
	}
	var out []string
	for _, t := range totals {
		if _, ok := c.Lookup(t.Code, t.Type); !ok {
			out = append(out, t.Code)
		}
	}
	return out, nil
}
