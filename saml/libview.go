package saml

import (
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// crewjam/saml v0.5.2 reads a protocol message through elementToBytes,
// which copies the element and then declares on the copy's root, for every
// prefix used by an element anywhere below it, the namespace of the last
// element in document order that uses that prefix. Namespaces in XML 1.0
// (§6.1, namespace scoping) lets a declaration on an inner element bind a
// prefix to another namespace within that element's scope, and SAML,
// XML-DSig and XML Encryption leave the choice of prefixes to the writer
// (XML-DSig and XML Encryption §1.3 make their own prefixes and the
// defaulting and scoping conventions optional). When a document does bind
// one prefix to two namespaces, the library rebinds the root's prefix and
// reads the message in the wrong namespace. pysaml2 7 does this to every
// encrypted assertion: ElementTree numbers prefixes per serialization, so
// the Response declares ns0 (protocol) and ns1 (assertion), and the
// EncryptedData it writes separately as xmlsec1's template declares ns0
// (XML Encryption) and ns1 (XML-DSig) again. crewjam v0.6.0 scopes the
// declarations; v0.5.2 answers "expected element <Response> in name space
// urn:oasis:names:tc:SAML:2.0:protocol but have
// http://www.w3.org/2001/04/xmlenc#".
//
// So for such a document, and only then, the library is given a prefix view:
// the same document with each prefix that an inner declaration binds to
// another namespace renamed, in that declaration's scope, to a prefix used
// nowhere else. Every element and attribute keeps its namespace, local name
// and value; only the prefixes the library cannot scope change. The view is
// never trusted for anything: its signatures cannot verify (exclusive c14n
// covers prefixes), so the recorder verifies, in place of the library's
// element from the view, the original element with the same ID, after
// checking that the two agree in everything but prefixes (sameExpanded);
// the policy layer reads only the original's verified bytes, as always; the
// library's result is still compared with them. Ciphertext is copied
// unchanged, so an assertion the library decrypts from the view is the
// IdP's own plaintext and is verified as such.

// prefixView returns the bytes of the prefix view of doc, or nil when no
// prefix is bound to two namespaces in doc (the library then gets the
// original bytes). The default namespace and the reserved prefixes xml and
// xmlns are left alone; QName-valued content (xsi:type="p:t") is not
// rewritten, as the library does not interpret it.
func prefixView(doc *etree.Document) ([]byte, *RejectError) {
	bound := map[string]string{} // prefix -> first namespace bound to it
	used := map[string]bool{}    // every prefix declared or used in doc
	collide := false
	walk(doc.Root(), func(el *etree.Element) {
		used[el.Space] = true
		for _, a := range el.Attr {
			used[a.Space] = true
			if a.Space != "xmlns" || a.Key == "xml" || a.Key == "xmlns" {
				continue
			}
			used[a.Key] = true
			if u, ok := bound[a.Key]; !ok {
				bound[a.Key] = a.Value
			} else if u != a.Value {
				collide = true
			}
		}
	})
	if !collide {
		return nil, nil
	}

	view := doc.Copy()
	owner := map[string]string{} // view prefix -> its one namespace
	alias := map[string]string{} // prefix + " " + namespace -> view prefix
	n := 0
	fresh := func(p string) string {
		for {
			n++
			q := p + "_" + strconv.Itoa(n)
			if !used[q] {
				used[q] = true
				return q
			}
		}
	}
	// scope maps each prefix in scope to its name in the view; a
	// declaration's change is undone when its element ends.
	scope := map[string]string{}
	var rename func(el *etree.Element)
	rename = func(el *etree.Element) {
		type saved struct {
			prefix, view string
			had          bool
		}
		var undo []saved
		for i := range el.Attr {
			a := &el.Attr[i]
			if a.Space != "xmlns" || a.Key == "xml" || a.Key == "xmlns" {
				continue
			}
			p, ns := a.Key, a.Value
			q := p
			if u, ok := owner[p]; ok && u != ns {
				if q = alias[p+" "+ns]; q == "" {
					q = fresh(p)
					alias[p+" "+ns] = q
				}
			}
			owner[q] = ns
			old, had := scope[p]
			undo = append(undo, saved{p, old, had})
			scope[p] = q
			a.Key = q
		}
		if q, ok := scope[el.Space]; ok {
			el.Space = q
		}
		for i := range el.Attr {
			if a := &el.Attr[i]; a.Space != "" && a.Space != "xmlns" {
				if q, ok := scope[a.Space]; ok {
					a.Space = q
				}
			}
		}
		for _, c := range el.ChildElements() {
			rename(c)
		}
		for i := len(undo) - 1; i >= 0; i-- {
			if u := undo[i]; u.had {
				scope[u.prefix] = u.view
			} else {
				delete(scope, u.prefix)
			}
		}
	}
	rename(view.Root())
	// Canonical escaping keeps tabs, newlines and carriage returns in
	// attribute values and carriage returns in text as they were parsed.
	view.WriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	b, err := view.WriteToBytes()
	if err != nil {
		return nil, rejectErr(RejectInternal, err, "writing the prefix view")
	}
	return b, nil
}

// sameExpanded reports whether a and b are the same element up to
// namespace prefixes and declarations: the same namespace and local name,
// the same attributes (namespace, local name, value; declarations aside),
// the same text and comments-aside content, recursively. An enveloped
// ds:Signature directly below is not compared: crewjam removes a KeyInfo
// without a certificate from its copy before asking for verification, and
// the signature itself is verified on b.
//
// Security-sensitive: the recorder verifies b's signature in place of a's on
// the strength of this.
func sameExpanded(a, b *etree.Element) bool {
	return sameElement(a, b, true)
}

func sameElement(a, b *etree.Element, top bool) bool {
	if a.Tag != b.Tag || elementNS(a) != elementNS(b) {
		return false
	}
	if !sameAttrs(a, b) {
		return false
	}
	ac, bc := content(a, top), content(b, top)
	if len(ac) != len(bc) {
		return false
	}
	for i := range ac {
		switch x := ac[i].(type) {
		case string:
			if y, ok := bc[i].(string); !ok || x != y {
				return false
			}
		case *etree.Element:
			y, ok := bc[i].(*etree.Element)
			if !ok || !sameElement(x, y, false) {
				return false
			}
		}
	}
	return true
}

// content is el's child elements and its text between them (adjacent
// character data joined, comments and processing instructions skipped),
// without an enveloped ds:Signature when top is set.
func content(el *etree.Element, top bool) []any {
	var out []any
	var sb strings.Builder
	text := false
	flush := func() {
		if text {
			out = append(out, sb.String())
			sb.Reset()
			text = false
		}
	}
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.CharData:
			sb.WriteString(t.Data)
			text = true
		case *etree.Element:
			if top && is(t, nsDSig, "Signature") {
				continue
			}
			flush()
			out = append(out, t)
		}
	}
	flush()
	return out
}

// sameAttrs compares the attributes of a and b other than namespace
// declarations, by namespace, local name and value, in any order.
func sameAttrs(a, b *etree.Element) bool {
	type key struct{ ns, local, value string }
	count := map[key]int{}
	n := 0
	for _, at := range a.Attr {
		if isDecl(at) {
			continue
		}
		count[key{attrNS(at), at.Key, at.Value}]++
		n++
	}
	for _, at := range b.Attr {
		if isDecl(at) {
			continue
		}
		k := key{attrNS(at), at.Key, at.Value}
		if count[k] == 0 {
			return false
		}
		count[k]--
		n--
	}
	return n == 0
}

// nsXML is the namespace of the reserved prefix xml (XML Namespaces §3).
const nsXML = "http://www.w3.org/XML/1998/namespace"

// elementNS is el's namespace, or its prefix marked as unbound.
func elementNS(el *etree.Element) string {
	if ns := el.NamespaceURI(); ns != "" || el.Space == "" {
		return ns
	}
	return "unbound:" + el.Space
}

// attrNS is a's namespace: none without a prefix, the XML namespace for
// xml:, or its prefix marked as unbound.
func attrNS(a etree.Attr) string {
	switch a.Space {
	case "":
		return ""
	case "xml":
		return nsXML
	}
	if ns := a.NamespaceURI(); ns != "" {
		return ns
	}
	return "unbound:" + a.Space
}

func isDecl(a etree.Attr) bool {
	return a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")
}
