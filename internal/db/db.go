// Package db opens Tartine's PostgreSQL connection pools: either the database
// named by DATABASE_URL or the embedded local cluster (package pglocal).
package db

import (
	"context"
	"fmt"

	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Open connects a pool to dsn and registers shopspring/decimal for NUMERIC
// columns. maxConns ≤ 0 keeps pgx's default.
func Open(ctx context.Context, dsn string, maxConns int32) (*pgxpool.Pool, error) {
	return OpenWith(ctx, dsn, Options{MaxConns: maxConns})
}

// Options configure OpenWith.
type Options struct {
	MaxConns int32  // ≤ 0 keeps pgx's default
	Guard    *Guard // watches the pool (tests); nil for none
	// AfterConnect, when set, runs on every new connection after the
	// pool's own setup.
	AfterConnect func(context.Context, *pgx.Conn) error
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dsn string, o Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.Guard != nil {
		cfg.ConnConfig.Tracer = o.Guard
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		pgxdecimal.Register(conn.TypeMap())
		if o.AfterConnect != nil {
			return o.AfterConnect(ctx, conn)
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}
