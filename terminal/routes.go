package terminal

import (
	"github.com/gin-gonic/gin"

	"tartine/internal/deviceapi"
	"tartine/internal/websession"
)

// MountDeviceAPI registers the device API (HMAC-authenticated, no session,
// no CSRF): POST /api/v1/taps and GET /api/v1/badges.
func (s *Service) MountDeviceAPI(r gin.IRouter) {
	r.POST(deviceapi.PathTaps, websession.Device, s.postTaps)
	r.GET(deviceapi.PathBadges, websession.Device, s.getBadges)
}
