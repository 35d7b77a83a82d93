package i18n

import (
	"slices"
	"strconv"
	"strings"
)

// Negotiate picks the language to use from an Accept-Language header value
// ("nl-BE,fr;q=0.8,en;q=0.5") or a cookie value ("en", "fr-BE"). Each entry
// counts by its primary subtag (fr-BE is fr) and its q weight (1 by
// default); entries with q=0 or a malformed weight are ignored; "*" stands for
// the default. The supported language with the highest weight wins, the first
// one on ties; with none, Negotiate returns Default (fr).
func Negotiate(header string) string {
	best, bestQ := Default, 0.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		if tag == "" {
			continue
		}
		q := 1.0
		if params != "" {
			k, v, ok := strings.Cut(strings.TrimSpace(params), "=")
			if !ok || strings.TrimSpace(k) != "q" {
				continue
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if q <= 0 {
			continue
		}
		primary, _, _ := strings.Cut(tag, "-")
		primary, _, _ = strings.Cut(primary, "_")
		if primary == "*" {
			primary = Default
		}
		if !slices.Contains(Languages(), primary) {
			continue
		}
		if q > bestQ {
			best, bestQ = primary, q
		}
	}
	return best
}
