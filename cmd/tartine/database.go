package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/internal/db"
	"tartine/internal/pglocal"
)

// dbFlags are the database flags shared by every command.
type dbFlags struct {
	dataDir  string
	maxConns int
}

func (f *dbFlags) register(fs *flag.FlagSet, defaultDir string) {
	fs.StringVar(&f.dataDir, "data-dir", defaultDir, "data directory of the embedded PostgreSQL (when DATABASE_URL is not set)")
	fs.IntVar(&f.maxConns, "max-conns", 32, "maximum database connections (the device API applies up to half as many taps at once)")
}

// dbFlagSet returns the flag set of a database command, its problems and
// -h written to stderr, with the database flags registered: --data-dir
// (default defaultDir) and --max-conns, read from the returned dbFlags
// once parsed.
func dbFlagSet(e env, name, defaultDir string) (*flag.FlagSet, *dbFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	df := &dbFlags{}
	df.register(fs, defaultDir)
	return fs, df
}

// tenantFlag registers --tenant, the organising body a command works on
// (tenantByFlag resolves it).
func tenantFlag(fs *flag.FlagSet) *string {
	return fs.String("tenant", "", "organising body code (default: the only one)")
}

// database is an open pool and, for the embedded default, its cluster.
type database struct {
	Pool    *pgxpool.Pool
	Cluster *pglocal.Cluster // nil with DATABASE_URL
	DSN     string
	// Devices is the device API's own pool while serving (openCanteenFirst);
	// nil: the device API shares Pool.
	Devices *pgxpool.Pool
	// background is the services' work that ends with the server's
	// context (the job queue's running jobs): serve waits for it before
	// the pools close.
	background sync.WaitGroup
}

// registerDeviceConns registers --device-conns and --portal-in-flight
// (serve, demo): how the canteen keeps its share of the server (issue 17).
func registerDeviceConns(fs *flag.FlagSet, cfg *serveConfig) {
	fs.IntVar(&cfg.DeviceConns, "device-conns", 16, "connections of the device API's own pool (canteen taps, staff screens), besides --max-conns; 0 shares one pool")
	fs.IntVar(&cfg.PortalInFlight, "portal-in-flight", 0, "portal requests served at once, the others wait in line (0: four per processor); one per two processors while taps are served")
}

// devices returns the device API's pool: Devices, or Pool.
func (d *database) devices() *pgxpool.Pool {
	if d.Devices != nil {
		return d.Devices
	}
	return d.Pool
}

// Close closes the pool and stops the embedded cluster.
func (d *database) Close() {
	d.Pool.Close()
	if d.Cluster != nil {
		_ = d.Cluster.Stop()
	}
}

// openDatabase connects to DATABASE_URL or starts the embedded cluster.
func openDatabase(ctx context.Context, e env, f dbFlags, log *slog.Logger) (*database, error) {
	d := &database{DSN: withConnectTimeout(e.getenv("DATABASE_URL"))}
	if d.DSN == "" {
		c, err := pglocal.Start(ctx, pglocal.Options{DataDir: f.dataDir, Durable: true, Logf: func(format string, args ...any) {
			log.Info(fmt.Sprintf(format, args...))
		}})
		if err != nil {
			return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		d.Cluster, d.DSN = c, c.DSN("tartine")
	}
	pool, err := db.Open(ctx, d.DSN, int32(f.maxConns))
	if err != nil {
		if d.Cluster != nil {
			_ = d.Cluster.Stop()
		}
		return nil, err
	}
	d.Pool = pool
	return d, nil
}

// defaultConnectTimeout bounds each connection attempt to one host of
// DATABASE_URL when it sets no connect_timeout.
const defaultConnectTimeout = "5"

// withConnectTimeout adds connect_timeout to a connection string that sets
// none. With several hosts (a primary and its standby), pgx tries the next
// host only when the attempt on the previous one fails; a database machine
// that is lost answers nothing, and without a timeout every new connection
// would wait for the system's TCP timeout (about two minutes) before trying
// the new primary.
func withConnectTimeout(dsn string) string {
	if dsn == "" || strings.Contains(dsn, "connect_timeout") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "connect_timeout=" + defaultConnectTimeout
	}
	return dsn + " connect_timeout=" + defaultConnectTimeout
}

func newLogger(e env) *slog.Logger {
	level := slog.LevelInfo
	if e.getenv("TARTINE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

// openCurrent opens the database (openDatabase) and checks that its schema
// is the binary's (requireSchema); the embedded cluster is migrated instead
// when migrateEmbedded. The caller closes it.
func openCurrent(ctx context.Context, e env, f dbFlags, log *slog.Logger, migrateEmbedded bool) (*database, error) {
	d, err := openDatabase(ctx, e, f, log)
	if err != nil {
		return nil, err
	}
	if err := requireSchema(ctx, d, migrateEmbedded && d.Cluster != nil); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}
