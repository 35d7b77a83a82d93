package fees

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
)

//go:embed rules/*.toml
var shippedFS embed.FS

// Level groups: a rule set covers one.
const (
	GroupMaternel    = "M1-M3"
	GroupPrimaryLow  = "P1-P3"
	GroupPrimaryHigh = "P4-P6"
	GroupSecondary   = "S1-S6"
)

// LevelGroups lists the level groups in school order.
func LevelGroups() []string {
	return []string{GroupMaternel, GroupPrimaryLow, GroupPrimaryHigh, GroupSecondary}
}

// GroupOf returns the level group of a level ("P5" → "P4-P6"), or "" for
// an unknown level.
func GroupOf(level string) string {
	if len(level) != 2 || level[1] < '1' || level[1] > '6' {
		return ""
	}
	switch {
	case level[0] == 'M' && level[1] <= '3':
		return GroupMaternel
	case level[0] == 'P' && level[1] <= '3':
		return GroupPrimaryLow
	case level[0] == 'P':
		return GroupPrimaryHigh
	case level[0] == 'S':
		return GroupSecondary
	}
	return ""
}

// SchoolYearOf returns the FWB school year of a day ("2025-26"): a school
// year runs from the end of August to early July, so August and later
// belong to the year that starts then.
func SchoolYearOf(day time.Time) string {
	y := day.Year()
	if day.Month() < time.August {
		y--
	}
	return fmt.Sprintf("%d-%02d", y, (y+1)%100)
}

// SchoolYearBounds returns the first and last day of a school year for cap
// counting (1 August to 31 July).
func SchoolYearBounds(year string) (from, to time.Time, err error) {
	y, err := strconv.Atoi(strings.SplitN(year, "-", 2)[0])
	if err != nil || len(year) != 7 || year != fmt.Sprintf("%d-%02d", y, (y+1)%100) {
		return time.Time{}, time.Time{}, invalid("school year %q (want 2025-26)", year)
	}
	return time.Date(y, time.August, 1, 0, 0, 0, 0, time.UTC), time.Date(y+1, time.July, 31, 0, 0, 0, 0, time.UTC), nil
}

// Rule is one category in a list of a rule set, with its source.
type Rule struct {
	Category    string `toml:"category" json:"category"`
	Source      string `toml:"source" json:"source"`
	Unconfirmed bool   `toml:"unconfirmed" json:"unconfirmed,omitempty"`
}

// Cap scopes.
const (
	ScopeYear  = "year"  // per pupil per school year
	ScopeCycle = "cycle" // per pupil over the whole level group (the maternel cycle M1-M3)
)

// Cap is a ceiling on what one pupil may be charged for some categories.
type Cap struct {
	ID         string   `toml:"id" json:"id"` // "maternel-activities"
	Categories []string `toml:"categories" json:"categories"`
	// PoolSwitch: pool fees count in this cap when the rule set's
	// PoolInActivitiesCap is on.
	PoolSwitch  bool            `toml:"pool_switch" json:"pool_switch,omitempty"`
	Scope       string          `toml:"scope" json:"scope"`
	Amount      decimal.Decimal `toml:"amount" json:"amount"`
	Source      string          `toml:"source" json:"source"`
	Unconfirmed bool            `toml:"unconfirmed" json:"unconfirmed,omitempty"`
}

// Switch is a yes/no rule with its source.
type Switch struct {
	Value       bool   `toml:"value" json:"value"`
	Source      string `toml:"source" json:"source"`
	Unconfirmed bool   `toml:"unconfirmed" json:"unconfirmed,omitempty"`
}

// FreeSupplies lists the levels of the group where supplies are free that
// year: Category may then not be charged at all.
type FreeSupplies struct {
	Category    string   `toml:"category" json:"category"`
	Levels      []string `toml:"levels" json:"levels"`
	Source      string   `toml:"source" json:"source"`
	Unconfirmed bool     `toml:"unconfirmed" json:"unconfirmed,omitempty"`
}

// RuleSet is the rules of one school year for one level group.
type RuleSet struct {
	SchoolYear string `toml:"-" json:"school_year"`
	LevelGroup string `toml:"level_group" json:"level_group"`

	Forbidden         []Rule       `toml:"forbidden" json:"forbidden"`
	Obligatoire       []Rule       `toml:"obligatoire" json:"obligatoire"`
	ObligatoireSource string       `toml:"obligatoire_source" json:"obligatoire_source"`
	Facultatif        []Rule       `toml:"facultatif" json:"facultatif"`
	FacultatifSource  string       `toml:"facultatif_source" json:"facultatif_source"`
	Caps              []Cap        `toml:"caps" json:"caps"`
	FreeSupplies      FreeSupplies `toml:"free_supplies" json:"free_supplies"`
	// PoolInActivitiesCap: whether pool fees count in caps with PoolSwitch.
	PoolInActivitiesCap Switch `toml:"pool_in_activities_cap" json:"pool_in_activities_cap"`

	// Version record (not part of the rules).
	Version   int       `toml:"-" json:"-"`
	Actor     string    `toml:"-" json:"-"`
	Reason    string    `toml:"-" json:"-"`
	CreatedAt time.Time `toml:"-" json:"-"`
}

// Unconfirmed reports whether any rule of the set is flagged [U].
func (rs RuleSet) Unconfirmed() bool {
	for _, list := range [][]Rule{rs.Forbidden, rs.Obligatoire, rs.Facultatif} {
		for _, r := range list {
			if r.Unconfirmed {
				return true
			}
		}
	}
	for _, c := range rs.Caps {
		if c.Unconfirmed {
			return true
		}
	}
	return rs.FreeSupplies.Unconfirmed || rs.PoolInActivitiesCap.Unconfirmed
}

func findRule(list []Rule, category string) (Rule, bool) {
	for _, r := range list {
		if r.Category == category {
			return r, true
		}
	}
	return Rule{}, false
}

// Check returns the *RuleError that refuses charging category as kind to a
// pupil of level under rs, or nil when allowed. The order is the law's:
// forbidden whatever the label, free supplies, no facultatif at all at this
// level, and the exhaustive list of the kind.
func (rs RuleSet) Check(level, category string, kind Kind) error {
	refuse := func(rule, source string, unconfirmed bool) error {
		return &RuleError{Rule: rule, Category: category, Kind: kind, Level: level, LevelGroup: rs.LevelGroup,
			SchoolYear: rs.SchoolYear, Source: source, Unconfirmed: unconfirmed}
	}
	if r, ok := findRule(rs.Forbidden, category); ok {
		return refuse(RuleForbiddenCategory, r.Source, r.Unconfirmed)
	}
	if fs := rs.FreeSupplies; fs.Category == category && slices.Contains(fs.Levels, level) {
		return refuse(RuleFreeSupplies, fs.Source, fs.Unconfirmed)
	}
	list, source := rs.Obligatoire, rs.ObligatoireSource
	if kind == Facultatif {
		if len(rs.Facultatif) == 0 {
			return refuse(RuleNoFacultatif, rs.FacultatifSource, false)
		}
		list, source = rs.Facultatif, rs.FacultatifSource
	}
	if _, ok := findRule(list, category); !ok {
		return refuse(RuleNotAllowed, source, false)
	}
	return nil
}

// CapsFor returns the caps that a charge of category counts against.
func (rs RuleSet) CapsFor(category string) []Cap {
	var out []Cap
	for _, c := range rs.Caps {
		if slices.Contains(c.Categories, category) || (category == "piscine" && c.PoolSwitch && rs.PoolInActivitiesCap.Value) {
			out = append(out, c)
		}
	}
	return out
}

// capCategories returns the categories that count in c under rs.
func (rs RuleSet) capCategories(c Cap) []string {
	cats := slices.Clone(c.Categories)
	if c.PoolSwitch && rs.PoolInActivitiesCap.Value && !slices.Contains(cats, "piscine") {
		cats = append(cats, "piscine")
	}
	return cats
}

// Validate checks a rule set before it is saved: known group and
// categories, caps with a positive two-decimal amount and a known scope,
// no category both forbidden and allowed.
func (rs RuleSet) Validate(categories []string) error {
	if !slices.Contains(LevelGroups(), rs.LevelGroup) {
		return invalid("level group %q", rs.LevelGroup)
	}
	if _, _, err := SchoolYearBounds(rs.SchoolYear); err != nil {
		return err
	}
	known := func(c string) error {
		if !slices.Contains(categories, c) {
			return invalid("unknown category %q", c)
		}
		return nil
	}
	for _, list := range [][]Rule{rs.Forbidden, rs.Obligatoire, rs.Facultatif} {
		for _, r := range list {
			if err := known(r.Category); err != nil {
				return err
			}
		}
	}
	for _, r := range rs.Forbidden {
		if _, ok := findRule(rs.Obligatoire, r.Category); ok {
			return invalid("category %q is both forbidden and obligatoire", r.Category)
		}
		if _, ok := findRule(rs.Facultatif, r.Category); ok {
			return invalid("category %q is both forbidden and facultatif", r.Category)
		}
	}
	for _, c := range rs.Caps {
		if c.ID == "" || (c.Scope != ScopeYear && c.Scope != ScopeCycle) {
			return invalid("cap %q: scope must be year or cycle", c.ID)
		}
		if !c.Amount.IsPositive() || !c.Amount.Equal(c.Amount.Round(2)) {
			return invalid("cap %q: amount %s must be positive with at most two decimals", c.ID, c.Amount)
		}
		for _, cat := range c.Categories {
			if err := known(cat); err != nil {
				return err
			}
		}
	}
	for _, l := range rs.FreeSupplies.Levels {
		if GroupOf(l) != rs.LevelGroup {
			return invalid("free supplies: level %q is not in %s", l, rs.LevelGroup)
		}
	}
	return nil
}

// shippedFile is the TOML layout of a rules/<year>.toml file.
type shippedFile struct {
	SchoolYear string    `toml:"school_year"`
	Categories []string  `toml:"categories"`
	Forbidden  []Rule    `toml:"forbidden"`
	Group      []RuleSet `toml:"group"`
}

// Shipped is the rule data embedded in the binary.
type Shipped struct {
	Categories []string
	sets       map[string]map[string]RuleSet // year → group → set
}

// LoadShipped parses the embedded rule files. An error is a bug in the
// shipped data (the tests load it).
func LoadShipped() (*Shipped, error) {
	out := &Shipped{sets: map[string]map[string]RuleSet{}}
	names, err := fs.Glob(shippedFS, "rules/*.toml")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		var f shippedFile
		if _, err := toml.DecodeFS(shippedFS, name, &f); err != nil {
			return nil, fmt.Errorf("fees: %s: %w", name, err)
		}
		if out.Categories == nil {
			out.Categories = f.Categories
		} else if !slices.Equal(out.Categories, f.Categories) {
			return nil, fmt.Errorf("fees: %s: categories differ from the other years", name)
		}
		year := map[string]RuleSet{}
		for _, g := range f.Group {
			g.SchoolYear = f.SchoolYear
			g.Forbidden = append(slices.Clone(f.Forbidden), g.Forbidden...)
			if err := g.Validate(f.Categories); err != nil {
				return nil, fmt.Errorf("fees: %s: %w", name, err)
			}
			year[g.LevelGroup] = g
		}
		for _, g := range LevelGroups() {
			if _, ok := year[g]; !ok {
				return nil, fmt.Errorf("fees: %s: no rules for %s", name, g)
			}
		}
		out.sets[f.SchoolYear] = year
	}
	if len(out.sets) == 0 {
		return nil, errors.New("fees: no shipped rules")
	}
	return out, nil
}

// Years returns the shipped school years, oldest first.
func (s *Shipped) Years() []string {
	ys := make([]string, 0, len(s.sets))
	for y := range s.sets {
		ys = append(ys, y)
	}
	sort.Strings(ys)
	return ys
}

// Set returns the shipped set of a year and group. For a year not shipped
// it returns the latest earlier shipped year's set, every cap amount
// flagged unconfirmed, with ok false (the caller says so).
func (s *Shipped) Set(year, group string) (rs RuleSet, ok bool, err error) {
	if y, found := s.sets[year]; found {
		return y[group], true, nil
	}
	if _, _, err := SchoolYearBounds(year); err != nil {
		return RuleSet{}, false, err
	}
	ys := s.Years()
	base := ""
	for _, y := range ys {
		if y < year {
			base = y
		}
	}
	if base == "" {
		base = ys[0]
	}
	rs = s.sets[base][group]
	rs.SchoolYear = year
	rs.Caps = slices.Clone(rs.Caps)
	for i := range rs.Caps {
		rs.Caps[i].Unconfirmed = true
	}
	return rs, false, nil
}

// Rules reads and versions rule sets per tenant. It is safe for
// concurrent use.
type Rules struct {
	shipped *Shipped
	now     func() time.Time
}

// NewRules returns the rule store over the shipped data.
func NewRules(shipped *Shipped, now func() time.Time) *Rules {
	if now == nil {
		now = time.Now
	}
	return &Rules{shipped: shipped, now: now}
}

// Categories returns the known fee categories.
func (r *Rules) Categories() []string { return r.shipped.Categories }

// Shipped returns the embedded data.
func (r *Rules) Shipped() *Shipped { return r.shipped }

const actorShipped = "system:shipped"

// Get returns the rule set in force for the tenant's year and group: its
// highest version, the shipped set being copied in as version 1 on first
// read. It returns ErrInvalid for a malformed year or group.
func (r *Rules) Get(ctx context.Context, q Querier, tenantID int64, year, group string) (RuleSet, error) {
	if !slices.Contains(LevelGroups(), group) {
		return RuleSet{}, invalid("level group %q", group)
	}
	rs, err := readSet(ctx, q, tenantID, year, group)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return rs, err
	}
	ship, exact, err := r.shipped.Set(year, group)
	if err != nil {
		return RuleSet{}, err
	}
	reason := "shipped rules " + year
	if !exact {
		reason = "copied from the latest shipped year; amounts to confirm"
	}
	body, err := json.Marshal(ship)
	if err != nil {
		return RuleSet{}, err
	}
	if _, err := q.Exec(ctx, `
		INSERT INTO fee_rule_sets (tenant_id, school_year, level_group, version, rules, actor, reason, created_at)
		VALUES ($1, $2, $3, 1, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		tenantID, year, group, body, actorShipped, reason, r.now()); err != nil {
		return RuleSet{}, fmt.Errorf("fees: seed rules %s %s: %w", year, group, err)
	}
	return readSet(ctx, q, tenantID, year, group)
}

func readSet(ctx context.Context, q Querier, tenantID int64, year, group string) (RuleSet, error) {
	sets, err := readSets(ctx, q, tenantID, year, group, 1)
	if err != nil {
		return RuleSet{}, err
	}
	if len(sets) == 0 {
		return RuleSet{}, fmt.Errorf("%w: rules %s %s", ErrNotFound, year, group)
	}
	return sets[0], nil
}

func readSets(ctx context.Context, q Querier, tenantID int64, year, group string, limit int) ([]RuleSet, error) {
	rows, err := q.Query(ctx, `
		SELECT rules, version, actor, reason, created_at FROM fee_rule_sets
		WHERE tenant_id = $1 AND school_year = $2 AND level_group = $3
		ORDER BY version DESC LIMIT $4`, tenantID, year, group, limit)
	if err != nil {
		return nil, fmt.Errorf("fees: read rules %s %s: %w", year, group, err)
	}
	sets, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RuleSet, error) {
		var body []byte
		var rs RuleSet
		if err := row.Scan(&body, &rs.Version, &rs.Actor, &rs.Reason, &rs.CreatedAt); err != nil {
			return rs, err
		}
		v, a, re, at := rs.Version, rs.Actor, rs.Reason, rs.CreatedAt
		if err := json.Unmarshal(body, &rs); err != nil {
			return rs, err
		}
		rs.Version, rs.Actor, rs.Reason, rs.CreatedAt = v, a, re, at
		rs.SchoolYear, rs.LevelGroup = year, group
		return rs, nil
	})
	if err != nil {
		return nil, fmt.Errorf("fees: read rules %s %s: %w", year, group, err)
	}
	return sets, nil
}

// History returns every version of a year's group, newest first (after
// making sure version 1 exists).
func (r *Rules) History(ctx context.Context, q Querier, tenantID int64, year, group string) ([]RuleSet, error) {
	if _, err := r.Get(ctx, q, tenantID, year, group); err != nil {
		return nil, err
	}
	return readSets(ctx, q, tenantID, year, group, 1000)
}

// Save records rs as the next version of its year and group, by actor
// (an organising-body admin: the caller checks the role and writes the
// audit entry) with a reason. It returns the saved set, ErrInvalid when rs
// does not validate or no reason is given, and ErrStale when basedOn is not
// the version in force (someone saved meanwhile).
func (r *Rules) Save(ctx context.Context, q Querier, tenantID int64, rs RuleSet, basedOn int, actor, reason string) (RuleSet, error) {
	if strings.TrimSpace(reason) == "" {
		return RuleSet{}, invalid("a reason is required to change the rules")
	}
	if actor == "" {
		return RuleSet{}, invalid("an actor is required")
	}
	if err := rs.Validate(r.shipped.Categories); err != nil {
		return RuleSet{}, err
	}
	cur, err := r.Get(ctx, q, tenantID, rs.SchoolYear, rs.LevelGroup)
	if err != nil {
		return RuleSet{}, err
	}
	if basedOn != cur.Version {
		return RuleSet{}, fmt.Errorf("%w: version %d is in force, not %d: reload and edit again", ErrStale, cur.Version, basedOn)
	}
	body, err := json.Marshal(rs)
	if err != nil {
		return RuleSet{}, err
	}
	_, err = q.Exec(ctx, `
		INSERT INTO fee_rule_sets (tenant_id, school_year, level_group, version, rules, actor, reason, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		tenantID, rs.SchoolYear, rs.LevelGroup, cur.Version+1, body, actor, strings.TrimSpace(reason), r.now())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return RuleSet{}, fmt.Errorf("%w: version %d was saved meanwhile", ErrStale, cur.Version+1)
	}
	if err != nil {
		return RuleSet{}, fmt.Errorf("fees: save rules: %w", err)
	}
	return readSet(ctx, q, tenantID, rs.SchoolYear, rs.LevelGroup)
}
