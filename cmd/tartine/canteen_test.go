package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestCanteenGauge: the portal sees the canteen busy while a device API
// request is served and just after, not for other requests.
func TestCanteenGauge(t *testing.T) {
	g := &canteenGauge{}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(g.middleware)
	var during bool
	r.POST("/api/v1/taps", func(c *gin.Context) { during = g.busy(); c.Status(http.StatusOK) })
	r.GET("/portal/", func(c *gin.Context) { during = g.busy(); c.Status(http.StatusOK) })
	serve := func(method, path string) {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	}
	if g.busy() {
		t.Fatal("busy before any tap")
	}
	serve(http.MethodGet, "/portal/")
	if during || g.busy() {
		t.Fatal("a portal request made the canteen busy")
	}
	serve(http.MethodPost, "/api/v1/taps")
	if !during {
		t.Error("not busy while taps are served")
	}
	if !g.busy() {
		t.Error("not busy right after taps were served")
	}
}
