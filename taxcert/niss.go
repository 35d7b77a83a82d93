package taxcert

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidNISS is returned for a national number whose format or check
// digits are wrong. It never carries the number.
var ErrInvalidNISS = errors.New("taxcert: invalid national number (NISS)")

// NormalizeNISS returns the 11 digits of a Belgian national number typed
// with or without separators ("85.07.30-033.28", "85073003328"), or
// ErrInvalidNISS when they are not 11 digits whose last two are the check
// number: 97 − (the first nine digits mod 97), or for people born from 2000
// on 97 − ("2" followed by the first nine digits mod 97). Numbers of the
// bis register (month + 20 or + 40) follow the same rule.
func NormalizeNISS(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '.' || r == '-' || r == ' ' || r == '/':
		default:
			return "", ErrInvalidNISS
		}
	}
	d := b.String()
	if len(d) != 11 {
		return "", ErrInvalidNISS
	}
	base, _ := strconv.ParseInt(d[:9], 10, 64)
	check, _ := strconv.ParseInt(d[9:], 10, 64)
	if 97-base%97 == check || 97-(2000000000+base)%97 == check {
		return d, nil
	}
	return "", ErrInvalidNISS
}

// MaskNISS shows a national number with only its check number:
// "••.••.••-•••.28". last2 is the check number.
func MaskNISS(last2 string) string { return "••.••.••-•••." + last2 }

// FormatNISS writes 11 digits as "85.07.30-033.28" (on the certificate).
func FormatNISS(d string) string {
	if len(d) != 11 {
		return d
	}
	return d[0:2] + "." + d[2:4] + "." + d[4:6] + "-" + d[6:9] + "." + d[9:11]
}

// NISSBirthDate returns the birth date a national number encodes, when it
// encodes one (not for bis numbers with an unknown date).
func NISSBirthDate(d string) (time.Time, bool) {
	if len(d) != 11 {
		return time.Time{}, false
	}
	yy, _ := strconv.Atoi(d[0:2])
	mm, _ := strconv.Atoi(d[2:4])
	dd, _ := strconv.Atoi(d[4:6])
	base, _ := strconv.ParseInt(d[:9], 10, 64)
	check, _ := strconv.ParseInt(d[9:], 10, 64)
	year := 1900 + yy
	if 97-(2000000000+base)%97 == check {
		year = 2000 + yy
	}
	if mm > 40 {
		mm -= 40
	} else if mm > 20 {
		mm -= 20
	}
	if mm < 1 || mm > 12 || dd < 1 || dd > 31 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(mm), dd, 0, 0, 0, 0, time.UTC)
	if t.Day() != dd {
		return time.Time{}, false
	}
	return t, true
}

// KeyEnv is the environment variable holding the key that seals national
// numbers at rest: 32 bytes, base64 (openssl rand -base64 32).
const KeyEnv = "TARTINE_NISS_KEY"

// Sealer encrypts national numbers with AES-256-GCM.
type Sealer struct{ aead cipher.AEAD }

// ParseKey decodes a base64 key of 32 bytes (the value of KeyEnv).
func ParseKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("taxcert: %s must be 32 bytes in base64", KeyEnv)
	}
	return k, nil
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("taxcert: the sealing key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("taxcert: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("taxcert: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// seal encrypts plain with a random nonce, bound to context (tenant and
// subject, so that a sealed value copied to another row does not open).
func (s *Sealer) seal(plain, context string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("taxcert: nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, []byte(plain), []byte(context)), nil
}

// open decrypts what seal wrote under the same context.
func (s *Sealer) open(sealed []byte, context string) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("taxcert: sealed value too short")
	}
	p, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
	if err != nil {
		return "", errors.New("taxcert: sealed value does not open with this key")
	}
	return string(p), nil
}
