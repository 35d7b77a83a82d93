package school

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PupilBadge is a badge a pupil had at some time: its state now and its
// whole history (BadgeHistory), other holders included.
type PupilBadge struct {
	Badge
	History []BadgeEvent // oldest first
}

// PupilBadgeHistory returns every badge the pupil ever had, by badge id,
// each with its history, so that a returned badge's history stays visible
// on the pupil's page: two queries whatever the number of badges.
func (s *Store) PupilBadgeHistory(ctx context.Context, tenantID, pupilID int64) ([]PupilBadge, error) {
	const held = `SELECT badge_id FROM badge_assignments WHERE tenant_id = $1 AND pupil_id = $2`
	rows, err := s.pool.Query(ctx, `SELECT `+badgeCols+` FROM badges WHERE tenant_id = $1 AND id IN (`+held+`) ORDER BY id`, tenantID, pupilID)
	if err != nil {
		return nil, fmt.Errorf("badge history of pupil %d: %w", pupilID, err)
	}
	badges, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Badge, error) { return scanBadge(r) })
	if err != nil {
		return nil, fmt.Errorf("badge history of pupil %d: %w", pupilID, err)
	}
	if len(badges) == 0 {
		return nil, nil
	}
	out := make([]PupilBadge, len(badges))
	at := make(map[int64]int, len(badges))
	ids := make([]int64, len(badges))
	for i, b := range badges {
		out[i].Badge, at[b.ID], ids[i] = b, i, b.ID
	}
	rows, err = s.pool.Query(ctx, `SELECT badge_id, coalesce(pupil_id, 0), status, actor, at FROM badge_assignments
		WHERE tenant_id = $1 AND badge_id = ANY($2) ORDER BY badge_id, id`, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("badge history of pupil %d: %w", pupilID, err)
	}
	var badgeID int64
	var e BadgeEvent
	if _, err := pgx.ForEachRow(rows, []any{&badgeID, &e.PupilID, &e.Status, &e.Actor, &e.At}, func() error {
		i := at[badgeID]
		out[i].History = append(out[i].History, e)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("badge history of pupil %d: %w", pupilID, err)
	}
	return out, nil
}
