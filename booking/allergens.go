package booking

import (
	"slices"

	// Imported under another name: booking has its own school type.
	schools "tartine/school"
)

// Allergens returns the 14 EU allergen codes, in the regulation's order.
// The list is the school package's (school.Allergens): one list in the
// code, for menus, pupils, the canteen screen and the kitchen lists.
func Allergens() []string {
	var out []string
	for _, a := range schools.Allergens() {
		out = append(out, string(a))
	}
	return out
}

// IsAllergen reports whether code is one of the 14 EU allergen codes.
func IsAllergen(code string) bool { return schools.Allergen(code).Valid() }

// Contains returns the allergens of the dish that are among the child's
// (in the dish's order), nil when none: the portal marks such a dish.
func (it MenuItem) Contains(childAllergens []string) []string {
	var out []string
	for _, a := range it.Allergens {
		if slices.Contains(childAllergens, a) {
			out = append(out, a)
		}
	}
	return out
}
