package sepa

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrOGMFormat is returned (wrapped) when a structured communication is not
// written as 12 digits, +++ddd/dddd/ddddd+++ or ***ddd/dddd/ddddd***.
var ErrOGMFormat = errors.New("sepa: malformed structured communication")

// ErrOGMCheck is returned (wrapped) when the check digits of a structured
// communication do not match its first ten digits.
var ErrOGMCheck = errors.New("sepa: structured communication check digits do not match")

// maxOGMBase is the first base that no longer fits in ten digits.
const maxOGMBase = 10_000_000_000

// OGMCheck returns the two check digits of a structured communication whose
// first ten digits are base: base modulo 97, or 97 when the remainder is 0.
// base must be below 10^10.
func OGMCheck(base uint64) uint64 {
	c := base % 97
	if c == 0 {
		return 97
	}
	return c
}

// NewOGM returns the 12 digits of the structured communication (OGM/VCS) whose
// first ten digits are base, followed by its check digits. It returns an
// error wrapping ErrOGMFormat when base does not fit in ten digits.
func NewOGM(base uint64) (string, error) {
	if base >= maxOGMBase {
		return "", fmt.Errorf("%w: base %d has more than 10 digits", ErrOGMFormat, base)
	}
	return fmt.Sprintf("%010d%02d", base, OGMCheck(base)), nil
}

// NewOGMString is NewOGM for a base written as exactly ten digits (leading
// zeros kept, e.g. "0123456789").
func NewOGMString(base string) (string, error) {
	if len(base) != 10 || !isDigits(base) {
		return "", fmt.Errorf("%w: base %q is not exactly 10 digits", ErrOGMFormat, base)
	}
	n, err := strconv.ParseUint(base, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: base %q: %v", ErrOGMFormat, base, err)
	}
	return NewOGM(n)
}

// FormatOGM writes a structured communication for people, as
// +++ddd/dddd/ddddd+++. It accepts every form ParseOGM accepts and returns
// ParseOGM's errors.
func FormatOGM(s string) (string, error) {
	d, err := ParseOGM(s)
	if err != nil {
		return "", err
	}
	return "+++" + d[0:3] + "/" + d[3:7] + "/" + d[7:12] + "+++", nil
}

// ParseOGM reads a structured communication and returns its 12 digits (the
// form a bank transfer carries). Accepted forms: +++ddd/dddd/ddddd+++,
// ***ddd/dddd/ddddd*** (both delimiters must match), the same without slashes,
// or the 12 digits alone; spaces anywhere are ignored. It returns an error
// wrapping ErrOGMFormat for a malformed input and ErrOGMCheck when the check
// digits are wrong.
func ParseOGM(s string) (string, error) {
	c := compact(s)
	if c == "" {
		return "", fmt.Errorf("%w: empty", ErrOGMFormat)
	}
	inner := c
	for _, delim := range []string{"+++", "***"} {
		if strings.HasPrefix(c, delim) || strings.HasSuffix(c, delim) {
			if len(c) < 6 || !strings.HasPrefix(c, delim) || !strings.HasSuffix(c, delim) {
				return "", fmt.Errorf("%w: %q must start and end with %s", ErrOGMFormat, s, delim)
			}
			inner = c[3 : len(c)-3]
			break
		}
	}
	var digits string
	switch {
	case len(inner) == 14 && inner[3] == '/' && inner[8] == '/':
		digits = inner[0:3] + inner[4:8] + inner[9:14]
	case strings.Contains(inner, "/"):
		return "", fmt.Errorf("%w: %q: slashes must split it as ddd/dddd/ddddd", ErrOGMFormat, s)
	default:
		digits = inner
	}
	if !isDigits(digits) {
		return "", fmt.Errorf("%w: %q holds characters other than digits", ErrOGMFormat, s)
	}
	if len(digits) != 12 {
		return "", fmt.Errorf("%w: %q has %d digits, want 12", ErrOGMFormat, s, len(digits))
	}
	base, _ := strconv.ParseUint(digits[:10], 10, 64)
	check, _ := strconv.ParseUint(digits[10:], 10, 64)
	if want := OGMCheck(base); check != want {
		return "", fmt.Errorf("%w: %q ends in %02d, want %02d", ErrOGMCheck, s, check, want)
	}
	return digits, nil
}

// Wallet structured communications.
//
// Each pupil wallet gets a stable OGM so that a bank transfer can be matched to
// it without anyone typing a name. The ten-digit base is
//
//	PPP SSSSSSS
//
// where PPP (001–999) is the tenant's OGM prefix, chosen once per organising
// body (PO) and unique among the tenants that share a bank account or a
// server, and SSSSSSS (0000001–9999999) is a per-tenant sequence number
// assigned to the wallet when it is created and never reused. The check digits
// follow. Prefix 000 is reserved so that no wallet OGM starts with 000.
const (
	// MaxWalletPrefix is the largest tenant prefix of a wallet OGM.
	MaxWalletPrefix = 999
	// MaxWalletSequence is the largest wallet sequence number of a wallet OGM.
	MaxWalletSequence = 9_999_999
)

// ErrWalletOGM is returned (wrapped) when a wallet OGM cannot be built from,
// or split into, a tenant prefix and a sequence number.
var ErrWalletOGM = errors.New("sepa: invalid wallet structured communication")

// WalletOGM returns the 12 digits of the structured communication of wallet
// number seq of the tenant whose OGM prefix is prefix (see the scheme above).
// It returns an error wrapping ErrWalletOGM when prefix is not in 1–999 or seq
// not in 1–9 999 999.
func WalletOGM(prefix, seq uint64) (string, error) {
	if prefix < 1 || prefix > MaxWalletPrefix {
		return "", fmt.Errorf("%w: tenant prefix %d not in 1..%d", ErrWalletOGM, prefix, MaxWalletPrefix)
	}
	if seq < 1 || seq > MaxWalletSequence {
		return "", fmt.Errorf("%w: wallet sequence %d not in 1..%d", ErrWalletOGM, seq, MaxWalletSequence)
	}
	return NewOGM(prefix*10_000_000 + seq)
}

// SplitWalletOGM is the inverse of WalletOGM: it parses s (any form ParseOGM
// accepts) and returns its tenant prefix and wallet sequence number. It returns
// ParseOGM's errors, or one wrapping ErrWalletOGM when the OGM is valid but
// cannot be a wallet OGM (prefix or sequence 0).
func SplitWalletOGM(s string) (prefix, seq uint64, err error) {
	d, err := ParseOGM(s)
	if err != nil {
		return 0, 0, err
	}
	prefix, _ = strconv.ParseUint(d[0:3], 10, 64)
	seq, _ = strconv.ParseUint(d[3:10], 10, 64)
	if prefix == 0 || seq == 0 {
		return 0, 0, fmt.Errorf("%w: %s has prefix %03d and sequence %07d", ErrWalletOGM, d, prefix, seq)
	}
	return prefix, seq, nil
}
