package samlattack

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa/saml"
)

// SAML namespaces.
const (
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NSMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	NSDSig      = "http://www.w3.org/2000/09/xmldsig#"
)

// The in-test IdP's entity ID and endpoints, as its metadata publishes them.
const (
	IdPEntityID = "https://idp.example.net/saml/metadata"
	IdPSSOURL   = "https://idp.example.net/saml/sso"
	IdPSLOURL   = "https://idp.example.net/saml/slo"
)

// Keys are the RSA keys and certificates of the corpus. Every certificate
// is valid from an hour before the keys were made to a day after, except
// ExpiredCert.
type Keys struct {
	// IdP signs by default; IdP2 and IdP3 are the same IdP's other keys
	// (rollover). Attacker is nobody's; OtherTenant is the IdP of another
	// organization on the same Glossa.
	IdP, IdP2, IdP3, Attacker, OtherTenant *rsa.PrivateKey

	IdPCert, IdP2Cert, IdP3Cert *x509.Certificate
	// AttackerCert is the attacker's own certificate, which IdPMetadata
	// also publishes as the IdP's encryption-only certificate: it must
	// never be trusted for a signature.
	AttackerCert *x509.Certificate
	// ClonedCert is the attacker's key under IdPCert's subject and serial.
	ClonedCert *x509.Certificate
	// ExpiredCert is IdP3's key in a certificate that expired yesterday.
	ExpiredCert     *x509.Certificate
	OtherTenantCert *x509.Certificate

	// SPSign, SPEnc and SPEncOld are SP key pairs for tests that build
	// the saml package's ServiceProvider themselves; the real server
	// makes its own.
	SPSign, SPEnc, SPEncOld saml.KeyPair
}

// keysOnce makes the keys once per test binary: RSA generation is the
// slowest part of the tests that use them.
var keysOnce = sync.OnceValues(newKeys)

// MustKeys returns the corpus keys, made on first use.
func MustKeys(tb testing.TB) *Keys {
	tb.Helper()
	k, err := keysOnce()
	if err != nil {
		tb.Fatalf("making the corpus keys: %v", err)
	}
	return k
}

func newKeys() (*Keys, error) {
	var ks [8]*rsa.PrivateKey
	errs := make([]error, len(ks))
	var wg sync.WaitGroup
	for i := range ks {
		wg.Go(func() { ks[i], errs[i] = rsa.GenerateKey(rand.Reader, 2048) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	now := time.Now()
	from, to := now.Add(-time.Hour), now.Add(24*time.Hour)
	cert := func(key *rsa.PrivateKey, cn string, serial int64, notBefore, notAfter time.Time) *x509.Certificate {
		c, err := selfSigned(key, cn, serial, notBefore, notAfter)
		errs = append(errs, err)
		return c
	}
	spEntityID := DefaultBaseURL + "/saml/" + DefaultOrg + "/metadata"
	k := &Keys{IdP: ks[0], IdP2: ks[1], IdP3: ks[2], Attacker: ks[3], OtherTenant: ks[4]}
	k.IdPCert = cert(k.IdP, "idp.example.net", 1, from, to)
	k.IdP2Cert = cert(k.IdP2, "idp.example.net", 2, from, to)
	k.IdP3Cert = cert(k.IdP3, "idp.example.net", 3, from, to)
	k.AttackerCert = cert(k.Attacker, "attacker.example", 4, from, to)
	k.ClonedCert = cert(k.Attacker, "idp.example.net", 1, from, to)
	k.ExpiredCert = cert(k.IdP3, "idp.example.net", 5, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	k.OtherTenantCert = cert(k.OtherTenant, "idp.other.example", 6, from, to)
	k.SPSign = saml.KeyPair{Key: ks[5], Certificate: cert(ks[5], spEntityID, 7, from, to)}
	k.SPEnc = saml.KeyPair{Key: ks[6], Certificate: cert(ks[6], spEntityID, 8, from, to)}
	k.SPEncOld = saml.KeyPair{Key: ks[7], Certificate: cert(ks[7], spEntityID, 9, from, to)}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return k, nil
}

// selfSigned makes a self-signed certificate for key.
func selfSigned(key *rsa.PrivateKey, cn string, serial int64, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// IdPMetadata returns IdP metadata for entityID publishing certs for
// signing, and AttackerCert for encryption only (which must not be trusted
// for signatures), with the IdP's SSO and SLO endpoints.
func (k *Keys) IdPMetadata(entityID string, certs ...*x509.Certificate) string {
	return k.idpMetadata(entityID, false, certs)
}

// PlainIdPMetadata returns IdP metadata for entityID as the plainest IdPs
// publish it: certs for signing, the SLO endpoint and one SSO endpoint
// (HTTP-Redirect). It serves benchmarks of the SP's ordinary work, to
// which IdPMetadata's extras for the corpus (the encryption-only
// certificate, the POST endpoint) would add each time the SP reads the
// metadata.
func (k *Keys) PlainIdPMetadata(entityID string, certs ...*x509.Certificate) string {
	return k.idpMetadata(entityID, true, certs)
}

// idpMetadata writes the metadata of IdPMetadata, or of PlainIdPMetadata
// when plain is set.
func (k *Keys) idpMetadata(entityID string, plain bool, certs []*x509.Certificate) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="%s" xmlns:ds="%s" entityID="%s">
  <md:IDPSSODescriptor protocolSupportEnumeration="%s" WantAuthnRequestsSigned="true">
`, NSMetadata, NSDSig, entityID, NSProtocol)
	for _, c := range certs {
		fmt.Fprintf(&b, `    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
%s
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
`, base64.StdEncoding.EncodeToString(c.Raw))
	}
	if !plain {
		fmt.Fprintf(&b, `    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
`, base64.StdEncoding.EncodeToString(k.AttackerCert.Raw))
	}
	fmt.Fprintf(&b, `    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%s"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%s"/>
`, IdPSLOURL, IdPSSOURL)
	if !plain {
		fmt.Fprintf(&b, `    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="%s"/>
`, IdPSSOURL)
	}
	b.WriteString(`  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`)
	return b.String()
}
