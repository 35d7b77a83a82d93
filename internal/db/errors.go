package db

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MapErr turns a database error into a package's own sentinel, prefixed
// with what (the operation): "no rows" and a foreign key violation (23503,
// a reference to a missing row) into notFound; another PostgreSQL error
// into what byCode returns for it (nil: no sentinel of the package's);
// anything else is only prefixed. Each package keeps its sentinels and
// says in byCode which codes are its conflicts or its invalid input.
func MapErr(err error, what string, notFound error, byCode func(*pgconn.PgError) error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, notFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == "23503" {
			return fmt.Errorf("%s: %w: reference to a missing row (%s)", what, notFound, pgErr.ConstraintName)
		}
		if mapped := byCode(pgErr); mapped != nil {
			return fmt.Errorf("%s: %w", what, mapped)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
