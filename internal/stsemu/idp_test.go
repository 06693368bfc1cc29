package stsemu_test

// This file is the tests' identity provider: keys, SAML metadata, and a
// builder of signed SAML responses with hooks to break them in every way the
// emulator must notice. It is written independently of the repository's saml
// package, so that the emulator is checked by a second implementation.

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"

	attrRole           = "https://aws.amazon.com/SAML/Attributes/Role"
	attrRoleSession    = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
	attrSessionLength  = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
	attrSourceIdentity = "https://aws.amazon.com/SAML/Attributes/SourceIdentity"
	attrTag            = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:"
	attrTransitive     = "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys"
	attrAffiliation    = "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"

	formatPersistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
)

// signer is an IdP signing key and its certificate.
type signer struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

var (
	keysOnce sync.Once
	// idpKey signs by default; idpKey2 is the IdP's next key (rollover);
	// attackerKey belongs to nobody the emulator trusts.
	idpKey, idpKey2, attackerKey signer
)

// keys generates the test keys once per test binary.
func keys(tb testing.TB) {
	tb.Helper()
	keysOnce.Do(func() {
		var wg sync.WaitGroup
		out := make([]signer, 3)
		for i := range out {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					panic(err)
				}
				tmpl := &x509.Certificate{
					SerialNumber: big.NewInt(int64(i + 1)),
					Subject:      pkix.Name{CommonName: fmt.Sprintf("idp-%d", i)},
					// Expired long ago: the emulator does not enforce
					// certificate dates (no source says AWS does).
					NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
					NotAfter:  time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
					KeyUsage:  x509.KeyUsageDigitalSignature,
				}
				der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
				if err != nil {
					panic(err)
				}
				c, err := x509.ParseCertificate(der)
				if err != nil {
					panic(err)
				}
				out[i] = signer{k, c}
			}()
		}
		wg.Wait()
		idpKey, idpKey2, attackerKey = out[0], out[1], out[2]
	})
}

// metadata returns IdP metadata publishing certs as signing keys, plus an
// encryption key that must never verify a signature.
func metadata(entityID string, certs ...*x509.Certificate) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="%s" xmlns:ds="%s" entityID="%s">
  <md:IDPSSODescriptor protocolSupportEnumeration="%s">
`, nsMetadata, nsDSig, entityID, nsProtocol)
	for _, c := range certs {
		fmt.Fprintf(&b, `    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
%s
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
`, base64.StdEncoding.EncodeToString(c.Raw))
	}
	fmt.Fprintf(&b, `    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.acme.example/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`, base64.StdEncoding.EncodeToString(attackerKey.cert.Raw))
	return []byte(b.String())
}

// attr is one SAML attribute.
type attr struct {
	name   string
	values []string
}

// samlOpts describes a SAML response to build; defaultOpts gives a valid
// one, which each test case then breaks in one way.
type samlOpts struct {
	issuer, responseIssuer string
	nameID, nameIDFormat   string // nameIDFormat "-": no Format attribute
	noNameID               bool
	recipient, method      string
	extraConfirmation      bool
	issueInstant           time.Time
	scdNotOnOrAfter        time.Time
	notBefore              time.Time
	notOnOrAfter           time.Time
	sessionNotOnOrAfter    time.Time // zero: absent
	audiences              [][]string
	attrs                  []attr
	status                 string

	signAssertion, signResponse bool
	signer                      signer
	sha1                        bool

	// assertionID is the assertion's ID; default a fresh one.
	assertionID string
	// afterSign runs on the Response once everything is signed: the place
	// to tamper, wrap or encrypt.
	afterSign func(resp *etree.Element)
	// rawXML edits the serialized response.
	rawXML func([]byte) []byte
}

// set replaces the values of the attribute name, adding it if absent; no
// values removes it.
func (o *samlOpts) set(name string, values ...string) {
	var out []attr
	found := false
	for _, a := range o.attrs {
		if a.name == name {
			found = true
			if len(values) == 0 {
				continue
			}
			a.values = values
		}
		out = append(out, a)
	}
	if !found && len(values) > 0 {
		out = append(out, attr{name, values})
	}
	o.attrs = out
}

var idCounter struct {
	sync.Mutex
	n int
}

func freshID() string {
	idCounter.Lock()
	defer idCounter.Unlock()
	idCounter.n++
	return fmt.Sprintf("_id%08d", idCounter.n)
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// buildAssertion makes the saml:Assertion of o, signed if o says so.
func buildAssertion(tb testing.TB, o *samlOpts) *etree.Element {
	tb.Helper()
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", nsAssertion)
	a.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
	a.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	id := o.assertionID
	if id == "" {
		id = freshID()
	}
	a.CreateAttr("ID", id)
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", ts(o.issueInstant))
	a.CreateElement("saml:Issuer").SetText(o.issuer)
	subj := a.CreateElement("saml:Subject")
	if !o.noNameID {
		n := subj.CreateElement("saml:NameID")
		if o.nameIDFormat != "-" {
			n.CreateAttr("Format", o.nameIDFormat)
		}
		n.SetText(o.nameID)
	}
	confirmations := 1
	if o.extraConfirmation {
		confirmations = 2
	}
	for range confirmations {
		sc := subj.CreateElement("saml:SubjectConfirmation")
		sc.CreateAttr("Method", o.method)
		scd := sc.CreateElement("saml:SubjectConfirmationData")
		if !o.scdNotOnOrAfter.IsZero() {
			scd.CreateAttr("NotOnOrAfter", ts(o.scdNotOnOrAfter))
		}
		if o.recipient != "" {
			scd.CreateAttr("Recipient", o.recipient)
		}
	}
	conds := a.CreateElement("saml:Conditions")
	conds.CreateAttr("NotBefore", ts(o.notBefore))
	conds.CreateAttr("NotOnOrAfter", ts(o.notOnOrAfter))
	for _, r := range o.audiences {
		ar := conds.CreateElement("saml:AudienceRestriction")
		for _, au := range r {
			ar.CreateElement("saml:Audience").SetText(au)
		}
	}
	as := a.CreateElement("saml:AuthnStatement")
	as.CreateAttr("AuthnInstant", ts(o.issueInstant))
	as.CreateAttr("SessionIndex", "_session"+id)
	if !o.sessionNotOnOrAfter.IsZero() {
		as.CreateAttr("SessionNotOnOrAfter", ts(o.sessionNotOnOrAfter))
	}
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").
		SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
	if len(o.attrs) > 0 {
		st := a.CreateElement("saml:AttributeStatement")
		for _, at := range o.attrs {
			e := st.CreateElement("saml:Attribute")
			e.CreateAttr("Name", at.name)
			e.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
			for _, v := range at.values {
				av := e.CreateElement("saml:AttributeValue")
				av.CreateAttr("xsi:type", "xs:string")
				av.SetText(v)
			}
		}
	}
	if o.signAssertion {
		a = sign(tb, a, o)
	}
	return a
}

// sign adds an enveloped XML signature to el, placed after its Issuer as
// SAML core §5.4.1 and real IdPs place it, with the signer's certificate in
// KeyInfo.
func sign(tb testing.TB, el *etree.Element, o *samlOpts) *etree.Element {
	tb.Helper()
	ctx, err := dsig.NewSigningContext(o.signer.key, [][]byte{o.signer.cert.Raw})
	if err != nil {
		tb.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	method := dsig.RSASHA256SignatureMethod
	if o.sha1 {
		ctx.Hash = crypto.SHA1
		method = dsig.RSASHA1SignatureMethod
	}
	if err := ctx.SetSignatureMethod(method); err != nil {
		tb.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		tb.Fatal(err)
	}
	sig := signed.Child[len(signed.Child)-1].(*etree.Element)
	signed.RemoveChildAt(len(signed.Child) - 1)
	idx := 0
	for i, c := range signed.Child {
		if e, ok := c.(*etree.Element); ok && e.Tag == "Issuer" {
			idx = i + 1
		}
	}
	signed.InsertChildAt(idx, sig)
	return signed
}

// build returns the base64 SAMLResponse of o.
func build(tb testing.TB, o samlOpts) string {
	tb.Helper()
	return base64.StdEncoding.EncodeToString(buildXML(tb, o))
}

func buildXML(tb testing.TB, o samlOpts) []byte {
	tb.Helper()
	a := buildAssertion(tb, &o)
	r := etree.NewElement("samlp:Response")
	r.CreateAttr("xmlns:samlp", nsProtocol)
	r.CreateAttr("xmlns:saml", nsAssertion)
	r.CreateAttr("ID", freshID())
	r.CreateAttr("Version", "2.0")
	r.CreateAttr("IssueInstant", ts(o.issueInstant))
	r.CreateAttr("Destination", o.recipient)
	r.CreateElement("saml:Issuer").SetText(o.responseIssuer)
	r.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", o.status)
	r.AddChild(a)
	if o.signResponse {
		r = sign(tb, r, &o)
	}
	if o.afterSign != nil {
		o.afterSign(r)
	}
	doc := etree.NewDocument()
	doc.SetRoot(r)
	b, err := doc.WriteToBytes()
	if err != nil {
		tb.Fatal(err)
	}
	if o.rawXML != nil {
		b = o.rawXML(b)
	}
	return b
}

// findAttrValue returns the first AttributeValue of the attribute name
// under el.
func findAttrValue(el *etree.Element, name string) *etree.Element {
	for _, at := range el.FindElements(".//Attribute") {
		if at.SelectAttrValue("Name", "") == name {
			return at.SelectElement("AttributeValue")
		}
	}
	return nil
}
