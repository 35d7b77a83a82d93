package portal

import (
	"slices"
	"sync"

	"tartine/internal/i18n"
)

// Words of the pages written once per language (issue 17): a template's
// method call (.T "key") is a reflective lookup and call — several
// microseconds each, tens per page, on every page of a portal rush. The
// catalogue never changes while the server runs, so a page's fixed words
// are read from it once per language and kept; the templates read fields.

// wordsKey names a set of words: the catalogue, the language, the set.
type wordsKey struct {
	cat  *i18n.Catalog
	lang string
	set  string
}

var wordsCache sync.Map // wordsKey → the set's *T

// cachedWords returns the set's words in lang, built once per catalogue
// and language of i18n.Languages (others are built each time: nothing
// unbounded is kept).
func cachedWords[T any](cat *i18n.Catalog, lang, set string, build func(t func(key string) string) *T) *T {
	t := func(key string) string { return cat.T(lang, key) }
	if !slices.Contains(i18n.Languages(), lang) {
		return build(t)
	}
	k := wordsKey{cat, lang, set}
	if v, ok := wordsCache.Load(k); ok {
		return v.(*T)
	}
	v, _ := wordsCache.LoadOrStore(k, build(t))
	return v.(*T)
}

// layoutWords are the words of layout.html.
type layoutWords struct {
	Skip, NavLabel, NavHome, NavSettings, NavLogout, Tagline string
	French                                                   bool // the switch offers English
}

// Layout is layout.html's words in the page's language.
func (p page) Layout() *layoutWords {
	return cachedWords(p.Cat, p.Lang, "layout", func(t func(string) string) *layoutWords {
		return &layoutWords{Skip: t("portal.skip"), NavLabel: t("portal.nav.label"), NavHome: t("portal.nav.home"),
			NavSettings: t("portal.nav.settings"), NavLogout: t("portal.nav.logout"), Tagline: t("app.tagline"),
			French: p.Lang == "fr"}
	})
}
