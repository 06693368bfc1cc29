package saml

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// Limits on what the SP accepts before any SAML processing. They bound the
// time and memory an unauthenticated POST can cost.
const (
	// MaxResponseBytes bounds a decoded SAMLResponse. It is larger than the
	// 256 KiB often quoted because a response carrying 5,000 group names
	// (which ADFS can send) is about 400 KiB.
	MaxResponseBytes = 512 << 10
	// MaxEncodedResponseBytes bounds the base64 text of a SAMLResponse, line
	// breaks included; the web layer should cap the form body a little above.
	MaxEncodedResponseBytes = (MaxResponseBytes+2)/3*4 + MaxResponseBytes/32
	// MaxMetadataBytes bounds IdP metadata. Federation aggregates are far
	// larger and are not accepted: a connection names exactly one IdP.
	MaxMetadataBytes = 1 << 20
	// maxLogoutBytes bounds an inflated or decoded logout message.
	maxLogoutBytes = 64 << 10
	// maxDepth bounds element nesting. A SAML response needs about 10.
	maxDepth = 32
	// maxTokens bounds the XML tokens of one document.
	maxTokens = 200_000
	// maxAttrs bounds the attributes of one element.
	maxAttrs = 64
	// maxNamespaceDecls bounds the xmlns declarations of one element.
	// Exclusive c14n output, which some IdPs send as is, declares the
	// namespaces it uses on every element, so there is no document-wide
	// bound beyond the size and token limits.
	maxNamespaceDecls = 32
	// MaxSignedElements is the most elements an element with a signature
	// may hold, itself and its signature included. goxmldsig v1.6.1 stops
	// every namespace traversal after 1,000 elements (its fix for
	// GHSA-qhrp-hfff-vphr) and offers no way to raise the limit, so a
	// signed Response or Assertion with more than about 950 attribute
	// values (group names, mostly) cannot be verified. Entra ID caps the
	// groups claim at 150 and Okta's group filter at 100 by default; an
	// IdP sending more must filter them. The check is made up front so that
	// the audit log says why.
	MaxSignedElements = 1000
)

// XML namespaces.
const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	nsXMLEnc    = "http://www.w3.org/2001/04/xmlenc#"
	nsXSI       = "http://www.w3.org/2001/XMLSchema-instance"
)

// decodeBase64 decodes the base64 text of a SAML message posted by a browser
// (HTTP-POST binding, SAML bindings §3.5.4), tolerating the line breaks that
// some IdPs insert, within the given limit on the decoded size.
func decodeBase64(s string, maxDecoded int) ([]byte, *RejectError) {
	if len(s) > (maxDecoded+2)/3*4+maxDecoded/32 {
		return nil, reject(RejectTooLarge, "base64 message of %d bytes is over the limit", len(s))
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	if s == "" {
		return nil, reject(RejectMalformed, "empty message")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, rejectErr(RejectMalformed, err, "message is not base64")
	}
	if len(b) > maxDecoded {
		return nil, reject(RejectTooLarge, "decoded message of %d bytes is over the %d-byte limit", len(b), maxDecoded)
	}
	return b, nil
}

// inflate decompresses a DEFLATE-encoded message of the HTTP-Redirect binding
// (SAML bindings §3.4.4.1), refusing output over limit so that a small input
// cannot expand into a large one (CVE-2023-28119 class).
func inflate(b []byte, limit int) ([]byte, *RejectError) {
	r := flate.NewReader(bytes.NewReader(b))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, rejectErr(RejectMalformed, err, "message does not inflate")
	}
	if len(out) > limit {
		return nil, reject(RejectTooLarge, "inflated message is over the %d-byte limit", limit)
	}
	return out, nil
}

// screenXML is the tokenizer pass made before any XML is parsed into a tree.
// It refuses DOCTYPE and every other directive (XXE and entity expansion,
// and the ruby-saml CVE-2025-25291 differential), processing instructions
// other than the XML declaration, encodings other than UTF-8, duplicate
// attributes on one element, a second root or text outside the root, and
// bounds depth, tokens, attributes and namespace declarations. It then runs
// the Mattermost round-trip check (CVE-2020-29509/29510/29511) when asked.
//
// Security-sensitive: it is the first thing that touches attacker bytes.
func screenXML(b []byte, roundTrip bool) *RejectError {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var stack []xml.Name
	tokens, roots := 0, 0
	for {
		// RawToken: no namespace translation (the costly part of Token);
		// the stack below does the start/end matching Token would do.
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rejectErr(RejectMalformed, err, "not well-formed XML")
		}
		tokens++
		if tokens > maxTokens {
			return reject(RejectTooLarge, "more than %d XML tokens", maxTokens)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return reject(RejectDoctype, "XML directive <!%.40s...> refused", string(t))
		case xml.ProcInst:
			if t.Target != "xml" || tokens != 1 {
				return reject(RejectMalformed, "processing instruction <?%s?> refused", t.Target)
			}
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
				if roots > 1 {
					return reject(RejectStructure, "more than one root element")
				}
			}
			stack = append(stack, t.Name)
			if len(stack) > maxDepth {
				return reject(RejectTooLarge, "elements nested deeper than %d", maxDepth)
			}
			if len(t.Attr) > maxAttrs {
				return reject(RejectTooLarge, "element <%s> has more than %d attributes", t.Name.Local, maxAttrs)
			}
			if t.Name.Local == "" || strings.Contains(t.Name.Local, ":") || (t.Name.Space == "" && strings.HasPrefix(t.Name.Local, ":")) {
				return reject(RejectMalformed, "element name %q is not a valid qualified name", t.Name.Local)
			}
			nsDecls := 0
			for i, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					nsDecls++
					if nsDecls > maxNamespaceDecls {
						return reject(RejectTooLarge, "element <%s> declares more than %d namespaces", t.Name.Local, maxNamespaceDecls)
					}
				}
				if a.Name.Local == "" || strings.Contains(a.Name.Local, ":") {
					return reject(RejectMalformed, "attribute name %q is not a valid qualified name", a.Name.Space+":"+a.Name.Local)
				}
				for _, o := range t.Attr[:i] {
					if o.Name == a.Name {
						return reject(RejectStructure, "element <%s> repeats attribute %q", t.Name.Local, a.Name.Local)
					}
				}
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != t.Name {
				return reject(RejectMalformed, "not well-formed XML: unexpected </%s>", t.Name.Local)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimSpace(t)) > 0 {
				if roots == 0 {
					return reject(RejectMalformed, "text before the root element: not an XML document")
				}
				return reject(RejectStructure, "text after the root element")
			}
		}
	}
	if roots == 0 {
		return reject(RejectMalformed, "no root element")
	}
	if len(stack) > 0 {
		return reject(RejectMalformed, "not well-formed XML: unclosed <%s>", stack[len(stack)-1].Local)
	}
	if roundTrip {
		if err := xrv.Validate(bytes.NewReader(b)); err != nil {
			return rejectErr(RejectMalformed, err, "XML changes in an encoding/xml round trip")
		}
	}
	return nil
}

// parseXML screens b and parses it into an etree document.
func parseXML(b []byte) (*etree.Document, *RejectError) { return parseScreened(b, true) }

// parseScreened is parseXML, with the round-trip check optional for the
// one caller whose bytes crewjam checks again in the same way before it
// reads them (ParseXMLResponse runs the same Mattermost validator).
func parseScreened(b []byte, roundTrip bool) (*etree.Document, *RejectError) {
	if rj := screenXML(b, roundTrip); rj != nil {
		return nil, rj
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, rejectErr(RejectMalformed, err, "XML does not parse")
	}
	if doc.Root() == nil {
		return nil, reject(RejectMalformed, "no root element")
	}
	return doc, nil
}

// is reports whether el is the element {ns}local.
func is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// children returns the child elements of el named {ns}local.
func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if is(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

// child returns the only child element of el named {ns}local, nil if there
// is none, and an error if there are several.
func child(el *etree.Element, ns, local string) (*etree.Element, *RejectError) {
	cs := children(el, ns, local)
	switch len(cs) {
	case 0:
		return nil, nil
	case 1:
		return cs[0], nil
	}
	return nil, reject(RejectStructure, "<%s> has %d <%s> children, at most one allowed", el.Tag, len(cs), local)
}

// walk calls f for el and every element below it, depth first.
func walk(el *etree.Element, f func(*etree.Element)) {
	f(el)
	for _, c := range el.ChildElements() {
		walk(c, f)
	}
}

// textOf returns the character data of el, concatenated across comments and
// processing instructions (so "victim@example.com<!---->.evil.com" reads as
// the whole string, never as its first part: CVE-2017-11427 class), and
// whether el holds only text. An element with child elements is not text.
func textOf(el *etree.Element) (string, bool) {
	var sb strings.Builder
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.CharData:
			sb.WriteString(t.Data)
		case *etree.Element:
			return "", false
		}
	}
	return sb.String(), true
}

// attr returns the value of el's unqualified attribute key.
func attr(el *etree.Element, key string) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value
		}
	}
	return ""
}

// hasAttr reports whether el has the unqualified attribute key.
func hasAttr(el *etree.Element, key string) bool {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return true
		}
	}
	return false
}
