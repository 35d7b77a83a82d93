package school

import (
	"testing"

	"tartine/internal/i18n"
)

func TestLabelsInBothLanguages(t *testing.T) {
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(Allergens()); n != 14 {
		t.Fatalf("%d allergens, want 14", n)
	}
	var keys []string
	for _, a := range Allergens() {
		keys = append(keys, a.LabelKey())
	}
	for _, d := range Diets() {
		keys = append(keys, d.LabelKey())
	}
	for _, k := range keys {
		for _, lang := range i18n.Languages() {
			if !cat.Has(lang, k) {
				t.Errorf("no %s label for %s", lang, k)
			}
		}
	}
	if got := cat.T("fr", Peanuts.LabelKey()); got != "Arachides" {
		t.Errorf("fr peanuts = %q", got)
	}
}

func TestParseAllergenAndDiet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Allergen
		ok   bool
	}{
		{"Arachides", Peanuts, true},
		{"peanuts", Peanuts, true},
		{" ŒUFS ", Eggs, true},
		{"céleri", Celery, true},
		{"Fruits  à coque", Nuts, true},
		{"lait", Milk, true},
		{"kiwi", "", false},
	} {
		got, ok := ParseAllergen(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseAllergen(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for in, want := range map[string]Diet{"Végétarien": Vegetarian, "sans porc": NoPork, "no-pork": NoPork, "Sans bœuf": NoBeef} {
		if got, ok := ParseDiet(in); !ok || got != want {
			t.Errorf("ParseDiet(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
