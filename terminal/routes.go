package terminal

import "github.com/gin-gonic/gin"

// MountDeviceAPI registers the device API (HMAC-authenticated, no session,
// no CSRF): POST /api/v1/taps and GET /api/v1/badges.
func (s *Service) MountDeviceAPI(r gin.IRouter) {
	r.POST("/api/v1/taps", s.postTaps)
	r.GET("/api/v1/badges", s.getBadges)
}
