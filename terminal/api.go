package terminal

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"tartine/internal/deviceapi"
	"tartine/school"
)

// apiError is the JSON body of a device API error.
type apiError = deviceapi.Error

// deviceAuth reads the body (at most MaxBody bytes) and authenticates the
// request; on failure it answers 401 (or 413/500) and aborts.
func (s *Service) deviceAuth(c *gin.Context) (Device, []byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, apiError{Error: "body larger than " + strconv.Itoa(MaxBody) + " bytes"})
			return Device{}, nil, false
		}
		c.AbortWithStatusJSON(http.StatusBadRequest, apiError{Error: "unreadable body"})
		return Device{}, nil, false
	}
	dev, err := s.Authenticate(c.Request.Context(), c.GetHeader("Authorization"), c.Request.Method, c.Request.URL.RequestURI(), body)
	switch {
	case errors.Is(err, ErrAuthMissing), errors.Is(err, ErrAuthMalformed), errors.Is(err, ErrClockSkew),
		errors.Is(err, ErrUnknownDevice), errors.Is(err, ErrRevokedDevice), errors.Is(err, ErrBadSignature):
		c.Header("WWW-Authenticate", AuthScheme)
		c.AbortWithStatusJSON(http.StatusUnauthorized, apiError{Error: err.Error()})
		return Device{}, nil, false
	case err != nil:
		s.log.Error("device authentication", "err", err)
		unavailable(c)
		c.Abort()
		return Device{}, nil, false
	}
	return dev, body, true
}

// unavailable answers 503 with Retry-After: the database does not answer
// (e.g. during a failover to the standby); the bridge keeps its taps in its
// outbox and sends them again.
func unavailable(c *gin.Context) {
	c.Header("Retry-After", retryAfterSeconds)
	c.JSON(http.StatusServiceUnavailable, apiError{Error: "server unavailable, retry later"})
}

// retryAfterSeconds is Retry-After on a 503: a failover takes 10 to 30 s,
// a bridge retries sooner when a new tap arrives.
const retryAfterSeconds = "2"

// statusClientClosed is the status logged for a request whose client left
// before the answer (nginx's 499): not a server failure.
const statusClientClosed = 499

// postTaps is POST /api/v1/taps.
func (s *Service) postTaps(c *gin.Context) {
	dev, body, ok := s.deviceAuth(c)
	if !ok {
		return
	}
	res, err := s.ApplyBatch(c.Request.Context(), dev, body)
	if errors.Is(err, ErrBadBatch) {
		c.JSON(http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	if errors.Is(err, ErrBusy) {
		// A flood (bridges replaying long outboxes at once): shed it
		// before it grows the queue; the taps stay in the outboxes.
		s.log.Debug("apply taps: busy", "device", dev.ID)
		c.Header("Retry-After", "1")
		c.JSON(http.StatusServiceUnavailable, apiError{Error: err.Error()})
		return
	}
	if err != nil && c.Request.Context().Err() != nil {
		// The device hung up (or timed out) before the answer: nothing to
		// answer; the taps applied meanwhile are answered the same when it
		// sends them again.
		s.log.Debug("apply taps: device gone", "device", dev.ID, "err", err)
		c.AbortWithStatus(statusClientClosed)
		return
	}
	if err != nil {
		s.log.Error("apply taps", "device", dev.ID, "err", err)
		unavailable(c)
		return
	}
	c.JSON(http.StatusOK, deviceapi.Results{Results: res})
}

// BadgeEntry is one badge of GET /api/v1/badges.
type BadgeEntry = deviceapi.Badge

const badgePage = 1000

// getBadges is GET /api/v1/badges?since=<cursor>: badges changed after the
// cursor (every badge for an empty cursor), as active (assigned to an
// active pupil), blocked (blocked or lost) or removed (returned, unassigned
// or inactive pupil: drop it). A device bound to a school gets the badges
// of other schools' pupils as removed, without names. The cursor is the
// badges' change_seq; "more" says another page follows at once.
func (s *Service) getBadges(c *gin.Context) {
	dev, _, ok := s.deviceAuth(c)
	if !ok {
		return
	}
	var since int64
	if v := c.Query("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			c.JSON(http.StatusBadRequest, apiError{Error: "since: want the cursor of a previous answer"})
			return
		}
		since = n
	}
	rows, _ := s.pool.Query(c.Request.Context(), `
		SELECT b.uid, b.status, b.change_seq, p.first_name, p.last_name, coalesce(p.active, false),
			$4::bigint = 0 OR p.id IS NULL OR p.school_id = $4
		FROM badges b LEFT JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id
		WHERE b.tenant_id = $1 AND b.change_seq > $2 ORDER BY b.change_seq LIMIT $3`, dev.TenantID, since, badgePage+1, dev.SchoolID)
	type row struct {
		uid, status string
		seq         int64
		first, last *string
		active      bool
		mine        bool // the device's school's (or the device serves every school)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.uid, &x.status, &x.seq, &x.first, &x.last, &x.active, &x.mine)
	})
	if err != nil {
		s.log.Error("badge delta", "device", dev.ID, "err", err)
		unavailable(c)
		return
	}
	more := len(list) > badgePage
	if more {
		list = list[:badgePage]
	}
	out := make([]BadgeEntry, 0, len(list))
	cursor := since
	for _, x := range list {
		e := BadgeEntry{UID: x.uid}
		switch {
		case !x.mine: // another school's pupil: nothing of them on this bridge
			e.Status = deviceapi.BadgeRemoved
		case x.status == "blocked" || x.status == "lost":
			e.Status = deviceapi.BadgeBlocked
		case x.status == "active" && x.first != nil && x.active:
			e.Status = deviceapi.BadgeActive
		default:
			e.Status = deviceapi.BadgeRemoved
		}
		if x.first != nil && e.Status != deviceapi.BadgeRemoved {
			e.Name = school.DisplayName(*x.first, *x.last)
		}
		out = append(out, e)
		cursor = x.seq
	}
	c.JSON(http.StatusOK, deviceapi.BadgeDelta{Badges: out, Cursor: strconv.FormatInt(cursor, 10), More: more})
}
