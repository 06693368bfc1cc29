package glossa

import (
	"net/mail"
	"strings"
)

// ValidateEmail checks that v is one plain address such as name@example.com.
func ValidateEmail(v string) error {
	v = strings.TrimSpace(v)
	a, err := mail.ParseAddress(v)
	at := strings.LastIndexByte(v, '@')
	if err != nil || a.Address != v || a.Name != "" || len(v) > 254 || at < 1 || !strings.Contains(v[at:], ".") {
		if len(v) > 100 {
			v = v[:100]
		}
		return Errorf(EINVALID, "%q is not an email address like name@example.com.", v)
	}
	return nil
}

// ValidateSlug checks an organization slug: 2 to 50 lower-case letters,
// digits and inner hyphens, so it is safe in URLs such as /saml/{slug}/acs.
func ValidateSlug(v string) error {
	ok := len(v) >= 2 && len(v) <= 50 && v[0] != '-' && v[len(v)-1] != '-'
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			ok = false
		}
	}
	if !ok {
		return Errorf(EINVALID, "The slug %q is not valid: use 2 to 50 lower-case letters, digits and hyphens, such as \"acme-labs\".", v)
	}
	return nil
}
