package saml_test

// This file is the in-test identity provider: keys, metadata, and a builder
// of signed (and optionally encrypted) SAML responses with hooks at every
// stage, from which the positive cases and the attack corpus are generated.

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // SHA-1 signatures for the downgrade cases
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/saml"
)

const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"

	idpEntityID = "https://idp.example.net/saml/metadata"
	idpSSOURL   = "https://idp.example.net/saml/sso"
	idpSLOURL   = "https://idp.example.net/saml/slo"
	baseURL     = "https://glossa.example.com"
	orgSlug     = "acme"
	spEntityID  = baseURL + "/saml/acme/metadata"
	spACS       = baseURL + "/saml/acme/acs"
	spSLO       = baseURL + "/saml/acme/slo"
	requestID   = "id-0123456789abcdef0123456789abcdef01234567"
	victim      = "alice@acme.example"
)

// keys are generated once per test binary: RSA generation is the slowest
// thing in this package's tests.
type keySet struct {
	idp, idp2, idp3, attacker, otherTenant *rsa.PrivateKey
	idpCert, idp2Cert, idp3Cert            *x509.Certificate
	attackerCert, clonedCert, expiredCert  *x509.Certificate
	otherTenantCert                        *x509.Certificate
	spSign, spEnc, spEncOld, spEncForeign  saml.KeyPair
}

var (
	keysOnce sync.Once
	testKeys *keySet
)

func mustCert(tb testing.TB, key *rsa.PrivateKey, cn string, serial int64, notBefore, notAfter time.Time) *x509.Certificate {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func keys(tb testing.TB) *keySet {
	tb.Helper()
	keysOnce.Do(func() {
		now := time.Now()
		from, to := now.Add(-time.Hour), now.Add(24*time.Hour)
		var ks [8]*rsa.PrivateKey
		var wg sync.WaitGroup
		for i := range ks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					panic(err) // not tb.Fatal: this is not the test's goroutine
				}
				ks[i] = k
			}()
		}
		wg.Wait()
		k := &keySet{idp: ks[0], idp2: ks[1], idp3: ks[2], attacker: ks[3], otherTenant: ks[4]}
		k.idpCert = mustCert(tb, k.idp, "idp.example.net", 1, from, to)
		k.idp2Cert = mustCert(tb, k.idp2, "idp.example.net", 2, from, to)
		k.idp3Cert = mustCert(tb, k.idp3, "idp.example.net", 3, from, to)
		k.attackerCert = mustCert(tb, k.attacker, "attacker.example", 4, from, to)
		k.clonedCert = mustCert(tb, k.attacker, "idp.example.net", 1, from, to) // same subject and serial as idpCert
		k.expiredCert = mustCert(tb, k.idp3, "idp.example.net", 5, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		k.otherTenantCert = mustCert(tb, k.otherTenant, "idp.other.example", 6, from, to)
		k.spSign = saml.KeyPair{Key: ks[5], Certificate: mustCert(tb, ks[5], spEntityID, 7, from, to)}
		k.spEnc = saml.KeyPair{Key: ks[6], Certificate: mustCert(tb, ks[6], spEntityID, 8, from, to)}
		k.spEncOld = saml.KeyPair{Key: ks[7], Certificate: mustCert(tb, ks[7], spEntityID, 9, from, to)}
		k.spEncForeign = saml.KeyPair{Key: ks[3], Certificate: k.attackerCert}
		testKeys = k
	})
	if testKeys == nil {
		tb.Fatal("key generation failed")
	}
	return testKeys
}

// idpMetadata returns IdP metadata publishing certs for signing (and an
// encryption-only certificate, which must not be trusted for signatures).
func idpMetadata(entityID string, certs ...*x509.Certificate) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="%s" xmlns:ds="%s" entityID="%s">
  <md:IDPSSODescriptor protocolSupportEnumeration="%s" WantAuthnRequestsSigned="true">
`, nsMetadata, nsDSig, entityID, nsProtocol)
	for _, c := range certs {
		fmt.Fprintf(&b, `    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
%s
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
`, base64.StdEncoding.EncodeToString(c.Raw))
	}
	fmt.Fprintf(&b, `    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%s"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%s"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="%s"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`, base64.StdEncoding.EncodeToString(testKeys.attackerCert.Raw), idpSLOURL, idpSSOURL, idpSSOURL)
	return b.String()
}

// fixture is one organization's SP plus the IdP that serves it.
type fixture struct {
	tb     testing.TB
	now    time.Time
	k      *keySet
	conn   *glossa.SAMLConnection
	sp     *saml.ServiceProvider
	replay *memoryReplay
}

func newFixture(tb testing.TB, mod func(*glossa.SAMLConnection, *saml.Keys)) *fixture {
	tb.Helper()
	k := keys(tb)
	conn := &glossa.SAMLConnection{
		MetadataXML:       idpMetadata(idpEntityID, k.idpCert),
		IdPProvider:       "custom",
		SignAuthnRequests: true,
	}
	ks := saml.Keys{Signing: []saml.KeyPair{k.spSign}, Encryption: []saml.KeyPair{k.spEnc}}
	if mod != nil {
		mod(conn, &ks)
	}
	base, _ := url.Parse(baseURL)
	sp, err := saml.New(conn, ks, base, orgSlug)
	if err != nil {
		tb.Fatalf("saml.New: %v", err)
	}
	// crewjam checks times against the real clock; responses are built
	// around it, truncated as SAML times are.
	return &fixture{tb: tb, now: time.Now().UTC().Truncate(time.Second), k: k, conn: conn, sp: sp, replay: newMemoryReplay()}
}

// parse runs the ACS with the fixture's pending request ID.
func (f *fixture) parse(b64 string) (*saml.Response, error) {
	return f.sp.ValidateResponse(context.Background(), b64, []string{requestID}, f.now, f.replay)
}

// memoryReplay is a ReplayCache that answers a second use with ECONFLICT,
// as the database implementation does.
type memoryReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newMemoryReplay() *memoryReplay { return &memoryReplay{seen: map[string]time.Time{}} }

func (m *memoryReplay) Consume(_ context.Context, id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.seen[id]; ok {
		return glossa.Errorf(glossa.ECONFLICT, "already used")
	}
	m.seen[id] = until
	return nil
}

// failingReplay is a ReplayCache whose database is down.
type failingReplay struct{}

func (failingReplay) Consume(context.Context, string, time.Time) error {
	return errors.New("database is down")
}

// attr is one attribute of a built assertion.
type attrKV struct {
	name, friendlyName string
	values             []string
}

// opts describe the response to build. The zero value of a field means the
// valid default; set the pointer-ish "no*" flags to omit things.
type opts struct {
	nameID, nameIDFormat string
	attrs                []attrKV
	inResponseTo         *string // nil: requestID
	issuer               *string // assertion and response issuer; nil: the IdP
	respIssuer           *string // response issuer only
	audiences            [][]string
	recipient            *string
	destination          *string
	status               string
	issueInstant         *time.Time
	notBefore            *time.Time
	notOnOrAfter         *time.Time
	scdNotOnOrAfter      *time.Time
	sessionNotOnOrAfter  *time.Time
	assertionID          string
	responseID           string

	signResponse, signAssertion bool
	encrypt                     string // "", "gcm", "cbc", "rsa15", "3des"
	encryptTo                   *x509.Certificate
	stripEncKeyCert             bool

	signer     *rsa.PrivateKey
	signerCert *x509.Certificate
	noKeyInfo  bool
	sigMethod  string // default RSA-SHA256
	hash       crypto.Hash
	sigPrefix  string // the signature's namespace prefix; default ds

	// pysaml2 writes the Response with the namespace prefixes pysaml2 7
	// uses (pysaml2Prefixes).
	pysaml2 bool

	mutateAssertion func(a *etree.Element) // before the assertion is signed
	afterAssertion  func(a *etree.Element) // after it is signed, before encryption
	mutateResponse  func(r *etree.Element) // before the response is signed
	post            func(doc *etree.Document)
	postBytes       func(b []byte) []byte
}

func ptr[T any](v T) *T { return &v }

var idCounter struct {
	sync.Mutex
	n int
}

func freshID(prefix string) string {
	idCounter.Lock()
	defer idCounter.Unlock()
	idCounter.n++
	return fmt.Sprintf("_%s%06d%x", prefix, idCounter.n, time.Now().UnixNano())
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// buildAssertion makes the saml:Assertion of o, unsigned.
func (f *fixture) buildAssertion(o *opts) *etree.Element {
	now := f.now
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", nsAssertion)
	a.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
	a.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	if o.assertionID == "" {
		o.assertionID = freshID("a")
	}
	a.CreateAttr("ID", o.assertionID)
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", ts(deref(o.issueInstant, now)))
	a.CreateElement("saml:Issuer").SetText(deref(o.issuer, idpEntityID))
	subj := a.CreateElement("saml:Subject")
	n := subj.CreateElement("saml:NameID")
	if o.nameIDFormat != "-" {
		n.CreateAttr("Format", firstNonEmpty(o.nameIDFormat, saml.NameIDFormatEmail))
	}
	n.SetText(firstNonEmpty(o.nameID, victim))
	sc := subj.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	if irt := deref(o.inResponseTo, requestID); irt != "" {
		scd.CreateAttr("InResponseTo", irt)
	}
	scd.CreateAttr("NotOnOrAfter", ts(deref(o.scdNotOnOrAfter, now.Add(5*time.Minute))))
	scd.CreateAttr("Recipient", deref(o.recipient, spACS))
	conds := a.CreateElement("saml:Conditions")
	conds.CreateAttr("NotBefore", ts(deref(o.notBefore, now.Add(-30*time.Second))))
	conds.CreateAttr("NotOnOrAfter", ts(deref(o.notOnOrAfter, now.Add(5*time.Minute))))
	auds := o.audiences
	if auds == nil {
		auds = [][]string{{spEntityID}}
	}
	for _, r := range auds {
		ar := conds.CreateElement("saml:AudienceRestriction")
		for _, au := range r {
			ar.CreateElement("saml:Audience").SetText(au)
		}
	}
	as := a.CreateElement("saml:AuthnStatement")
	as.CreateAttr("AuthnInstant", ts(now.Add(-time.Minute)))
	as.CreateAttr("SessionIndex", "_session-"+o.assertionID)
	if o.sessionNotOnOrAfter != nil {
		as.CreateAttr("SessionNotOnOrAfter", ts(*o.sessionNotOnOrAfter))
	}
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").
		SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
	attrs := o.attrs
	if attrs == nil {
		attrs = []attrKV{
			{name: "Email", values: []string{victim}},
			{name: "FirstName", values: []string{"Alice"}},
			{name: "LastName", values: []string{"Liddell"}},
			{name: "Groups", values: []string{"annotators", "reviewers"}},
		}
	}
	if len(attrs) > 0 {
		st := a.CreateElement("saml:AttributeStatement")
		for _, at := range attrs {
			e := st.CreateElement("saml:Attribute")
			e.CreateAttr("Name", at.name)
			if at.friendlyName != "" {
				e.CreateAttr("FriendlyName", at.friendlyName)
			}
			e.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified")
			for _, v := range at.values {
				av := e.CreateElement("saml:AttributeValue")
				av.CreateAttr("xsi:type", "xs:string")
				av.SetText(v)
			}
		}
	}
	if o.mutateAssertion != nil {
		o.mutateAssertion(a)
	}
	return a
}

// sign adds an enveloped signature to el, placed after its Issuer as SAML
// core §5.4.1 and real IdPs do, and returns the signed element.
func (f *fixture) sign(el *etree.Element, o *opts) *etree.Element {
	f.tb.Helper()
	key, cert := o.signer, o.signerCert
	if key == nil {
		key, cert = f.k.idp, f.k.idpCert
	}
	ctx, err := dsig.NewSigningContext(key, [][]byte{cert.Raw})
	if err != nil {
		f.tb.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if o.sigPrefix != "" {
		ctx.Prefix = o.sigPrefix
	}
	if o.hash != 0 {
		ctx.Hash = o.hash
	}
	if err := ctx.SetSignatureMethod(firstNonEmpty(o.sigMethod, dsig.RSASHA256SignatureMethod)); err != nil {
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
	if o.noKeyInfo {
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
func (f *fixture) encrypt(a *etree.Element, o *opts) *etree.Element {
	f.tb.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(a)
	pt, err := doc.WriteToBytes()
	if err != nil {
		f.tb.Fatal(err)
	}
	var e xmlenc.RSA
	switch o.encrypt {
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
		f.tb.Fatalf("unknown encryption %q", o.encrypt)
	}
	if e.DigestMethod != nil {
		// rsa-oaep-mgf1p with SHA-1, as ADFS, Okta and Shibboleth send it
		// (and the only OAEP digest gosaml2 decrypts).
		e.DigestMethod = xmlenc.SHA1
	}
	to := o.encryptTo
	if to == nil {
		to = f.k.spEnc.Certificate
	}
	ed, err := e.Encrypt(to, pt, nil)
	if err != nil {
		f.tb.Fatal(err)
	}
	if o.stripEncKeyCert {
		for _, ki := range ed.FindElements("./KeyInfo/EncryptedKey/KeyInfo") {
			ki.Parent().RemoveChild(ki)
		}
	}
	ea := etree.NewElement("saml:EncryptedAssertion")
	ea.CreateAttr("xmlns:saml", nsAssertion)
	ea.AddChild(ed)
	return ea
}

// build returns the base64 SAMLResponse of o.
func (f *fixture) build(o opts) string {
	f.tb.Helper()
	return base64.StdEncoding.EncodeToString(f.buildXML(o))
}

func (f *fixture) buildXML(o opts) []byte {
	f.tb.Helper()
	a := f.buildAssertion(&o)
	if o.signAssertion {
		a = f.sign(a, &o)
	}
	if o.afterAssertion != nil {
		o.afterAssertion(a)
	}
	var payload *etree.Element = a
	if o.encrypt != "" {
		payload = f.encrypt(a, &o)
	}
	r := etree.NewElement("samlp:Response")
	r.CreateAttr("xmlns:samlp", nsProtocol)
	r.CreateAttr("xmlns:saml", nsAssertion)
	if o.responseID == "" {
		o.responseID = freshID("r")
	}
	r.CreateAttr("ID", o.responseID)
	r.CreateAttr("Version", "2.0")
	r.CreateAttr("IssueInstant", ts(deref(o.issueInstant, f.now)))
	if d := deref(o.destination, spACS); d != "" {
		r.CreateAttr("Destination", d)
	}
	if irt := deref(o.inResponseTo, requestID); irt != "" {
		r.CreateAttr("InResponseTo", irt)
	}
	if iss := deref(o.respIssuer, deref(o.issuer, idpEntityID)); iss != "-" {
		r.CreateElement("saml:Issuer").SetText(iss)
	}
	st := r.CreateElement("samlp:Status").CreateElement("samlp:StatusCode")
	st.CreateAttr("Value", firstNonEmpty(o.status, "urn:oasis:names:tc:SAML:2.0:status:Success"))
	r.AddChild(payload)
	if o.pysaml2 {
		pysaml2Prefixes(r)
		o.sigPrefix = "ns2"
	}
	if o.mutateResponse != nil {
		o.mutateResponse(r)
	}
	switch {
	case o.signResponse && o.pysaml2:
		// xmlsec1 signs the document as pysaml2 wrote it: only the
		// signature comes from the canonical form, and ns2 is declared
		// on the Response (exclusive c14n does not depend on where).
		sig := f.sign(r.Copy(), &o).SelectElement("Signature")
		sig.RemoveAttr("xmlns:ns2")
		r.CreateAttr("xmlns:ns2", nsDSig)
		r.InsertChildAt(r.SelectElement("Issuer").Index()+1, sig)
	case o.signResponse:
		r = f.sign(r, &o)
	}
	doc := etree.NewDocument()
	doc.SetRoot(r)
	if o.post != nil {
		o.post(doc)
	}
	b, err := doc.WriteToBytes()
	if err != nil {
		f.tb.Fatal(err)
	}
	if o.postBytes != nil {
		b = o.postBytes(b)
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
			decls = []etree.Attr{{Space: "xmlns", Key: "ns0", Value: nsProtocol}, {Space: "xmlns", Key: "ns1", Value: nsAssertion}}
		case el.Tag == "EncryptedData":
			decls = []etree.Attr{{Space: "xmlns", Key: "ns0", Value: "http://www.w3.org/2001/04/xmlenc#"}, {Space: "xmlns", Key: "ns1", Value: nsDSig}}
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

// signRedirect deflates and signs a message of the HTTP-Redirect binding
// as an IdP does (SAML bindings §3.4.4.1) and returns the raw query; a nil
// key leaves it unsigned.
func signRedirect(tb testing.TB, param string, xml []byte, relayState string, key *rsa.PrivateKey, sigAlg string) string {
	tb.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(xml)
	w.Close()
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relayState != "" {
		q += "&RelayState=" + url.QueryEscape(relayState)
	}
	return signQuery(tb, q, key, sigAlg)
}

// signQuery appends SigAlg and Signature to a Redirect-binding query.
func signQuery(tb testing.TB, q string, key *rsa.PrivateKey, sigAlg string) string {
	tb.Helper()
	if key == nil {
		return q
	}
	q += "&SigAlg=" + url.QueryEscape(sigAlg)
	var h crypto.Hash = crypto.SHA256
	if strings.HasSuffix(sigAlg, "sha1") {
		h = crypto.SHA1
	}
	hh := h.New()
	hh.Write([]byte(q))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, hh.Sum(nil))
	if err != nil {
		tb.Fatal(err)
	}
	return q + "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
}
