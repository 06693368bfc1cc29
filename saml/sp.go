package saml

import (
	"bytes"
	"compress/flate"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	glossa "github.com/glossa-dev/glossa"
)

// ServiceProvider is one organization's SAML service provider: its entity
// ID, endpoints and keys, its IdP's metadata, and the connection's policy.
// It is immutable after New and safe for concurrent use; build a new one when
// the connection or the keys change.
type ServiceProvider struct {
	conn     glossa.SAMLConnection
	idp      *IdPMetadata
	keys     Keys
	entityID string
	acsURL   string
	sloURL   string
	acs      url.URL
	skew     time.Duration
	names    AttributeNames

	signer     *rsa.PrivateKey
	decrypters []decrypter
	// tmpl is the crewjam ServiceProvider that every call copies and
	// completes; it is never used directly, so no call shares mutable state.
	tmpl crewsaml.ServiceProvider
}

// decrypter is one SP encryption key pair.
type decrypter struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// maxRelayState is the longest RelayState the SP sends (SAML bindings
// §3.4.3: "MUST NOT exceed 80 bytes").
const maxRelayState = 80

// New builds the service provider of the organization with slug orgSlug,
// whose public URL is baseURL: entity ID <base>/saml/<slug>/metadata, ACS
// <base>/saml/<slug>/acs, SLO <base>/saml/<slug>/slo. It parses the IdP
// metadata in conn.MetadataXML (see ParseIdPMetadata; conn.MetadataSigningCert
// pins the metadata signer). Keys must hold at least one signing pair whose
// current (first) key is RSA; encryption pairs are optional (without them
// encrypted assertions are refused) and must be RSA. Errors are *glossa.Error
// with EINVALID and a message that can be shown to the organization's Owner.
func New(conn *glossa.SAMLConnection, keys Keys, baseURL *url.URL, orgSlug string) (*ServiceProvider, error) {
	if conn == nil {
		return nil, glossa.Errorf(glossa.EINVALID, "No SAML connection is configured.")
	}
	if err := glossa.ValidateSlug(orgSlug); err != nil {
		return nil, err
	}
	if baseURL == nil || (baseURL.Scheme != "https" && baseURL.Scheme != "http") || baseURL.Host == "" ||
		baseURL.RawQuery != "" || baseURL.Fragment != "" || baseURL.User != nil {
		return nil, glossa.Errorf(glossa.EINVALID, "The public base URL must be an absolute http or https URL without query or fragment.")
	}
	if strings.TrimSpace(conn.MetadataXML) == "" {
		return nil, glossa.Errorf(glossa.EINVALID, "The IdP metadata is missing.")
	}
	idp, err := ParseIdPMetadata([]byte(conn.MetadataXML), conn.MetadataSigningCert)
	if err != nil {
		return nil, err
	}
	skew := conn.ClockSkew
	if skew == 0 {
		skew = glossa.DefaultClockSkew
	}
	if skew < 0 || skew > crewsaml.MaxClockSkew {
		return nil, glossa.Errorf(glossa.EINVALID, "The clock skew must be between 0 and %s.", crewsaml.MaxClockSkew)
	}
	if len(keys.Signing) == 0 {
		return nil, glossa.Errorf(glossa.EINVALID, "The service provider has no signing key.")
	}
	for _, kp := range append(append([]KeyPair(nil), keys.Signing...), keys.Encryption...) {
		if err := kp.check(); err != nil {
			return nil, glossa.Wrap(glossa.EINVALID, err, "A service provider key pair is invalid.")
		}
	}
	signer, ok := keys.Signing[0].Key.(*rsa.PrivateKey)
	if !ok {
		return nil, glossa.Errorf(glossa.EINVALID, "The current signing key must be an RSA key.")
	}
	var decs []decrypter
	for _, kp := range keys.Encryption {
		k, ok := kp.Key.(*rsa.PrivateKey)
		if !ok {
			return nil, glossa.Errorf(glossa.EINVALID, "Encryption keys must be RSA keys.")
		}
		decs = append(decs, decrypter{key: k, cert: kp.Certificate})
	}

	base := strings.TrimRight(baseURL.String(), "/")
	sp := &ServiceProvider{
		conn:       *conn,
		idp:        idp,
		keys:       Keys{Signing: append([]KeyPair(nil), keys.Signing...), Encryption: append([]KeyPair(nil), keys.Encryption...)},
		entityID:   base + "/saml/" + orgSlug + "/metadata",
		acsURL:     base + "/saml/" + orgSlug + "/acs",
		sloURL:     base + "/saml/" + orgSlug + "/slo",
		skew:       skew,
		signer:     signer,
		decrypters: decs,
	}
	sp.conn.ClockSkew = skew
	sp.names = ResolveAttributeNames(conn)
	acs, err := url.Parse(sp.acsURL)
	if err != nil {
		return nil, glossa.Wrap(glossa.EINVALID, err, "The public base URL does not make a valid ACS URL.")
	}
	sp.acs = *acs
	metadataURL, _ := url.Parse(sp.entityID)
	slo, _ := url.Parse(sp.sloURL)
	sp.tmpl = crewsaml.ServiceProvider{
		EntityID:          sp.entityID,
		Key:               signer,
		Certificate:       keys.Signing[0].Certificate,
		MetadataURL:       *metadataURL,
		AcsURL:            *acs,
		SloURL:            *slo,
		IDPMetadata:       idp.crewjam(),
		AuthnNameIDFormat: crewsaml.UnspecifiedNameIDFormat,
		AllowIDPInitiated: conn.AllowIdPInitiated,
		// Our policy layer checks the audiences itself, on the verified
		// bytes: v0.5.2's struct keeps one Audience per AudienceRestriction,
		// so its own check would refuse [us, urn:amazon:webservices].
		ValidateAudienceRestriction: func(*crewsaml.Assertion) error { return nil },
		ValidateRequestID: func(r crewsaml.Response, ids []string) error {
			if rj := checkInResponseTo(r.InResponseTo, ids, sp.conn.AllowIdPInitiated, "Response"); rj != nil {
				return rj
			}
			return nil
		},
	}
	return sp, nil
}

// crewjam returns the metadata in the library's form, built from what
// ParseIdPMetadata verified rather than re-parsed, so that the library
// trusts exactly the certificates we do.
func (md *IdPMetadata) crewjam() *crewsaml.EntityDescriptor {
	var kds []crewsaml.KeyDescriptor
	for _, c := range md.SigningCerts {
		kds = append(kds, crewsaml.KeyDescriptor{
			Use: "signing",
			KeyInfo: crewsaml.KeyInfo{X509Data: crewsaml.X509Data{
				X509Certificates: []crewsaml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(c.Raw)}},
			}},
		})
	}
	idp := crewsaml.IDPSSODescriptor{
		SSODescriptor: crewsaml.SSODescriptor{
			RoleDescriptor: crewsaml.RoleDescriptor{
				ProtocolSupportEnumeration: nsProtocol,
				KeyDescriptors:             kds,
			},
		},
		SingleSignOnServices: []crewsaml.Endpoint{{Binding: BindingHTTPRedirect, Location: md.SSORedirectURL}},
	}
	if md.SLORedirectURL != "" {
		idp.SingleLogoutServices = []crewsaml.Endpoint{{Binding: BindingHTTPRedirect, Location: md.SLORedirectURL, ResponseLocation: md.SLOResponseRedirectURL}}
	}
	return &crewsaml.EntityDescriptor{EntityID: md.EntityID, IDPSSODescriptors: []crewsaml.IDPSSODescriptor{idp}}
}

// EntityID returns the SP entity ID, which is also its metadata URL.
func (sp *ServiceProvider) EntityID() string { return sp.entityID }

// ACSURL returns the assertion consumer service URL.
func (sp *ServiceProvider) ACSURL() string { return sp.acsURL }

// SLOURL returns the single logout URL.
func (sp *ServiceProvider) SLOURL() string { return sp.sloURL }

// IdP returns the IdP metadata the SP trusts. The caller must not modify it.
func (sp *ServiceProvider) IdP() *IdPMetadata { return sp.idp }

// checkRelayState allows only RelayState values that need no escaping and
// fit SAML bindings §3.4.3. Glossa's RelayState is an opaque server-side
// handle, never a URL, so this loses nothing and keeps the signed query
// string unambiguous.
func checkRelayState(s string) error {
	if len(s) > maxRelayState {
		return fmt.Errorf("saml: RelayState is longer than %d bytes", maxRelayState)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '~') {
			return errors.New("saml: RelayState must use only letters, digits and -_.~")
		}
	}
	return nil
}

// AuthnRequestURL starts SP-initiated sign-in: it returns the IdP URL to
// redirect the browser to, carrying a new AuthnRequest (SAML core §3.4.1)
// in the HTTP-Redirect binding (SAML bindings §3.4), signed with RSA-SHA256
// by the current signing key when the connection signs requests (bindings
// §3.4.4.1: the signature covers SAMLRequest, RelayState and SigAlg, in that
// order, and not any query the IdP's own URL carries), and the request's ID,
// which the caller stores to match the response's InResponseTo.
//
// The request asks for no particular NameID format, so the IdP sends the one
// its administrator configured; it sets AllowCreate and names our ACS and
// the HTTP-POST binding for the response.
func (sp *ServiceProvider) AuthnRequestURL(relayState string, now time.Time) (redirectURL, requestID string, err error) {
	if err := checkRelayState(relayState); err != nil {
		return "", "", err
	}
	lib := sp.tmpl
	req, err := lib.MakeAuthenticationRequest(sp.idp.SSORedirectURL, crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
	if err != nil {
		return "", "", fmt.Errorf("saml: make AuthnRequest: %w", err)
	}
	req.IssueInstant = now.UTC()
	req.NameIDPolicy.Format = nil // omitted means unspecified (SAML core §3.4.1.1)
	req.Signature = nil
	u, err := sp.redirect(sp.idp.SSORedirectURL, "SAMLRequest", req.Element(), relayState, sp.conn.SignAuthnRequests)
	if err != nil {
		return "", "", err
	}
	return u, req.ID, nil
}

// redirect encodes msg for the HTTP-Redirect binding (SAML bindings
// §3.4.4.1: DEFLATE, base64, URL-encode) as the parameter param of
// destination, with RelayState, and signs it when sign is set.
func (sp *ServiceProvider) redirect(destination, param string, msg *etree.Element, relayState string, sign bool) (string, error) {
	doc := etree.NewDocument()
	doc.SetRoot(msg)
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := doc.WriteTo(fw); err != nil {
		return "", err
	}
	if err := fw.Close(); err != nil {
		return "", err
	}
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relayState != "" {
		q += "&RelayState=" + url.QueryEscape(relayState)
	}
	if sign {
		lib := sp.tmpl
		lib.SignatureMethod = dsig.RSASHA256SignatureMethod
		ctx, err := crewsaml.GetSigningContext(&lib)
		if err != nil {
			return "", fmt.Errorf("saml: signing context: %w", err)
		}
		q += "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
		sig, err := ctx.SignString(q)
		if err != nil {
			return "", fmt.Errorf("saml: sign redirect: %w", err)
		}
		q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	}
	u, err := url.Parse(destination)
	if err != nil {
		return "", fmt.Errorf("saml: destination: %w", err)
	}
	if u.RawQuery != "" {
		u.RawQuery += "&" + q
	} else {
		u.RawQuery = q
	}
	return u.String(), nil
}
