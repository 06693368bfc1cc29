package saml

import (
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// pysaml2Shape is the outline of a pysaml2 7 response with an encrypted
// assertion (namespaces as Debian's python3-pysaml2 7.0.1 writes them).
const pysaml2Shape = `<?xml version="1.0"?>
<ns0:Response xmlns:ns0="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:ns1="urn:oasis:names:tc:SAML:2.0:assertion" ID="id-r" Version="2.0" Destination="https://sp.example/acs"><ns1:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">https://idp.example/metadata</ns1:Issuer><ns0:Status><ns0:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></ns0:Status><ns1:EncryptedAssertion><ns0:EncryptedData xmlns:ns0="http://www.w3.org/2001/04/xmlenc#" xmlns:ns1="http://www.w3.org/2000/09/xmldsig#" Id="ED_1" Type="http://www.w3.org/2001/04/xmlenc#Element"><ns0:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><ns1:KeyInfo><ns0:EncryptedKey Id="EK_1"><ns0:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/><ns1:KeyInfo><ns1:KeyName>my-rsa-key</ns1:KeyName></ns1:KeyInfo><ns0:CipherData><ns0:CipherValue>AAAA</ns0:CipherValue></ns0:CipherData></ns0:EncryptedKey></ns1:KeyInfo><ns0:CipherData><ns0:CipherValue>BBBB</ns0:CipherValue></ns0:CipherData></ns0:EncryptedData></ns1:EncryptedAssertion></ns0:Response>`

func mustParse(t *testing.T, s string) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return doc
}

// prefixBindings returns, for each prefix declared in doc, the namespaces
// it is bound to.
func prefixBindings(doc *etree.Document) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	walk(doc.Root(), func(el *etree.Element) {
		for _, a := range el.Attr {
			if a.Space == "xmlns" {
				if out[a.Key] == nil {
					out[a.Key] = map[string]bool{}
				}
				out[a.Key][a.Value] = true
			}
		}
	})
	return out
}

func TestPrefixView(t *testing.T) {
	tests := []struct {
		name, doc string
		view      bool
	}{
		{"pysaml2 encrypted assertion", pysaml2Shape, true},
		{"distinct prefixes", `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="r"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">x</saml:Issuer></samlp:Response>`, false},
		{"same prefix, same namespace, declared twice", `<p:a xmlns:p="urn:a"><p:b xmlns:p="urn:a"/></p:a>`, false},
		{"default namespace re-declared (left alone)", `<a xmlns="urn:a"><b xmlns="urn:b"/></a>`, false},
		{"nested re-declarations and prefixed attributes", `<p:a xmlns:p="urn:a" p:x="1"><p:b xmlns:p="urn:b" p:x="2"><p:c xmlns:p="urn:a" p:x="3"/><p:d xmlns:p="urn:c"/></p:b><p:e xmlns:p="urn:b"><p:f/></p:e><p_1:g xmlns:p_1="urn:g"/></p:a>`, true},
		{"siblings binding one prefix differently", `<r xmlns="urn:r"><p:a xmlns:p="urn:a"/><p:b xmlns:p="urn:b"/></r>`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustParse(t, tt.doc)
			b, rj := prefixView(doc)
			if rj != nil {
				t.Fatal(rj)
			}
			if (b != nil) != tt.view {
				t.Fatalf("view = %q, want a view: %v", b, tt.view)
			}
			if b == nil {
				return
			}
			view := mustParse(t, string(b))
			for p, nss := range prefixBindings(view) {
				if len(nss) > 1 {
					t.Errorf("prefix %s still bound to %v in the view:\n%s", p, nss, b)
				}
			}
			if !sameExpanded(view.Root(), doc.Root()) {
				t.Errorf("the view reads differently from the document:\n%s", b)
			}
		})
	}
}

func TestSameExpanded(t *testing.T) {
	base := pysaml2Shape
	i, j := strings.Index(base, "<ns0:EncryptedData"), strings.Index(base, "</ns1:EncryptedAssertion>")
	same := []string{
		// Another prefix for XML Encryption inside the EncryptedData.
		base[:i] + strings.NewReplacer("ns0:", "x:", "xmlns:ns0=", "xmlns:x=").Replace(base[i:j]) + base[j:],
		// The declarations elsewhere.
		strings.NewReplacer(` xmlns:ns1="urn:oasis:names:tc:SAML:2.0:assertion"`, ``,
			`<ns1:Issuer`, `<ns1:Issuer xmlns:ns1="urn:oasis:names:tc:SAML:2.0:assertion"`,
			`<ns1:EncryptedAssertion>`, `<ns1:EncryptedAssertion xmlns:ns1="urn:oasis:names:tc:SAML:2.0:assertion">`).Replace(base),
		// A KeyInfo dropped from an enveloped signature is not compared.
		strings.Replace(base, `<ns0:Status>`, `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:KeyInfo/></ds:Signature><ns0:Status>`, 1),
	}
	different := map[string]string{
		"text":                  strings.Replace(base, "BBBB", "CCCC", 1),
		"attribute value":       strings.Replace(base, `Id="EK_1"`, `Id="EK_2"`, 1),
		"attribute removed":     strings.Replace(base, ` Id="EK_1"`, ``, 1),
		"attribute namespace":   strings.Replace(base, `Id="EK_1"`, `ns1:Id="EK_1"`, 1),
		"element namespace":     strings.Replace(base, `<ns0:CipherData><ns0:CipherValue>BBBB</ns0:CipherValue></ns0:CipherData>`, `<ns1:CipherData><ns1:CipherValue>BBBB</ns1:CipherValue></ns1:CipherData>`, 1),
		"element added":         strings.Replace(base, `<ns0:Status>`, `<ns0:Extensions/><ns0:Status>`, 1),
		"text added":            strings.Replace(base, `<ns0:Status>`, `x<ns0:Status>`, 1),
		"prefix undeclared":     strings.Replace(base, `<ns1:Issuer`, `<ns1:Issuer xmlns:ns1=""`, 1),
		"signature deeper down": strings.Replace(base, `<ns0:StatusCode`, `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/><ns0:StatusCode`, 1),
	}
	orig := mustParse(t, base)
	for i, s := range same {
		if !sameExpanded(mustParse(t, s).Root(), orig.Root()) {
			t.Errorf("same[%d] reads differently", i)
		}
	}
	for name, s := range different {
		d := mustParse(t, s)
		if sameExpanded(d.Root(), orig.Root()) || sameExpanded(orig.Root(), d.Root()) {
			t.Errorf("%s: not told apart", name)
		}
	}
	lang := mustParse(t, strings.Replace(base, `Type="`, `xml:lang="en" Type="`, 1))
	plain := mustParse(t, strings.Replace(base, `Type="`, `lang="en" Type="`, 1))
	if sameExpanded(lang.Root(), plain.Root()) {
		t.Error("xml:lang and lang not told apart")
	}
}
