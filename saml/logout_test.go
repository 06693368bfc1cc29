package saml_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
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

// logoutXML builds a LogoutRequest or LogoutResponse from the IdP.
func (f *fixture) logoutXML(tag string, mod func(*etree.Element)) *etree.Element {
	el := etree.NewElement("samlp:" + tag)
	el.CreateAttr("xmlns:samlp", samlattack.NSProtocol)
	el.CreateAttr("xmlns:saml", samlattack.NSAssertion)
	el.CreateAttr("ID", samlattack.NewID("l"))
	el.CreateAttr("Version", "2.0")
	el.CreateAttr("IssueInstant", samlattack.FormatTime(f.Now))
	el.CreateAttr("Destination", spSLO)
	el.CreateElement("saml:Issuer").SetText(samlattack.IdPEntityID)
	if tag == "LogoutRequest" {
		el.CreateAttr("NotOnOrAfter", samlattack.FormatTime(f.Now.Add(2*time.Minute)))
		n := el.CreateElement("saml:NameID")
		n.CreateAttr("Format", saml.NameIDFormatEmail)
		n.SetText(samlattack.Victim)
		el.CreateElement("samlp:SessionIndex").SetText("_session-1")
	} else {
		el.CreateAttr("InResponseTo", "id-logout-1")
		el.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Success")
	}
	if mod != nil {
		mod(el)
	}
	return el
}

func xmlBytes(el *etree.Element) []byte {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, _ := doc.WriteToBytes()
	return b
}

type logoutCase struct {
	name string
	msg  func(t *testing.T, f *fixture) saml.LogoutMessage
	want saml.RejectCode // "" to accept
}

func redirectMsg(tag string, mod func(*etree.Element), relayState string, signer func(f *fixture) (*rsa.PrivateKey, string)) func(t *testing.T, f *fixture) saml.LogoutMessage {
	return func(t *testing.T, f *fixture) saml.LogoutMessage {
		param := map[string]string{"LogoutRequest": "SAMLRequest", "LogoutResponse": "SAMLResponse"}[tag]
		key, alg := f.Keys.IdP, dsig.RSASHA256SignatureMethod
		if signer != nil {
			key, alg = signer(f)
		}
		return saml.LogoutMessage{RawQuery: signRedirect(t, param, xmlBytes(f.logoutXML(tag, mod)), relayState, key, alg)}
	}
}

func postMsg(tag string, mod func(*etree.Element), sign bool, o samlattack.Options) func(t *testing.T, f *fixture) saml.LogoutMessage {
	return func(t *testing.T, f *fixture) saml.LogoutMessage {
		el := f.logoutXML(tag, mod)
		if sign {
			el = f.Sign(el, &o)
		}
		return saml.LogoutMessage{Form: base64.StdEncoding.EncodeToString(xmlBytes(el))}
	}
}

func TestParseLogoutRequest(t *testing.T) {
	attacker := func(f *fixture) (*rsa.PrivateKey, string) { return f.Keys.Attacker, dsig.RSASHA256SignatureMethod }
	tests := []logoutCase{
		{"Redirect, signed", redirectMsg("LogoutRequest", nil, "", nil), ""},
		{"Redirect, signed, with RelayState", redirectMsg("LogoutRequest", nil, "rs-1", nil), ""},
		{"POST, signed", postMsg("LogoutRequest", nil, true, samlattack.Options{}), ""},
		{"Redirect, unsigned (GO-2026-4764)", func(t *testing.T, f *fixture) saml.LogoutMessage {
			return saml.LogoutMessage{RawQuery: signRedirect(t, "SAMLRequest", xmlBytes(f.logoutXML("LogoutRequest", nil)), "", nil, "")}
		}, saml.RejectSignature},
		{"Redirect, signed by an attacker", redirectMsg("LogoutRequest", nil, "", attacker), saml.RejectSignature},
		{"Redirect, RSA-SHA1", func(t *testing.T, f *fixture) saml.LogoutMessage {
			return saml.LogoutMessage{RawQuery: signRedirect(t, "SAMLRequest", xmlBytes(f.logoutXML("LogoutRequest", nil)), "", f.Keys.IdP, dsig.RSASHA1SignatureMethod)}
		}, saml.RejectAlgorithm},
		{"Redirect, RelayState changed after signing", func(t *testing.T, f *fixture) saml.LogoutMessage {
			q := signRedirect(t, "SAMLRequest", xmlBytes(f.logoutXML("LogoutRequest", nil)), "good", f.Keys.IdP, dsig.RSASHA256SignatureMethod)
			return saml.LogoutMessage{RawQuery: strings.Replace(q, "RelayState=good", "RelayState=evil", 1)}
		}, saml.RejectSignature},
		{"Redirect, message swapped after signing", func(t *testing.T, f *fixture) saml.LogoutMessage {
			q := signRedirect(t, "SAMLRequest", xmlBytes(f.logoutXML("LogoutRequest", nil)), "", f.Keys.IdP, dsig.RSASHA256SignatureMethod)
			other := signRedirect(t, "SAMLRequest", xmlBytes(f.logoutXML("LogoutRequest", func(el *etree.Element) {
				el.SelectElement("NameID").SetText(samlattack.Evil)
			})), "", nil, "")
			_, sig, _ := strings.Cut(q, "&SigAlg=")
			return saml.LogoutMessage{RawQuery: other + "&SigAlg=" + sig}
		}, saml.RejectSignature},
		{"Redirect, SAMLRequest twice", func(t *testing.T, f *fixture) saml.LogoutMessage {
			q := signRedirect(t, "SAMLRequest", xmlBytes(f.logoutXML("LogoutRequest", nil)), "", f.Keys.IdP, dsig.RSASHA256SignatureMethod)
			return saml.LogoutMessage{RawQuery: q + "&SAMLRequest=x"}
		}, saml.RejectMalformed},
		{"Redirect, inflate bomb", func(t *testing.T, f *fixture) saml.LogoutMessage {
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, flate.BestCompression)
			w.Write([]byte("<a>"))
			w.Write(make([]byte, 10<<20))
			w.Close()
			return saml.LogoutMessage{RawQuery: signRedirectRaw(t, "SAMLRequest", buf.Bytes(), f)}
		}, saml.RejectTooLarge},
		{"Redirect, DOCTYPE", func(t *testing.T, f *fixture) saml.LogoutMessage {
			b := append([]byte(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>`), xmlBytes(f.logoutXML("LogoutRequest", nil))...)
			return saml.LogoutMessage{RawQuery: signRedirect(t, "SAMLRequest", b, "", f.Keys.IdP, dsig.RSASHA256SignatureMethod)}
		}, saml.RejectDoctype},
		{"wrong Destination", redirectMsg("LogoutRequest", func(el *etree.Element) { el.CreateAttr("Destination", samlattack.DefaultBaseURL+"/saml/other/slo") }, "", nil), saml.RejectDestination},
		{"wrong Issuer", redirectMsg("LogoutRequest", func(el *etree.Element) { el.SelectElement("Issuer").SetText("https://evil.example/") }, "", nil), saml.RejectIssuer},
		{"no Issuer", redirectMsg("LogoutRequest", func(el *etree.Element) { el.RemoveChild(el.SelectElement("Issuer")) }, "", nil), saml.RejectIssuer},
		{"expired NotOnOrAfter", redirectMsg("LogoutRequest", func(el *etree.Element) {
			el.CreateAttr("NotOnOrAfter", samlattack.FormatTime(time.Now().Add(-time.Hour)))
		}, "", nil), saml.RejectTime},
		{"old IssueInstant", redirectMsg("LogoutRequest", func(el *etree.Element) {
			el.CreateAttr("IssueInstant", samlattack.FormatTime(time.Now().Add(-time.Hour)))
		}, "", nil), saml.RejectTime},
		{"no NameID", redirectMsg("LogoutRequest", func(el *etree.Element) { el.RemoveChild(el.SelectElement("NameID")) }, "", nil), saml.RejectSubject},
		{"EncryptedID", redirectMsg("LogoutRequest", func(el *etree.Element) { el.CreateElement("saml:EncryptedID") }, "", nil), saml.RejectSubject},
		{"a LogoutResponse where a request is expected", redirectMsg("LogoutResponse", nil, "", nil), saml.RejectMalformed},
		{"POST, unsigned", postMsg("LogoutRequest", nil, false, samlattack.Options{}), saml.RejectSignature},
		{"POST, signed by an attacker", postMsg("LogoutRequest", nil, true, samlattack.Options{Signer: samlattack.MustKeys(t).Attacker, SignerCert: samlattack.MustKeys(t).AttackerCert}), saml.RejectSignature},
		{"POST, SHA-1", postMsg("LogoutRequest", nil, true, samlattack.Options{SignatureMethod: dsig.RSASHA1SignatureMethod, Hash: 3}), saml.RejectAlgorithm},
		{"POST, NameID changed after signing", func(t *testing.T, f *fixture) saml.LogoutMessage {
			el := f.Sign(f.logoutXML("LogoutRequest", nil), &samlattack.Options{})
			el.SelectElement("NameID").SetText(samlattack.Evil)
			return saml.LogoutMessage{Form: base64.StdEncoding.EncodeToString(xmlBytes(el))}
		}, saml.RejectSignature},
		{"POST, signature inside Extensions", func(t *testing.T, f *fixture) saml.LogoutMessage {
			el := f.Sign(f.logoutXML("LogoutRequest", nil), &samlattack.Options{})
			sig := el.SelectElement("Signature")
			el.RemoveChild(sig)
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(sig)
			el.InsertChildAt(1, ext)
			return saml.LogoutMessage{Form: base64.StdEncoding.EncodeToString(xmlBytes(el))}
		}, saml.RejectStructure},
		{"both bindings at once", func(t *testing.T, f *fixture) saml.LogoutMessage {
			return saml.LogoutMessage{RawQuery: "SAMLRequest=x", Form: "x"}
		}, saml.RejectMalformed},
		{"neither binding", func(t *testing.T, f *fixture) saml.LogoutMessage { return saml.LogoutMessage{} }, saml.RejectMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			req, err := f.sp.ParseLogoutRequest(context.Background(), tt.msg(t, f), f.Now, f.replay)
			if tt.want != "" {
				if rejectCode(err) != tt.want {
					t.Fatalf("got %v, want %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			wantRS := ""
			if strings.Contains(tt.name, "RelayState") {
				wantRS = "rs-1"
			}
			got := []any{req.NameID, req.NameIDFormat, req.SessionIndexes, req.RelayState, strings.HasPrefix(req.ID, "_l")}
			if diff := cmp.Diff([]any{samlattack.Victim, saml.NameIDFormatEmail, []string{"_session-1"}, wantRS, true}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
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

// signRedirectRaw signs an already deflated message.
func signRedirectRaw(t *testing.T, param string, deflated []byte, f *fixture) string {
	t.Helper()
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflated))
	return signQuery(t, q, f.Keys.IdP, dsig.RSASHA256SignatureMethod)
}

func TestLogoutReplay(t *testing.T) {
	f := newFixture(t, nil)
	msg := redirectMsg("LogoutRequest", nil, "", nil)(t, f)
	if _, err := f.sp.ParseLogoutRequest(context.Background(), msg, f.Now, f.replay); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sp.ParseLogoutRequest(context.Background(), msg, f.Now, f.replay); rejectCode(err) != saml.RejectReplay {
		t.Errorf("second use: %v", err)
	}
	if _, err := f.sp.ParseLogoutRequest(context.Background(), redirectMsg("LogoutRequest", nil, "", nil)(t, f), f.Now, failingReplay{}); rejectCode(err) != saml.RejectInternal {
		t.Errorf("failing cache: %v", err)
	}
}

func TestParseLogoutResponse(t *testing.T) {
	tests := []logoutCase{
		{"Redirect, signed", redirectMsg("LogoutResponse", nil, "rs", nil), ""},
		{"POST, signed", postMsg("LogoutResponse", nil, true, samlattack.Options{}), ""},
		{"unsigned", func(t *testing.T, f *fixture) saml.LogoutMessage {
			return saml.LogoutMessage{RawQuery: signRedirect(t, "SAMLResponse", xmlBytes(f.logoutXML("LogoutResponse", nil)), "", nil, "")}
		}, saml.RejectSignature},
		{"InResponseTo unknown", redirectMsg("LogoutResponse", func(el *etree.Element) { el.CreateAttr("InResponseTo", "id-other") }, "", nil), saml.RejectInResponseTo},
		{"InResponseTo missing", redirectMsg("LogoutResponse", func(el *etree.Element) { el.RemoveAttr("InResponseTo") }, "", nil), saml.RejectUnsolicited},
		{"status Requester", redirectMsg("LogoutResponse", func(el *etree.Element) {
			el.FindElement("./Status/StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Requester")
		}, "", nil), saml.RejectStatus},
		{"wrong Destination", redirectMsg("LogoutResponse", func(el *etree.Element) { el.CreateAttr("Destination", spACS) }, "", nil), saml.RejectDestination},
		{"a LogoutRequest where a response is expected", func(t *testing.T, f *fixture) saml.LogoutMessage {
			return saml.LogoutMessage{RawQuery: signRedirect(t, "SAMLResponse", xmlBytes(f.logoutXML("LogoutRequest", nil)), "", f.Keys.IdP, dsig.RSASHA256SignatureMethod)}
		}, saml.RejectMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			res, err := f.sp.ParseLogoutResponse(context.Background(), tt.msg(t, f), []string{"", "id-logout-1"}, f.Now, f.replay)
			if tt.want != "" {
				if rejectCode(err) != tt.want {
					t.Fatalf("got %v, want %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if res.InResponseTo != "id-logout-1" {
				t.Errorf("InResponseTo = %q", res.InResponseTo)
			}
		})
	}
}

func TestLogoutURLs(t *testing.T) {
	f := newFixture(t, nil)
	raw, id, err := f.sp.LogoutRequestURL(samlattack.Victim, saml.NameIDFormatEmail, "_session-1", "rs", f.Now)
	if err != nil {
		t.Fatal(err)
	}
	req, q, u := decodeRedirect(t, raw, "SAMLRequest")
	got := []any{u.Scheme + "://" + u.Host + u.Path, req.Tag, req.SelectAttrValue("ID", ""), req.SelectAttrValue("Destination", ""),
		req.SelectElement("Issuer").Text(), req.SelectElement("NameID").Text(), req.SelectElement("NameID").SelectAttrValue("Format", ""),
		req.SelectElement("SessionIndex").Text(), q.Get("RelayState"), q.Get("SigAlg")}
	want := []any{samlattack.IdPSLOURL, "LogoutRequest", id, samlattack.IdPSLOURL, spEntityID, samlattack.Victim, saml.NameIDFormatEmail, "_session-1", "rs", dsig.RSASHA256SignatureMethod}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LogoutRequest (-want +got):\n%s", diff)
	}
	if err := verifyRedirectSignature(t, u, "SAMLRequest", f.Keys.SPSign.Certificate); err != nil {
		t.Errorf("LogoutRequest signature: %v", err)
	}

	raw, err = f.sp.LogoutResponseURL("_l123", "", f.Now)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, u := decodeRedirect(t, raw, "SAMLResponse")
	if resp.SelectAttrValue("InResponseTo", "") != "_l123" || resp.FindElement("./Status/StatusCode").SelectAttrValue("Value", "") != "urn:oasis:names:tc:SAML:2.0:status:Success" {
		t.Errorf("LogoutResponse %v", resp)
	}
	if err := verifyRedirectSignature(t, u, "SAMLResponse", f.Keys.SPSign.Certificate); err != nil {
		t.Errorf("LogoutResponse signature: %v", err)
	}

	if _, _, err := f.sp.LogoutRequestURL("", "", "", "", f.Now); err == nil {
		t.Error("LogoutRequest without NameID")
	}
	g := newFixture(t, func(_ *samlattack.Fixture, c *glossa.SAMLConnection, _ *saml.Keys) {
		c.MetadataXML = strings.Replace(c.MetadataXML, `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="`+samlattack.IdPSLOURL+`"/>`, "", 1)
	})
	if _, _, err := g.sp.LogoutRequestURL(samlattack.Victim, "", "", "", g.Now); err == nil {
		t.Error("LogoutRequest without an IdP SLO endpoint")
	}
	if _, err := g.sp.LogoutResponseURL("x", "", g.Now); err == nil {
		t.Error("LogoutResponse without an IdP SLO endpoint")
	}
}
