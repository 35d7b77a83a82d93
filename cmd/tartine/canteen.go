package main

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// canteenGauge tells the portal when the canteen's readers are being
// served, so that it yields the cores to them (issue 17: the canteen comes
// first): a device API request is in flight, or one ended within the last
// half second.
type canteenGauge struct {
	inFlight atomic.Int64
	last     atomic.Int64 // unix nanoseconds of the last answer
}

// devicePrefix is where the device API's routes live (deviceapi.PathTaps …).
const devicePrefix = "/api/v1/"

// middleware counts the device API's requests; others pass untouched.
func (g *canteenGauge) middleware(c *gin.Context) {
	if !strings.HasPrefix(c.Request.URL.Path, devicePrefix) {
		c.Next()
		return
	}
	g.inFlight.Add(1)
	defer func() {
		g.last.Store(time.Now().UnixNano())
		g.inFlight.Add(-1)
	}()
	c.Next()
}

// busy reports whether taps are being served.
func (g *canteenGauge) busy() bool {
	return g.inFlight.Load() > 0 || time.Since(time.Unix(0, g.last.Load())) < 500*time.Millisecond
}
