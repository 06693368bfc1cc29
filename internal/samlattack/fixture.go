package samlattack

import (
	"crypto"
	"crypto/rsa"
	_ "crypto/sha1" // SHA-1 signatures for the downgrade cases
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/saml"
)

// The SP a Fixture serves by default, and what its responses say by
// default.
const (
	DefaultBaseURL = "https://glossa.example.com"
	DefaultOrg     = "acme"
	// RequestID is the default Fixture's pending AuthnRequest ID.
	RequestID = "id-0123456789abcdef0123456789abcdef01234567"
	// Victim is the NameID and email of every response unless Options
	// say otherwise; Evil is the identity that forged responses claim.
	Victim = "alice@acme.example"
	Evil   = "admin@acme.example"
)

// Fixture is the in-test IdP serving one organization's SP: it builds the
// SAML responses of the corpus for that SP.
type Fixture struct {
	// Now is when responses are issued; their validity windows are set
	// around it. SAML writes times to the second.
	Now time.Time
	// Keys are the IdP's, the attackers' and the default SP's (MustKeys).
	Keys *Keys
	// BaseURL and Org locate the SP as Glossa publishes it: its entity ID
	// is BaseURL/saml/Org/metadata and its ACS BaseURL/saml/Org/acs.
	BaseURL, Org string
	// EncryptionCert is the SP's encryption certificate, to which
	// assertions are encrypted unless Options.EncryptTo says otherwise.
	EncryptionCert *x509.Certificate
	// RequestID is the AuthnRequest a response answers unless
	// Options.InResponseTo says otherwise; empty makes responses
	// unsolicited (IdP-initiated).
	RequestID string

	tb testing.TB
}

// NewFixture returns the IdP serving the default SP (DefaultBaseURL,
// DefaultOrg, Keys.SPEnc) with a pending request RequestID, issuing
// responses now.
func NewFixture(tb testing.TB) *Fixture {
	tb.Helper()
	k := MustKeys(tb)
	return &Fixture{
		// crewjam/saml checks times against the real clock; responses are
		// built around it, truncated as SAML times are.
		Now:            time.Now().UTC().Truncate(time.Second),
		Keys:           k,
		BaseURL:        DefaultBaseURL,
		Org:            DefaultOrg,
		EncryptionCert: k.SPEnc.Certificate,
		RequestID:      RequestID,
		tb:             tb,
	}
}

// SPURL returns an endpoint of the SP of organization org on this Glossa
// ("metadata", "acs", "slo"): another organization's endpoints are the
// targets of cross-tenant attacks.
func (f *Fixture) SPURL(org, endpoint string) string {
	return f.BaseURL + "/saml/" + org + "/" + endpoint
}

// EntityID is the SP's entity ID, the audience of its responses.
func (f *Fixture) EntityID() string { return f.SPURL(f.Org, "metadata") }

// ACS is the SP's assertion consumer service URL, the Destination and
// Recipient of its responses.
func (f *Fixture) ACS() string { return f.SPURL(f.Org, "acs") }

// Connection returns the organization's SAML settings and SP keys that the
// corpus assumes before a case's Setup: the IdP's metadata with its one
// signing certificate, the "custom" attribute names, signed
// AuthnRequests, unsolicited responses refused; SP keys SPSign and SPEnc.
func (f *Fixture) Connection() (*glossa.SAMLConnection, saml.Keys) {
	conn := &glossa.SAMLConnection{
		MetadataXML:       f.Keys.IdPMetadata(IdPEntityID, f.Keys.IdPCert),
		IdPProvider:       "custom",
		SignAuthnRequests: true,
	}
	return conn, saml.Keys{Signing: []saml.KeyPair{f.Keys.SPSign}, Encryption: []saml.KeyPair{f.Keys.SPEnc}}
}

// Attribute is one attribute of a built assertion.
type Attribute struct {
	Name, FriendlyName string
	Values             []string
}

// Options describe the response to build. The zero value of a field means
// the valid default.
type Options struct {
	NameID string
	// NameIDFormat defaults to emailAddress; "-" leaves Format out.
	NameIDFormat string
	// Attributes default to Victim's Email, FirstName, LastName and two
	// Groups; an empty, non-nil slice leaves the AttributeStatement out.
	Attributes   []Attribute
	InResponseTo *string // nil: the Fixture's RequestID
	Issuer       *string // assertion and response issuer; nil: the IdP
	// ResponseIssuer is the Response's issuer only; "-" leaves it out.
	ResponseIssuer *string
	// Audiences are the AudienceRestrictions; nil: one naming the SP.
	Audiences   [][]string
	Recipient   *string
	Destination *string // "" leaves it out
	Status      string  // the StatusCode; default Success

	// The times default to valid ones around Fixture.Now.
	IssueInstant             *time.Time
	NotBefore                *time.Time
	NotOnOrAfter             *time.Time
	ConfirmationNotOnOrAfter *time.Time // of the SubjectConfirmationData
	SessionNotOnOrAfter      *time.Time // of the AuthnStatement; nil: none

	// AssertionID and ResponseID default to fresh IDs.
	AssertionID, ResponseID string

	SignResponse, SignAssertion bool
	// Encrypt, when set, encrypts the assertion: "gcm" (AES-128-GCM),
	// "cbc" (AES-256-CBC), "rsa15" (RSA PKCS#1 v1.5 key transport with
	// GCM) or "3des", all but rsa15 with RSA-OAEP key transport.
	Encrypt   string
	EncryptTo *x509.Certificate // nil: the Fixture's EncryptionCert
	// StripEncryptedKeyCert leaves out the certificate that names the
	// SP's key in the EncryptedKey.
	StripEncryptedKeyCert bool

	Signer          *rsa.PrivateKey // nil: Keys.IdP with Keys.IdPCert
	SignerCert      *x509.Certificate
	NoKeyInfo       bool
	SignatureMethod string      // default RSA-SHA256
	Hash            crypto.Hash // the digest; default SHA-256
	SignaturePrefix string      // the signature's namespace prefix; default ds

	// PySAML2 writes the Response with the namespace prefixes pysaml2 7
	// uses (pysaml2Prefixes).
	PySAML2 bool

	MutateAssertion func(a *etree.Element) // before the assertion is signed
	AfterAssertion  func(a *etree.Element) // after it is signed, before encryption
	MutateResponse  func(r *etree.Element) // before the response is signed
	Post            func(doc *etree.Document)
	PostBytes       func(b []byte) []byte
}

var idCounter struct {
	sync.Mutex
	n int
}

// NewID returns an XML ID never returned before in this process.
func NewID(prefix string) string {
	idCounter.Lock()
	defer idCounter.Unlock()
	idCounter.n++
	return fmt.Sprintf("_%s%06d%x", prefix, idCounter.n, time.Now().UnixNano())
}

// FormatTime writes t as SAML times are written: xs:dateTime in UTC, to the
// second.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// buildAssertion makes the saml:Assertion of o, unsigned.
func (f *Fixture) buildAssertion(o *Options) *etree.Element {
	now := f.Now
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", NSAssertion)
	a.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
	a.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	if o.AssertionID == "" {
		o.AssertionID = NewID("a")
	}
	a.CreateAttr("ID", o.AssertionID)
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", FormatTime(deref(o.IssueInstant, now)))
	a.CreateElement("saml:Issuer").SetText(deref(o.Issuer, IdPEntityID))
	subj := a.CreateElement("saml:Subject")
	n := subj.CreateElement("saml:NameID")
	if o.NameIDFormat != "-" {
		n.CreateAttr("Format", firstNonEmpty(o.NameIDFormat, saml.NameIDFormatEmail))
	}
	n.SetText(firstNonEmpty(o.NameID, Victim))
	sc := subj.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	if irt := deref(o.InResponseTo, f.RequestID); irt != "" {
		scd.CreateAttr("InResponseTo", irt)
	}
	scd.CreateAttr("NotOnOrAfter", FormatTime(deref(o.ConfirmationNotOnOrAfter, now.Add(5*time.Minute))))
	scd.CreateAttr("Recipient", deref(o.Recipient, f.ACS()))
	conds := a.CreateElement("saml:Conditions")
	conds.CreateAttr("NotBefore", FormatTime(deref(o.NotBefore, now.Add(-30*time.Second))))
	conds.CreateAttr("NotOnOrAfter", FormatTime(deref(o.NotOnOrAfter, now.Add(5*time.Minute))))
	auds := o.Audiences
	if auds == nil {
		auds = [][]string{{f.EntityID()}}
	}
	for _, r := range auds {
		ar := conds.CreateElement("saml:AudienceRestriction")
		for _, au := range r {
			ar.CreateElement("saml:Audience").SetText(au)
		}
	}
	as := a.CreateElement("saml:AuthnStatement")
	as.CreateAttr("AuthnInstant", FormatTime(now.Add(-time.Minute)))
	as.CreateAttr("SessionIndex", "_session-"+o.AssertionID)
	if o.SessionNotOnOrAfter != nil {
		as.CreateAttr("SessionNotOnOrAfter", FormatTime(*o.SessionNotOnOrAfter))
	}
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").
		SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
	attrs := o.Attributes
	if attrs == nil {
		attrs = []Attribute{
			{Name: "Email", Values: []string{Victim}},
			{Name: "FirstName", Values: []string{"Alice"}},
			{Name: "LastName", Values: []string{"Liddell"}},
			{Name: "Groups", Values: []string{"annotators", "reviewers"}},
		}
	}
	if len(attrs) > 0 {
		st := a.CreateElement("saml:AttributeStatement")
		for _, at := range attrs {
			e := st.CreateElement("saml:Attribute")
			e.CreateAttr("Name", at.Name)
			if at.FriendlyName != "" {
				e.CreateAttr("FriendlyName", at.FriendlyName)
			}
			e.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified")
			for _, v := range at.Values {
				av := e.CreateElement("saml:AttributeValue")
				av.CreateAttr("xsi:type", "xs:string")
				av.SetText(v)
			}
		}
	}
	if o.MutateAssertion != nil {
		o.MutateAssertion(a)
	}
	return a
}

// Sign adds an enveloped signature to el with o's signer, algorithms and
// KeyInfo, placed after its Issuer as SAML core §5.4.1 and real IdPs do,
// and returns the signed element.
func (f *Fixture) Sign(el *etree.Element, o *Options) *etree.Element {
	f.tb.Helper()
	key, cert := o.Signer, o.SignerCert
	if key == nil {
		key, cert = f.Keys.IdP, f.Keys.IdPCert
	}
	ctx, err := dsig.NewSigningContext(key, [][]byte{cert.Raw})
	if err != nil {
		f.tb.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if o.SignaturePrefix != "" {
		ctx.Prefix = o.SignaturePrefix
	}
	if o.Hash != 0 {
		ctx.Hash = o.Hash
	}
	if err := ctx.SetSignatureMethod(firstNonEmpty(o.SignatureMethod, dsig.RSASHA256SignatureMethod)); err != nil {
		f.tb.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		f.tb.Fatal(err)
	}
	// SignEnveloped appends the signature without indexing it: take it off
	// the end by hand.
	sig := signed.Child[len(signed.Child)-1].(*etree.Element)
	signed.Child = signed.Child[:len(signed.Child)-1]
	if o.NoKeyInfo {
		if ki := sig.SelectElement("KeyInfo"); ki != nil {
			sig.RemoveChild(ki)
		}
	}
	idx := 0
	if iss := signed.SelectElement("Issuer"); iss != nil {
		idx = iss.Index() + 1
	}
	signed.InsertChildAt(idx, sig)
	return signed
}

// encrypt wraps the assertion in a saml:EncryptedAssertion for the SP.
func (f *Fixture) encrypt(a *etree.Element, o *Options) *etree.Element {
	f.tb.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(a)
	pt, err := doc.WriteToBytes()
	if err != nil {
		f.tb.Fatal(err)
	}
	var e xmlenc.RSA
	switch o.Encrypt {
	case "gcm":
		e = xmlenc.OAEP()
		e.BlockCipher = xmlenc.AES128GCM
	case "cbc":
		e = xmlenc.OAEP()
		e.BlockCipher = xmlenc.AES256CBC
	case "rsa15":
		e = xmlenc.PKCS1v15()
		e.BlockCipher = xmlenc.AES128GCM
	case "3des":
		e = xmlenc.OAEP()
		e.BlockCipher = xmlenc.TripleDES
	default:
		f.tb.Fatalf("unknown encryption %q", o.Encrypt)
	}
	if e.DigestMethod != nil {
		// rsa-oaep-mgf1p with SHA-1, as ADFS, Okta and Shibboleth send it
		// (and the only OAEP digest gosaml2 decrypts).
		e.DigestMethod = xmlenc.SHA1
	}
	to := o.EncryptTo
	if to == nil {
		to = f.EncryptionCert
	}
	ed, err := e.Encrypt(to, pt, nil)
	if err != nil {
		f.tb.Fatal(err)
	}
	if o.StripEncryptedKeyCert {
		for _, ki := range ed.FindElements("./KeyInfo/EncryptedKey/KeyInfo") {
			ki.Parent().RemoveChild(ki)
		}
	}
	ea := etree.NewElement("saml:EncryptedAssertion")
	ea.CreateAttr("xmlns:saml", NSAssertion)
	ea.AddChild(ed)
	return ea
}

// Build returns the base64 SAMLResponse of o, as an IdP posts it.
func (f *Fixture) Build(o Options) string {
	f.tb.Helper()
	return base64.StdEncoding.EncodeToString(f.BuildXML(o))
}

// BuildXML returns the XML of the SAMLResponse of o.
func (f *Fixture) BuildXML(o Options) []byte {
	f.tb.Helper()
	a := f.buildAssertion(&o)
	if o.SignAssertion {
		a = f.Sign(a, &o)
	}
	if o.AfterAssertion != nil {
		o.AfterAssertion(a)
	}
	var payload *etree.Element = a
	if o.Encrypt != "" {
		payload = f.encrypt(a, &o)
	}
	r := etree.NewElement("samlp:Response")
	r.CreateAttr("xmlns:samlp", NSProtocol)
	r.CreateAttr("xmlns:saml", NSAssertion)
	if o.ResponseID == "" {
		o.ResponseID = NewID("r")
	}
	r.CreateAttr("ID", o.ResponseID)
	r.CreateAttr("Version", "2.0")
	r.CreateAttr("IssueInstant", FormatTime(deref(o.IssueInstant, f.Now)))
	if d := deref(o.Destination, f.ACS()); d != "" {
		r.CreateAttr("Destination", d)
	}
	if irt := deref(o.InResponseTo, f.RequestID); irt != "" {
		r.CreateAttr("InResponseTo", irt)
	}
	if iss := deref(o.ResponseIssuer, deref(o.Issuer, IdPEntityID)); iss != "-" {
		r.CreateElement("saml:Issuer").SetText(iss)
	}
	st := r.CreateElement("samlp:Status").CreateElement("samlp:StatusCode")
	st.CreateAttr("Value", firstNonEmpty(o.Status, "urn:oasis:names:tc:SAML:2.0:status:Success"))
	r.AddChild(payload)
	if o.PySAML2 {
		pysaml2Prefixes(r)
		o.SignaturePrefix = "ns2"
	}
	if o.MutateResponse != nil {
		o.MutateResponse(r)
	}
	switch {
	case o.SignResponse && o.PySAML2:
		// xmlsec1 signs the document as pysaml2 wrote it: only the
		// signature comes from the canonical form, and ns2 is declared
		// on the Response (exclusive c14n does not depend on where).
		sig := f.Sign(r.Copy(), &o).SelectElement("Signature")
		sig.RemoveAttr("xmlns:ns2")
		r.CreateAttr("xmlns:ns2", NSDSig)
		r.InsertChildAt(r.SelectElement("Issuer").Index()+1, sig)
	case o.SignResponse:
		r = f.Sign(r, &o)
	}
	doc := etree.NewDocument()
	doc.SetRoot(r)
	if o.Post != nil {
		o.Post(doc)
	}
	b, err := doc.WriteToBytes()
	if err != nil {
		f.tb.Fatal(err)
	}
	if o.PostBytes != nil {
		b = o.PostBytes(b)
	}
	return b
}

// pysaml2Prefixes renames the namespace prefixes of a built Response to
// those pysaml2 7 writes (seen from Debian's python3-pysaml2 7.0.1, see
// internal/idptest): ElementTree numbers prefixes per serialization, so the
// Response declares ns0 (protocol) and ns1 (assertion), and the
// EncryptedData, which pysaml2 serializes on its own as the template that
// xmlsec1 encrypts into, declares ns0 (XML Encryption) and ns1 (XML-DSig)
// again, for other namespaces:
//
//	<ns0:Response xmlns:ns0="...protocol" xmlns:ns1="...assertion" ...>
//	  ...<ns1:EncryptedAssertion>
//	    <ns0:EncryptedData xmlns:ns0="...xmlenc#" xmlns:ns1="...xmldsig#" ...>
//	      <ns0:EncryptionMethod .../><ns1:KeyInfo><ns0:EncryptedKey>...
//
// A plaintext Assertion keeps its own declarations (it may be signed).
func pysaml2Prefixes(r *etree.Element) {
	outer := map[string]string{"samlp": "ns0", "saml": "ns1"}
	inner := map[string]string{"xenc": "ns0", "ds": "ns1"}
	var rename func(el *etree.Element, m map[string]string)
	rename = func(el *etree.Element, m map[string]string) {
		if el.Tag == "Assertion" {
			return
		}
		if el.Tag == "EncryptedData" {
			m = inner
		}
		var decls []etree.Attr
		switch {
		case el == r:
			decls = []etree.Attr{{Space: "xmlns", Key: "ns0", Value: NSProtocol}, {Space: "xmlns", Key: "ns1", Value: NSAssertion}}
		case el.Tag == "EncryptedData":
			decls = []etree.Attr{{Space: "xmlns", Key: "ns0", Value: "http://www.w3.org/2001/04/xmlenc#"}, {Space: "xmlns", Key: "ns1", Value: NSDSig}}
		}
		for _, a := range el.Attr {
			if a.Space != "xmlns" {
				decls = append(decls, a)
			}
		}
		el.Attr = el.Attr[:0]
		for _, a := range decls {
			el.CreateAttr(a.FullKey(), a.Value)
		}
		if p, ok := m[el.Space]; ok {
			el.Space = p
		}
		for _, c := range el.ChildElements() {
			rename(c, m)
		}
	}
	rename(r, outer)
}

func deref[T any](p *T, d T) T {
	if p == nil {
		return d
	}
	return *p
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
