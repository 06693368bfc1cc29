package samlattack

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/saml"
)

// Valid is a response that real IdPs send and that the SP must accept,
// although it is unusual in some way: the must-accept list of
// ../shared/reference/saml-security.md §3, the other half of the corpus.
type Valid struct {
	Name string
	// Setup, when set, changes the organization's settings or SP keys
	// from those of Fixture.Connection, as Case.Setup does.
	Setup func(f *Fixture, c *glossa.SAMLConnection, k *saml.Keys)
	// Make builds the base64 SAMLResponse that is posted.
	Make func(f *Fixture) string
	// Check, when set, says what is wrong with the accepted response.
	Check func(f *Fixture, res *saml.Response) error
}

// ValidCases returns the must-accept responses beyond the plain Shapes.
func ValidCases() []Valid {
	manyGroups := make([]string, 900)
	for i := range manyGroups {
		manyGroups[i] = fmt.Sprintf("group-%04d-with-a-realistic-name", i)
	}
	build := func(o func(f *Fixture) Options) func(f *Fixture) string {
		return func(f *Fixture) string { return f.Build(o(f)) }
	}
	rollover := func(f *Fixture, c *glossa.SAMLConnection, _ *saml.Keys) {
		c.MetadataXML = f.Keys.IdPMetadata(IdPEntityID, f.Keys.IdPCert, f.Keys.IdP2Cert)
	}
	spKeyRotation := func(f *Fixture, _ *glossa.SAMLConnection, k *saml.Keys) {
		k.Encryption = []saml.KeyPair{f.Keys.SPEnc, f.Keys.SPEncOld}
	}
	return []Valid{
		{
			Name:  "key rollover: two certs, signed by the second with KeyInfo",
			Setup: rollover,
			Make: build(func(f *Fixture) Options {
				return Options{SignResponse: true, Signer: f.Keys.IdP2, SignerCert: f.Keys.IdP2Cert}
			}),
		},
		{
			Name:  "key rollover: two certs, signed by the second without KeyInfo",
			Setup: rollover,
			Make: build(func(f *Fixture) Options {
				return Options{SignAssertion: true, Signer: f.Keys.IdP2, SignerCert: f.Keys.IdP2Cert, NoKeyInfo: true}
			}),
		},
		{
			Name:  "key rollover: two certs, signed by the first without KeyInfo, both signed",
			Setup: rollover,
			Make: build(func(f *Fixture) Options {
				return Options{SignResponse: true, SignAssertion: true, NoKeyInfo: true}
			}),
		},
		{
			Name: "RSAKeyValue KeyInfo instead of a certificate",
			Make: build(func(f *Fixture) Options {
				return Options{SignAssertion: true, AfterAssertion: func(a *etree.Element) {
					ki := a.FindElement("./Signature/KeyInfo")
					for _, c := range ki.ChildElements() {
						ki.RemoveChild(c)
					}
					kv := ki.CreateElement("ds:KeyValue").CreateElement("ds:RSAKeyValue")
					kv.CreateElement("ds:Modulus").SetText("AAAA")
					kv.CreateElement("ds:Exponent").SetText("AQAB")
				}}
			}),
		},
		{
			Name: "several audiences in one restriction, AWS first",
			Make: build(func(f *Fixture) Options {
				return Options{SignAssertion: true, Audiences: [][]string{{"urn:amazon:webservices", f.EntityID()}}}
			}),
		},
		{
			Name: "two restrictions, each naming us",
			Make: build(func(f *Fixture) Options {
				return Options{SignResponse: true, Audiences: [][]string{{f.EntityID(), "urn:amazon:webservices"}, {f.EntityID()}}}
			}),
		},
		{
			Name: "900 groups (goxmldsig v1.6.1 verifies at most 1,000 elements)",
			Make: build(func(f *Fixture) Options {
				return Options{SignResponse: true, Attributes: []Attribute{{Name: "Groups", Values: manyGroups}}}
			}),
			Check: func(f *Fixture, res *saml.Response) error {
				if len(res.Identity.Groups) != 900 || res.Identity.Groups[899] != manyGroups[899] {
					return fmt.Errorf("got %d groups", len(res.Identity.Groups))
				}
				return nil
			},
		},
		{
			Name: "clock skew: Conditions expired 170 s ago, inside the default 180 s",
			Make: build(func(f *Fixture) Options {
				return Options{SignResponse: true, NotOnOrAfter: new(f.Now.Add(-170 * time.Second)), ConfirmationNotOnOrAfter: new(f.Now.Add(-170 * time.Second))}
			}),
		},
		{
			Name: "clock skew: NotBefore 170 s ahead, IssueInstant 60 s ahead",
			Make: build(func(f *Fixture) Options {
				return Options{SignResponse: true, NotBefore: new(f.Now.Add(170 * time.Second)), IssueInstant: new(f.Now.Add(60 * time.Second))}
			}),
		},
		{
			Name:  "unsolicited, when allowed",
			Setup: func(_ *Fixture, c *glossa.SAMLConnection, _ *saml.Keys) { c.AllowIdPInitiated = true },
			Make:  build(func(f *Fixture) Options { return Options{SignResponse: true, InResponseTo: new("")} }),
			Check: func(f *Fixture, res *saml.Response) error {
				if res.InResponseTo != "" {
					return fmt.Errorf("InResponseTo = %q", res.InResponseTo)
				}
				return nil
			},
		},
		{
			Name:  "solicited, when unsolicited is also allowed",
			Setup: func(_ *Fixture, c *glossa.SAMLConnection, _ *saml.Keys) { c.AllowIdPInitiated = true },
			Make:  build(func(f *Fixture) Options { return Options{SignAssertion: true} }),
		},
		{
			Name:  "signed response required and present",
			Setup: func(_ *Fixture, c *glossa.SAMLConnection, _ *saml.Keys) { c.RequireSignedResponse = true },
			Make:  build(func(f *Fixture) Options { return Options{SignResponse: true, SignAssertion: true} }),
		},
		{
			Name:  "SP key rotation: encrypted to the previous key, certificate named",
			Setup: spKeyRotation,
			Make: build(func(f *Fixture) Options {
				return Options{SignAssertion: true, Encrypt: "gcm", EncryptTo: f.Keys.SPEncOld.Certificate}
			}),
		},
		{
			Name:  "SP key rotation: encrypted to the previous key, no certificate named",
			Setup: spKeyRotation,
			Make: build(func(f *Fixture) Options {
				return Options{SignResponse: true, Encrypt: "gcm", EncryptTo: f.Keys.SPEncOld.Certificate, StripEncryptedKeyCert: true}
			}),
		},
		{
			Name: "comment injected into the NameID reads as the whole value",
			Make: build(func(f *Fixture) Options {
				return Options{SignAssertion: true, NameID: "alice@acme.example.evil.example",
					PostBytes: func(b []byte) []byte {
						return []byte(strings.Replace(string(b), "alice@acme.example.evil", "alice@acme.example<!---->.evil", 1))
					}}
			}),
			Check: func(f *Fixture, res *saml.Response) error {
				if res.Identity.NameID != "alice@acme.example.evil.example" {
					return fmt.Errorf("NameID = %q: truncated at the comment", res.Identity.NameID)
				}
				return nil
			},
		},
		{
			Name: "base64 wrapped at 76 columns",
			Make: func(f *Fixture) string {
				b64 := f.Build(Options{SignResponse: true})
				var sb strings.Builder
				for i := 0; i < len(b64); i += 76 {
					sb.WriteString(b64[i:min(i+76, len(b64))])
					sb.WriteString("\r\n")
				}
				return sb.String()
			},
		},
		{
			Name: "attribute in a foreign namespace is not read",
			Make: build(func(f *Fixture) Options {
				return Options{SignAssertion: true, MutateAssertion: func(a *etree.Element) {
					st := a.FindElement("./AttributeStatement")
					ev := st.CreateElement("x:Attribute")
					ev.CreateAttr("xmlns:x", "urn:evil")
					ev.CreateAttr("Name", "Groups")
					ev.CreateElement("saml:AttributeValue").SetText("admins")
				}}
			}),
			Check: func(f *Fixture, res *saml.Response) error {
				if want := []string{"annotators", "reviewers"}; !slices.Equal(res.Identity.Groups, want) {
					return fmt.Errorf("groups %q, want %q", res.Identity.Groups, want)
				}
				return nil
			},
		},
		{
			Name: "SessionNotOnOrAfter is returned",
			Make: build(func(f *Fixture) Options {
				return Options{SignResponse: true, SessionNotOnOrAfter: new(f.Now.Add(8 * time.Hour))}
			}),
			Check: func(f *Fixture, res *saml.Response) error {
				if s := res.Identity.SessionNotOnOrAfter; s == nil || !s.Equal(f.Now.Add(8*time.Hour)) {
					return fmt.Errorf("SessionNotOnOrAfter = %v", s)
				}
				return nil
			},
		},
	}
}
