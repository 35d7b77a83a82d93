package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MenuItem is one dish of a day's menu for a meal type.
type MenuItem struct {
	Day       time.Time
	MealType  string
	Position  int    // order within the menu, from 1
	Course    string // "potage", "plat", "dessert"
	Dish      string // "Vol-au-vent, frites"
	Allergens []string
}

// SetMenu replaces the menu of day and meal type for the school with items
// (Position is set from the order; Day and MealType of items are ignored).
// It returns ErrInvalid for an empty dish or an unknown allergen code, and
// ErrUnknownService for an unknown meal type.
func (m *Manager) SetMenu(ctx context.Context, tenantID, schoolID int64, day time.Time, mealType string, items []MenuItem) error {
	for i, it := range items {
		if it.Dish == "" {
			return invalid("menu %s %s, dish %d: empty", civil(day).Format(time.DateOnly), mealType, i+1)
		}
		for _, a := range it.Allergens {
			if !IsAllergen(a) {
				return invalid("menu %s %s, dish %q: unknown allergen %q (want one of %v)", civil(day).Format(time.DateOnly), mealType, it.Dish, a, Allergens())
			}
		}
	}
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM menu_items WHERE tenant_id = $1 AND school_id = $2 AND day = $3 AND meal_type = $4`,
			tenantID, schoolID, civil(day), mealType); err != nil {
			return err
		}
		for i, it := range items {
			al := it.Allergens
			if al == nil {
				al = []string{}
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO menu_items (tenant_id, school_id, day, meal_type, position, course, dish, allergens)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, tenantID, schoolID, civil(day), mealType, i+1, it.Course, it.Dish, al); err != nil {
				return err
			}
		}
		return nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return fmt.Errorf("%w: meal type %q or school %d", ErrUnknownService, mealType, schoolID)
	}
	if err != nil {
		return fmt.Errorf("set menu %s %s: %w", civil(day).Format(time.DateOnly), mealType, err)
	}
	return nil
}

// Menus returns the school's menu items from from to to (inclusive), by
// day, meal type order and position.
func (m *Manager) Menus(ctx context.Context, tenantID, schoolID int64, from, to time.Time) ([]MenuItem, error) {
	rows, _ := m.pool.Query(ctx, `
		SELECT mi.day, mi.meal_type, mi.position, mi.course, mi.dish, mi.allergens
		FROM menu_items mi JOIN meal_types mt ON mt.tenant_id = mi.tenant_id AND mt.code = mi.meal_type
		WHERE mi.tenant_id = $1 AND mi.school_id = $2 AND mi.day BETWEEN $3 AND $4
		ORDER BY mi.day, mt.position, mi.meal_type, mi.position`, tenantID, schoolID, civil(from), civil(to))
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MenuItem, error) {
		var it MenuItem
		err := r.Scan(&it.Day, &it.MealType, &it.Position, &it.Course, &it.Dish, &it.Allergens)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("read menus: %w", err)
	}
	return out, nil
}
