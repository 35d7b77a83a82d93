package db

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMapErr(t *testing.T) {
	notFound, conflict := errors.New("x: not found"), errors.New("x: conflict")
	byCode := func(e *pgconn.PgError) error {
		if e.Code == "23505" {
			return fmt.Errorf("%w (%s)", conflict, e.ConstraintName)
		}
		return nil
	}
	other := errors.New("boom")
	for _, c := range []struct {
		err  error
		want error
		text string
	}{
		{pgx.ErrNoRows, notFound, "read x: x: not found"},
		{&pgconn.PgError{Code: "23503", ConstraintName: "x_fk"}, notFound, "read x: x: not found: reference to a missing row (x_fk)"},
		{fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505", ConstraintName: "x_key"}), conflict, "read x: x: conflict (x_key)"},
		{&pgconn.PgError{Severity: "ERROR", Code: "23514", Message: "check"}, nil, "read x: ERROR: check (SQLSTATE 23514)"},
		{other, other, "read x: boom"},
	} {
		got := MapErr(c.err, "read x", notFound, byCode)
		if got.Error() != c.text {
			t.Errorf("MapErr(%v) = %q, want %q", c.err, got, c.text)
		}
		if c.want != nil && !errors.Is(got, c.want) {
			t.Errorf("MapErr(%v) = %v, not %v", c.err, got, c.want)
		}
	}
	if MapErr(nil, "read x", notFound, byCode) != nil {
		t.Error("MapErr(nil) is not nil")
	}
}
