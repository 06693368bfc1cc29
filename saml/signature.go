package saml

import (
	"crypto/x509"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Algorithm identifiers accepted in XML signatures (XML-DSig §6, RFC 6931).
const (
	algExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	nsExcC14N    = "http://www.w3.org/2001/10/xml-exc-c14n#"
)

var allowedSignatureMethods = map[string]bool{
	dsig.RSASHA256SignatureMethod:   true,
	dsig.RSASHA384SignatureMethod:   true,
	dsig.RSASHA512SignatureMethod:   true,
	dsig.ECDSASHA256SignatureMethod: true,
	dsig.ECDSASHA384SignatureMethod: true,
	dsig.ECDSASHA512SignatureMethod: true,
}

var allowedDigestMethods = map[string]bool{
	"http://www.w3.org/2001/04/xmlenc#sha256":       true,
	"http://www.w3.org/2001/04/xmldsig-more#sha384": true,
	"http://www.w3.org/2001/04/xmlenc#sha512":       true,
}

// isSHA1 reports whether an algorithm URI names SHA-1 (as a digest or inside
// a signature method), so that the rejection says so.
func isSHA1(alg string) bool {
	return strings.HasSuffix(alg, "#sha1") || strings.HasSuffix(alg, "-sha1")
}

// checkSignatureProfile enforces the XML-Signature profile of SAML core
// §5.4 on the enveloped signature of el, if el has one. It returns the
// ds:Signature element, or nil when el is unsigned.
//
// SAML core §5.4.2: "Signatures MUST contain a single <ds:Reference>
// containing a same-document reference to the ID attribute value of the root
// element of the assertion or protocol message being signed"; §5.4.3: exclusive
// canonicalization; §5.4.4: only the enveloped-signature and exclusive c14n
// transforms. goxmldsig accepts URI="", a URI without "#", several References
// (CVE-2026-33487 lived there), comments-preserving c14n and SHA-1; this check
// refuses all of them before goxmldsig runs. A ds:Object (where XSW8 hides the
// original assertion) and anything but text in DigestValue or SignatureValue
// (xml-crypto CVE-2025-29775) are refused too.
//
// Security-sensitive.
func checkSignatureProfile(el *etree.Element) (*etree.Element, *RejectError) {
	sigs := children(el, nsDSig, "Signature")
	switch len(sigs) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, reject(RejectSignature, "<%s> carries %d signatures", el.Tag, len(sigs))
	}
	sig := sigs[0]
	if n := countElements(el, MaxSignedElements+1); n > MaxSignedElements {
		return nil, reject(RejectTooLarge, "signed <%s> holds more than %d elements, which goxmldsig v1.6.1 cannot verify (too many attribute values?)", el.Tag, MaxSignedElements)
	}
	id := attr(el, "ID")
	if id == "" {
		return nil, reject(RejectSignature, "signed <%s> has no ID", el.Tag)
	}
	var signedInfo *etree.Element
	nSignedInfo, nValue, nKeyInfo := 0, 0, 0
	for _, c := range sig.ChildElements() {
		switch {
		case is(c, nsDSig, "SignedInfo"):
			nSignedInfo++
			signedInfo = c
		case is(c, nsDSig, "SignatureValue"):
			nValue++
			if _, ok := textOnly(c); !ok {
				return nil, reject(RejectSignature, "SignatureValue of <%s> holds more than text", el.Tag)
			}
		case is(c, nsDSig, "KeyInfo"):
			nKeyInfo++
		default:
			return nil, reject(RejectSignature, "signature of <%s> holds an unexpected <%s>", el.Tag, c.Tag)
		}
	}
	if nSignedInfo != 1 || nValue != 1 || nKeyInfo > 1 {
		return nil, reject(RejectSignature, "signature of <%s> must have one SignedInfo, one SignatureValue and at most one KeyInfo", el.Tag)
	}
	var c14n, method *etree.Element
	var refs []*etree.Element
	for _, c := range signedInfo.ChildElements() {
		switch {
		case is(c, nsDSig, "CanonicalizationMethod") && c14n == nil:
			c14n = c
		case is(c, nsDSig, "SignatureMethod") && method == nil:
			method = c
		case is(c, nsDSig, "Reference"):
			refs = append(refs, c)
		default:
			return nil, reject(RejectSignature, "SignedInfo of <%s> holds an unexpected or repeated <%s>", el.Tag, c.Tag)
		}
	}
	if c14n == nil || method == nil {
		return nil, reject(RejectSignature, "SignedInfo of <%s> lacks CanonicalizationMethod or SignatureMethod", el.Tag)
	}
	if alg := attr(c14n, "Algorithm"); alg != algExcC14N {
		return nil, reject(RejectAlgorithm, "canonicalization %q refused: only exclusive c14n without comments", alg)
	}
	if rj := checkInclusiveNamespacesOnly(c14n, el.Tag); rj != nil {
		return nil, rj
	}
	if alg := attr(method, "Algorithm"); !allowedSignatureMethods[alg] {
		if isSHA1(alg) {
			return nil, reject(RejectAlgorithm, "SHA-1 signature method %q refused", alg)
		}
		return nil, reject(RejectAlgorithm, "signature method %q refused", alg)
	}
	if len(method.ChildElements()) > 0 {
		return nil, reject(RejectAlgorithm, "SignatureMethod with parameters (HMAC output length) refused")
	}
	if len(refs) != 1 {
		return nil, reject(RejectSignature, "signature of <%s> has %d References, exactly one allowed", el.Tag, len(refs))
	}
	ref := refs[0]
	var uris []etree.Attr
	for _, a := range ref.Attr {
		if a.Key == "URI" {
			uris = append(uris, a)
		}
	}
	if len(uris) != 1 || uris[0].Space != "" || uris[0].Value != "#"+id {
		return nil, reject(RejectSignature, "signature Reference of <%s> must have URI=%q", el.Tag, "#"+id)
	}
	var transforms, digestMethod, digestValue *etree.Element
	for _, c := range ref.ChildElements() {
		switch {
		case is(c, nsDSig, "Transforms") && transforms == nil:
			transforms = c
		case is(c, nsDSig, "DigestMethod") && digestMethod == nil:
			digestMethod = c
		case is(c, nsDSig, "DigestValue") && digestValue == nil:
			digestValue = c
		default:
			return nil, reject(RejectSignature, "Reference of <%s> holds an unexpected or repeated <%s>", el.Tag, c.Tag)
		}
	}
	if digestMethod == nil || digestValue == nil {
		return nil, reject(RejectSignature, "Reference of <%s> lacks DigestMethod or DigestValue", el.Tag)
	}
	if alg := attr(digestMethod, "Algorithm"); !allowedDigestMethods[alg] {
		if isSHA1(alg) {
			return nil, reject(RejectAlgorithm, "SHA-1 digest refused")
		}
		return nil, reject(RejectAlgorithm, "digest method %q refused", alg)
	}
	if _, ok := textOnly(digestValue); !ok {
		return nil, reject(RejectSignature, "DigestValue of <%s> holds more than text", el.Tag)
	}
	enveloped := false
	if transforms != nil {
		ts := transforms.ChildElements()
		for _, t := range ts {
			if alg := attr(t, "Algorithm"); alg != algEnveloped && alg != algExcC14N {
				return nil, reject(RejectAlgorithm, "signature transform %q refused", alg)
			}
		}
		if len(ts) > 2 {
			return nil, reject(RejectSignature, "more than two signature transforms")
		}
		for _, t := range ts {
			if !is(t, nsDSig, "Transform") {
				return nil, reject(RejectSignature, "unexpected <%s> in Transforms", t.Tag)
			}
			switch alg := attr(t, "Algorithm"); alg {
			case algEnveloped:
				if enveloped || len(t.ChildElements()) > 0 {
					return nil, reject(RejectSignature, "malformed enveloped-signature transform")
				}
				enveloped = true
			case algExcC14N:
				if rj := checkInclusiveNamespacesOnly(t, el.Tag); rj != nil {
					return nil, rj
				}
			default:
				return nil, reject(RejectAlgorithm, "signature transform %q refused", alg)
			}
		}
	}
	if !enveloped {
		return nil, reject(RejectSignature, "signature of <%s> is not enveloped", el.Tag)
	}
	return sig, nil
}

// countElements counts el and the elements below it, stopping at limit.
func countElements(el *etree.Element, limit int) int {
	n := 1
	for _, c := range el.ChildElements() {
		if n >= limit {
			break
		}
		n += countElements(c, limit-n)
	}
	return n
}

// checkInclusiveNamespacesOnly allows, inside a c14n method or transform,
// only the ec:InclusiveNamespaces element of exclusive c14n.
func checkInclusiveNamespacesOnly(el *etree.Element, tag string) *RejectError {
	for _, c := range el.ChildElements() {
		if !is(c, nsExcC14N, "InclusiveNamespaces") || len(c.ChildElements()) > 0 {
			return reject(RejectSignature, "unexpected <%s> in the canonicalization of <%s>", c.Tag, tag)
		}
	}
	return nil
}

// textOnly is textOf that also refuses comments and processing
// instructions, for values that must be exactly one piece of text.
func textOnly(el *etree.Element) (string, bool) {
	var sb strings.Builder
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.CharData:
			sb.WriteString(t.Data)
		default:
			return "", false
		}
	}
	return sb.String(), true
}

// hasX509KeyInfo reports whether the signature names its certificate.
func hasX509KeyInfo(sig *etree.Element) bool {
	for _, ki := range children(sig, nsDSig, "KeyInfo") {
		for _, xd := range children(ki, nsDSig, "X509Data") {
			if len(children(xd, nsDSig, "X509Certificate")) > 0 {
				return true
			}
		}
	}
	return false
}

// verification records one signature check made while a response was
// parsed: the element's local name and ID, and on success the element as
// goxmldsig re-parsed it from the bytes the signature covers.
type verification struct {
	tag, id  string
	verified *etree.Element
	err      *RejectError
}

// recorder is the crewjam SignatureVerifier used for one ParseResponse call.
// It applies the signature profile, verifies with goxmldsig (trying each IdP
// certificate in turn when the signature has no X509 KeyInfo, so that key
// rollover works), checks certificate validity at the caller's now, and
// records every result, so that the policy layer knows exactly which
// elements were verified and can read them from the verified bytes.
type recorder struct {
	certs []*x509.Certificate
	now   time.Time
	// originals is set when the library parses a prefix view of the
	// response (prefixView): the elements of the original document whose
	// signatures the library may ask about (the Response and a plaintext
	// Assertion), by ID.
	originals map[string]*etree.Element

	mu      sync.Mutex
	results []verification
}

// VerifySignature implements crewjam's saml.SignatureVerifier.
//
// When the library works on a prefix view, the element it holds cannot
// verify (exclusive c14n covers prefixes): the original element with the
// same ID is verified in its place, provided the two agree in everything
// but prefixes, and it is the original's verified bytes that are recorded.
// Any other element (an assertion the library decrypted, whose plaintext is
// the IdP's own) is verified as given.
func (r *recorder) VerifySignature(_ *dsig.ValidationContext, el *etree.Element) error {
	v := verification{tag: el.Tag, id: attr(el, "ID")}
	target := el
	if o := r.originals[v.id]; o != nil && hasAttr(el, "ID") {
		if !sameExpanded(el, o) {
			v.err = reject(RejectDisagreement, "crewjam/saml asked to verify a <%s> ID=%q that is not the document's", el.Tag, v.id)
		} else {
			target, v.err = detach(o)
		}
	}
	if v.err == nil {
		v.verified, v.err = verifyElement(target, r.certs, r.now)
	}
	r.mu.Lock()
	r.results = append(r.results, v)
	r.mu.Unlock()
	if v.err != nil {
		return v.err
	}
	return nil
}

// verifyElement checks el's enveloped signature against certs at now and
// returns the verified element. el must be detached from its document with
// its namespace context (etreeutils.NSDetatch), as crewjam does.
//
// Security-sensitive: this is where "signed by the IdP" is decided.
func verifyElement(el *etree.Element, certs []*x509.Certificate, now time.Time) (*etree.Element, *RejectError) {
	sig, rj := checkSignatureProfile(el)
	if rj != nil {
		return nil, rj
	}
	if sig == nil {
		return nil, reject(RejectSignature, "<%s> is not signed", el.Tag)
	}
	if len(certs) == 0 {
		return nil, reject(RejectSignature, "no IdP signing certificate is configured")
	}
	if !hasX509KeyInfo(sig) && len(children(sig, nsDSig, "KeyInfo")) > 0 {
		// A KeyInfo without a certificate (an RSAKeyValue, a KeyName) is
		// only a hint and is not signed; goxmldsig insists on a certificate
		// when KeyInfo is present, so drop it and match against ours.
		el = el.Copy()
		s := children(el, nsDSig, "Signature")[0]
		for _, ki := range children(s, nsDSig, "KeyInfo") {
			s.RemoveChild(ki)
		}
	}
	clock := dsig.NewFakeClockAt(now)
	try := func(roots []*x509.Certificate) (*etree.Element, error) {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: roots})
		vc.IdAttribute = "ID"
		vc.Clock = clock
		return vc.Validate(el)
	}
	if hasX509KeyInfo(sig) || len(certs) == 1 {
		out, err := try(certs)
		if err != nil {
			return nil, rejectErr(RejectSignature, err, "signature of <%s> ID=%q does not verify", el.Tag, attr(el, "ID"))
		}
		return out, nil
	}
	// No certificate named: goxmldsig needs exactly one root, so try each
	// trusted certificate on its own.
	var last error
	for _, c := range certs {
		out, err := try([]*x509.Certificate{c})
		if err == nil {
			return out, nil
		}
		last = err
	}
	return nil, rejectErr(RejectSignature, last, "signature of <%s> ID=%q verifies with none of the %d IdP certificates", el.Tag, attr(el, "ID"), len(certs))
}

// detach returns a copy of el, carrying the namespace declarations it
// inherits from its ancestors, ready for verification on its own.
func detach(el *etree.Element) (*etree.Element, *RejectError) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err == nil {
		ctx, err = ctx.SubContext(el)
	}
	if err != nil {
		return nil, rejectErr(RejectMalformed, err, "namespace context of <%s>", el.Tag)
	}
	out, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, rejectErr(RejectMalformed, err, "namespace context of <%s>", el.Tag)
	}
	return out, nil
}
