package saml

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"

	glossa "github.com/glossa-dev/glossa"
)

// SAML binding and format identifiers (SAML bindings §3, SAML core §8.3).
const (
	BindingHTTPRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	BindingHTTPPost     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

	NameIDFormatPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDFormatTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDFormatEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDFormatUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	nameIDFormatEntity      = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
)

// IdPMetadata is what Glossa takes from an identity provider's metadata
// (SAML metadata §2.4.3, IDPSSODescriptor).
type IdPMetadata struct {
	EntityID string
	// SigningCerts are every certificate the IdP publishes for signing
	// (KeyDescriptor use="signing" or without use), so that a response
	// signed with either side of a key rollover verifies.
	SigningCerts []*x509.Certificate
	// SSORedirectURL and SSOPostURL are the SingleSignOnService locations.
	SSORedirectURL string
	SSOPostURL     string
	// SLORedirectURL is the SingleLogoutService location for the
	// HTTP-Redirect binding, and SLOResponseRedirectURL its
	// ResponseLocation (the location itself when absent).
	SLORedirectURL         string
	SLOResponseRedirectURL string
	// WantAuthnRequestsSigned is the IdP's own demand.
	WantAuthnRequestsSigned bool
	// ValidUntil and CacheDuration, when the metadata sets them, tell the
	// refresher when to fetch it again (SAML metadata §2.2.1).
	ValidUntil    time.Time
	CacheDuration time.Duration
	// Signed reports that the metadata carried a signature verified against
	// the pinned certificate.
	Signed bool
}

// ParseIdPMetadata reads IdP metadata: an EntityDescriptor, or an
// EntitiesDescriptor holding exactly one EntityDescriptor with an
// IDPSSODescriptor. A DOCTYPE, more than MaxMetadataBytes, an endpoint that
// is not an absolute http or https URL (CVE-2023-45683 class) and metadata
// without a signing certificate or SSO endpoint are refused.
//
// When pinnedCertPEM is not empty, the metadata root must carry a valid
// enveloped signature by that certificate (the signature profile of SAML
// core §5.4 applies, so SHA-1 is refused), and everything is read from the
// bytes that signature covers. Errors are *glossa.Error with EINVALID and a
// message that can be shown to the person who pasted the metadata.
//
// Security-sensitive: the certificates returned decide whose signature is
// trusted.
func ParseIdPMetadata(metadataXML []byte, pinnedCertPEM string) (md *IdPMetadata, err error) {
	defer func() {
		if r := recover(); r != nil {
			md, err = nil, glossa.Wrap(glossa.EINVALID, fmt.Errorf("panic: %v", r), "The IdP metadata could not be read.")
		}
	}()
	return parseIdPMetadata(metadataXML, pinnedCertPEM)
}

func parseIdPMetadata(metadataXML []byte, pinnedCertPEM string) (*IdPMetadata, error) {
	if len(metadataXML) > MaxMetadataBytes {
		return nil, glossa.Errorf(glossa.EINVALID, "The IdP metadata is larger than %d KiB.", MaxMetadataBytes>>10)
	}
	doc, rj := parseXML(metadataXML)
	if rj != nil {
		return nil, glossa.Wrap(glossa.EINVALID, rj, "The IdP metadata is not acceptable XML ("+string(rj.Code)+").")
	}
	root := doc.Root()
	md := &IdPMetadata{}
	if pinnedCertPEM != "" {
		pin, err := parseCertificatePEM([]byte(pinnedCertPEM))
		if err != nil {
			return nil, glossa.Wrap(glossa.EINVALID, err, "The metadata signing certificate is not a PEM certificate.")
		}
		detached, rj := detach(root)
		if rj != nil {
			return nil, glossa.Wrap(glossa.EINVALID, rj, "The IdP metadata is not acceptable XML.")
		}
		verified, rj := verifyElement(detached, []*x509.Certificate{pin}, time.Now())
		if rj != nil {
			return nil, glossa.Wrap(glossa.EINVALID, rj, "The IdP metadata is not signed by the pinned certificate.")
		}
		root, md.Signed = verified, true
	}

	var entities []*etree.Element
	switch {
	case is(root, nsMetadata, "EntityDescriptor"):
		entities = []*etree.Element{root}
	case is(root, nsMetadata, "EntitiesDescriptor"):
		walk(root, func(el *etree.Element) {
			if is(el, nsMetadata, "EntityDescriptor") && len(children(el, nsMetadata, "IDPSSODescriptor")) > 0 {
				entities = append(entities, el)
			}
		})
	default:
		return nil, glossa.Errorf(glossa.EINVALID, "The IdP metadata's root is <%s>, not an EntityDescriptor.", root.Tag)
	}
	if len(entities) != 1 {
		return nil, glossa.Errorf(glossa.EINVALID, "The IdP metadata describes %d identity providers; it must describe exactly one.", len(entities))
	}
	entity := entities[0]
	md.EntityID = strings.TrimSpace(attr(entity, "entityID"))
	if md.EntityID == "" {
		return nil, glossa.Errorf(glossa.EINVALID, "The IdP metadata has no entityID.")
	}
	for _, el := range []*etree.Element{root, entity} {
		if v := attr(el, "validUntil"); v != "" && md.ValidUntil.IsZero() {
			t, err := parseTime(v)
			if err != nil {
				return nil, glossa.Errorf(glossa.EINVALID, "The IdP metadata's validUntil %q is not a date-time.", v)
			}
			md.ValidUntil = t
		}
		if v := attr(el, "cacheDuration"); v != "" && md.CacheDuration == 0 {
			var d crewsaml.Duration
			if err := d.UnmarshalText([]byte(v)); err != nil {
				return nil, glossa.Errorf(glossa.EINVALID, "The IdP metadata's cacheDuration %q is not a duration.", v)
			}
			md.CacheDuration = time.Duration(d)
		}
	}

	idps := children(entity, nsMetadata, "IDPSSODescriptor")
	if len(idps) == 0 {
		return nil, glossa.Errorf(glossa.EINVALID, "The IdP metadata has no IDPSSODescriptor.")
	}
	for _, idp := range idps {
		if !strings.Contains(attr(idp, "protocolSupportEnumeration"), nsProtocol) {
			continue
		}
		if v := attr(idp, "WantAuthnRequestsSigned"); v == "true" || v == "1" {
			md.WantAuthnRequestsSigned = true
		}
		for _, kd := range children(idp, nsMetadata, "KeyDescriptor") {
			if use := attr(kd, "use"); use != "" && use != "signing" {
				continue
			}
			for _, ki := range children(kd, nsDSig, "KeyInfo") {
				for _, xd := range children(ki, nsDSig, "X509Data") {
					for _, xc := range children(xd, nsDSig, "X509Certificate") {
						cert, err := parseCertificateText(xc)
						if err != nil {
							return nil, glossa.Wrap(glossa.EINVALID, err, "A signing certificate in the IdP metadata does not parse.")
						}
						md.addCert(cert)
					}
				}
			}
		}
		for _, ep := range children(idp, nsMetadata, "SingleSignOnService") {
			loc, err := endpointURL(attr(ep, "Location"))
			if err != nil {
				return nil, err
			}
			switch attr(ep, "Binding") {
			case BindingHTTPRedirect:
				if md.SSORedirectURL == "" {
					md.SSORedirectURL = loc
				}
			case BindingHTTPPost:
				if md.SSOPostURL == "" {
					md.SSOPostURL = loc
				}
			}
		}
		for _, ep := range children(idp, nsMetadata, "SingleLogoutService") {
			loc, err := endpointURL(attr(ep, "Location"))
			if err != nil {
				return nil, err
			}
			respLoc := loc
			if v := attr(ep, "ResponseLocation"); v != "" {
				if respLoc, err = endpointURL(v); err != nil {
					return nil, err
				}
			}
			if attr(ep, "Binding") == BindingHTTPRedirect && md.SLORedirectURL == "" {
				md.SLORedirectURL, md.SLOResponseRedirectURL = loc, respLoc
			}
		}
	}
	if len(md.SigningCerts) == 0 {
		return nil, glossa.Errorf(glossa.EINVALID, "The IdP metadata has no signing certificate.")
	}
	if md.SSORedirectURL == "" {
		return nil, glossa.Errorf(glossa.EINVALID, "The IdP metadata has no SingleSignOnService for the HTTP-Redirect binding.")
	}
	return md, nil
}

func (md *IdPMetadata) addCert(c *x509.Certificate) {
	for _, o := range md.SigningCerts {
		if o.Equal(c) {
			return
		}
	}
	md.SigningCerts = append(md.SigningCerts, c)
}

// parseCertificateText reads a base64 certificate from an X509Certificate
// element, ignoring whitespace.
func parseCertificateText(el *etree.Element) (*x509.Certificate, error) {
	s, _ := textOnly(el)
	s = strings.Join(strings.Fields(s), "")
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// endpointURL accepts only absolute http and https URLs, so that no
// javascript: or data: location ever reaches a redirect or a page.
func endpointURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		if len(s) > 100 {
			s = s[:100]
		}
		return "", glossa.Errorf(glossa.EINVALID, "The IdP metadata names the endpoint %q; endpoints must be absolute http or https URLs.", s)
	}
	return s, nil
}

// parseTime reads an xs:dateTime as SAML uses it (SAML core §1.3.3: UTC).
func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
}

// Encryption algorithms the SP metadata advertises, preferred first.
var advertisedEncryptionMethods = []string{
	"http://www.w3.org/2009/xmlenc11#aes256-gcm",
	"http://www.w3.org/2009/xmlenc11#aes128-gcm",
	"http://www.w3.org/2001/04/xmlenc#aes256-cbc",
	"http://www.w3.org/2001/04/xmlenc#aes128-cbc",
	"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
}

// SPMetadata returns an organization's SP metadata whether or not its IdP
// is connected yet: an Owner often has to give the IdP Glossa's metadata
// (certificates, ACS) before the IdP's metadata exists. It publishes the
// same as (*ServiceProvider).Metadata, which needs only our side.
func SPMetadata(conn *glossa.SAMLConnection, keys Keys, baseURL *url.URL, orgSlug string) ([]byte, error) {
	if strings.TrimSpace(conn.MetadataXML) != "" {
		sp, err := New(conn, keys, baseURL, orgSlug)
		if err != nil {
			return nil, err
		}
		return sp.Metadata()
	}
	if err := glossa.ValidateSlug(orgSlug); err != nil {
		return nil, err
	}
	if baseURL == nil || baseURL.Host == "" || (baseURL.Scheme != "https" && baseURL.Scheme != "http") {
		return nil, glossa.Errorf(glossa.EINVALID, "The public base URL must be an absolute http or https URL.")
	}
	if len(keys.Signing) == 0 {
		return nil, glossa.Errorf(glossa.EINVALID, "The service provider has no signing key.")
	}
	base := strings.TrimRight(baseURL.String(), "/") + "/saml/" + orgSlug
	sp := &ServiceProvider{conn: *conn, keys: keys, entityID: base + "/metadata", acsURL: base + "/acs", sloURL: base + "/slo"}
	return sp.Metadata()
}

// Metadata returns the SP metadata (SAML metadata §2.4.4, SPSSODescriptor):
// every signing and encryption certificate of Keys, the ACS for the HTTP-POST
// binding, the SLO endpoint for both bindings, AuthnRequestsSigned as the
// connection says, WantAssertionsSigned="true", and the NameID formats that
// can key an identity (not transient).
func (sp *ServiceProvider) Metadata() ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	ed := doc.CreateElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMetadata)
	ed.CreateAttr("xmlns:ds", nsDSig)
	ed.CreateAttr("entityID", sp.entityID)
	ed.CreateAttr("cacheDuration", "PT24H")
	sso := ed.CreateElement("md:SPSSODescriptor")
	sso.CreateAttr("protocolSupportEnumeration", nsProtocol)
	sso.CreateAttr("AuthnRequestsSigned", boolString(sp.conn.SignAuthnRequests))
	sso.CreateAttr("WantAssertionsSigned", "true")
	keyDescriptor := func(use string, cert *x509.Certificate) *etree.Element {
		kd := sso.CreateElement("md:KeyDescriptor")
		kd.CreateAttr("use", use)
		kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
			SetText(base64.StdEncoding.EncodeToString(cert.Raw))
		return kd
	}
	for _, kp := range sp.keys.Signing {
		keyDescriptor("signing", kp.Certificate)
	}
	for _, kp := range sp.keys.Encryption {
		kd := keyDescriptor("encryption", kp.Certificate)
		for _, alg := range advertisedEncryptionMethods {
			kd.CreateElement("md:EncryptionMethod").CreateAttr("Algorithm", alg)
		}
	}
	for _, b := range []string{BindingHTTPRedirect, BindingHTTPPost} {
		slo := sso.CreateElement("md:SingleLogoutService")
		slo.CreateAttr("Binding", b)
		slo.CreateAttr("Location", sp.sloURL)
	}
	for _, f := range []string{NameIDFormatPersistent, NameIDFormatEmail, NameIDFormatUnspecified} {
		sso.CreateElement("md:NameIDFormat").SetText(f)
	}
	acs := sso.CreateElement("md:AssertionConsumerService")
	acs.CreateAttr("Binding", BindingHTTPPost)
	acs.CreateAttr("Location", sp.acsURL)
	acs.CreateAttr("index", "0")
	acs.CreateAttr("isDefault", "true")
	doc.Indent(2)
	return doc.WriteToBytes()
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
