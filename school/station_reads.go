package school

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Reads of stations for the packages that hold rows naming them (kiosk
// receipts, cash remittances; issue 13, "each table has one owner"), on
// the caller's pool or transaction (Querier).

// ReadStations returns the tenant's stations among ids, by id, in one
// query; unknown ids are absent.
func ReadStations(ctx context.Context, q Querier, tenantID int64, ids []int64) (map[int64]Station, error) {
	rows, err := q.Query(ctx, `SELECT tenant_id, id, school_id, code, name, kind, coalesce(cash_account_id, 0) FROM stations
		WHERE tenant_id = $1 AND id = ANY($2)`, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("stations %v: %w", ids, err)
	}
	sts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Station, error) {
		var st Station
		err := r.Scan(&st.TenantID, &st.ID, &st.SchoolID, &st.Code, &st.Name, &st.Kind, &st.CashAccountID)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("stations %v: %w", ids, err)
	}
	out := make(map[int64]Station, len(sts))
	for _, st := range sts {
		out[st.ID] = st
	}
	return out, nil
}
