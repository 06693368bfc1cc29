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
	"github.com/glossa-dev/glossa/saml"
)

// TestAcceptSigningShapes: every signing and encryption shape a real IdP
// uses is accepted, and the identity is read right.
func TestAcceptSigningShapes(t *testing.T) {
	tests := []struct {
		name                          string
		o                             opts
		respSigned, assertSigned, enc bool
	}{
		{"response signed", opts{signResponse: true}, true, false, false},
		{"assertion signed", opts{signAssertion: true}, false, true, false},
		{"both signed", opts{signResponse: true, signAssertion: true}, true, true, false},
		{"assertion signed, no KeyInfo", opts{signAssertion: true, noKeyInfo: true}, false, true, false},
		{"response signed with RSA-SHA512", opts{signResponse: true, sigMethod: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"}, true, false, false},
		{"encrypted GCM, assertion signed", opts{signAssertion: true, encrypt: "gcm"}, false, true, true},
		{"encrypted GCM, response signed", opts{signResponse: true, encrypt: "gcm"}, true, false, true},
		{"encrypted GCM, both signed", opts{signResponse: true, signAssertion: true, encrypt: "gcm"}, true, true, true},
		{"encrypted CBC inside a signed response", opts{signResponse: true, encrypt: "cbc"}, true, false, true},
		{"encrypted CBC, both signed", opts{signResponse: true, signAssertion: true, encrypt: "cbc"}, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			b64 := f.build(tt.o)
			res, err := f.parse(b64)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			got := res.Identity
			want := &glossa.SAMLIdentity{
				IdPEntityID:  idpEntityID,
				NameID:       victim,
				NameIDFormat: saml.NameIDFormatEmail,
				SessionIndex: "_session-" + got.AssertionID,
				Email:        victim,
				FirstName:    "Alice",
				LastName:     "Liddell",
				Groups:       []string{"annotators", "reviewers"},
				Attributes: map[string][]string{
					"Email": {victim}, "FirstName": {"Alice"}, "LastName": {"Liddell"}, "Groups": {"annotators", "reviewers"},
				},
				AssertionID:  got.AssertionID,
				NotOnOrAfter: f.now.Add(5 * time.Minute),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(got.AssertionID, "_a") {
				t.Errorf("AssertionID = %q", got.AssertionID)
			}
			if res.Raw != b64 || res.InResponseTo != requestID {
				t.Errorf("Raw kept = %v, InResponseTo = %q", res.Raw == b64, res.InResponseTo)
			}
			if res.ResponseSigned != tt.respSigned || res.AssertionSigned != tt.assertSigned || res.Encrypted != tt.enc {
				t.Errorf("signed/encrypted = %v/%v/%v, want %v/%v/%v", res.ResponseSigned, res.AssertionSigned, res.Encrypted, tt.respSigned, tt.assertSigned, tt.enc)
			}
		})
	}
}

// TestAcceptEdgeCases covers the must-accept list of the reference
// (saml-security.md §3).
func TestAcceptEdgeCases(t *testing.T) {
	type check func(t *testing.T, f *fixture, res *saml.Response)
	manyGroups := make([]string, 900)
	for i := range manyGroups {
		manyGroups[i] = fmt.Sprintf("group-%04d-with-a-realistic-name", i)
	}
	tests := []struct {
		name  string
		mod   func(*glossa.SAMLConnection, *saml.Keys)
		o     func(f *fixture) opts
		check check
	}{
		{
			name: "key rollover: two certs, signed by the second with KeyInfo",
			mod: func(c *glossa.SAMLConnection, _ *saml.Keys) {
				c.MetadataXML = idpMetadata(idpEntityID, keys(t).idpCert, keys(t).idp2Cert)
			},
			o: func(f *fixture) opts { return opts{signResponse: true, signer: f.k.idp2, signerCert: f.k.idp2Cert} },
		},
		{
			name: "key rollover: two certs, signed by the second without KeyInfo",
			mod: func(c *glossa.SAMLConnection, _ *saml.Keys) {
				c.MetadataXML = idpMetadata(idpEntityID, keys(t).idpCert, keys(t).idp2Cert)
			},
			o: func(f *fixture) opts {
				return opts{signAssertion: true, signer: f.k.idp2, signerCert: f.k.idp2Cert, noKeyInfo: true}
			},
		},
		{
			name: "key rollover: two certs, signed by the first without KeyInfo, both signed",
			mod: func(c *glossa.SAMLConnection, _ *saml.Keys) {
				c.MetadataXML = idpMetadata(idpEntityID, keys(t).idpCert, keys(t).idp2Cert)
			},
			o: func(f *fixture) opts { return opts{signResponse: true, signAssertion: true, noKeyInfo: true} },
		},
		{
			name: "RSAKeyValue KeyInfo instead of a certificate",
			o: func(f *fixture) opts {
				return opts{signAssertion: true, afterAssertion: func(a *etree.Element) {
					ki := a.FindElement("./Signature/KeyInfo")
					for _, c := range ki.ChildElements() {
						ki.RemoveChild(c)
					}
					kv := ki.CreateElement("ds:KeyValue").CreateElement("ds:RSAKeyValue")
					kv.CreateElement("ds:Modulus").SetText("AAAA")
					kv.CreateElement("ds:Exponent").SetText("AQAB")
				}}
			},
		},
		{
			name: "several audiences in one restriction, AWS first",
			o: func(f *fixture) opts {
				return opts{signAssertion: true, audiences: [][]string{{"urn:amazon:webservices", spEntityID}}}
			},
		},
		{
			name: "two restrictions, each naming us",
			o: func(f *fixture) opts {
				return opts{signResponse: true, audiences: [][]string{{spEntityID, "urn:amazon:webservices"}, {spEntityID}}}
			},
		},
		{
			name: "900 groups (goxmldsig v1.6.1 verifies at most 1,000 elements)",
			o: func(f *fixture) opts {
				return opts{signResponse: true, attrs: []attrKV{{name: "Groups", values: manyGroups}}}
			},
			check: func(t *testing.T, f *fixture, res *saml.Response) {
				if len(res.Identity.Groups) != 900 || res.Identity.Groups[899] != manyGroups[899] {
					t.Errorf("got %d groups", len(res.Identity.Groups))
				}
			},
		},
		{
			name: "clock skew: Conditions expired 170 s ago, inside the default 180 s",
			o: func(f *fixture) opts {
				return opts{signResponse: true, notOnOrAfter: ptr(f.now.Add(-170 * time.Second)), scdNotOnOrAfter: ptr(f.now.Add(-170 * time.Second))}
			},
		},
		{
			name: "clock skew: NotBefore 170 s ahead, IssueInstant 60 s ahead",
			o: func(f *fixture) opts {
				return opts{signResponse: true, notBefore: ptr(f.now.Add(170 * time.Second)), issueInstant: ptr(f.now.Add(60 * time.Second))}
			},
		},
		{
			name: "unsolicited, when allowed",
			mod:  func(c *glossa.SAMLConnection, _ *saml.Keys) { c.AllowIdPInitiated = true },
			o:    func(f *fixture) opts { return opts{signResponse: true, inResponseTo: ptr("")} },
			check: func(t *testing.T, f *fixture, res *saml.Response) {
				if res.InResponseTo != "" {
					t.Errorf("InResponseTo = %q", res.InResponseTo)
				}
			},
		},
		{
			name: "solicited, when unsolicited is also allowed",
			mod:  func(c *glossa.SAMLConnection, _ *saml.Keys) { c.AllowIdPInitiated = true },
			o:    func(f *fixture) opts { return opts{signAssertion: true} },
		},
		{
			name: "signed response required and present",
			mod:  func(c *glossa.SAMLConnection, _ *saml.Keys) { c.RequireSignedResponse = true },
			o:    func(f *fixture) opts { return opts{signResponse: true, signAssertion: true} },
		},
		{
			name: "SP key rotation: encrypted to the previous key, certificate named",
			mod: func(_ *glossa.SAMLConnection, k *saml.Keys) {
				k.Encryption = []saml.KeyPair{keys(t).spEnc, keys(t).spEncOld}
			},
			o: func(f *fixture) opts {
				return opts{signAssertion: true, encrypt: "gcm", encryptTo: f.k.spEncOld.Certificate}
			},
		},
		{
			name: "SP key rotation: encrypted to the previous key, no certificate named",
			mod: func(_ *glossa.SAMLConnection, k *saml.Keys) {
				k.Encryption = []saml.KeyPair{keys(t).spEnc, keys(t).spEncOld}
			},
			o: func(f *fixture) opts {
				return opts{signResponse: true, encrypt: "gcm", encryptTo: f.k.spEncOld.Certificate, stripEncKeyCert: true}
			},
		},
		{
			name: "comment injected into the NameID reads as the whole value",
			o: func(f *fixture) opts {
				return opts{signAssertion: true, nameID: "alice@acme.example.evil.example",
					postBytes: func(b []byte) []byte {
						return []byte(strings.Replace(string(b), "alice@acme.example.evil", "alice@acme.example<!---->.evil", 1))
					}}
			},
			check: func(t *testing.T, f *fixture, res *saml.Response) {
				if res.Identity.NameID != "alice@acme.example.evil.example" {
					t.Errorf("NameID = %q: truncated at the comment", res.Identity.NameID)
				}
			},
		},
		{
			name: "base64 wrapped at 76 columns",
			o:    func(f *fixture) opts { return opts{signResponse: true} },
		},
		{
			name: "attribute in a foreign namespace is not read",
			o: func(f *fixture) opts {
				return opts{signAssertion: true, mutateAssertion: func(a *etree.Element) {
					st := a.FindElement("./AttributeStatement")
					ev := st.CreateElement("x:Attribute")
					ev.CreateAttr("xmlns:x", "urn:evil")
					ev.CreateAttr("Name", "Groups")
					ev.CreateElement("saml:AttributeValue").SetText("admins")
				}}
			},
			check: func(t *testing.T, f *fixture, res *saml.Response) {
				if diff := cmp.Diff([]string{"annotators", "reviewers"}, res.Identity.Groups); diff != "" {
					t.Errorf("groups (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "SessionNotOnOrAfter is returned",
			o: func(f *fixture) opts {
				return opts{signResponse: true, sessionNotOnOrAfter: ptr(f.now.Add(8 * time.Hour))}
			},
			check: func(t *testing.T, f *fixture, res *saml.Response) {
				if s := res.Identity.SessionNotOnOrAfter; s == nil || !s.Equal(f.now.Add(8*time.Hour)) {
					t.Errorf("SessionNotOnOrAfter = %v", s)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.mod)
			b64 := f.build(tt.o(f))
			if strings.HasPrefix(tt.name, "base64 wrapped") {
				var sb strings.Builder
				for i := 0; i < len(b64); i += 76 {
					sb.WriteString(b64[i:min(i+76, len(b64))])
					sb.WriteString("\r\n")
				}
				b64 = sb.String()
			}
			res, err := f.parse(b64)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if tt.check != nil {
				tt.check(t, f, res)
			}
		})
	}
}

// TestReplayAcrossInstances: the second use of an assertion is refused, and
// a cache shared by two SPs (two Glossa processes) refuses it too.
func TestReplayAcrossInstances(t *testing.T) {
	f := newFixture(t, nil)
	g := newFixture(t, nil) // a second process with the same configuration
	b64 := f.build(opts{signAssertion: true})
	shared := newMemoryReplay()
	if _, err := f.sp.ValidateResponse(context.Background(), b64, []string{requestID}, f.now, shared); err != nil {
		t.Fatalf("first use rejected: %v", err)
	}
	_, err := g.sp.ValidateResponse(context.Background(), b64, []string{requestID}, g.now, shared)
	if rejectCode(err) != saml.RejectReplay {
		t.Errorf("second use on another instance: %v, want replay", err)
	}
}

// TestConcurrentUse: one ServiceProvider serves many ACS requests at once
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, nil)
	var b64s []string
	for _, sh := range shapes {
		b64s = append(b64s, f.build(sh.base), f.build(sh.base))
	}
	b64s = append(b64s, f.build(opts{signResponse: true, signer: f.k.attacker, signerCert: f.k.attackerCert}))
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
	_, err := f.sp.ValidateResponse(context.Background(), f.build(opts{signResponse: true}), []string{requestID}, f.now, failingReplay{})
	if rejectCode(err) != saml.RejectInternal {
		t.Errorf("got %v, want internal", err)
	}
	_, err = f.sp.ValidateResponse(context.Background(), f.build(opts{signResponse: true}), []string{requestID}, f.now, nil)
	if rejectCode(err) != saml.RejectInternal {
		t.Errorf("nil cache: got %v, want internal", err)
	}
}

// TestParseResponseReturnsIdentity covers the short form.
func TestParseResponseReturnsIdentity(t *testing.T) {
	f := newFixture(t, nil)
	id, err := f.sp.ParseResponse(context.Background(), f.build(opts{signResponse: true}), []string{"other", requestID}, f.now, f.replay)
	if err != nil || id.NameID != victim {
		t.Fatalf("ParseResponse = %v, %v", id, err)
	}
	_, err = f.sp.ParseResponse(context.Background(), "!!", nil, f.now, f.replay)
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
		o                             opts
		respSigned, assertSigned, enc bool
	}{
		{"encrypted GCM, assertion signed", opts{signAssertion: true, encrypt: "gcm"}, false, true, true},
		{"encrypted GCM, response signed", opts{signResponse: true, encrypt: "gcm"}, true, false, true},
		{"encrypted GCM, both signed", opts{signResponse: true, signAssertion: true, encrypt: "gcm"}, true, true, true},
		{"encrypted CBC inside a signed response", opts{signResponse: true, encrypt: "cbc"}, true, false, true},
		{"not encrypted, both signed", opts{signResponse: true, signAssertion: true}, true, true, false},
		// An Assertion written on its own, as ns0: for a protocol ns0: Response.
		{"plaintext Assertion re-declaring ns0, assertion signed", opts{signAssertion: true, mutateAssertion: assertionAsNS0}, false, true, false},
		{"plaintext Assertion re-declaring ns0, both signed", opts{signResponse: true, signAssertion: true, mutateAssertion: assertionAsNS0}, true, true, false},
		// crewjam drops this KeyInfo from its copy before asking for
		// verification; the original keeps it.
		{"encrypted GCM, response signed, RSAKeyValue instead of a certificate", opts{signResponse: true, encrypt: "gcm", post: func(doc *etree.Document) {
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
			tt.o.pysaml2 = true
			raw := f.buildXML(tt.o)
			if tt.enc && !bytes.Contains(raw, []byte(`<ns1:EncryptedAssertion><ns0:EncryptedData xmlns:ns0="http://www.w3.org/2001/04/xmlenc#" xmlns:ns1="http://www.w3.org/2000/09/xmldsig#"`)) {
				t.Fatalf("the fixture is not shaped like pysaml2's output:\n%s", raw)
			}
			res, err := f.parse(base64.StdEncoding.EncodeToString(raw))
			if err != nil {
				t.Fatalf("rejected: %v\n%s", err, raw)
			}
			if res.Identity.NameID != victim || res.Identity.Email != victim || len(res.Identity.Groups) != 2 {
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
		o    func(f *fixture) opts
		want saml.RejectCode
	}
	var cases []tc
	for _, sh := range []struct {
		name string
		base opts
	}{
		{"encrypted", opts{signAssertion: true, encrypt: "gcm"}},
		{"encrypted-resp-signed", opts{signResponse: true, encrypt: "gcm"}},
	} {
		for _, s := range semantic {
			cases = append(cases, tc{s.name + " (pysaml2 " + sh.name + ")", func(f *fixture) opts {
				o := sh.base
				o.pysaml2 = true
				s.mod(f, &o)
				return o
			}, s.want})
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
		ed.CreateAttr("xmlns:ds", nsDSig)
	}
	cases = append(cases,
		tc{"inner prefixes renamed after the Response was signed", func(f *fixture) opts {
			return opts{pysaml2: true, signResponse: true, encrypt: "gcm", post: renameInner}
		}, saml.RejectSignature},
		tc{"inner prefixes renamed after the Response was signed, assertion signed", func(f *fixture) opts {
			return opts{pysaml2: true, signResponse: true, signAssertion: true, encrypt: "gcm", post: renameInner}
		}, saml.RejectSignature},
		tc{"ciphertext changed after the Response was signed", func(f *fixture) opts {
			return opts{pysaml2: true, signResponse: true, signAssertion: true, encrypt: "gcm", post: func(doc *etree.Document) {
				cv := doc.Root().FindElement("./EncryptedAssertion/EncryptedData/CipherData/CipherValue")
				raw, _ := base64.StdEncoding.DecodeString(cv.Text())
				raw[len(raw)-1] ^= 1
				cv.SetText(base64.StdEncoding.EncodeToString(raw))
			}}
		}, saml.RejectSignature},
		tc{"Response signed by an attacker", func(f *fixture) opts {
			return opts{pysaml2: true, signResponse: true, encrypt: "gcm", signer: f.k.attacker, signerCert: f.k.attackerCert}
		}, saml.RejectSignature},
		tc{"encrypted Assertion signed by an attacker", func(f *fixture) opts {
			return opts{pysaml2: true, signAssertion: true, encrypt: "gcm", signer: f.k.attacker, signerCert: f.k.attackerCert}
		}, saml.RejectSignature},
		tc{"nothing signed", func(f *fixture) opts {
			return opts{pysaml2: true, encrypt: "gcm"}
		}, saml.RejectSignature},
		tc{"CBC in an unsigned Response", func(f *fixture) opts {
			return opts{pysaml2: true, signAssertion: true, encrypt: "cbc"}
		}, saml.RejectEncryption},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			res, err := f.parse(f.build(c.o(f)))
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
	a.CreateAttr("xmlns:ns0", nsAssertion)
}

func walkElements(el *etree.Element, f func(*etree.Element)) {
	f(el)
	for _, c := range el.ChildElements() {
		walkElements(c, f)
	}
}
