package statements

import (
	"errors"
	"fmt"
)

// Errors returned by the package; match them with errors.Is. A *RuleError
// matches ErrRefused.
var (
	// ErrNotFound: no such period, statement, estimate or communication.
	ErrNotFound = errors.New("statements: not found")
	// ErrInvalid: bad input (dates, reason, split).
	ErrInvalid = errors.New("statements: invalid")
	// ErrRefused: a free-schooling rule forbids it (*RuleError says which).
	ErrRefused = errors.New("statements: refused by the free-schooling rules")
	// ErrUnchanged: a re-issue would produce the same statement.
	ErrUnchanged = errors.New("statements: nothing changed since the last version")
)

// Rule codes of a RuleError, each a legal rule with its source.
const (
	RulePeriodLength    = "period_length"    // each period covers 1 to 4 months
	RulePeriodAnnounced = "period_announced" // periods are set before the school year
	RuleEstimateSent    = "estimate_sent"    // no statement before the estimate was sent
	RuleUnclaimable     = "unclaimable_fee"  // a fee on no issued statement cannot be claimed
	RuleGuardiansOnly   = "guardians_only"   // to the parents, never through the pupil
	RuleFacilities      = "payment_facilities"
)

// Sources of the rules, as FEES.md gives them.
var ruleSources = map[string]string{
	RulePeriodLength:    "Décret « Missions » art. 100 (2013), Code de l'enseignement art. 1.7.2-2 [à confirmer]; FEES.md §7 [4][5][33][35]",
	RulePeriodAnnounced: "Décret « Missions » art. 100 (2013): périodicité annoncée avant l'année scolaire; FEES.md §7 [4][5]",
	RuleEstimateSent:    "Décret « Missions » art. 100 (2013): estimation des frais avant l'année scolaire; JP Namur 29-10-2019; FEES.md §6 [28][29]",
	RuleUnclaimable:     "Décret « Missions » art. 100 (2013): un frais absent d'un décompte ne peut être réclamé; FEES.md §7 [4][5][35]",
	RuleGuardiansOnly:   "Circulaire 4516 (2013) et décret du 14-03-2019: jamais par l'intermédiaire de l'élève mineur; FEES.md §7–8 [24]",
	RuleFacilities:      "Décret du 14-03-2019: facilités de paiement sur demande au-delà de 50 €; FEES.md §7 [6][34][36]",
}

// RuleSource returns the source of a Rule* code.
func RuleSource(rule string) string { return ruleSources[rule] }

// RuleError is an action refused by a legal rule; Detail says what was
// asked.
type RuleError struct {
	Rule   string // Rule* code; i18n key "statements.rule.<Rule>"
	Source string
	Detail string
}

func refused(rule, format string, args ...any) *RuleError {
	return &RuleError{Rule: rule, Source: ruleSources[rule], Detail: fmt.Sprintf(format, args...)}
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("statements: %s: %s; source: %s", e.Rule, e.Detail, e.Source)
}

// Is makes a RuleError match ErrRefused.
func (e *RuleError) Is(target error) bool { return target == ErrRefused }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
