package main

import (
	"context"
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// appDeps are the concrete dependencies handed to the web packages.
type appDeps struct {
	log     *slog.Logger
	db      *database
	cfg     serveConfig
	env     env
	metrics *prometheus.Registry
}

// mountApps registers the routes of the web packages (terminal, portal …),
// one block per package.
func mountApps(ctx context.Context, r *gin.Engine, deps appDeps) error {
	return nil
}
