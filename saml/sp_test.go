package saml_test

import (
	"bytes"
	"compress/flate"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"
	dsig "github.com/russellhaering/goxmldsig"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/samlattack"
	"github.com/glossa-dev/glossa/saml"
)

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// signedMetadata returns IdP metadata with an ID, signed by key/cert.
func signedMetadata(t testing.TB, f *fixture, mutate func(*etree.Element)) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(f.Keys.IdPMetadata(samlattack.IdPEntityID, f.Keys.IdPCert, f.Keys.IdP2Cert)); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	root.CreateAttr("ID", "_md1")
	signed := f.Sign(root, &samlattack.Options{Signer: f.Keys.IdP3, SignerCert: f.Keys.IdP3Cert})
	if mutate != nil {
		mutate(signed)
	}
	doc.SetRoot(signed)
	s, _ := doc.WriteToString()
	return s
}

func TestParseIdPMetadata(t *testing.T) {
	f := newFixture(t, nil)
	k := f.Keys
	md, err := saml.ParseIdPMetadata([]byte(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert, k.IdP2Cert, k.IdPCert)), "")
	if err != nil {
		t.Fatal(err)
	}
	got := []any{md.EntityID, len(md.SigningCerts), md.SigningCerts[0].Equal(k.IdPCert), md.SigningCerts[1].Equal(k.IdP2Cert),
		md.SSORedirectURL, md.SSOPostURL, md.SLORedirectURL, md.SLOResponseRedirectURL, md.WantAuthnRequestsSigned, md.Signed}
	want := []any{samlattack.IdPEntityID, 2, true, true, samlattack.IdPSSOURL, samlattack.IdPSSOURL, samlattack.IdPSLOURL, samlattack.IdPSLOURL, true, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}

	aggregate := `<md:EntitiesDescriptor xmlns:md="` + samlattack.NSMetadata + `" validUntil="2030-01-02T03:04:05Z" cacheDuration="PT6H">
<md:EntityDescriptor entityID="https://sp.example/"><md:SPSSODescriptor protocolSupportEnumeration="` + samlattack.NSProtocol + `"/></md:EntityDescriptor>` +
		strings.TrimPrefix(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), `<?xml version="1.0"?>`) + `</md:EntitiesDescriptor>`
	md, err = saml.ParseIdPMetadata([]byte(aggregate), "")
	if err != nil {
		t.Fatalf("aggregate with one IdP: %v", err)
	}
	if md.EntityID != samlattack.IdPEntityID || !md.ValidUntil.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) || md.CacheDuration != 6*time.Hour {
		t.Errorf("aggregate: %+v", md)
	}

	md, err = saml.ParseIdPMetadata([]byte(signedMetadata(t, f, nil)), certPEM(k.IdP3Cert))
	if err != nil {
		t.Fatalf("pinned and signed: %v", err)
	}
	if !md.Signed || len(md.SigningCerts) != 2 {
		t.Errorf("pinned: Signed=%v certs=%d", md.Signed, len(md.SigningCerts))
	}

	bad := []struct {
		name, xml, pin string
	}{
		{"DOCTYPE", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), ""},
		{"not metadata", `<html/>`, ""},
		{"two IdPs", `<md:EntitiesDescriptor xmlns:md="` + samlattack.NSMetadata + `">` +
			strings.TrimPrefix(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), `<?xml version="1.0"?>`) +
			strings.TrimPrefix(k.IdPMetadata("https://idp2.example", k.IdPCert), `<?xml version="1.0"?>`) + `</md:EntitiesDescriptor>`, ""},
		{"no signing certificate", k.IdPMetadata(samlattack.IdPEntityID), ""},
		{"javascript: SSO endpoint", strings.ReplaceAll(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), samlattack.IdPSSOURL, "javascript:alert(1)"), ""},
		{"data: SLO endpoint", strings.ReplaceAll(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), samlattack.IdPSLOURL, "data:text/html,x"), ""},
		{"relative SSO endpoint", strings.ReplaceAll(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), samlattack.IdPSSOURL, "/sso"), ""},
		{"no Redirect SSO endpoint", strings.Replace(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), "bindings:HTTP-Redirect\" Location=\""+samlattack.IdPSSOURL, "bindings:SOAP\" Location=\""+samlattack.IdPSSOURL, 1), ""},
		{"no entityID", strings.Replace(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), `entityID="`+samlattack.IdPEntityID+`"`, "", 1), ""},
		{"garbled certificate", strings.Replace(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), "<ds:X509Certificate>\n", "<ds:X509Certificate>\nAAAA", 1), ""},
		{"oversize", k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert) + strings.Repeat(" ", saml.MaxMetadataBytes), ""},
		{"pinned but unsigned", k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), certPEM(k.IdP3Cert)},
		{"pinned, signed by another key", signedMetadata(t, f, nil), certPEM(k.IdPCert)},
		{"pinned, a certificate added after signing", signedMetadata(t, f, func(ed *etree.Element) {
			kd := ed.FindElement("./IDPSSODescriptor/KeyDescriptor").Copy()
			kd.FindElement("./KeyInfo/X509Data/X509Certificate").SetText(base64.StdEncoding.EncodeToString(k.AttackerCert.Raw))
			ed.FindElement("./IDPSSODescriptor").InsertChildAt(0, kd)
		}), certPEM(k.IdP3Cert)},
		{"pinned, SHA-1 digest", signedMetadata(t, f, func(ed *etree.Element) {
			ed.FindElement("./Signature/SignedInfo/Reference/DigestMethod").CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")
		}), certPEM(k.IdP3Cert)},
		{"pin is not PEM", k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert), "not a certificate"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := saml.ParseIdPMetadata([]byte(tt.xml), tt.pin)
			if glossa.ErrorCode(err) != glossa.EINVALID {
				t.Fatalf("got %v, want EINVALID", err)
			}
			if msg := glossa.ErrorMessage(err); msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("message %q", msg)
			}
		})
	}
}

func TestNew(t *testing.T) {
	k := samlattack.MustKeys(t)
	good := func() (*glossa.SAMLConnection, saml.Keys, *url.URL, string) {
		u, _ := url.Parse(samlattack.DefaultBaseURL + "/")
		return &glossa.SAMLConnection{MetadataXML: k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert)},
			saml.Keys{Signing: []saml.KeyPair{k.SPSign}, Encryption: []saml.KeyPair{k.SPEnc}}, u, samlattack.DefaultOrg
	}
	c, ks, u, slug := good()
	sp, err := saml.New(c, ks, u, slug)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{sp.EntityID(), sp.ACSURL(), sp.SLOURL(), sp.IdP().EntityID}; !cmp.Equal(got, []string{spEntityID, spACS, spSLO, samlattack.IdPEntityID}) {
		t.Errorf("endpoints %v", got)
	}
	bad := []struct {
		name string
		mod  func(c *glossa.SAMLConnection, ks *saml.Keys, u **url.URL, slug *string)
	}{
		{"nil connection", func(c *glossa.SAMLConnection, _ *saml.Keys, _ **url.URL, _ *string) { *c = glossa.SAMLConnection{} }},
		{"bad slug", func(_ *glossa.SAMLConnection, _ *saml.Keys, _ **url.URL, s *string) { *s = "Not A Slug" }},
		{"relative base URL", func(_ *glossa.SAMLConnection, _ *saml.Keys, u **url.URL, _ *string) { *u, _ = url.Parse("/glossa") }},
		{"base URL with a query", func(_ *glossa.SAMLConnection, _ *saml.Keys, u **url.URL, _ *string) {
			*u, _ = url.Parse(samlattack.DefaultBaseURL + "?x=1")
		}},
		{"ftp base URL", func(_ *glossa.SAMLConnection, _ *saml.Keys, u **url.URL, _ *string) {
			*u, _ = url.Parse("ftp://glossa.example.com")
		}},
		{"no signing key", func(_ *glossa.SAMLConnection, ks *saml.Keys, _ **url.URL, _ *string) { ks.Signing = nil }},
		{"key and certificate do not match", func(_ *glossa.SAMLConnection, ks *saml.Keys, _ **url.URL, _ *string) {
			ks.Signing = []saml.KeyPair{{Key: k.SPSign.Key, Certificate: k.SPEnc.Certificate}}
		}},
		{"negative clock skew", func(c *glossa.SAMLConnection, _ *saml.Keys, _ **url.URL, _ *string) { c.ClockSkew = -time.Second }},
		{"clock skew above the library's", func(c *glossa.SAMLConnection, _ *saml.Keys, _ **url.URL, _ *string) { c.ClockSkew = 10 * time.Minute }},
		{"bad metadata", func(c *glossa.SAMLConnection, _ *saml.Keys, _ **url.URL, _ *string) { c.MetadataXML = "<x/>" }},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c, ks, u, slug := good()
			tt.mod(c, &ks, &u, &slug)
			if tt.name == "nil connection" {
				c = nil
			}
			_, err := saml.New(c, ks, u, slug)
			if glossa.ErrorCode(err) != glossa.EINVALID {
				t.Errorf("got %v, want EINVALID", err)
			}
		})
	}
}

func TestSPMetadata(t *testing.T) {
	for _, signReq := range []bool{true, false} {
		f := newFixture(t, func(idp *samlattack.Fixture, c *glossa.SAMLConnection, k *saml.Keys) {
			c.SignAuthnRequests = signReq
			k.Encryption = []saml.KeyPair{idp.Keys.SPEnc, idp.Keys.SPEncOld}
		})
		b, err := f.sp.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(b); err != nil {
			t.Fatal(err)
		}
		ed := doc.Root()
		sso := ed.SelectElement("SPSSODescriptor")
		var uses []string
		var certs []string
		for _, kd := range sso.SelectElements("KeyDescriptor") {
			uses = append(uses, kd.SelectAttrValue("use", ""))
			certs = append(certs, kd.FindElement("./KeyInfo/X509Data/X509Certificate").Text())
		}
		b64 := func(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }
		got := []any{
			ed.SelectAttrValue("entityID", ""),
			sso.SelectAttrValue("AuthnRequestsSigned", ""), sso.SelectAttrValue("WantAssertionsSigned", ""),
			uses, certs,
			sso.FindElement("./AssertionConsumerService").SelectAttrValue("Location", ""),
			sso.FindElement("./AssertionConsumerService").SelectAttrValue("Binding", ""),
			len(sso.SelectElements("SingleLogoutService")),
			sso.FindElement("./SingleLogoutService").SelectAttrValue("Location", ""),
			sso.FindElement("./KeyDescriptor[@use='encryption']/EncryptionMethod").SelectAttrValue("Algorithm", ""),
		}
		want := []any{
			spEntityID,
			map[bool]string{true: "true", false: "false"}[signReq], "true",
			[]string{"signing", "encryption", "encryption"},
			[]string{b64(f.Keys.SPSign.Certificate), b64(f.Keys.SPEnc.Certificate), b64(f.Keys.SPEncOld.Certificate)},
			spACS, saml.BindingHTTPPost, 2, spSLO,
			"http://www.w3.org/2009/xmlenc11#aes256-gcm",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("SP metadata, sign=%v (-want +got):\n%s", signReq, diff)
		}
		for _, nf := range sso.SelectElements("NameIDFormat") {
			if nf.Text() == saml.NameIDFormatTransient {
				t.Error("metadata offers the transient NameID format")
			}
		}
	}
}

// decodeRedirect inflates the message of an HTTP-Redirect URL and returns
// it with the query.
func decodeRedirect(t *testing.T, raw, param string) (*etree.Element, url.Values, *url.URL) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	b, err := base64.StdEncoding.DecodeString(q.Get(param))
	if err != nil {
		t.Fatal(err)
	}
	x, err := io.ReadAll(flate.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(x); err != nil {
		t.Fatal(err)
	}
	return doc.Root(), q, u
}

// verifyRedirectSignature checks the query signature of SAML bindings
// §3.4.4.1 as an IdP would, over the encoded values as sent.
func verifyRedirectSignature(t *testing.T, u *url.URL, param string, cert *x509.Certificate) error {
	t.Helper()
	vals := map[string]string{}
	for _, p := range strings.Split(u.RawQuery, "&") {
		k, v, _ := strings.Cut(p, "=")
		vals[k] = v
	}
	signed := param + "=" + vals[param]
	if rs, ok := vals["RelayState"]; ok {
		signed += "&RelayState=" + rs
	}
	signed += "&SigAlg=" + vals["SigAlg"]
	sig, err := url.QueryUnescape(vals["Signature"])
	if err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return err
	}
	return cert.CheckSignature(x509.SHA256WithRSA, []byte(signed), raw)
}

func TestAuthnRequestURL(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	raw, id, err := f.sp.AuthnRequestURL("h4nDl3_x-.~", now)
	if err != nil {
		t.Fatal(err)
	}
	req, q, u := decodeRedirect(t, raw, "SAMLRequest")
	got := []any{
		u.Scheme + "://" + u.Host + u.Path,
		req.Tag, req.SelectAttrValue("ID", ""), req.SelectAttrValue("Destination", ""),
		req.SelectAttrValue("AssertionConsumerServiceURL", ""), req.SelectAttrValue("ProtocolBinding", ""),
		req.SelectAttrValue("IssueInstant", ""), req.SelectElement("Issuer").Text(),
		req.SelectElement("NameIDPolicy").SelectAttr("Format") == nil, req.SelectElement("NameIDPolicy").SelectAttrValue("AllowCreate", ""),
		req.SelectElement("Signature") == nil,
		q.Get("RelayState"), q.Get("SigAlg"),
	}
	want := []any{
		samlattack.IdPSSOURL, "AuthnRequest", id, samlattack.IdPSSOURL, spACS, saml.BindingHTTPPost,
		"2026-11-28T10:00:00Z", spEntityID, true, "true", true,
		"h4nDl3_x-.~", dsig.RSASHA256SignatureMethod,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AuthnRequest (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(id, "id-") || len(id) < 40 {
		t.Errorf("request ID %q", id)
	}
	if err := verifyRedirectSignature(t, u, "SAMLRequest", f.Keys.SPSign.Certificate); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if err := verifyRedirectSignature(t, u, "SAMLRequest", f.Keys.SPEnc.Certificate); err == nil {
		t.Error("signature verifies with the wrong certificate")
	}
	_, id2, _ := f.sp.AuthnRequestURL("", now)
	if id2 == id {
		t.Error("request IDs repeat")
	}

	// Unsigned when the connection says so.
	g := newFixture(t, func(_ *samlattack.Fixture, c *glossa.SAMLConnection, _ *saml.Keys) { c.SignAuthnRequests = false })
	raw, _, err = g.sp.AuthnRequestURL("", now)
	if err != nil {
		t.Fatal(err)
	}
	_, q, _ = decodeRedirect(t, raw, "SAMLRequest")
	if q.Has("Signature") || q.Has("SigAlg") || q.Has("RelayState") {
		t.Errorf("unsigned request carries %v", q)
	}

	// An IdP URL with its own query (Google's ?idpid=): kept, and outside
	// the signed part.
	h := newFixture(t, func(_ *samlattack.Fixture, c *glossa.SAMLConnection, _ *saml.Keys) {
		c.MetadataXML = strings.ReplaceAll(c.MetadataXML, samlattack.IdPSSOURL, samlattack.IdPSSOURL+"?idpid=C0abc")
	})
	raw, _, err = h.sp.AuthnRequestURL("rs", now)
	if err != nil {
		t.Fatal(err)
	}
	_, q, u = decodeRedirect(t, raw, "SAMLRequest")
	if q.Get("idpid") != "C0abc" || !strings.HasPrefix(u.RawQuery, "idpid=C0abc&SAMLRequest=") {
		t.Errorf("IdP query lost: %s", u.RawQuery)
	}
	if err := verifyRedirectSignature(t, u, "SAMLRequest", h.Keys.SPSign.Certificate); err != nil {
		t.Errorf("signature with an IdP query: %v", err)
	}

	for _, rs := range []string{"https://evil.example/", "a&SigAlg=x", strings.Repeat("a", 81), "é"} {
		if _, _, err := f.sp.AuthnRequestURL(rs, now); err == nil {
			t.Errorf("RelayState %q accepted", rs)
		}
	}
}

func TestKeyPairs(t *testing.T) {
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	kp, err := saml.GenerateKeyPair(spEntityID, now)
	if err != nil {
		t.Fatal(err)
	}
	c := kp.Certificate
	got := []any{c.Subject.CommonName, c.NotBefore, c.NotAfter.After(now.Add(9 * 365 * 24 * time.Hour)), c.PublicKey.(interface{ Size() int }).Size() * 8}
	want := []any{spEntityID[:min(64, len(spEntityID))], now.Add(-time.Hour), true, saml.KeyBits}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("generated (-want +got):\n%s", diff)
	}
	keyPEM, crtPEM, err := kp.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := saml.ParseKeyPair(keyPEM, crtPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Certificate.Equal(c) {
		t.Error("certificate changed in the round trip")
	}
	// The generated pair works as an SP key.
	u, _ := url.Parse(samlattack.DefaultBaseURL)
	if _, err := saml.New(&glossa.SAMLConnection{MetadataXML: samlattack.MustKeys(t).IdPMetadata(samlattack.IdPEntityID, samlattack.MustKeys(t).IdPCert)},
		saml.Keys{Signing: []saml.KeyPair{back}, Encryption: []saml.KeyPair{back}}, u, samlattack.DefaultOrg); err != nil {
		t.Errorf("New with a generated pair: %v", err)
	}
	other, _, _ := samlattack.MustKeys(t).SPEnc.MarshalPEM()
	if _, err := saml.ParseKeyPair(other, crtPEM); err == nil {
		t.Error("mismatched key and certificate accepted")
	}
	if _, err := saml.ParseKeyPair([]byte("junk"), crtPEM); err == nil {
		t.Error("junk key accepted")
	}
	if _, err := saml.ParseKeyPair(keyPEM, []byte("junk")); err == nil {
		t.Error("junk certificate accepted")
	}
	if _, _, err := (saml.KeyPair{}).MarshalPEM(); err == nil {
		t.Error("empty pair marshalled")
	}
}

func TestRejectError(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.parse("###")
	var rj *saml.RejectError
	if !errors.As(err, &rj) || !strings.Contains(err.Error(), string(saml.RejectMalformed)) || rj.Unwrap() == nil {
		t.Errorf("RejectError %v", err)
	}
}
