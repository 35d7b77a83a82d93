package sepa

import (
	"errors"
	"fmt"
	"strings"
)

// ErrRFFormat is returned (wrapped) when an ISO 11649 creditor reference is
// not "RF", two check digits and 1–21 letters or digits.
var ErrRFFormat = errors.New("sepa: malformed creditor reference")

// ErrRFCheck is returned (wrapped) when the check digits of an ISO 11649
// creditor reference are wrong.
var ErrRFCheck = errors.New("sepa: creditor reference check digits do not match")

// maxRFRef is the longest reference an RF creditor reference can carry.
const maxRFRef = 21

// NewRF returns the ISO 11649 creditor reference ("RF" + 2 check digits +
// ref) for ref, 1–21 letters or digits; spaces are removed and letters
// upper-cased. The check is 98 − (ref + "RF00" mod 97), letters counting
// A=10 … Z=35. It returns an error wrapping ErrRFFormat for a bad ref.
func NewRF(ref string) (string, error) {
	r := strings.ToUpper(compact(ref))
	if r == "" || len(r) > maxRFRef || !isUpperAlnum(r) {
		return "", fmt.Errorf("%w: reference %q must be 1 to %d letters or digits", ErrRFFormat, ref, maxRFRef)
	}
	rem, _ := mod97(r + "RF00")
	return fmt.Sprintf("RF%02d%s", 98-rem, r), nil
}

// ParseRF validates an ISO 11649 creditor reference and returns it in its
// electronic form: upper case, no spaces (e.g. "RF18539007547034" for
// "rf18 5390 0754 7034"). Validation moves the first four characters to the
// end, maps letters A=10 … Z=35 and requires the number modulo 97 to be 1.
// It returns an error wrapping ErrRFFormat or ErrRFCheck.
func ParseRF(s string) (string, error) {
	c := strings.ToUpper(compact(s))
	if len(c) < 5 || len(c) > 4+maxRFRef {
		return "", fmt.Errorf("%w: %q must be RF, 2 check digits and 1 to %d characters", ErrRFFormat, s, maxRFRef)
	}
	if c[:2] != "RF" {
		return "", fmt.Errorf("%w: %q does not start with RF", ErrRFFormat, s)
	}
	if !isDigits(c[2:4]) {
		return "", fmt.Errorf("%w: %q: check digits %q are not digits", ErrRFFormat, s, c[2:4])
	}
	if !isUpperAlnum(c[4:]) {
		return "", fmt.Errorf("%w: %q: reference holds characters other than letters and digits", ErrRFFormat, s)
	}
	if rem, _ := mod97(c[4:] + c[:4]); rem != 1 {
		return "", fmt.Errorf("%w: %q", ErrRFCheck, s)
	}
	return c, nil
}

// FormatRF writes a valid creditor reference for people, in groups of four
// characters ("RF18 5390 0754 7034"). It returns ParseRF's errors.
func FormatRF(s string) (string, error) {
	c, err := ParseRF(s)
	if err != nil {
		return "", err
	}
	return group4(c), nil
}

// group4 splits s into space-separated groups of four characters.
func group4(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}
