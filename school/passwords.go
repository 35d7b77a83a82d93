package school

import (
	_ "embed"
	"strings"
	"unicode/utf8"
)

// MaxPasswordLen is the longest password accepted, in bytes.
const MaxPasswordLen = 256

//go:embed common-passwords.txt
var commonPasswordList string

// commonPasswords is the embedded list, read once.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(commonPasswordList, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}()

// CommonPassword reports whether pw is too easy to guess: on the embedded
// list of common passwords (case-insensitive), one character repeated, or
// a run of consecutive digits or letters ("23456789", "abcdefgh").
func CommonPassword(pw string) bool {
	low := strings.ToLower(pw)
	if commonPasswords[low] {
		return true
	}
	r, _ := utf8.DecodeRuneInString(low)
	if strings.Count(low, string(r)) == utf8.RuneCountInString(low) {
		return true
	}
	up, down := true, true
	for i := 1; i < len(low); i++ {
		up = up && low[i] == low[i-1]+1
		down = down && low[i] == low[i-1]-1
	}
	return up || down
}

// CheckPassword returns ErrInvalid (saying why) for a new password that is
// shorter than MinPasswordLen characters, longer than MaxPasswordLen bytes,
// or common (CommonPassword).
func CheckPassword(pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return invalid("password shorter than %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return invalid("password longer than %d bytes", MaxPasswordLen)
	case CommonPassword(pw):
		return invalid("password too common: choose another")
	}
	return nil
}
