package payments

import (
	"context"
	"fmt"
	"strconv"

	"tartine/ledger"
	"tartine/school"
)

// Account codes of the chart (DESIGN.md "Chart of accounts"). school.EnsureChart
// creates them too; payments ensures them by code so that it works alone.
const (
	CodeStripeClearing = "stripe-clearing"
	CodeStripeFees     = "expense:stripe-fees"
	CodeBank           = "bank"
	CodeSuspense       = "suspense"
)

var chart = map[string]ledger.AccountSpec{
	CodeStripeClearing: {Code: CodeStripeClearing, Name: "Stripe — fonds en transit", Type: ledger.Asset},
	CodeStripeFees:     {Code: CodeStripeFees, Name: "Frais Stripe", Type: ledger.Expense},
	CodeBank:           {Code: CodeBank, Name: "Banque", Type: ledger.Asset},
	CodeSuspense:       {Code: CodeSuspense, Name: "Virements à affecter", Type: ledger.Liability},
	CodeCashInTransit:  {Code: CodeCashInTransit, Name: "Espèces en transit (58)", Type: ledger.Asset},
}

// account returns the tenant's account with a chart code, creating it if needed.
func account(ctx context.Context, l *ledger.Ledger, tenantID int64, code string) (int64, error) {
	spec, ok := chart[code]
	if !ok {
		return 0, fmt.Errorf("payments: no chart entry for %q", code)
	}
	a, err := l.EnsureAccount(ctx, tenantID, spec)
	if err != nil {
		return 0, fmt.Errorf("payments: account %s: %w", code, err)
	}
	return a.ID, nil
}

// receivableAccount returns the pupil's receivable account: the one recorded
// on the pupil, else receivable:<pupil id>, created if needed.
func receivableAccount(ctx context.Context, l *ledger.Ledger, tenantID, pupilID int64) (int64, error) {
	p, err := school.ReadPupil(ctx, l.Pool(), tenantID, pupilID)
	if err != nil {
		return 0, fmt.Errorf("payments: receivable of pupil %d: %w", pupilID, err)
	}
	if p.ReceivableAccountID != 0 {
		return p.ReceivableAccountID, nil
	}
	a, err := l.EnsureAccount(ctx, tenantID, ledger.AccountSpec{
		Code: "receivable:" + strconv.FormatInt(pupilID, 10),
		Name: "Créance élève " + strconv.FormatInt(pupilID, 10),
		Type: ledger.Asset,
	})
	if err != nil {
		return 0, fmt.Errorf("payments: receivable of pupil %d: %w", pupilID, err)
	}
	return a.ID, nil
}
