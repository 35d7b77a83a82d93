package terminal

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tartine/internal/deviceapi"
	"tartine/internal/web"
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
		web.Shed(c)
		c.Header("Retry-After", "1")
		c.JSON(http.StatusServiceUnavailable, apiError{Error: err.Error()})
		return
	}
	if err != nil && c.Request.Context().Err() != nil {
		// The device hung up (or timed out) before the answer: nothing to
		// answer; the taps applied meanwhile are answered the same when it
		// sends them again.
		s.log.Debug("apply taps: device gone", "device", dev.ID, "err", err)
		c.AbortWithStatus(web.StatusClientClosed)
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
	list, err := s.store.ChangedBadges(c.Request.Context(), dev.TenantID, since, badgePage+1)
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
		e := BadgeEntry{UID: x.UID}
		// mine: the device's school's pupil (or no pupil), or the device
		// serves every school.
		mine := dev.SchoolID == 0 || x.PupilID == 0 || x.SchoolID == dev.SchoolID
		switch {
		case !mine: // another school's pupil: nothing of them on this bridge
			e.Status = deviceapi.BadgeRemoved
		case x.Status == school.BadgeBlocked || x.Status == school.BadgeLost:
			e.Status = deviceapi.BadgeBlocked
		case x.Status == school.BadgeActive && x.PupilID != 0 && x.PupilActive:
			e.Status = deviceapi.BadgeActive
		default:
			e.Status = deviceapi.BadgeRemoved
		}
		if x.PupilID != 0 && e.Status != deviceapi.BadgeRemoved {
			e.Name = school.DisplayName(x.FirstName, x.LastName)
		}
		out = append(out, e)
		cursor = x.Seq
	}
	c.JSON(http.StatusOK, deviceapi.BadgeDelta{Badges: out, Cursor: strconv.FormatInt(cursor, 10), More: more})
}
