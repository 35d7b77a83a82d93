package i18n

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Language codes.
const (
	FR = "fr" // French (Belgium); the default
	EN = "en" // English
	NL = "nl" // Dutch (Belgium); formatting ready, no catalogue yet
)

// Default is the language used when nothing better is known.
const Default = FR

// Languages returns the languages that have a catalogue, the default first.
func Languages() []string { return []string{FR, EN} }

//go:embed messages.*.toml
var embedded embed.FS

// Catalog holds the messages of every language. It is read-only after New and
// safe for concurrent use.
type Catalog struct {
	msgs map[string]map[string]string // lang → key → message
}

// New parses the embedded catalogues. It returns an error when a file is
// missing or malformed, holds a non-string value, or when a message's format
// verbs differ between languages.
func New() (*Catalog, error) { return Load(embedded) }

// Load parses the catalogues messages.<lang>.toml found at the root of fsys
// for every language of Languages, with New's checks. Tests use it with
// other files.
func Load(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{msgs: map[string]map[string]string{}}
	files, err := fs.Glob(fsys, "messages.*.toml")
	if err != nil {
		return nil, fmt.Errorf("i18n: list catalogues: %w", err)
	}
	for _, f := range files {
		lang := strings.TrimSuffix(strings.TrimPrefix(path.Base(f), "messages."), ".toml")
		if !slices.Contains(Languages(), lang) {
			return nil, fmt.Errorf("i18n: catalogue %s: language %q is not in Languages()", f, lang)
		}
	}
	for _, lang := range Languages() {
		name := "messages." + lang + ".toml"
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("i18n: read catalogue: %w", err)
		}
		var tree map[string]any
		if _, err := toml.Decode(string(data), &tree); err != nil {
			return nil, fmt.Errorf("i18n: parse %s: %w", name, err)
		}
		m := map[string]string{}
		if err := flatten("", tree, m); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		c.msgs[lang] = m
	}
	for key, fr := range c.msgs[Default] {
		want := verbs(fr)
		for _, lang := range Languages() {
			if msg, ok := c.msgs[lang][key]; ok && !slices.Equal(verbs(msg), want) {
				return nil, fmt.Errorf("i18n: key %q: %s has format verbs %v, %s has %v", key, lang, verbs(msg), Default, want)
			}
		}
	}
	return c, nil
}

// flatten turns nested TOML tables into dotted keys.
func flatten(prefix string, tree map[string]any, out map[string]string) error {
	for k, v := range tree {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch v := v.(type) {
		case string:
			out[key] = v
		case map[string]any:
			if err := flatten(key, v, out); err != nil {
				return err
			}
		default:
			return fmt.Errorf("key %q: value is a %T, want a string or a table", key, v)
		}
	}
	return nil
}

var verbRe = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z%]`)

// verbs returns the sorted format verbs of a message, %% excluded.
func verbs(msg string) []string {
	var vs []string
	for _, v := range verbRe.FindAllString(msg, -1) {
		if v != "%%" {
			vs = append(vs, v)
		}
	}
	sort.Strings(vs)
	return vs
}

// T returns the message key in lang (any tag Negotiate accepts, e.g.
// "fr-BE"), falling back to French, formatted with args as fmt.Sprintf does
// when args are given. A key missing in every language gives ⟦key⟧.
func (c *Catalog) T(lang, key string, args ...any) string {
	msg, ok := c.msgs[Negotiate(lang)][key]
	if !ok {
		msg, ok = c.msgs[Default][key]
	}
	if !ok {
		return "⟦" + key + "⟧"
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// Has reports whether lang's own catalogue defines key (no fallback).
func (c *Catalog) Has(lang, key string) bool {
	_, ok := c.msgs[lang][key]
	return ok
}

// Keys returns the sorted keys of lang's catalogue.
func (c *Catalog) Keys(lang string) []string {
	keys := make([]string, 0, len(c.msgs[lang]))
	for k := range c.msgs[lang] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Missing returns the sorted keys of the French catalogue that lang lacks.
func (c *Catalog) Missing(lang string) []string {
	var out []string
	for _, k := range c.Keys(Default) {
		if !c.Has(lang, k) {
			out = append(out, k)
		}
	}
	return out
}
