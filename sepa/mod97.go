package sepa

// mod97 returns the remainder modulo 97 of the number written by s, where s
// holds decimal digits and upper-case letters (A=10 … Z=35, as in ISO 7064
// MOD 97-10). ok is false if s holds any other character.
func mod97(s string) (rem int, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		default:
			return 0, false
		}
	}
	return rem, true
}

// isDigits reports whether s is non-empty and holds only ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isUpperAlnum reports whether s is non-empty and holds only ASCII digits and
// upper-case letters.
func isUpperAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// compact removes ASCII spaces, tabs, no-break spaces and narrow no-break
// spaces from s, which people and banks put inside references.
func compact(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch r {
		case ' ', '\t', '\u00a0', '\u202f':
			continue
		}
		out = append(out, r)
	}
	return string(out)
}
