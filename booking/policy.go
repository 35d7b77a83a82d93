package booking

import (
	"fmt"

	"tartine/internal/policy"
)

// decodePolicy reads the school's rules from schools.settings with the one
// policy type (internal/policy). It returns ErrInvalid (also wrapping
// policy.ErrInvalid) for malformed settings.
func decodePolicy(settings []byte) (policy.Policy, error) {
	p, err := policy.Decode(settings)
	if err != nil {
		return p, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return p, nil
}
