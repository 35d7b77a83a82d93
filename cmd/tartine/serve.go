package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tartine/internal/web"
	"tartine/internal/websession"
)

// serveConfig is what the server needs besides the database.
type serveConfig struct {
	Addr    string
	Migrate bool
	// BaseURL is the public URL of the server (links in emails and letters).
	BaseURL string
	// DeviceConns sizes the device API's own pool (database.go).
	DeviceConns int
	// PortalInFlight bounds the portal requests served at once (0: the
	// portal's default, four per processor); the others wait in line or
	// get « réessayez dans un instant » (database.go registers the flag).
	PortalInFlight int
	// Demo: `tartine demo` (without SMTP, emails are logged in full, reset
	// links included; in `serve` only their recipient and subject).
	Demo bool
}

// Validate checks the configuration.
func (c serveConfig) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: want host:port or :port", c.Addr)
	}
	return nil
}

func cmdServe(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cfg serveConfig
	var df dbFlags
	fs.StringVar(&cfg.Addr, "addr", envOr(e, "TARTINE_ADDR", ":8080"), "listen address")
	fs.BoolVar(&cfg.Migrate, "migrate", false, "apply pending migrations before serving")
	fs.StringVar(&cfg.BaseURL, "base-url", e.getenv("TARTINE_BASE_URL"), "public URL of the server (default http://localhost<addr>)")
	registerDeviceConns(fs, &cfg)
	df.register(fs, "./var/pg")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	d, log, err := openForServing(ctx, e, cfg, df, cfg.Migrate)
	if err != nil {
		return err
	}
	defer d.Close()
	return serve(ctx, e, log, d, cfg, nil)
}

// openForServing checks cfg, sets the server's logger and GC, opens the
// database and checks its schema, migrating it when migrate is set or the
// database is the embedded default (private to this server). The caller
// closes the database.
func openForServing(ctx context.Context, e env, cfg serveConfig, df dbFlags, migrate bool) (*database, *slog.Logger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	log := newLogger(e)
	tuneGC(e, log)
	d, err := openDatabase(ctx, e, df, log)
	if err != nil {
		return nil, nil, err
	}
	if err := requireSchema(ctx, d, migrate || d.Cluster != nil); err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, log, nil
}

func envOr(e env, key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

// serve runs the HTTP server until ctx is cancelled. ready, when not nil,
// receives the bound address once the server listens.
func serve(ctx context.Context, e env, log *slog.Logger, d *database, cfg serveConfig, ready func(addr string)) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + displayAddr(ln.Addr().String())
	}
	closeDevices, err := openCanteenFirst(ctx, e, log, d, cfg.DeviceConns)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeDevices()
	// The services' background work (the job queue) ends with appCtx, and
	// is waited for before the pools close (a queue still completing its
	// jobs on a closed pool logged errors at every stop).
	appCtx, stopApps := context.WithCancel(ctx)
	defer func() { stopApps(); d.background.Wait() }()
	handler, err := newRouter(appCtx, e, log, d, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer startPprof(log, e.getenv("TARTINE_PPROF_ADDR"))()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("tartine listening", "addr", ln.Addr().String(), "url", cfg.BaseURL)
	if ready != nil {
		ready(ln.Addr().String())
	}
	// The embedded cluster is restarted when it dies; when it cannot be,
	// the server exits non-zero so that its service manager restarts it.
	dbErr := make(chan error, 1)
	if d.Cluster != nil {
		go func() { dbErr <- d.Cluster.Supervise(ctx, embeddedRestarts) }()
	}
	var failed error
	select {
	case err := <-errc:
		return err
	case err := <-dbErr:
		if err != nil {
			failed = fmt.Errorf("embedded PostgreSQL: %w", err)
			log.Error("stopping: the embedded PostgreSQL cannot be restarted", "err", err)
		}
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) && failed == nil {
		return err
	}
	if failed != nil {
		return failed
	}
	log.Info("tartine stopped")
	return nil
}

// embeddedRestarts bounds the tries to restart the embedded PostgreSQL after
// it died, and its deaths within ten minutes (pglocal.Cluster.Supervise).
const embeddedRestarts = 5

func displayAddr(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// newRouter builds the gin engine: plumbing routes here, the web packages'
// routes in mountApps (routes.go).
func newRouter(ctx context.Context, e env, log *slog.Logger, d *database, cfg serveConfig) (http.Handler, error) {
	r, _, err := newEngine(ctx, e, log, d, cfg)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// newEngine is newRouter with the engine and its route policy guard (for
// the route policy test).
func newEngine(ctx context.Context, e env, log *slog.Logger, d *database, cfg serveConfig) (*gin.Engine, *websession.PolicyGuard, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reqs := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tartine_http_request_duration_seconds", Help: "HTTP request latency by route and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route", "method", "status"})
	shed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tartine_http_shed_total", Help: "Requests refused on purpose under load (503 with Retry-After), by route.",
	}, []string{"route"})
	reg.MustRegister(reqs, shed)
	sheds := &shedLog{log: log, every: time.Minute}
	r.Use(gin.Recovery(), func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		reqs.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
		switch {
		case web.WasShed(c):
			shed.WithLabelValues(route).Inc()
			sheds.note(start)
		case c.Writer.Status() >= 500:
			log.Error("request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "status", c.Writer.Status())
		}
	})
	// Every route names its policy (internal/websession/policy.go): the
	// guard refuses one that names none and bounds request bodies.
	guard := websession.NewPolicyGuard(func(method, route string) {
		log.Error("route without policy: refused", "method", method, "route", route)
	})
	r.Use(guard.Handle, secureTransport(cfg.BaseURL))
	// Client addresses (login throttling, audit) come from X-Forwarded-For
	// only when the direct peer is one of TARTINE_TRUSTED_PROXIES
	// (comma-separated addresses or CIDRs, e.g. the TLS reverse proxy's
	// 127.0.0.1); none by default.
	if err := r.SetTrustedProxies(splitList(e.getenv("TARTINE_TRUSTED_PROXIES"))); err != nil {
		return nil, nil, fmt.Errorf("TARTINE_TRUSTED_PROXIES: %w", err)
	}
	r.GET("/healthz", websession.Public, func(c *gin.Context) {
		pctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := d.devices().Ping(pctx); err != nil { // the canteen's pool
			// The detail (addresses, socket paths) goes to the log, not to
			// whoever asks: /healthz is public.
			log.Warn("healthz: database unavailable", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": "unreachable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/metrics", websession.Operator, operatorOnly(e.getenv("TARTINE_METRICS_TOKEN")), gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	if err := mountApps(ctx, r, appDeps{log: log, db: d, cfg: cfg, env: e, metrics: reg}); err != nil {
		return nil, nil, err
	}
	return r, guard, nil
}

// splitList splits a comma-separated setting, dropping empty items (nil
// for an empty setting).
func splitList(v string) []string {
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// operatorOnly lets through requests that carry "Authorization: Bearer
// <token>" when token is set, else requests from the loopback address
// that did not come through a proxy (no X-Forwarded-For); others get 404.
func operatorOnly(token string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if token != "" {
			got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
			if ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
				c.Next()
				return
			}
			c.AbortWithStatus(http.StatusNotFound)
			return
		}
		host, _, _ := net.SplitHostPort(c.Request.RemoteAddr)
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && c.GetHeader("X-Forwarded-For") == "" && c.GetHeader("Forwarded") == "" {
			c.Next()
			return
		}
		c.AbortWithStatus(http.StatusNotFound)
	}
}

// secureTransport sends Strict-Transport-Security on every answer when the
// public URL is https (the TLS proxy in front serves only https).
func secureTransport(baseURL string) gin.HandlerFunc {
	hsts := strings.HasPrefix(strings.ToLower(baseURL), "https://")
	return func(c *gin.Context) {
		if hsts {
			c.Header("Strict-Transport-Security", "max-age=31536000")
		}
		c.Next()
	}
}

// shedLog reports the requests refused on purpose under load (web.Shed):
// the first at once, then at most one line per period with how many there
// were — the 8:00 rush sheds hundreds of portal pages, which are not
// failures and must not bury the real ones.
type shedLog struct {
	log   *slog.Logger
	every time.Duration

	mu       sync.Mutex
	reported time.Time // when the last line was written
	count    int       // sheds since
}

func (s *shedLog) note(now time.Time) {
	s.mu.Lock()
	s.count++
	n := s.count
	due := s.reported.IsZero() || now.Sub(s.reported) >= s.every || now.Before(s.reported)
	if due {
		s.reported, s.count = now, 0
	}
	s.mu.Unlock()
	if due {
		s.log.Warn("requests refused under load (503, Retry-After: « réessayez dans un instant »)", "count", n, "since_last_report", s.every.String())
	}
}
