package sepa

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrIBAN is returned (wrapped) for an invalid IBAN.
var ErrIBAN = errors.New("sepa: invalid IBAN")

// ErrBIC is returned (wrapped) for an invalid BIC.
var ErrBIC = errors.New("sepa: invalid BIC")

// ibanLengths gives the IBAN length of the countries of the SEPA scheme.
// IBANs of other countries are checked for length 15–34 and mod 97 only.
var ibanLengths = map[string]int{
	"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24,
	"DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22,
	"GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27,
	"LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
	"NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24,
	"SM": 27, "VA": 22,
}

// ParseIBAN validates an IBAN and returns its electronic form: upper case, no
// spaces ("BE71096123456769"). It checks the country code, the length for
// SEPA countries (16 for Belgium), that the check digits make the number
// ≡ 1 mod 97 and, for Belgian IBANs, the national check of the account number
// (first 10 digits mod 97, 97 for 0). It returns an error wrapping ErrIBAN
// that says what is wrong.
func ParseIBAN(s string) (string, error) {
	c := strings.ToUpper(compact(s))
	if len(c) < 4 {
		return "", fmt.Errorf("%w: %q is too short", ErrIBAN, s)
	}
	cc := c[:2]
	if cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
		return "", fmt.Errorf("%w: %q does not start with a country code", ErrIBAN, s)
	}
	if !isDigits(c[2:4]) {
		return "", fmt.Errorf("%w: %q: check digits %q are not digits", ErrIBAN, s, c[2:4])
	}
	if want, ok := ibanLengths[cc]; ok {
		if len(c) != want {
			return "", fmt.Errorf("%w: %q has %d characters, a %s IBAN has %d", ErrIBAN, s, len(c), cc, want)
		}
	} else if len(c) < 15 || len(c) > 34 {
		return "", fmt.Errorf("%w: %q has %d characters, want 15 to 34", ErrIBAN, s, len(c))
	}
	if !isUpperAlnum(c[4:]) {
		return "", fmt.Errorf("%w: %q holds characters other than letters and digits", ErrIBAN, s)
	}
	if rem, _ := mod97(c[4:] + c[:4]); rem != 1 {
		return "", fmt.Errorf("%w: %q: check digits do not match (mistyped?)", ErrIBAN, s)
	}
	if cc == "BE" {
		bban := c[4:]
		if !isDigits(bban) {
			return "", fmt.Errorf("%w: %q: a Belgian account number has only digits", ErrIBAN, s)
		}
		base, _ := strconv.ParseUint(bban[:10], 10, 64)
		check, _ := strconv.ParseUint(bban[10:], 10, 64)
		if check != OGMCheck(base) {
			return "", fmt.Errorf("%w: %q: Belgian account number check does not match", ErrIBAN, s)
		}
	}
	return c, nil
}

// FormatIBAN writes a valid IBAN for people in groups of four characters
// ("BE71 0961 2345 6769"). It returns ParseIBAN's errors.
func FormatIBAN(s string) (string, error) {
	c, err := ParseIBAN(s)
	if err != nil {
		return "", err
	}
	return group4(c), nil
}

// ParseBIC checks the shape of a BIC (ISO 9362): 4 letters (institution), 2
// letters (country), 2 letters or digits (location) and an optional branch
// code of 3 letters or digits. It returns the BIC upper-cased without spaces,
// or an error wrapping ErrBIC. It does not know which BICs exist.
func ParseBIC(s string) (string, error) {
	c := strings.ToUpper(compact(s))
	if len(c) != 8 && len(c) != 11 {
		return "", fmt.Errorf("%w: %q has %d characters, want 8 or 11", ErrBIC, s, len(c))
	}
	for i := 0; i < 6; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return "", fmt.Errorf("%w: %q: the first 6 characters must be letters", ErrBIC, s)
		}
	}
	if !isUpperAlnum(c[6:]) {
		return "", fmt.Errorf("%w: %q: location and branch must be letters or digits", ErrBIC, s)
	}
	return c, nil
}

// BelgianIBAN converts an old Belgian account number (BBAN, 12 digits, as
// printed "539-0075470-34" or written "539007547034") into its IBAN
// ("BE68539007547034"). It checks the national check digits (first 10 digits
// mod 97, 97 for 0) and returns an error wrapping ErrIBAN when they do not
// match or the number is not 12 digits.
func BelgianIBAN(bban string) (string, error) {
	c := strings.ReplaceAll(compact(bban), "-", "")
	if len(c) != 12 || !isDigits(c) {
		return "", fmt.Errorf("%w: %q is not a Belgian account number of 12 digits", ErrIBAN, bban)
	}
	base, _ := strconv.ParseUint(c[:10], 10, 64)
	check, _ := strconv.ParseUint(c[10:], 10, 64)
	if check != OGMCheck(base) {
		return "", fmt.Errorf("%w: %q: Belgian account number check does not match", ErrIBAN, bban)
	}
	rem, _ := mod97(c + "BE00")
	return ParseIBAN(fmt.Sprintf("BE%02d%s", 98-rem, c))
}
