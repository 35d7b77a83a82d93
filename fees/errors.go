package fees

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Errors returned by the package; match them with errors.Is. *RuleError
// and *CapError match ErrRefused.
var (
	// ErrNotFound: no such fee, line, pupil or rule set in the tenant.
	ErrNotFound = errors.New("fees: not found")
	// ErrInvalid: bad input (empty object, amount with more than two
	// decimals, unknown category or kind, no pupil).
	ErrInvalid = errors.New("fees: invalid")
	// ErrRefused: the free-schooling rules forbid the charge (*RuleError,
	// *CapError say which rule and its source).
	ErrRefused = errors.New("fees: refused by the free-schooling rules")
	// ErrIssued: the line is on an issued statement: it can only be
	// corrected by a credit line.
	ErrIssued = errors.New("fees: already on an issued statement")
	// ErrCancelled: the fee or line was cancelled.
	ErrCancelled = errors.New("fees: cancelled")
	// ErrNotFacultatif: an opt-in was recorded for an obligatoire fee.
	ErrNotFacultatif = errors.New("fees: not a facultatif fee")
	// ErrStale: the rule set changed since the edited version was read.
	ErrStale = errors.New("fees: rules changed meanwhile")
)

// Rule codes of a RuleError: which legal rule refused the fee.
const (
	RuleForbiddenCategory = "forbidden_category"   // forbidden at every level (minerval, bulletin…)
	RuleFreeSupplies      = "free_supplies"        // supplies in a year group where they are free
	RuleNoFacultatif      = "level_no_facultatif"  // facultatif where the level allows none (maternel)
	RuleNotAllowed        = "category_not_allowed" // not in the exhaustive list for that kind and level
)

// RuleError is a fee refused by a rule of the rule set.
type RuleError struct {
	Rule        string // Rule* code
	Category    string
	Kind        Kind
	Level       string // the level that refused it ("M2")
	LevelGroup  string
	SchoolYear  string
	Source      string // the rule's source, as in the rule set
	Unconfirmed bool
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("fees: %s: %s %s refused for %s (%s, %s); source: %s", e.Rule, e.Kind, e.Category, e.Level, e.LevelGroup, e.SchoolYear, e.Source)
}

// Is makes a RuleError match ErrRefused.
func (e *RuleError) Is(target error) bool { return target == ErrRefused }

// CapUsage is one pupil's use of a cap.
type CapUsage struct {
	PupilID   int64
	PupilName string
	Cap       Cap
	Used      decimal.Decimal // charged so far in the cap's scope
	Asked     decimal.Decimal // what the fee would add
}

// Remaining is what the pupil can still be charged under the cap (≥ 0).
func (u CapUsage) Remaining() decimal.Decimal {
	return decimal.Max(u.Cap.Amount.Sub(u.Used), decimal.Zero)
}

// CapError is a charge that would take pupils past a cap; it lists each
// such pupil's usage. The school may lower those pupils' amounts
// (CreateInput.Amounts) to at most Remaining.
type CapError struct {
	Over []CapUsage
}

func (e *CapError) Error() string {
	var b strings.Builder
	b.WriteString("fees: cap exceeded:")
	for _, u := range e.Over {
		fmt.Fprintf(&b, " pupil %d %s used %s + %s > %s (source: %s);", u.PupilID, u.Cap.ID, u.Used.StringFixed(2), u.Asked.StringFixed(2), u.Cap.Amount.StringFixed(2), u.Cap.Source)
	}
	return b.String()
}

// Is makes a CapError match ErrRefused.
func (e *CapError) Is(target error) bool { return target == ErrRefused }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
