package school

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tartine/internal/db"
)

// Reads of the bank import (payments' CODA import; issue 13, "each table
// has one owner"): pupils by their wallet's structured communication and
// the schools' own accounts. The import passes its transaction.

// OGMWallet is the pupil whose wallet a structured communication (OGM)
// credits, and that wallet's ledger account.
type OGMWallet struct {
	PupilID, WalletAccountID int64
}

// WalletsByOGM returns, by wallet OGM (12 digits), the tenant's pupils
// among ogms that have a wallet, in one query; an OGM of no pupil, or of a
// pupil without a wallet, is absent.
func WalletsByOGM(ctx context.Context, q Querier, tenantID int64, ogms []string) (map[string]OGMWallet, error) {
	out := make(map[string]OGMWallet)
	if len(ogms) == 0 {
		return out, nil
	}
	set, arg := db.KeySet(2, ogms)
	rows, err := q.Query(ctx, `SELECT wallet_ogm, id, wallet_account_id FROM pupils
		WHERE tenant_id = $1 AND wallet_ogm IN (SELECT `+set+`) AND wallet_account_id IS NOT NULL`, tenantID, arg)
	if err != nil {
		return nil, fmt.Errorf("pupils by wallet OGM: %w", err)
	}
	var ogm string
	var w OGMWallet
	if _, err := pgx.ForEachRow(rows, []any{&ogm, &w.PupilID, &w.WalletAccountID}, func() error { out[ogm] = w; return nil }); err != nil {
		return nil, fmt.Errorf("pupils by wallet OGM: %w", err)
	}
	return out, nil
}

// SchoolIBANs returns the IBANs of the tenant's schools that have one, as
// stored (electronic form).
func SchoolIBANs(ctx context.Context, q Querier, tenantID int64) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT iban FROM schools WHERE tenant_id = $1 AND iban <> '' ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("school accounts of tenant %d: %w", tenantID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("school accounts of tenant %d: %w", tenantID, err)
	}
	return out, nil
}
