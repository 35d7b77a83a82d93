// Package i18n holds Tartine's message catalogues and the formatting of
// money, dates and times for people, French (fr-BE) first, then English.
//
// # Catalogues
//
// Messages live in embedded TOML files, one per language, named
// messages.<lang>.toml. Tables nest into dotted keys:
//
//	[error.amount]
//	empty = "Indiquez un montant."
//
// is the key "error.amount.empty". Catalog.T looks a key up in the asked
// language, then in French, and shows ⟦key⟧ when the key exists nowhere, so
// that a missing message is visible on the page and in tests.
//
// Messages are fmt format strings when arguments are given: use %s, %d or
// explicit indexes such as %[2]s when a translation needs another word order,
// and %% for a literal percent sign. New refuses to start when two languages
// disagree on the verbs of a message.
//
// To add a key: add it to messages.fr.toml and messages.en.toml (the tests
// fail when a French key is missing in another language). To add a language
// (Dutch is planned): add messages.nl.toml with every key, and add NL to the
// list returned by Languages; money and date formatting for nl already exist.
//
// # Formatting conventions
//
// Money (FormatEUR), rounded half away from zero to cents:
//
//	fr  3,70 €    -12,50 €    1 234,50 €    (U+202F narrow no-break space between
//	                                         thousands, U+00A0 no-break space before €)
//	en  €3.70     -€12.50     €1,234.50
//	nl  € 3,70    € -12,50    € 1.234,50    (U+00A0 after €)
//
// Dates: fr "lundi 30 novembre 2026" ("1er" for the first of the month), en
// "Monday 30 November 2026", nl "maandag 30 november 2026"; short form
// "30/11/2026" in every language; times "11:52" (24 hours). Functions format
// the time.Time as given: convert to Europe/Brussels first.
//
// Amount input (ParseAmount) is strict; see its documentation.
package i18n
