package terminal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// What the staff screens (package staff) read of the tap domain.

// MaxTapID is the longest tap id accepted (a UUID is 36).
const MaxTapID = maxTapID

// ValidTapID reports whether id is a tap id the pipeline accepts (1 to
// MaxTapID printable characters): a manual entry's form token makes one.
func ValidTapID(id string) bool { return validID(id) }

// Station returns the tenant's station with this code (cached), or
// ErrNotFound.
func (s *Service) Station(ctx context.Context, tenantID int64, code string) (Station, error) {
	return s.station(ctx, tenantID, code)
}

// LastTap returns the latest tap received at a station since a time: the
// pupil it identified (0 for none), its verdict and its reason; ErrNotFound
// when there is none (the kiosk selects the pupil of the last tap).
func (s *Service) LastTap(ctx context.Context, tenantID, stationID int64, since time.Time) (pupilID int64, verdict, reason string, err error) {
	var pupil *int64
	err = s.pool.QueryRow(ctx, `SELECT pupil_id, verdict, reason FROM taps WHERE tenant_id = $1 AND station_id = $2 AND received_at >= $3
		ORDER BY received_at DESC LIMIT 1`, tenantID, stationID, since).Scan(&pupil, &verdict, &reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", "", ErrNotFound
	}
	if err != nil {
		return 0, "", "", fmt.Errorf("last tap at station %d: %w", stationID, err)
	}
	if pupil != nil {
		pupilID = *pupil
	}
	return pupilID, verdict, reason, nil
}
