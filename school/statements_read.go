package school

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tartine/sepa"
)

// GuardiansOfPupils returns the guardians of each of the pupils who receive
// its statements and estimates (GuardianLink.Statements; by last and first
// name), in one query: statements are built for thousands of pupils at
// once. Pupils without a guardian are absent from the map.
func (s *Store) GuardiansOfPupils(ctx context.Context, tenantID int64, pupilIDs []int64) (map[int64][]GuardianLink, error) {
	rows, err := s.pool.Query(ctx, `SELECT gp.pupil_id, g.tenant_id, g.id, coalesce(g.external_ref, ''), g.first_name, g.last_name, coalesce(g.email, ''),
			g.phone, g.address, g.language, gp.relation, gp.statements
		FROM guardians g JOIN guardian_pupils gp ON gp.tenant_id = g.tenant_id AND gp.guardian_id = g.id
		WHERE g.tenant_id = $1 AND gp.pupil_id = ANY($2) AND gp.statements ORDER BY gp.pupil_id, lower(g.last_name), lower(g.first_name), g.id`, tenantID, pupilIDs)
	if err != nil {
		return nil, fmt.Errorf("guardians of pupils: %w", err)
	}
	out := make(map[int64][]GuardianLink)
	var pupil int64
	var g GuardianLink
	_, err = pgx.ForEachRow(rows, []any{&pupil, &g.TenantID, &g.ID, &g.ExternalRef, &g.FirstName, &g.LastName, &g.Email, &g.Phone, &g.Address, &g.Language, &g.Relation, &g.Statements},
		func() error {
			out[pupil] = append(out[pupil], g)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("guardians of pupils: %w", err)
	}
	return out, nil
}

// ReserveOGMsTx hands out n structured communications of the tenant, in
// the caller's transaction, from the same counter as the wallet OGMs
// (sepa.WalletOGM: tenant prefix + sequence number), so that a statement's
// communication can never be a wallet's, and none is ever reused. The
// tenant's counter row (ogm_counters) stays locked until tx ends. It
// returns ErrInvalid when the tenant has no OGM prefix or the sequence is
// exhausted; roll tx back then.
func ReserveOGMsTx(ctx context.Context, tx pgx.Tx, tenantID int64, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	seqs, err := reserveWalletSeqs(ctx, tx, tenantID, n)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, n)
	for seq := seqs.next; seq <= seqs.last; seq++ {
		ogm, err := sepa.WalletOGM(uint64(seqs.prefix), uint64(seq))
		if err != nil {
			return nil, invalid("reserve structured communications: %v", err)
		}
		out = append(out, ogm)
	}
	return out, nil
}
