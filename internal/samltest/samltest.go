// Package samltest is a test identity provider: it makes an IdP signing key,
// publishes it in SAML 2.0 IdP metadata, and builds signed SAML responses
// carrying the attributes AWS federation reads (Role, RoleSessionName,
// SessionDuration, SourceIdentity, PrincipalTag:*). Tests hand the metadata
// to whatever must trust the IdP (Glossa's SP, the STS emulator's IAM SAML
// provider) and the base64 response to whatever consumes it (the ACS, STS).
//
// It signs with github.com/russellhaering/goxmldsig and writes the XML
// with github.com/beevik/etree, independently of Glossa's saml package and
// of crewjam/saml, so that code under test is checked by a second
// implementation. It only builds valid responses: tests that need broken
// ones edit the XML that Response returns before encoding it.
//
// The package is for tests only; Glossa's binary never imports it.
package samltest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// SAML namespaces, attribute names AWS reads (case-sensitive; IAM User
// Guide, id_roles_providers_create_saml_assertions.md) and common values.
const (
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NSMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	NSDSig      = "http://www.w3.org/2000/09/xmldsig#"

	AttrRole            = "https://aws.amazon.com/SAML/Attributes/Role"
	AttrRoleSessionName = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
	AttrSessionDuration = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
	AttrSourceIdentity  = "https://aws.amazon.com/SAML/Attributes/SourceIdentity"
	// AttrPrincipalTag is the prefix of session-tag attributes:
	// AttrPrincipalTag + "Department".
	AttrPrincipalTag = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:"

	// AudienceAWS is the audience AWS STS accepts in an AudienceRestriction.
	AudienceAWS = "urn:amazon:webservices"

	NameIDPersistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDEmail      = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"

	statusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"
	bearer        = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// DefaultLifetime is how long a response is valid after its IssueInstant
// when Response.Lifetime is zero: the five minutes STS allows to redeem it.
const DefaultLifetime = 5 * time.Minute

// IdP is a test identity provider: an entity ID and an RSA signing key
// with its self-signed certificate.
type IdP struct {
	EntityID string
	Key      *rsa.PrivateKey
	Cert     *x509.Certificate
}

// NewIdP returns an IdP called entityID with a fresh 2048-bit RSA key
// (IAM refuses keys under 1024 bits). Generating the key takes a fraction
// of a second; tests that need several IdPs may make them in parallel.
func NewIdP(tb testing.TB, entityID string) *IdP {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("samltest: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatalf("samltest: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: entityID},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("samltest: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("samltest: %v", err)
	}
	return &IdP{EntityID: entityID, Key: key, Cert: cert}
}

// Metadata returns the IdP's SAML metadata: one EntityDescriptor with one
// IDPSSODescriptor publishing the signing certificate and an HTTP-POST
// SingleSignOnService at EntityID + "/sso". Pass it to an IAM SAML
// provider (stsemu.Provider.Metadata) or an SP.
func (p *IdP) Metadata() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="%s" xmlns:ds="%s" entityID="%s">
  <md:IDPSSODescriptor protocolSupportEnumeration="%s">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="%s/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`, NSMetadata, NSDSig, xmlEscape(p.EntityID), NSProtocol,
		base64.StdEncoding.EncodeToString(p.Cert.Raw), xmlEscape(strings.TrimSuffix(p.EntityID, "/")))
	return []byte(b.String())
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Attribute is one SAML attribute with its values.
type Attribute struct {
	Name   string
	Values []string
}

// RolePair returns a value of the AWS Role attribute, "roleARN,providerARN"
// (AWS accepts either order; pass them swapped to test the other).
func RolePair(roleARN, providerARN string) string { return roleARN + "," + providerARN }

// Response describes one SAML response to build. The zero value of each
// optional field gives what a typical IdP sends.
type Response struct {
	// NameID is the subject's name identifier (required); NameIDFormat
	// defaults to NameIDPersistent.
	NameID       string
	NameIDFormat string
	// Recipient is the SubjectConfirmationData Recipient and the
	// Response's Destination: the ACS URL the response is posted to
	// (required). STS's SAML:aud trust-policy key is this value.
	Recipient string
	// InResponseTo, if set, answers an AuthnRequest of that ID.
	InResponseTo string
	// Audiences are the assertion's AudienceRestriction; default
	// {AudienceAWS}. A response shared between an SP and STS lists both.
	Audiences []string
	// IssueInstant defaults to time.Now().
	IssueInstant time.Time
	// Lifetime sets the SubjectConfirmationData and Conditions
	// NotOnOrAfter to IssueInstant + Lifetime; default DefaultLifetime.
	Lifetime time.Duration
	// SessionNotOnOrAfter, if set, bounds the session in the
	// AuthnStatement (STS caps credentials at it).
	SessionNotOnOrAfter time.Time
	// Attributes go in one AttributeStatement, in order.
	Attributes []Attribute
	// SignResponse signs the Response as well as the Assertion.
	SignResponse bool
}

// Sign builds r, signs it with the IdP's key and returns it base64-encoded,
// as an IdP posts it in the SAMLResponse form field.
func (p *IdP) Sign(tb testing.TB, r Response) string {
	tb.Helper()
	return base64.StdEncoding.EncodeToString(p.SignXML(tb, r))
}

// SignXML is Sign without the base64 encoding.
func (p *IdP) SignXML(tb testing.TB, r Response) []byte {
	tb.Helper()
	if r.NameID == "" || r.Recipient == "" {
		tb.Fatalf("samltest: Response needs NameID and Recipient")
	}
	if r.NameIDFormat == "" {
		r.NameIDFormat = NameIDPersistent
	}
	if len(r.Audiences) == 0 {
		r.Audiences = []string{AudienceAWS}
	}
	if r.IssueInstant.IsZero() {
		r.IssueInstant = time.Now()
	}
	if r.Lifetime == 0 {
		r.Lifetime = DefaultLifetime
	}
	notOnOrAfter := r.IssueInstant.Add(r.Lifetime)

	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", NSAssertion)
	a.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
	a.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	a.CreateAttr("ID", newID())
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", timestamp(r.IssueInstant))
	a.CreateElement("saml:Issuer").SetText(p.EntityID)
	subj := a.CreateElement("saml:Subject")
	n := subj.CreateElement("saml:NameID")
	n.CreateAttr("Format", r.NameIDFormat)
	n.SetText(r.NameID)
	sc := subj.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", bearer)
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	scd.CreateAttr("NotOnOrAfter", timestamp(notOnOrAfter))
	scd.CreateAttr("Recipient", r.Recipient)
	if r.InResponseTo != "" {
		scd.CreateAttr("InResponseTo", r.InResponseTo)
	}
	conds := a.CreateElement("saml:Conditions")
	conds.CreateAttr("NotBefore", timestamp(r.IssueInstant.Add(-time.Minute)))
	conds.CreateAttr("NotOnOrAfter", timestamp(notOnOrAfter))
	ar := conds.CreateElement("saml:AudienceRestriction")
	for _, au := range r.Audiences {
		ar.CreateElement("saml:Audience").SetText(au)
	}
	as := a.CreateElement("saml:AuthnStatement")
	as.CreateAttr("AuthnInstant", timestamp(r.IssueInstant))
	as.CreateAttr("SessionIndex", newID())
	if !r.SessionNotOnOrAfter.IsZero() {
		as.CreateAttr("SessionNotOnOrAfter", timestamp(r.SessionNotOnOrAfter))
	}
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").
		SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
	if len(r.Attributes) > 0 {
		st := a.CreateElement("saml:AttributeStatement")
		for _, at := range r.Attributes {
			e := st.CreateElement("saml:Attribute")
			e.CreateAttr("Name", at.Name)
			e.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
			for _, v := range at.Values {
				av := e.CreateElement("saml:AttributeValue")
				av.CreateAttr("xsi:type", "xs:string")
				av.SetText(v)
			}
		}
	}
	a = p.sign(tb, a)

	resp := etree.NewElement("samlp:Response")
	resp.CreateAttr("xmlns:samlp", NSProtocol)
	resp.CreateAttr("xmlns:saml", NSAssertion)
	resp.CreateAttr("ID", newID())
	resp.CreateAttr("Version", "2.0")
	resp.CreateAttr("IssueInstant", timestamp(r.IssueInstant))
	resp.CreateAttr("Destination", r.Recipient)
	if r.InResponseTo != "" {
		resp.CreateAttr("InResponseTo", r.InResponseTo)
	}
	resp.CreateElement("saml:Issuer").SetText(p.EntityID)
	resp.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", statusSuccess)
	resp.AddChild(a)
	if r.SignResponse {
		resp = p.sign(tb, resp)
	}
	doc := etree.NewDocument()
	doc.SetRoot(resp)
	b, err := doc.WriteToBytes()
	if err != nil {
		tb.Fatalf("samltest: %v", err)
	}
	return b
}

// sign adds an enveloped RSA-SHA256 signature with exclusive c14n to el,
// placed right after its Issuer, where SAML core §5.4.1 wants it and real
// IdPs put it (verifiers that look only there must find it).
func (p *IdP) sign(tb testing.TB, el *etree.Element) *etree.Element {
	tb.Helper()
	ctx, err := dsig.NewSigningContext(p.Key, [][]byte{p.Cert.Raw})
	if err != nil {
		tb.Fatalf("samltest: %v", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		tb.Fatalf("samltest: %v", err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		tb.Fatalf("samltest: %v", err)
	}
	// SignEnveloped appends the signature; move it after the Issuer.
	sig := signed.Child[len(signed.Child)-1].(*etree.Element)
	signed.RemoveChildAt(len(signed.Child) - 1)
	at := 0
	for i, c := range signed.Child {
		if e, ok := c.(*etree.Element); ok && e.Tag == "Issuer" {
			at = i + 1
		}
	}
	signed.InsertChildAt(at, sig)
	return signed
}

// newID returns a fresh XML ID (an NCName: it must not start with a digit).
func newID() string { return "_" + strings.ToLower(rand.Text()) }

// timestamp formats t as SAML's xs:dateTime in UTC with milliseconds.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
