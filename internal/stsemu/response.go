package stsemu

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// This file reads the SAML response of a request (reference §15 items 2–3):
// its structure, the Issuer against the provider, and the XML signatures,
// returning the assertion exactly as the signature covers it.

// Algorithms of the signature profile (SAML core §5.4; reference §15 item 3).
const (
	algExcC14N    = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnveloped  = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	statusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"
)

// SHA-1 is refused (signature method and digest): the emulator decides that
// policy explicitly (§15 item 3) since no public source says what AWS does.
var (
	signatureMethods = map[string]bool{
		dsig.RSASHA256SignatureMethod:   true,
		dsig.RSASHA384SignatureMethod:   true,
		dsig.RSASHA512SignatureMethod:   true,
		dsig.ECDSASHA256SignatureMethod: true,
		dsig.ECDSASHA384SignatureMethod: true,
		dsig.ECDSASHA512SignatureMethod: true,
	}
	digestMethods = map[string]bool{
		"http://www.w3.org/2001/04/xmlenc#sha256":       true,
		"http://www.w3.org/2001/04/xmldsig-more#sha384": true,
		"http://www.w3.org/2001/04/xmlenc#sha512":       true,
	}
)

// verifiedResponse is the part of a SAML response that the emulator trusts.
type verifiedResponse struct {
	// assertion is the saml:Assertion as re-read from the bytes its
	// signature (or the Response's) covers: every claim comes from here.
	assertion *etree.Element
	// responseIssueInstant is the Response's IssueInstant ("" if absent).
	// It is read even when only the assertion is signed; it can only make
	// the 5-minute rule stricter.
	responseIssueInstant string
}

// readResponse parses and verifies the decoded SAMLResponse xmlBytes for
// prov, in AWS's order: XML, IdP status, one plaintext assertion, Issuer,
// signatures.
func readResponse(xmlBytes []byte, prov *provider, requestID string) (*verifiedResponse, *Error) {
	doc, err := readXML(xmlBytes)
	if err != nil {
		return nil, invalidResponse("%v", err)
	}
	root := doc.Root()
	if !is(root, nsProtocol, "Response") {
		return nil, invalidResponse("the root element is not samlp:Response")
	}
	// A Response whose status is not Success reports a failed sign-in (and
	// carries no assertion): IDPRejectedClaim, "the IdP reported that
	// authentication failed" ([API] errors).
	if code := child(child(root, nsProtocol, "Status"), nsProtocol, "StatusCode"); code == nil ||
		code.SelectAttrValue("Value", "") != statusSuccess {
		return nil, newError(403, CodeIDPRejectedClaim, MsgIdPRejected)
	}

	// Exactly one assertion, in plaintext, a child of the Response. An
	// assertion anywhere else (Extensions, a ds:Object, Advice) is how
	// signature-wrapping attacks smuggle the signed original past the
	// reader, so any second one is refused outright (§15 item 3).
	if enc := descendants(root, nsAssertion, "EncryptedAssertion"); len(enc) > 0 {
		return nil, invalidResponse("encrypted assertions are not supported: the IAM provider has no private key, and a response shared with STS must be unencrypted (reference §4)")
	}
	all := descendants(root, nsAssertion, "Assertion")
	if len(all) != 1 || all[0].Parent() != root {
		return nil, invalidResponse("want exactly one Assertion, a child of the Response; found %d", len(all))
	}
	raw := all[0]

	// Issuer: the Response's (optional) and the assertion's must both be the
	// provider's entity ID (§15 item 2). AWS looks the issuer up before it
	// verifies anything, so this uses the unverified text; the verified
	// assertion is checked again below.
	if ri := child(root, nsAssertion, "Issuer"); ri != nil && text(ri) != prov.entityID {
		return nil, issuerMismatch(requestID)
	}
	if text(child(raw, nsAssertion, "Issuer")) != prov.entityID {
		return nil, issuerMismatch(requestID)
	}

	// Signatures: the Response, the assertion, or both; every signature
	// present must verify, and at least one must cover the assertion.
	vResp, respSigned, err := verifyEnveloped(root, root, prov.certs)
	if err != nil {
		return nil, signatureInvalid()
	}
	vAssertion, assertionSigned, err := verifyEnveloped(root, raw, prov.certs)
	if err != nil {
		return nil, signatureInvalid()
	}
	out := &verifiedResponse{responseIssueInstant: root.SelectAttrValue("IssueInstant", "")}
	switch {
	case assertionSigned:
		out.assertion = vAssertion
	case respSigned:
		as := children(vResp, nsAssertion, "Assertion")
		if len(as) != 1 {
			return nil, signatureInvalid()
		}
		out.assertion = as[0]
		out.responseIssueInstant = vResp.SelectAttrValue("IssueInstant", "")
	default:
		return nil, signatureInvalid() // nothing is signed
	}
	if text(child(out.assertion, nsAssertion, "Issuer")) != prov.entityID {
		return nil, issuerMismatch(requestID)
	}
	return out, nil
}

// verifyEnveloped verifies the enveloped signature of el (an element of the
// document whose root is root) against the provider's certificates and
// returns el as goxmldsig re-reads it from the signed bytes. signed is false,
// with no error, when el carries no signature.
//
// The signature must follow the SAML profile: one ds:Signature child of el,
// one Reference whose URI is "#" + el's ID, that ID unique in the document,
// the enveloped-signature and exclusive c14n transforms only, exclusive c14n
// for SignedInfo, SHA-2 algorithms. KeyInfo is never trusted: it is removed
// and each certificate of the provider's metadata is tried in turn (key
// rollover: a provider may publish up to 10). Certificate validity dates are
// not enforced (no public source says AWS does).
func verifyEnveloped(root, el *etree.Element, certs []*x509.Certificate) (verified *etree.Element, signed bool, err error) {
	sigs := children(el, nsDSig, "Signature")
	switch len(sigs) {
	case 0:
		return nil, false, nil
	case 1:
	default:
		return nil, true, errors.New("more than one signature")
	}
	id := el.SelectAttrValue("ID", "")
	if id == "" {
		return nil, true, errors.New("signed element has no ID")
	}
	if n := countID(root, id); n != 1 {
		return nil, true, fmt.Errorf("ID %q appears %d times", id, n)
	}
	if err := checkProfile(sigs[0], id); err != nil {
		return nil, true, err
	}
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, true, err
	}
	detached, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, true, err
	}
	sig := children(detached, nsDSig, "Signature")[0]
	for _, ki := range children(sig, nsDSig, "KeyInfo") {
		sig.RemoveChild(ki)
	}
	var last error
	for _, c := range certs {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
		vc.IdAttribute = "ID"
		// goxmldsig checks the certificate's validity at Clock; pin it
		// inside the validity period so that dates are not enforced.
		vc.Clock = dsig.NewFakeClockAt(c.NotBefore)
		out, err := vc.Validate(detached)
		if err == nil {
			return out, true, nil
		}
		last = err
	}
	return nil, true, fmt.Errorf("no provider certificate verifies the signature: %w", last)
}

// checkProfile applies SAML core §5.4 to a ds:Signature referencing id.
func checkProfile(sig *etree.Element, id string) error {
	var signedInfo *etree.Element
	for _, c := range sig.ChildElements() {
		switch {
		case is(c, nsDSig, "SignedInfo") && signedInfo == nil:
			signedInfo = c
		case is(c, nsDSig, "SignatureValue"), is(c, nsDSig, "KeyInfo"):
		default:
			return fmt.Errorf("unexpected <%s> in Signature", c.Tag)
		}
	}
	if signedInfo == nil || len(children(sig, nsDSig, "SignatureValue")) != 1 || len(children(sig, nsDSig, "KeyInfo")) > 1 {
		return errors.New("Signature must hold one SignedInfo, one SignatureValue and at most one KeyInfo")
	}
	var refs []*etree.Element
	c14n, method := 0, 0
	for _, c := range signedInfo.ChildElements() {
		switch {
		case is(c, nsDSig, "CanonicalizationMethod"):
			c14n++
			if c.SelectAttrValue("Algorithm", "") != algExcC14N {
				return errors.New("SignedInfo must use exclusive c14n")
			}
		case is(c, nsDSig, "SignatureMethod"):
			method++
			if !signatureMethods[c.SelectAttrValue("Algorithm", "")] {
				return fmt.Errorf("signature method %q refused", c.SelectAttrValue("Algorithm", ""))
			}
		case is(c, nsDSig, "Reference"):
			refs = append(refs, c)
		default:
			return fmt.Errorf("unexpected <%s> in SignedInfo", c.Tag)
		}
	}
	if c14n != 1 || method != 1 || len(refs) != 1 {
		return errors.New("SignedInfo must hold one CanonicalizationMethod, one SignatureMethod and one Reference")
	}
	ref := refs[0]
	if uri := ref.SelectAttr("URI"); uri == nil || uri.Value != "#"+id {
		return fmt.Errorf("Reference must point at #%s", id)
	}
	if dm := child(ref, nsDSig, "DigestMethod"); dm == nil || !digestMethods[dm.SelectAttrValue("Algorithm", "")] {
		return errors.New("digest method refused")
	}
	if child(ref, nsDSig, "DigestValue") == nil {
		return errors.New("no DigestValue")
	}
	var algs []string
	for _, t := range children(child(ref, nsDSig, "Transforms"), nsDSig, "Transform") {
		algs = append(algs, t.SelectAttrValue("Algorithm", ""))
	}
	switch strings.Join(algs, " ") {
	case algEnveloped + " " + algExcC14N, algExcC14N + " " + algEnveloped:
	default:
		return errors.New("transforms must be enveloped-signature and exclusive c14n")
	}
	return nil
}

// countID counts the elements under (and including) el whose ID attribute is
// id.
func countID(el *etree.Element, id string) int {
	n := 0
	if a := el.SelectAttr("ID"); a != nil && a.Value == id {
		n++
	}
	for _, c := range el.ChildElements() {
		n += countID(c, id)
	}
	return n
}

// parseTime reads an xs:dateTime as SAML writes it (UTC, optional fraction).
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	return t, nil
}
