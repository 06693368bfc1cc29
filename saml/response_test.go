package saml_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/samlattack"
	"github.com/glossa-dev/glossa/saml"
)

// TestAcceptSigningShapes: every signing and encryption shape a real IdP
// uses is accepted, and the identity is read right.
func TestAcceptSigningShapes(t *testing.T) {
	tests := []struct {
		name                          string
		o                             samlattack.Options
		respSigned, assertSigned, enc bool
	}{
		{"response signed", samlattack.Options{SignResponse: true}, true, false, false},
		{"assertion signed", samlattack.Options{SignAssertion: true}, false, true, false},
		{"both signed", samlattack.Options{SignResponse: true, SignAssertion: true}, true, true, false},
		{"assertion signed, no KeyInfo", samlattack.Options{SignAssertion: true, NoKeyInfo: true}, false, true, false},
		{"response signed with RSA-SHA512", samlattack.Options{SignResponse: true, SignatureMethod: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"}, true, false, false},
		{"encrypted GCM, assertion signed", samlattack.Options{SignAssertion: true, Encrypt: "gcm"}, false, true, true},
		{"encrypted GCM, response signed", samlattack.Options{SignResponse: true, Encrypt: "gcm"}, true, false, true},
		{"encrypted GCM, both signed", samlattack.Options{SignResponse: true, SignAssertion: true, Encrypt: "gcm"}, true, true, true},
		{"encrypted CBC inside a signed response", samlattack.Options{SignResponse: true, Encrypt: "cbc"}, true, false, true},
		{"encrypted CBC, both signed", samlattack.Options{SignResponse: true, SignAssertion: true, Encrypt: "cbc"}, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			b64 := f.Build(tt.o)
			res, err := f.parse(b64)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			got := res.Identity
			want := &glossa.SAMLIdentity{
				IdPEntityID:  samlattack.IdPEntityID,
				NameID:       samlattack.Victim,
				NameIDFormat: saml.NameIDFormatEmail,
				SessionIndex: "_session-" + got.AssertionID,
				Email:        samlattack.Victim,
				FirstName:    "Alice",
				LastName:     "Liddell",
				Groups:       []string{"annotators", "reviewers"},
				Attributes: map[string][]string{
					"Email": {samlattack.Victim}, "FirstName": {"Alice"}, "LastName": {"Liddell"}, "Groups": {"annotators", "reviewers"},
				},
				AssertionID:  got.AssertionID,
				NotOnOrAfter: f.Now.Add(5 * time.Minute),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(got.AssertionID, "_a") {
				t.Errorf("AssertionID = %q", got.AssertionID)
			}
			if res.Raw != b64 || res.InResponseTo != samlattack.RequestID {
				t.Errorf("Raw kept = %v, InResponseTo = %q", res.Raw == b64, res.InResponseTo)
			}
			if res.ResponseSigned != tt.respSigned || res.AssertionSigned != tt.assertSigned || res.Encrypted != tt.enc {
				t.Errorf("signed/encrypted = %v/%v/%v, want %v/%v/%v", res.ResponseSigned, res.AssertionSigned, res.Encrypted, tt.respSigned, tt.assertSigned, tt.enc)
			}
		})
	}
}

// TestAcceptEdgeCases covers the must-accept list of the reference
// (saml-security.md §3), samlattack.ValidCases.
func TestAcceptEdgeCases(t *testing.T) {
	for _, v := range samlattack.ValidCases() {
		t.Run(v.Name, func(t *testing.T) {
			f := newFixture(t, v.Setup)
			res, err := f.parse(v.Make(f.Fixture))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if v.Check != nil {
				if err := v.Check(f.Fixture, res); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestReplayAcrossInstances: the second use of an assertion is refused, and
// a cache shared by two SPs (two Glossa processes) refuses it too.
func TestReplayAcrossInstances(t *testing.T) {
	f := newFixture(t, nil)
	g := newFixture(t, nil) // a second process with the same configuration
	b64 := f.Build(samlattack.Options{SignAssertion: true})
	shared := newMemoryReplay()
	if _, err := f.sp.ValidateResponse(context.Background(), b64, []string{samlattack.RequestID}, f.Now, shared); err != nil {
		t.Fatalf("first use rejected: %v", err)
	}
	_, err := g.sp.ValidateResponse(context.Background(), b64, []string{samlattack.RequestID}, g.Now, shared)
	if rejectCode(err) != saml.RejectReplay {
		t.Errorf("second use on another instance: %v, want replay", err)
	}
}

// TestConcurrentUse: one ServiceProvider serves many ACS requests at once
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, nil)
	var b64s []string
	for _, sh := range samlattack.Shapes() {
		b64s = append(b64s, f.Build(sh.Base), f.Build(sh.Base))
	}
	b64s = append(b64s, f.Build(samlattack.Options{SignResponse: true, Signer: f.Keys.Attacker, SignerCert: f.Keys.AttackerCert}))
	errs := make(chan error, len(b64s))
	for i, b := range b64s {
		go func() {
			_, err := f.parse(b)
			if i == len(b64s)-1 {
				if rejectCode(err) != saml.RejectSignature {
					err = fmt.Errorf("forged response: %v", err)
				} else {
					err = nil
				}
			}
			errs <- err
		}()
	}
	for range b64s {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestReplayCacheFailureFailsClosed: when the cache cannot answer, the
// response is refused.
func TestReplayCacheFailureFailsClosed(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.sp.ValidateResponse(context.Background(), f.Build(samlattack.Options{SignResponse: true}), []string{samlattack.RequestID}, f.Now, failingReplay{})
	if rejectCode(err) != saml.RejectInternal {
		t.Errorf("got %v, want internal", err)
	}
	_, err = f.sp.ValidateResponse(context.Background(), f.Build(samlattack.Options{SignResponse: true}), []string{samlattack.RequestID}, f.Now, nil)
	if rejectCode(err) != saml.RejectInternal {
		t.Errorf("nil cache: got %v, want internal", err)
	}
}

// TestParseResponseReturnsIdentity covers the short form.
func TestParseResponseReturnsIdentity(t *testing.T) {
	f := newFixture(t, nil)
	id, err := f.sp.ParseResponse(context.Background(), f.Build(samlattack.Options{SignResponse: true}), []string{"other", samlattack.RequestID}, f.Now, f.replay)
	if err != nil || id.NameID != samlattack.Victim {
		t.Fatalf("ParseResponse = %v, %v", id, err)
	}
	_, err = f.sp.ParseResponse(context.Background(), "!!", nil, f.Now, f.replay)
	if rejectCode(err) != saml.RejectMalformed {
		t.Errorf("garbage: %v", err)
	}
}

func rejectCode(err error) saml.RejectCode {
	var rj *saml.RejectError
	if errors.As(err, &rj) {
		return rj.Code
	}
	if err == nil {
		return ""
	}
	return "not-a-RejectError"
}

// TestAcceptPySAML2Prefixes: pysaml2 re-declares the prefixes ns0 and ns1
// inside the EncryptedData for other namespaces than on the Response
// (pysaml2Prefixes). That is plain XML namespace scoping, and
// crewjam/saml v0.5.2 mis-reads it; such responses are accepted, with the
// Response signed or not.
func TestAcceptPySAML2Prefixes(t *testing.T) {
	tests := []struct {
		name                          string
		o                             samlattack.Options
		respSigned, assertSigned, enc bool
	}{
		{"encrypted GCM, assertion signed", samlattack.Options{SignAssertion: true, Encrypt: "gcm"}, false, true, true},
		{"encrypted GCM, response signed", samlattack.Options{SignResponse: true, Encrypt: "gcm"}, true, false, true},
		{"encrypted GCM, both signed", samlattack.Options{SignResponse: true, SignAssertion: true, Encrypt: "gcm"}, true, true, true},
		{"encrypted CBC inside a signed response", samlattack.Options{SignResponse: true, Encrypt: "cbc"}, true, false, true},
		{"not encrypted, both signed", samlattack.Options{SignResponse: true, SignAssertion: true}, true, true, false},
		// An Assertion written on its own, as ns0: for a protocol ns0: Response.
		{"plaintext Assertion re-declaring ns0, assertion signed", samlattack.Options{SignAssertion: true, MutateAssertion: assertionAsNS0}, false, true, false},
		{"plaintext Assertion re-declaring ns0, both signed", samlattack.Options{SignResponse: true, SignAssertion: true, MutateAssertion: assertionAsNS0}, true, true, false},
		// crewjam drops this KeyInfo from its copy before asking for
		// verification; the original keeps it.
		{"encrypted GCM, response signed, RSAKeyValue instead of a certificate", samlattack.Options{SignResponse: true, Encrypt: "gcm", Post: func(doc *etree.Document) {
			ki := doc.Root().FindElement("./Signature/KeyInfo")
			for _, c := range ki.ChildElements() {
				ki.RemoveChild(c)
			}
			kv := ki.CreateElement("ns2:KeyValue").CreateElement("ns2:RSAKeyValue")
			kv.CreateElement("ns2:Modulus").SetText("AAAA")
			kv.CreateElement("ns2:Exponent").SetText("AQAB")
		}}, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			tt.o.PySAML2 = true
			raw := f.BuildXML(tt.o)
			if tt.enc && !bytes.Contains(raw, []byte(`<ns1:EncryptedAssertion><ns0:EncryptedData xmlns:ns0="http://www.w3.org/2001/04/xmlenc#" xmlns:ns1="http://www.w3.org/2000/09/xmldsig#"`)) {
				t.Fatalf("the fixture is not shaped like pysaml2's output:\n%s", raw)
			}
			res, err := f.parse(base64.StdEncoding.EncodeToString(raw))
			if err != nil {
				t.Fatalf("rejected: %v\n%s", err, raw)
			}
			if res.Identity.NameID != samlattack.Victim || res.Identity.Email != samlattack.Victim || len(res.Identity.Groups) != 2 {
				t.Errorf("identity = %+v", res.Identity)
			}
			if res.ResponseSigned != tt.respSigned || res.AssertionSigned != tt.assertSigned || res.Encrypted != tt.enc {
				t.Errorf("signed/encrypted = %v/%v/%v, want %v/%v/%v", res.ResponseSigned, res.AssertionSigned, res.Encrypted, tt.respSigned, tt.assertSigned, tt.enc)
			}
		})
	}
}

// TestPySAML2PrefixesRefused: the library reads a prefix view of such a
// response, but nothing is accepted on the view's word: the semantic
// attacks, and signatures that do not cover the bytes received, are refused
// as they are with other prefixes.
func TestPySAML2PrefixesRefused(t *testing.T) {
	type tc struct {
		name string
		o    func(f *fixture) samlattack.Options
		want saml.RejectCode
	}
	var cases []tc
	for _, sh := range []samlattack.Shape{
		{Name: "encrypted", Base: samlattack.Options{SignAssertion: true, Encrypt: "gcm"}},
		{Name: "encrypted-resp-signed", Base: samlattack.Options{SignResponse: true, Encrypt: "gcm"}},
	} {
		for _, s := range samlattack.SemanticAttacks() {
			cases = append(cases, tc{s.Name + " (pysaml2 " + sh.Name + ")", func(f *fixture) samlattack.Options {
				o := sh.Base
				o.PySAML2 = true
				s.Mod(f.Fixture, &o)
				return o
			}, s.Want})
		}
	}
	renameInner := func(doc *etree.Document) {
		// Same meaning, other bytes: ds instead of ns1 inside EncryptedData.
		ed := doc.Root().FindElement("./EncryptedAssertion/EncryptedData")
		walkElements(ed, func(el *etree.Element) {
			if el.Space == "ns1" {
				el.Space = "ds"
			}
		})
		ed.RemoveAttr("xmlns:ns1")
		ed.CreateAttr("xmlns:ds", samlattack.NSDSig)
	}
	cases = append(cases,
		tc{"inner prefixes renamed after the Response was signed", func(f *fixture) samlattack.Options {
			return samlattack.Options{PySAML2: true, SignResponse: true, Encrypt: "gcm", Post: renameInner}
		}, saml.RejectSignature},
		tc{"inner prefixes renamed after the Response was signed, assertion signed", func(f *fixture) samlattack.Options {
			return samlattack.Options{PySAML2: true, SignResponse: true, SignAssertion: true, Encrypt: "gcm", Post: renameInner}
		}, saml.RejectSignature},
		tc{"ciphertext changed after the Response was signed", func(f *fixture) samlattack.Options {
			return samlattack.Options{PySAML2: true, SignResponse: true, SignAssertion: true, Encrypt: "gcm", Post: func(doc *etree.Document) {
				cv := doc.Root().FindElement("./EncryptedAssertion/EncryptedData/CipherData/CipherValue")
				raw, _ := base64.StdEncoding.DecodeString(cv.Text())
				raw[len(raw)-1] ^= 1
				cv.SetText(base64.StdEncoding.EncodeToString(raw))
			}}
		}, saml.RejectSignature},
		tc{"Response signed by an attacker", func(f *fixture) samlattack.Options {
			return samlattack.Options{PySAML2: true, SignResponse: true, Encrypt: "gcm", Signer: f.Keys.Attacker, SignerCert: f.Keys.AttackerCert}
		}, saml.RejectSignature},
		tc{"encrypted Assertion signed by an attacker", func(f *fixture) samlattack.Options {
			return samlattack.Options{PySAML2: true, SignAssertion: true, Encrypt: "gcm", Signer: f.Keys.Attacker, SignerCert: f.Keys.AttackerCert}
		}, saml.RejectSignature},
		tc{"nothing signed", func(f *fixture) samlattack.Options {
			return samlattack.Options{PySAML2: true, Encrypt: "gcm"}
		}, saml.RejectSignature},
		tc{"CBC in an unsigned Response", func(f *fixture) samlattack.Options {
			return samlattack.Options{PySAML2: true, SignAssertion: true, Encrypt: "cbc"}
		}, saml.RejectEncryption},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			res, err := f.parse(f.Build(c.o(f)))
			if err == nil {
				t.Fatalf("ACCEPTED as %q (want %s)", res.Identity.NameID, c.want)
			}
			if got := rejectCode(err); got != c.want {
				t.Errorf("code %s, want %s: %v", got, c.want, err)
			}
		})
	}
}

// assertionAsNS0 writes the assertion namespace with the prefix ns0,
// declared on the Assertion.
func assertionAsNS0(a *etree.Element) {
	walkElements(a, func(el *etree.Element) {
		if el.Space == "saml" {
			el.Space = "ns0"
		}
	})
	a.RemoveAttr("xmlns:saml")
	a.CreateAttr("xmlns:ns0", samlattack.NSAssertion)
}

func walkElements(el *etree.Element, f func(*etree.Element)) {
	f(el)
	for _, c := range el.ChildElements() {
		walkElements(c, f)
	}
}
