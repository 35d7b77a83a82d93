package fees

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
	"tartine/school"
)

// ReceivableAccountCode is the ledger code of a pupil's fees receivable,
// "fees:<pupil id>": an asset of its own, kept apart from the wallet and
// from receivable:<pupil id>, where the canteen books a service debt past
// the wallet's floor (a meal overdraft), so that statements, payments of
// statements and the ageing of receivables show school fees alone.
func ReceivableAccountCode(pupilID int64) string { return fmt.Sprint("fees:", pupilID) }

// ReceivableAccount returns the pupil's fees receivable, created if
// needed: in tx when it is not nil (it never asks the pool for another
// connection then), else on the ledger's pool.
func ReceivableAccount(ctx context.Context, led *ledger.Ledger, tx pgx.Tx, tenantID int64, p school.Pupil) (int64, error) {
	spec := ledger.AccountSpec{Code: ReceivableAccountCode(p.ID), Name: "Frais scolaires " + p.DisplayName(), Type: ledger.Asset}
	var a ledger.Account
	var err error
	if tx != nil {
		a, err = led.EnsureAccountTx(ctx, tx, tenantID, spec)
	} else {
		a, err = led.EnsureAccount(ctx, tenantID, spec)
	}
	if err != nil {
		return 0, fmt.Errorf("fees: receivable of pupil %d: %w", p.ID, err)
	}
	return a.ID, nil
}

// ReceivableAccounts returns the fees receivables of pupils that have one
// (a pupil never charged a fee has none), by pupil id, in one query.
func ReceivableAccounts(ctx context.Context, led *ledger.Ledger, tenantID int64, pupilIDs []int64) (map[int64]int64, error) {
	codes := make([]string, len(pupilIDs))
	for i, id := range pupilIDs {
		codes[i] = ReceivableAccountCode(id)
	}
	byCode, err := led.AccountsByCode(ctx, tenantID, codes)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]int64, len(byCode))
	for _, id := range pupilIDs {
		if a, ok := byCode[ReceivableAccountCode(id)]; ok {
			out[id] = a
		}
	}
	return out, nil
}
