package idptest_test

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glossa-dev/glossa/internal/idptest"
)

// testSP is a service provider that exists only as metadata and a key: the
// IdPs never contact it, so its URLs need not answer.
type testSP struct {
	entityID, acs, slo string
	key                *rsa.PrivateKey
	cert               *x509.Certificate
	metadata           []byte
}

func newSP(t *testing.T) *testSP { return newSPAt(t, "https://glossa.example/saml/acme") }

// newSPAt makes an SP whose entity ID, ACS and SLO URLs are base + /metadata,
// /acs and /slo.
func newSPAt(t *testing.T, base string) *testSP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "glossa test SP"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	sp := &testSP{
		entityID: base + "/metadata",
		acs:      base + "/acs",
		slo:      base + "/slo",
		key:      key,
		cert:     cert,
	}
	c := base64.StdEncoding.EncodeToString(der)
	sp.metadata = fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%[1]s">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%[2]s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%[2]s</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
      <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>
      <md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
    </md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%[4]s"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="%[3]s" index="1" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`, sp.entityID, c, sp.acs, sp.slo)
	return sp
}

type request struct {
	id           string
	acs          string // AssertionConsumerServiceURL; "" leaves it out
	nameIDFormat string
	relayState   string
	sign         bool
	isPassive    bool
}

// authnRequestURL builds an SP-initiated sign-in by hand: an AuthnRequest
// in the HTTP-Redirect binding (SAML Bindings 3.4.4: DEFLATE, base64, URL
// encoding; 3.4.4.1: the signature over SAMLRequest, RelayState and SigAlg
// as they appear in the query).
func (sp *testSP) authnRequestURL(t *testing.T, idp *idptest.IdP, r request) string {
	t.Helper()
	var acs, policy string
	if r.isPassive {
		acs = ` IsPassive="true"`
	}
	if r.acs != "" {
		acs += fmt.Sprintf(` AssertionConsumerServiceURL="%s" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"`, r.acs)
	}
	if r.nameIDFormat != "" {
		policy = fmt.Sprintf(`<samlp:NameIDPolicy Format="%s" AllowCreate="true"/>`, r.nameIDFormat)
	}
	doc := fmt.Sprintf(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="%s" Version="2.0" IssueInstant="%s" Destination="%s"%s><saml:Issuer>%s</saml:Issuer>%s</samlp:AuthnRequest>`,
		r.id, time.Now().UTC().Format("2006-01-02T15:04:05Z"), idp.SSOURL, acs, sp.entityID, policy)
	return sp.redirect(t, idp.SSOURL, "SAMLRequest", doc, r.relayState, r.sign)
}

// redirect encodes a message for the HTTP-Redirect binding, signed with
// the SP's key if sign is set.
func (sp *testSP) redirect(t *testing.T, endpoint, param, doc, relayState string, sign bool) string {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write([]byte(doc))
	w.Close()
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relayState != "" {
		q += "&RelayState=" + url.QueryEscape(relayState)
	}
	if sign {
		q += "&SigAlg=" + url.QueryEscape(idptest.URIRSASHA256)
		h := sha256.Sum256([]byte(q))
		sig, err := rsa.SignPKCS1v15(rand.Reader, sp.key, crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	}
	return endpoint + "?" + q
}

// readRedirect checks that u is endpoint with a message in the
// HTTP-Redirect binding signed (RSA-SHA256, over the query as received) by
// the IdP, and returns the message and the RelayState.
func readRedirect(t *testing.T, idp *idptest.IdP, u, endpoint, param string) (doc []byte, relayState string) {
	t.Helper()
	base, rawQuery, _ := strings.Cut(u, "?")
	if base != endpoint {
		t.Fatalf("the IdP sends the browser to %s, want %s", u, endpoint)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("SigAlg") != idptest.URIRSASHA256 {
		t.Errorf("SigAlg = %q, want RSA-SHA256", q.Get("SigAlg"))
	} else {
		var signed []string
		for _, part := range strings.Split(rawQuery, "&") {
			k, _, _ := strings.Cut(part, "=")
			if k == param || k == "RelayState" || k == "SigAlg" {
				signed = append(signed, part)
			}
		}
		h := sha256.Sum256([]byte(strings.Join(signed, "&")))
		pub := idp.Certificate.PublicKey.(*rsa.PublicKey)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], unb64(t, q.Get("Signature"))); err != nil {
			t.Errorf("redirect signature: %v", err)
		}
	}
	deflated := unb64(t, q.Get(param))
	doc, err = io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatalf("inflate %s: %v", param, err)
	}
	return doc, q.Get("RelayState")
}

func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// The parts of a SAML response the tests look at. Element names are
// matched without namespaces; Signature only as a direct child.
type algorithm struct {
	Algorithm string `xml:"Algorithm,attr"`
}

type signature struct {
	Method    algorithm `xml:"SignedInfo>SignatureMethod"`
	Reference struct {
		URI    string    `xml:"URI,attr"`
		Digest algorithm `xml:"DigestMethod"`
	} `xml:"SignedInfo>Reference"`
}

type encryptedKey struct {
	Method struct {
		Algorithm string    `xml:"Algorithm,attr"`
		Digest    algorithm `xml:"DigestMethod"`
	} `xml:"EncryptionMethod"`
	Cipher string `xml:"CipherData>CipherValue"`
}

type encryptedAssertion struct {
	Data struct {
		Method algorithm      `xml:"EncryptionMethod"`
		Keys   []encryptedKey `xml:"KeyInfo>EncryptedKey"`
		Cipher string         `xml:"CipherData>CipherValue"`
	} `xml:"EncryptedData"`
	Keys []encryptedKey `xml:"EncryptedKey"` // EncryptedKey beside EncryptedData
}

type nameID struct {
	Format          string `xml:"Format,attr"`
	NameQualifier   string `xml:"NameQualifier,attr"`
	SPNameQualifier string `xml:"SPNameQualifier,attr"`
	Value           string `xml:",chardata"`
}

// logoutMessage is a LogoutRequest or LogoutResponse.
type logoutMessage struct {
	XMLName      xml.Name
	ID           string `xml:"ID,attr"`
	Destination  string `xml:"Destination,attr"`
	InResponseTo string `xml:"InResponseTo,attr"`
	Issuer       string `xml:"Issuer"`
	NameID       nameID `xml:"NameID"`
	StatusCode   struct {
		Value string `xml:"Value,attr"`
	} `xml:"Status>StatusCode"`
}

type assertion struct {
	ID        string      `xml:"ID,attr"`
	Issuer    string      `xml:"Issuer"`
	Signature []signature `xml:"http://www.w3.org/2000/09/xmldsig# Signature"`
	NameID    nameID      `xml:"Subject>NameID"`
	Session   struct {
		Index string `xml:"SessionIndex,attr"`
	} `xml:"AuthnStatement"`
	Confirmation struct {
		Recipient    string `xml:"Recipient,attr"`
		InResponseTo string `xml:"InResponseTo,attr"`
	} `xml:"Subject>SubjectConfirmation>SubjectConfirmationData"`
	Audiences  []string `xml:"Conditions>AudienceRestriction>Audience"`
	Attributes []struct {
		Name   string   `xml:"Name,attr"`
		Values []string `xml:"AttributeValue"`
	} `xml:"AttributeStatement>Attribute"`
}

type response struct {
	XMLName      xml.Name
	ID           string `xml:"ID,attr"`
	Destination  string `xml:"Destination,attr"`
	InResponseTo string `xml:"InResponseTo,attr"`
	Issuer       string `xml:"Issuer"`
	StatusCode   struct {
		Value string `xml:"Value,attr"`
	} `xml:"Status>StatusCode"`
	Signature  []signature          `xml:"http://www.w3.org/2000/09/xmldsig# Signature"`
	Assertions []assertion          `xml:"Assertion"`
	Encrypted  []encryptedAssertion `xml:"EncryptedAssertion"`
}

func (a assertion) attrs() map[string][]string {
	m := map[string][]string{}
	for _, at := range a.Attributes {
		m[at.Name] = append(m[at.Name], at.Values...)
	}
	return m
}

// want is what a sign-in's response must show.
type want struct {
	opts         idptest.Options
	user         idptest.User
	acs          string
	inResponseTo string // "" for IdP-initiated
	relayState   string
	nameIDFormat string
}

// checkResponse decodes a SAMLResponse and checks it against w, verifying
// signatures with xmlsec1 and decrypting an encrypted assertion with the
// SP's key. It returns the (decrypted) assertion.
func checkResponse(t *testing.T, idp *idptest.IdP, sp *testSP, w want, acs, samlResponse, relayState string) assertion {
	t.Helper()
	if acs != w.acs {
		t.Errorf("posts to %q, want %q", acs, w.acs)
	}
	if relayState != w.relayState {
		t.Errorf("RelayState = %q, want %q", relayState, w.relayState)
	}
	raw, err := base64.StdEncoding.DecodeString(samlResponse)
	if err != nil {
		t.Fatalf("SAMLResponse is not base64: %v", err)
	}
	var r response
	if err := xml.Unmarshal(raw, &r); err != nil {
		t.Fatalf("SAMLResponse is not XML: %v\n%s", err, raw)
	}
	if r.XMLName.Space != "urn:oasis:names:tc:SAML:2.0:protocol" || r.XMLName.Local != "Response" {
		t.Fatalf("root element %v, want samlp:Response", r.XMLName)
	}
	if r.StatusCode.Value != "urn:oasis:names:tc:SAML:2.0:status:Success" {
		t.Errorf("StatusCode = %q", r.StatusCode.Value)
	}
	if r.Destination != w.acs {
		t.Errorf("Destination = %q, want %q", r.Destination, w.acs)
	}
	if r.InResponseTo != w.inResponseTo {
		t.Errorf("InResponseTo = %q, want %q", r.InResponseTo, w.inResponseTo)
	}
	if strings.TrimSpace(r.Issuer) != idp.EntityID {
		t.Errorf("Issuer = %q, want %q", r.Issuer, idp.EntityID)
	}
	if w.opts.SignResponse {
		checkSignature(t, "Response", r.Signature, r.ID)
		verifyXMLSignature(t, idp, raw, "Response")
	} else if len(r.Signature) != 0 {
		t.Errorf("Response is signed, want unsigned")
	}

	var a assertion
	var assertionXML []byte
	if w.opts.Encrypt != "" {
		if len(r.Encrypted) != 1 || len(r.Assertions) != 0 {
			t.Fatalf("%d EncryptedAssertion, %d Assertion; want 1, 0\n%s", len(r.Encrypted), len(r.Assertions), raw)
		}
		assertionXML = decrypt(t, sp, r.Encrypted[0], idptest.EncryptionAlgorithm(w.opts.Encrypt))
		if err := xml.Unmarshal(assertionXML, &a); err != nil {
			t.Fatalf("decrypted assertion: %v\n%s", err, assertionXML)
		}
	} else {
		if len(r.Encrypted) != 0 || len(r.Assertions) != 1 {
			t.Fatalf("%d EncryptedAssertion, %d Assertion; want 0, 1\n%s", len(r.Encrypted), len(r.Assertions), raw)
		}
		a = r.Assertions[0]
		assertionXML = raw
	}
	if w.opts.SignAssertion {
		checkSignature(t, "Assertion", a.Signature, a.ID)
		verifyXMLSignature(t, idp, assertionXML, "Assertion")
	} else if len(a.Signature) != 0 {
		t.Errorf("Assertion is signed, want unsigned")
	}

	if strings.TrimSpace(a.Issuer) != idp.EntityID {
		t.Errorf("Assertion Issuer = %q, want %q", a.Issuer, idp.EntityID)
	}
	if a.Confirmation.Recipient != w.acs {
		t.Errorf("Recipient = %q, want %q", a.Confirmation.Recipient, w.acs)
	}
	if a.Confirmation.InResponseTo != w.inResponseTo {
		t.Errorf("SubjectConfirmationData InResponseTo = %q, want %q", a.Confirmation.InResponseTo, w.inResponseTo)
	}
	if !slices.Contains(a.Audiences, sp.entityID) {
		t.Errorf("Audiences = %q, want %q among them", a.Audiences, sp.entityID)
	}
	if a.NameID.Format != w.nameIDFormat {
		t.Errorf("NameID Format = %q, want %q", a.NameID.Format, w.nameIDFormat)
	}
	nameID := strings.TrimSpace(a.NameID.Value)
	switch w.nameIDFormat {
	case idptest.NameIDEmail:
		if nameID != w.user.Email {
			t.Errorf("NameID = %q, want %q", nameID, w.user.Email)
		}
	case idptest.NameIDPersistent, idptest.NameIDUnspecified:
		if nameID != w.user.Username {
			t.Errorf("NameID = %q, want %q", nameID, w.user.Username)
		}
	default:
		if nameID == "" {
			t.Errorf("NameID is empty")
		}
	}
	got := a.attrs()
	for name, wantVals := range map[string][]string{
		"uid":       {w.user.Username},
		"email":     {w.user.Email},
		"givenName": {w.user.FirstName},
		"sn":        {w.user.LastName},
		"groups":    w.user.Groups,
	} {
		if !slices.Equal(got[name], wantVals) {
			t.Errorf("attribute %s = %q, want %q", name, got[name], wantVals)
		}
	}
	return a
}

func checkSignature(t *testing.T, what string, sigs []signature, id string) {
	t.Helper()
	if len(sigs) != 1 {
		t.Errorf("%s has %d ds:Signature, want 1", what, len(sigs))
		return
	}
	s := sigs[0]
	if s.Method.Algorithm != idptest.URIRSASHA256 {
		t.Errorf("%s SignatureMethod = %q, want RSA-SHA256", what, s.Method.Algorithm)
	}
	if s.Reference.Digest.Algorithm != idptest.URISHA256 {
		t.Errorf("%s DigestMethod = %q, want SHA-256", what, s.Reference.Digest.Algorithm)
	}
	if s.Reference.URI != "#"+id {
		t.Errorf("%s signature references %q, want #%s", what, s.Reference.URI, id)
	}
}

// verifyXMLSignature checks the signature of the Response or Assertion in
// doc with xmlsec1 (as pysaml2 runs it) and the IdP's certificate: an
// implementation independent of both IdPs' own signing code.
func verifyXMLSignature(t *testing.T, idp *idptest.IdP, doc []byte, element string) {
	t.Helper()
	dir := t.TempDir()
	docFile, certFile := filepath.Join(dir, "doc.xml"), filepath.Join(dir, "idp.crt")
	os.WriteFile(docFile, doc, 0o600)
	os.WriteFile(certFile, idp.CertificatePEM, 0o600)
	ns := map[string]string{
		"Response":  "urn:oasis:names:tc:SAML:2.0:protocol",
		"Assertion": "urn:oasis:names:tc:SAML:2.0:assertion",
	}[element]
	out, err := exec.Command("/usr/bin/xmlsec1", "--verify",
		"--enabled-reference-uris", "empty,same-doc",
		"--enabled-key-data", "raw-x509-cert",
		"--pubkey-cert-pem", certFile,
		"--id-attr:ID", ns+":"+element,
		"--node-xpath", fmt.Sprintf(`//*[local-name()=%q]/*[local-name()="Signature"]`, element),
		docFile).CombinedOutput()
	if err != nil {
		t.Errorf("xmlsec1 does not verify the %s signature: %v\n%s", element, err, out)
	}
}

// decrypt opens an EncryptedAssertion with the SP's key (XML Encryption
// 1.1: RSA-OAEP key transport, AES-GCM with a 12-byte IV and 16-byte tag
// or AES-CBC with a 16-byte IV and XML Encryption padding).
func decrypt(t *testing.T, sp *testSP, ea encryptedAssertion, wantAlg string) []byte {
	t.Helper()
	if got := ea.Data.Method.Algorithm; got != wantAlg {
		t.Errorf("EncryptedData algorithm = %q, want %q", got, wantAlg)
	}
	keys := append(ea.Data.Keys, ea.Keys...)
	if len(keys) != 1 {
		t.Fatalf("%d EncryptedKey, want 1", len(keys))
	}
	k := keys[0]
	if k.Method.Algorithm != idptest.URIRSAOAEP {
		t.Fatalf("EncryptedKey algorithm = %q, want RSA-OAEP (%s)", k.Method.Algorithm, idptest.URIRSAOAEP)
	}
	if d := k.Method.Digest.Algorithm; d != "" && d != "http://www.w3.org/2000/09/xmldsig#sha1" {
		t.Fatalf("RSA-OAEP digest %q, only SHA-1 handled here", d)
	}
	cek, err := rsa.DecryptOAEP(sha1.New(), nil, sp.key, unb64(t, k.Cipher), nil)
	if err != nil {
		t.Fatalf("RSA-OAEP: %v", err)
	}
	ct := unb64(t, ea.Data.Cipher)
	block, err := aes.NewCipher(cek)
	if err != nil {
		t.Fatalf("AES key: %v", err)
	}
	wantKeyLen := map[string]int{idptest.URIAES128CBC: 16, idptest.URIAES128GCM: 16, idptest.URIAES256CBC: 32, idptest.URIAES256GCM: 32}[wantAlg]
	if len(cek) != wantKeyLen {
		t.Errorf("AES key of %d bytes, want %d", len(cek), wantKeyLen)
	}
	var plain []byte
	switch ea.Data.Method.Algorithm {
	case idptest.URIAES128GCM, idptest.URIAES256GCM:
		gcm, _ := cipher.NewGCM(block)
		if len(ct) < 12+16 {
			t.Fatalf("GCM ciphertext too short")
		}
		plain, err = gcm.Open(nil, ct[:12], ct[12:], nil)
		if err != nil {
			t.Fatalf("AES-GCM: %v", err)
		}
	case idptest.URIAES128CBC, idptest.URIAES256CBC:
		if len(ct) < 32 || len(ct)%16 != 0 {
			t.Fatalf("CBC ciphertext of %d bytes", len(ct))
		}
		plain = make([]byte, len(ct)-16)
		cipher.NewCBCDecrypter(block, ct[:16]).CryptBlocks(plain, ct[16:])
		pad := int(plain[len(plain)-1])
		if pad < 1 || pad > 16 {
			t.Fatalf("CBC padding %d", pad)
		}
		plain = plain[:len(plain)-pad]
	default:
		t.Fatalf("EncryptedData algorithm %q", ea.Data.Method.Algorithm)
	}
	return plain
}

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	return b
}

func user(idp *idptest.IdP, name string) idptest.User {
	for _, u := range idp.Users {
		if u.Username == name {
			return u
		}
	}
	panic("no user " + name)
}

type starter func(testing.TB, idptest.SP, idptest.Options) *idptest.IdP

type variant struct {
	name string
	opts idptest.Options
}

var commonVariants = []variant{
	{"response-signed", idptest.Options{SignResponse: true}},
	{"assertion-signed", idptest.Options{SignAssertion: true}},
	{"both-signed", idptest.Options{SignResponse: true, SignAssertion: true}},
	{"encrypted-aes128-cbc", idptest.Options{SignResponse: true, SignAssertion: true, Encrypt: idptest.AES128CBC}},
	{"encrypted-response-signed-only", idptest.Options{SignResponse: true, Encrypt: idptest.AES128CBC}},
	{"signed-requests", idptest.Options{SignResponse: true, RequireSignedRequests: true}},
}

// testVariants signs in SP-initiated against a fresh IdP per variant.
func testVariants(t *testing.T, start starter, variants []variant) {
	sp := newSP(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			began := time.Now()
			idp := start(t, idptest.SP{MetadataXML: sp.metadata}, v.opts)
			started := time.Since(began)
			alice := user(idp, "alice")
			id := "_" + strings.ReplaceAll(v.name, "-", "_") + fmt.Sprint(time.Now().UnixNano())
			u := sp.authnRequestURL(t, idp, request{id: id, acs: sp.acs, relayState: "relay-" + v.name,
				nameIDFormat: idptest.NameIDPersistent, sign: v.opts.RequireSignedRequests})
			acs, resp, relay := idp.Login(t, newClient(), u, alice.Username, alice.Password)
			checkResponse(t, idp, sp, want{opts: v.opts, user: alice, acs: sp.acs, inResponseTo: id,
				relayState: "relay-" + v.name, nameIDFormat: idptest.NameIDPersistent}, acs, resp, relay)

			if v.opts.RequireSignedRequests {
				unsigned := sp.authnRequestURL(t, idp, request{id: id + "u", acs: sp.acs, nameIDFormat: idptest.NameIDPersistent})
				p, err := idp.SignIn(newClient(), unsigned, alice.Username, alice.Password)
				if err == nil {
					t.Errorf("unsigned AuthnRequest accepted: %+v", p)
				}
				// A signature over other parameters than those sent.
				tampered := strings.Replace(u, "RelayState=relay-", "RelayState=relaX-", 1)
				if p, err := idp.SignIn(newClient(), tampered, alice.Username, alice.Password); err == nil {
					t.Errorf("AuthnRequest with a bad signature accepted: %+v", p)
				}
			}
			t.Logf("%s: started in %v, signed in after %v", v.name, started.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
		})
	}
}

func TestSimpleSAMLphpVariants(t *testing.T) {
	testVariants(t, idptest.StartSimpleSAMLphp, commonVariants)
}

func TestPySAML2Variants(t *testing.T) {
	testVariants(t, idptest.StartPySAML2, append(slices.Clip(commonVariants),
		variant{"encrypted-aes256-gcm", idptest.Options{SignResponse: true, SignAssertion: true, Encrypt: idptest.AES256GCM}},
		variant{"encrypted-aes256-cbc", idptest.Options{SignResponse: true, Encrypt: idptest.AES256CBC}},
		variant{"encrypted-aes128-gcm-unsigned-response", idptest.Options{SignAssertion: true, Encrypt: idptest.AES128GCM}},
	))
}

// testFlows covers, against one IdP: many groups, NameID formats, the IdP
// session (a second sign-in without the form), a wrong password and
// IdP-initiated sign-in.
func testFlows(t *testing.T, start starter) {
	sp := newSP(t)
	opts := idptest.Options{SignResponse: true, SignAssertion: true}
	idp := start(t, idptest.SP{MetadataXML: sp.metadata}, opts)

	t.Run("metadata", func(t *testing.T) {
		var md struct {
			EntityID string   `xml:"entityID,attr"`
			Certs    []string `xml:"IDPSSODescriptor>KeyDescriptor>KeyInfo>X509Data>X509Certificate"`
			SSO      []struct {
				Binding  string `xml:"Binding,attr"`
				Location string `xml:"Location,attr"`
			} `xml:"IDPSSODescriptor>SingleSignOnService"`
		}
		if err := xml.Unmarshal(idp.MetadataXML, &md); err != nil {
			t.Fatal(err)
		}
		if md.EntityID != idp.EntityID {
			t.Errorf("metadata entityID %q, want %q", md.EntityID, idp.EntityID)
		}
		found := false
		for _, c := range md.Certs {
			found = found || bytes.Equal(unb64(t, c), idp.Certificate.Raw)
		}
		if !found {
			t.Errorf("metadata lacks the IdP's certificate")
		}
		found = false
		for _, s := range md.SSO {
			found = found || s.Binding == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" && s.Location == idp.SSOURL
		}
		if !found {
			t.Errorf("metadata lacks SSO %s: %+v", idp.SSOURL, md.SSO)
		}
	})

	t.Run("many-groups-and-session", func(t *testing.T) {
		carol := user(idp, "carol")
		if len(carol.Groups) != idptest.ManyGroups {
			t.Fatalf("carol has %d groups", len(carol.Groups))
		}
		client := newClient()
		u := sp.authnRequestURL(t, idp, request{id: "_carol1", acs: sp.acs, nameIDFormat: idptest.NameIDPersistent})
		acs, resp, relay := idp.Login(t, client, u, carol.Username, carol.Password)
		w := want{opts: opts, user: carol, acs: sp.acs, inResponseTo: "_carol1", nameIDFormat: idptest.NameIDPersistent}
		checkResponse(t, idp, sp, w, acs, resp, relay)

		// The IdP session answers the second request without a form; a
		// wrong password would fail if the form were shown.
		u = sp.authnRequestURL(t, idp, request{id: "_carol2", relayState: "again", nameIDFormat: idptest.NameIDPersistent})
		acs, resp, relay = idp.Login(t, client, u, carol.Username, "not-asked-for")
		w.inResponseTo, w.relayState = "_carol2", "again"
		checkResponse(t, idp, sp, w, acs, resp, relay)
	})

	t.Run("email-nameid-and-no-groups", func(t *testing.T) {
		dave := user(idp, "dave")
		u := sp.authnRequestURL(t, idp, request{id: "_dave", nameIDFormat: idptest.NameIDEmail})
		acs, resp, relay := idp.Login(t, newClient(), u, dave.Username, dave.Password)
		checkResponse(t, idp, sp, want{opts: opts, user: dave, acs: sp.acs, inResponseTo: "_dave", nameIDFormat: idptest.NameIDEmail}, acs, resp, relay)
	})

	t.Run("non-ascii-default-nameid", func(t *testing.T) {
		// No NameIDPolicy: the SP's metadata names persistent.
		bjorn := user(idp, "bjorn")
		u := sp.authnRequestURL(t, idp, request{id: "_bjorn", acs: sp.acs})
		acs, resp, relay := idp.Login(t, newClient(), u, bjorn.Username, bjorn.Password)
		checkResponse(t, idp, sp, want{opts: opts, user: bjorn, acs: sp.acs, inResponseTo: "_bjorn", nameIDFormat: idptest.NameIDPersistent}, acs, resp, relay)
	})

	t.Run("passive-without-session", func(t *testing.T) {
		u := sp.authnRequestURL(t, idp, request{id: "_passive", acs: sp.acs, isPassive: true})
		p, err := idp.SignIn(newClient(), u, "", "")
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			InResponseTo string `xml:"InResponseTo,attr"`
			Codes        []struct {
				Value string `xml:"Value,attr"`
			} `xml:"Status>StatusCode>StatusCode"`
		}
		if err := xml.Unmarshal(unb64(t, p.SAMLResponse), &r); err != nil {
			t.Fatal(err)
		}
		if r.InResponseTo != "_passive" || len(r.Codes) != 1 || r.Codes[0].Value != "urn:oasis:names:tc:SAML:2.0:status:NoPassive" {
			t.Errorf("IsPassive without a session: %+v, want NoPassive", r)
		}
	})

	t.Run("wrong-password", func(t *testing.T) {
		alice := user(idp, "alice")
		u := sp.authnRequestURL(t, idp, request{id: "_wrong", acs: sp.acs})
		_, err := idp.SignIn(newClient(), u, alice.Username, "wrong")
		if !errors.Is(err, idptest.ErrLoginRefused) {
			t.Errorf("SignIn with a wrong password: %v, want ErrLoginRefused", err)
		}
	})

	t.Run("idp-initiated", func(t *testing.T) {
		alice := user(idp, "alice")
		acs, resp, relay := idp.IdPInitiated(t, newClient(), alice.Username, alice.Password)
		checkResponse(t, idp, sp, want{opts: opts, user: alice, acs: sp.acs, nameIDFormat: idptest.NameIDPersistent}, acs, resp, relay)
	})

	t.Run("sp-initiated-logout", func(t *testing.T) {
		alice := user(idp, "alice")
		client := newClient()
		u := sp.authnRequestURL(t, idp, request{id: "_before_logout", acs: sp.acs})
		acs, resp, relay := idp.Login(t, client, u, alice.Username, alice.Password)
		a := checkResponse(t, idp, sp, want{opts: opts, user: alice, acs: sp.acs, inResponseTo: "_before_logout", nameIDFormat: idptest.NameIDPersistent}, acs, resp, relay)

		// SAML Profiles 4.4.4.1: the LogoutRequest names the NameID and
		// session index the SP received.
		doc := fmt.Sprintf(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_logout1" Version="2.0" IssueInstant="%s" Destination="%s"><saml:Issuer>%s</saml:Issuer><saml:NameID Format="%s" SPNameQualifier="%s">%s</saml:NameID><samlp:SessionIndex>%s</samlp:SessionIndex></samlp:LogoutRequest>`,
			time.Now().UTC().Format("2006-01-02T15:04:05Z"), idp.SLOURL, sp.entityID, a.NameID.Format, a.NameID.SPNameQualifier, a.NameID.Value, a.Session.Index)
		next := idp.Follow(t, client, sp.redirect(t, idp.SLOURL, "SAMLRequest", doc, "bye", true))
		raw, relay := readRedirect(t, idp, next, sp.slo, "SAMLResponse")
		var lr logoutMessage
		if err := xml.Unmarshal(raw, &lr); err != nil {
			t.Fatal(err)
		}
		if lr.XMLName.Local != "LogoutResponse" || lr.InResponseTo != "_logout1" || lr.Destination != sp.slo ||
			strings.TrimSpace(lr.Issuer) != idp.EntityID || lr.StatusCode.Value != "urn:oasis:names:tc:SAML:2.0:status:Success" {
			t.Errorf("LogoutResponse: %+v\n%s", lr, raw)
		}
		if relay != "bye" {
			t.Errorf("RelayState = %q, want bye", relay)
		}
		// The IdP session is over: the login form is back.
		u = sp.authnRequestURL(t, idp, request{id: "_after_logout", acs: sp.acs})
		if _, err := idp.SignIn(client, u, alice.Username, "wrong"); !errors.Is(err, idptest.ErrLoginRefused) {
			t.Errorf("after logout, sign-in without the form: %v", err)
		}
	})

	t.Run("idp-initiated-logout", func(t *testing.T) {
		bjorn := user(idp, "bjorn")
		client := newClient()
		u := sp.authnRequestURL(t, idp, request{id: "_before_idp_logout", acs: sp.acs})
		acs, resp, relay := idp.Login(t, client, u, bjorn.Username, bjorn.Password)
		a := checkResponse(t, idp, sp, want{opts: opts, user: bjorn, acs: sp.acs, inResponseTo: "_before_idp_logout", nameIDFormat: idptest.NameIDPersistent}, acs, resp, relay)

		next := idp.Follow(t, client, idp.IdPInitiatedLogoutURL("https://glossa.example/signed-out"))
		raw, relay := readRedirect(t, idp, next, sp.slo, "SAMLRequest")
		var lr logoutMessage
		if err := xml.Unmarshal(raw, &lr); err != nil {
			t.Fatal(err)
		}
		if lr.XMLName.Local != "LogoutRequest" || lr.Destination != sp.slo || strings.TrimSpace(lr.Issuer) != idp.EntityID ||
			strings.TrimSpace(lr.NameID.Value) != strings.TrimSpace(a.NameID.Value) {
			t.Errorf("LogoutRequest: %+v\n%s", lr, raw)
		}
		doc := fmt.Sprintf(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_logoutresp1" Version="2.0" IssueInstant="%s" Destination="%s" InResponseTo="%s"><saml:Issuer>%s</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`,
			time.Now().UTC().Format("2006-01-02T15:04:05Z"), idp.SLOURL, lr.ID, sp.entityID)
		next = idp.Follow(t, client, sp.redirect(t, idp.SLOURL, "SAMLResponse", doc, relay, true))
		if next != "https://glossa.example/signed-out" {
			t.Errorf("after the LogoutResponse the IdP sends the browser to %s", next)
		}
	})

	t.Run("idp-initiated-relaystate", func(t *testing.T) {
		bjorn := user(idp, "bjorn")
		p, err := idp.SignIn(newClient(), idp.IdPInitiatedURL("/projects/7"), bjorn.Username, bjorn.Password)
		if err != nil {
			t.Fatal(err)
		}
		checkResponse(t, idp, sp, want{opts: opts, user: bjorn, acs: sp.acs, relayState: "/projects/7", nameIDFormat: idptest.NameIDPersistent}, p.ACS, p.SAMLResponse, p.RelayState)
	})
}

func TestSimpleSAMLphpFlows(t *testing.T) { testFlows(t, idptest.StartSimpleSAMLphp) }

func TestPySAML2Flows(t *testing.T) { testFlows(t, idptest.StartPySAML2) }

// An AssertionConsumerServiceURL that the SP's metadata does not list:
// SimpleSAMLphp answers at the registered ACS anyway, pysaml2 refuses.
func TestUnregisteredACS(t *testing.T) {
	sp := newSP(t)
	other := "https://elsewhere.example/acs"
	t.Run("simplesamlphp", func(t *testing.T) {
		idp := idptest.StartSimpleSAMLphp(t, idptest.SP{MetadataXML: sp.metadata}, idptest.Options{SignResponse: true})
		alice := user(idp, "alice")
		acs, _, _ := idp.Login(t, newClient(), sp.authnRequestURL(t, idp, request{id: "_x", acs: other}), alice.Username, alice.Password)
		if acs != sp.acs {
			t.Errorf("SimpleSAMLphp posts to %q, want the registered %q", acs, sp.acs)
		}
	})
	t.Run("pysaml2", func(t *testing.T) {
		idp := idptest.StartPySAML2(t, idptest.SP{MetadataXML: sp.metadata}, idptest.Options{SignResponse: true})
		alice := user(idp, "alice")
		if p, err := idp.SignIn(newClient(), sp.authnRequestURL(t, idp, request{id: "_x", acs: other}), alice.Username, alice.Password); err == nil {
			t.Errorf("pysaml2 answered an unregistered ACS: %+v", p.ACS)
		}
	})
}
