package i18n

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

const (
	nbsp  = "\u00a0" // no-break space: between amount and € (fr), after € (nl)
	nnbsp = "\u202f" // narrow no-break space: fr thousands separator
)

// FormatEUR writes an amount of euro for people in lang (see the package
// documentation for the conventions), rounded half away from zero to cents.
// Unknown languages are formatted as French.
func FormatEUR(d decimal.Decimal, lang string) string {
	d = d.Round(2)
	neg := d.IsNegative()
	s := d.Abs().StringFixed(2)
	intPart, frac, _ := strings.Cut(s, ".")
	sign := ""
	if neg {
		sign = "-"
	}
	switch lang {
	case EN:
		return sign + "€" + group(intPart, ",") + "." + frac
	case NL:
		return "€" + nbsp + sign + group(intPart, ".") + "," + frac
	default:
		return sign + group(intPart, nnbsp) + "," + frac + nbsp + "€"
	}
}

// group puts sep between groups of three digits.
func group(digits, sep string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	first := len(digits) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(digits[:first])
	for i := first; i < len(digits); i += 3 {
		b.WriteString(sep)
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// NegativePolicy tells ParseAmount whether a minus sign is accepted.
type NegativePolicy int

const (
	// RejectNegative refuses amounts below zero (top-ups, prices).
	RejectNegative NegativePolicy = iota
	// AllowNegative accepts a leading minus sign (corrections, balances).
	AllowNegative
)

// ErrInvalidAmount is wrapped by every *AmountError.
var ErrInvalidAmount = errors.New("i18n: invalid amount")

// AmountError says why ParseAmount refused an input.
type AmountError struct {
	Input  string // what the person typed
	Reason string // what is wrong, in English, for logs
	Key    string // catalogue key of the message for people, e.g. "error.amount.decimals"
	Arg    string // argument of the message, if it takes one
}

// Error implements error.
func (e *AmountError) Error() string {
	return fmt.Sprintf("i18n: invalid amount %q: %s", e.Input, e.Reason)
}

// Unwrap returns ErrInvalidAmount.
func (e *AmountError) Unwrap() error { return ErrInvalidAmount }

// Message returns the error for people in lang from catalogue c.
func (e *AmountError) Message(c *Catalog, lang string) string {
	if e.Arg != "" {
		return c.T(lang, e.Key, e.Arg)
	}
	return c.T(lang, e.Key)
}

// maxIntDigits is the number of integer digits of NUMERIC(14,2).
const maxIntDigits = 12

// ParseAmount reads an amount of euro typed by a person. It accepts
// "3,70", "3.70", "3", "3,7", "0,05", with spaces around, an optional € before
// or after the number, and a leading minus sign when neg is AllowNegative
// (before or after a leading €: "-€12.50", "€ -12,50").
//
// Strict rules, to never guess:
//   - the decimal separator is a comma or a dot, followed by one or two digits;
//   - thousands may be grouped by spaces (also no-break and narrow no-break
//     spaces, "1 234,50"), or by the other punctuation mark when the decimal
//     separator is present ("1.234,50", "1,234.50"); groups are exactly three
//     digits;
//   - a lone comma or dot followed by three digits ("1.234") is refused as
//     more than two decimals, since it could mean 1,234 or 1234;
//   - at most 12 integer digits (NUMERIC(14,2)).
//
// Errors are *AmountError (wrapping ErrInvalidAmount) that say what is wrong
// and carry the catalogue key of a message for people.
func ParseAmount(s string, neg NegativePolicy) (decimal.Decimal, error) {
	fail := func(key, reason string, arg ...string) (decimal.Decimal, error) {
		e := &AmountError{Input: s, Reason: reason, Key: "error.amount." + key}
		if len(arg) > 0 {
			e.Arg = arg[0]
		}
		return decimal.Decimal{}, e
	}
	body := trimSpaces(s)
	negative, euro := false, false
	for {
		switch {
		case strings.HasPrefix(body, "€") && !euro:
			body, euro = trimSpaces(strings.TrimPrefix(body, "€")), true
			continue
		case strings.HasPrefix(body, "-") && !negative:
			body, negative = trimSpaces(strings.TrimPrefix(body, "-")), true
			continue
		case strings.HasPrefix(body, "\u2212") && !negative: // minus sign
			body, negative = trimSpaces(strings.TrimPrefix(body, "\u2212")), true
			continue
		}
		break
	}
	if strings.HasSuffix(body, "€") && !euro {
		body = trimSpaces(strings.TrimSuffix(body, "€"))
	}
	if body == "" {
		return fail("empty", "no amount")
	}
	for _, r := range body {
		if !(r >= '0' && r <= '9') && r != ',' && r != '.' && !isSpace(r) {
			return fail("character", fmt.Sprintf("character %q not allowed", r), string(r))
		}
	}
	if negative && neg != AllowNegative {
		return fail("negative", "negative amounts are not allowed")
	}
	// Decimal separator: the last comma or dot.
	intPart, frac := body, ""
	hasFrac := false
	if i := strings.LastIndexAny(body, ",."); i >= 0 {
		sep := body[i]
		other := byte(',')
		if sep == ',' {
			other = '.'
		}
		if strings.IndexByte(body[:i], sep) >= 0 {
			return fail("separator", fmt.Sprintf("more than one %q", sep))
		}
		intPart, frac, hasFrac = body[:i], body[i+1:], true
		if strings.IndexByte(frac, other) >= 0 {
			return fail("separator", "thousands separator after the decimal separator")
		}
	}
	if hasFrac {
		if frac == "" || intPart == "" {
			return fail("no_digits", "digits required before and after the decimal separator")
		}
		for _, r := range frac {
			if r < '0' || r > '9' {
				return fail("character", "spaces in the decimals", " ")
			}
		}
		if len(frac) > 2 {
			return fail("decimals", fmt.Sprintf("%d decimals, at most 2 (write thousands without a dot or comma: 1234,50)", len(frac)))
		}
	}
	digits, ok := ungroup(intPart)
	if !ok {
		return fail("grouping", "thousands must be groups of three digits")
	}
	if digits == "" {
		return fail("no_digits", "no digits")
	}
	if d := strings.TrimLeft(digits, "0"); len(d) > maxIntDigits {
		return fail("too_large", fmt.Sprintf("more than %d integer digits", maxIntDigits))
	}
	v, err := decimal.NewFromString(digits + "." + frac + strings.Repeat("0", 2-len(frac)))
	if err != nil {
		return fail("character", err.Error(), body)
	}
	if negative {
		v = v.Neg()
	}
	return v, nil
}

// ungroup removes thousands separators from an integer part, checking that
// one kind of separator (spaces, ',' or '.') splits it into a first group of
// 1–3 digits and further groups of exactly 3.
func ungroup(s string) (string, bool) {
	var groups []string
	var seps []string
	cur := ""
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r >= '0' && r <= '9' {
			cur += string(r)
			continue
		}
		kind := "space"
		if r == ',' || r == '.' {
			kind = string(r)
		}
		groups = append(groups, cur)
		seps = append(seps, kind)
		cur = ""
	}
	groups = append(groups, cur)
	if len(groups) == 1 {
		return groups[0], true
	}
	for i, g := range groups {
		if i == 0 && (len(g) < 1 || len(g) > 3) || i > 0 && len(g) != 3 {
			return "", false
		}
	}
	for _, k := range seps[1:] {
		if k != seps[0] {
			return "", false
		}
	}
	return strings.Join(groups, ""), true
}

func isSpace(r rune) bool { return r == ' ' || r == '\u00a0' || r == '\u202f' || r == '\t' }

// trimSpaces trims the spaces isSpace knows.
func trimSpaces(s string) string { return strings.TrimFunc(s, isSpace) }
