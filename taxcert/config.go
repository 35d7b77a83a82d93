package taxcert

import (
	"fmt"
	"strconv"
)

// Environment variables of the certificates (docs/ACCOUNTING.md).
const (
	EnvBCE           = "TARTINE_TAXCERT_BCE"                // issuer's company number (BCE/KBO)
	EnvCertification = "TARTINE_TAXCERT_CERTIFICATION_CODE" // f86_2031, default 4
	EnvContactName   = "TARTINE_TAXCERT_CONTACT_NAME"       // Belcotax contact (v0021)
	EnvContactPhone  = "TARTINE_TAXCERT_CONTACT_PHONE"      // v0018
	EnvContactEmail  = "TARTINE_TAXCERT_CONTACT_EMAIL"      // v0023
)

// ConfigFromEnv reads the sealing key (KeyEnv; nil Sealer when unset:
// national numbers can then not be recorded) and the settings. The issuer's
// name and address come from the tenant and its first school. demo, when no
// key is set, seals with DemoSealer's public key (the demo's made-up
// numbers only).
func ConfigFromEnv(getenv func(string) string, demo bool) (*Sealer, Settings, error) {
	st := Settings{IssuerBCE: getenv(EnvBCE), ContactName: getenv(EnvContactName), ContactPhone: getenv(EnvContactPhone), ContactEmail: getenv(EnvContactEmail)}
	if v := getenv(EnvCertification); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 4 {
			return nil, st, fmt.Errorf("taxcert: %s must be 0 to 4, not %q", EnvCertification, v)
		}
		st.CertificationCode = n
	}
	var key []byte
	switch v := getenv(KeyEnv); {
	case v != "":
		k, err := ParseKey(v)
		if err != nil {
			return nil, st, err
		}
		key = k
	case demo:
		return DemoSealer(), st, nil
	default:
		return nil, st, nil
	}
	s, err := NewSealer(key)
	return s, st, err
}
