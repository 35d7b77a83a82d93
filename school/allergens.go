package school

import (
	"strings"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
	"unicode"
)

// Allergen is one of the 14 allergens EU regulation 1169/2011 requires to be
// declared. Its label for people is the catalogue key "school.allergen.<a>".
type Allergen string

// The 14 EU allergens.
const (
	Gluten      Allergen = "gluten"
	Crustaceans Allergen = "crustaceans"
	Eggs        Allergen = "eggs"
	Fish        Allergen = "fish"
	Peanuts     Allergen = "peanuts"
	Soy         Allergen = "soy"
	Milk        Allergen = "milk"
	Nuts        Allergen = "nuts"
	Celery      Allergen = "celery"
	Mustard     Allergen = "mustard"
	Sesame      Allergen = "sesame"
	Sulphites   Allergen = "sulphites"
	Lupin       Allergen = "lupin"
	Molluscs    Allergen = "molluscs"
)

// Allergens returns the 14 EU allergens in the regulation's order.
func Allergens() []Allergen {
	return []Allergen{Gluten, Crustaceans, Eggs, Fish, Peanuts, Soy, Milk, Nuts, Celery, Mustard, Sesame, Sulphites, Lupin, Molluscs}
}

// LabelKey is the i18n catalogue key of the allergen's label.
func (a Allergen) LabelKey() string { return "school.allergen." + string(a) }

// Valid reports whether a is one of the 14.
func (a Allergen) Valid() bool {
	for _, x := range Allergens() {
		if a == x {
			return true
		}
	}
	return false
}

// allergenNames maps folded French and English names (and a few common
// spellings found in school exports) to allergens.
var allergenNames = map[string]Allergen{
	"gluten": Gluten, "cereales": Gluten, "ble": Gluten, "wheat": Gluten, "cereals": Gluten,
	"crustaceans": Crustaceans, "crustaces": Crustaceans, "crustace": Crustaceans,
	"eggs": Eggs, "egg": Eggs, "oeufs": Eggs, "oeuf": Eggs,
	"fish": Fish, "poisson": Fish, "poissons": Fish,
	"peanuts": Peanuts, "peanut": Peanuts, "arachides": Peanuts, "arachide": Peanuts, "cacahuetes": Peanuts, "cacahuete": Peanuts,
	"soy": Soy, "soja": Soy, "soya": Soy,
	"milk": Milk, "lait": Milk, "lactose": Milk, "produits laitiers": Milk,
	"nuts": Nuts, "tree nuts": Nuts, "fruits a coque": Nuts, "noix": Nuts, "noisettes": Nuts,
	"celery": Celery, "celeri": Celery,
	"mustard": Mustard, "moutarde": Mustard,
	"sesame": Sesame, "graines de sesame": Sesame,
	"sulphites": Sulphites, "sulfites": Sulphites, "sulfite": Sulphites, "sulphite": Sulphites, "anhydride sulfureux": Sulphites,
	"lupin": Lupin, "lupine": Lupin,
	"molluscs": Molluscs, "mollusques": Molluscs, "mollusks": Molluscs, "mollusque": Molluscs,
}

// fold lower-cases s, strips accents and collapses spaces.
func fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	out = strings.ReplaceAll(strings.ToLower(out), "œ", "oe")
	return strings.Join(strings.Fields(out), " ")
}

// ParseAllergen reads an allergen by its code or its French or English name
// (case and accents ignored: "Arachides", "œufs", "peanuts").
func ParseAllergen(s string) (Allergen, bool) {
	a, ok := allergenNames[fold(s)]
	return a, ok
}

// Diet is a dietary flag shown to canteen staff.
type Diet string

// Diet flags.
const (
	Vegetarian Diet = "vegetarian"
	Vegan      Diet = "vegan"
	NoPork     Diet = "no-pork"
	NoBeef     Diet = "no-beef"
	Halal      Diet = "halal"
	Kosher     Diet = "kosher"
)

// Diets returns the known diet flags.
func Diets() []Diet { return []Diet{Vegetarian, Vegan, NoPork, NoBeef, Halal, Kosher} }

// LabelKey is the i18n catalogue key of the diet's label.
func (d Diet) LabelKey() string { return "school.diet." + string(d) }

// Valid reports whether d is a known diet flag.
func (d Diet) Valid() bool {
	for _, x := range Diets() {
		if d == x {
			return true
		}
	}
	return false
}

var dietNames = map[string]Diet{
	"vegetarian": Vegetarian, "vegetarien": Vegetarian, "vegetarienne": Vegetarian, "veggie": Vegetarian,
	"vegan": Vegan, "vegetalien": Vegan, "vegetalienne": Vegan, "vegane": Vegan,
	"no-pork": NoPork, "no pork": NoPork, "sans porc": NoPork, "pas de porc": NoPork,
	"no-beef": NoBeef, "no beef": NoBeef, "sans boeuf": NoBeef, "pas de boeuf": NoBeef,
	"halal": Halal, "kosher": Kosher, "casher": Kosher, "cacher": Kosher,
}

// ParseDiet reads a diet flag by its code or its French or English name.
func ParseDiet(s string) (Diet, bool) {
	d, ok := dietNames[fold(s)]
	return d, ok
}
