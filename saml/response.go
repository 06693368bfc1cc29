package saml

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	glossa "github.com/glossa-dev/glossa"
)

// ReplayCache records the one-time use of assertion and logout message IDs.
// Consume records id until the given time and returns an error if it was
// already recorded and has not expired: an error whose glossa.ErrorCode is
// ECONFLICT (or that wraps ErrReplayed) means a replay, any other error a
// failure of the cache; both refuse the message. Glossa's implementation
// lives in the database, so that a second process sharing it refuses the
// replay too. Logout message IDs are passed with the prefix "logout:".
type ReplayCache interface {
	Consume(ctx context.Context, id string, until time.Time) error
}

// ErrReplayed may be returned (wrapped) by a ReplayCache for an ID that was
// already consumed.
var ErrReplayed = errors.New("saml: already used")

// issueDelay is how old, beyond the clock skew, an IssueInstant may be; it
// matches crewjam's MaxIssueDelay default.
const issueDelay = 90 * time.Second

// Limits on what one assertion may carry.
const (
	maxNameID          = 1024
	maxAttributeValues = 20_000
)

// Status and confirmation identifiers (SAML core §3.2.2.2, profiles §3.3).
const (
	statusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"
	methodBearer  = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// Encryption algorithm identifiers (XML Encryption 1.1 §5).
const (
	algRSAOAEPMGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	algRSAOAEP11    = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
	algRSA15        = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
	algTripleDES    = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"
)

var gcmAlgorithms = map[string]bool{
	"http://www.w3.org/2009/xmlenc11#aes128-gcm": true,
	"http://www.w3.org/2009/xmlenc11#aes192-gcm": true,
	"http://www.w3.org/2009/xmlenc11#aes256-gcm": true,
}

var cbcAlgorithms = map[string]bool{
	"http://www.w3.org/2001/04/xmlenc#aes128-cbc": true,
	"http://www.w3.org/2001/04/xmlenc#aes192-cbc": true,
	"http://www.w3.org/2001/04/xmlenc#aes256-cbc": true,
}

var oaepDigests = map[string]bool{
	"":                                       true, // SHA-1, the rsa-oaep-mgf1p default
	"http://www.w3.org/2000/09/xmldsig#sha1": true, // OAEP's hash, not a signature: collisions do not matter here
	"http://www.w3.org/2001/04/xmlenc#sha256": true,
	"http://www.w3.org/2001/04/xmlenc#sha512": true,
}

// Response is an accepted SAML response.
type Response struct {
	// Identity is what the verified assertion says about the person.
	Identity *glossa.SAMLIdentity
	// Raw is the SAMLResponse exactly as received (base64), for the
	// federation hand-off (AWS STS AssumeRoleWithSAML wants these bytes,
	// never a re-serialisation). It is a bearer credential until the
	// assertion expires: keep it no longer than needed.
	Raw string
	// InResponseTo is the request ID the response answers, "" when
	// unsolicited (IdP-initiated).
	InResponseTo string
	// ResponseSigned and AssertionSigned say which signatures verified;
	// Encrypted that the assertion was encrypted.
	ResponseSigned, AssertionSigned, Encrypted bool
}

// ParseResponse is the assertion consumer service (SAML profiles §4.1.4,
// HTTP-POST binding §3.5): it validates a SAMLResponse and returns the
// identity it asserts. See ValidateResponse.
func (sp *ServiceProvider) ParseResponse(ctx context.Context, samlResponseB64 string, possibleRequestIDs []string, now time.Time, replay ReplayCache) (*glossa.SAMLIdentity, error) {
	res, err := sp.ValidateResponse(ctx, samlResponseB64, possibleRequestIDs, now, replay)
	if err != nil {
		return nil, err
	}
	return res.Identity, nil
}

// ValidateResponse validates a SAMLResponse received at this SP's ACS and
// returns it with the identity it asserts. possibleRequestIDs are the IDs
// of AuthnRequests that the posting browser started and that are still
// pending; now is the time of receipt; replay records the assertion ID once
// every other check has passed.
//
// Every refusal is a *RejectError. The checks, in order: size and XML
// screening; document structure (one assertion, signatures only where SAML
// puts them, unique IDs); signature profile and algorithms; encryption
// algorithms and the choice of decryption key; this policy's checks on the
// unverified document (to report the precise reason early); crewjam's
// ParseXMLResponse (on a prefix view of the document when one prefix is
// bound to two namespaces, see libview.go), whose signature checks go
// through our recorder, always on the bytes received; the
// policy's checks again on the verified bytes, from which the identity is
// read; a comparison with the library's own result; the replay cache.
//
// Security-sensitive: this decides who signs in.
func (sp *ServiceProvider) ValidateResponse(ctx context.Context, samlResponseB64 string, possibleRequestIDs []string, now time.Time, replay ReplayCache) (res *Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, reject(RejectPanic, "panic while validating the response: %v", r)
		}
	}()
	res, rj := sp.validateResponse(ctx, samlResponseB64, possibleRequestIDs, now, replay)
	if rj != nil {
		return nil, rj
	}
	return res, nil
}

func (sp *ServiceProvider) validateResponse(ctx context.Context, b64 string, possibleRequestIDs []string, now time.Time, replay ReplayCache) (*Response, *RejectError) {
	if replay == nil {
		return nil, reject(RejectInternal, "no replay cache")
	}
	ids := nonEmpty(possibleRequestIDs)
	raw, rj := decodeBase64(b64, MaxResponseBytes)
	if rj != nil {
		return nil, rj
	}
	// No round-trip check here: ParseXMLResponse makes it on these very
	// bytes before it reads them (when it is given a prefix view instead,
	// the check is made on these bytes below), and pass 1 only ever refuses.
	doc, rj := parseScreened(raw, false)
	if rj != nil {
		return nil, rj
	}
	resp := doc.Root()
	sh, rj := checkStructure(resp)
	if rj != nil {
		return nil, rj
	}
	if _, rj := checkSignatureProfile(resp); rj != nil {
		return nil, rj
	}
	assertionSig := false
	if sh.assertion != nil {
		sig, rj := checkSignatureProfile(sh.assertion)
		if rj != nil {
			return nil, rj
		}
		assertionSig = sig != nil
	}
	if sp.conn.RequireSignedResponse && !sh.responseSig {
		return nil, reject(RejectSignature, "the connection requires a signed Response and this one is not signed")
	}
	if sh.assertion != nil && !sh.responseSig && !assertionSig {
		return nil, reject(RejectSignature, "neither the Response nor the Assertion is signed")
	}
	var dec *decrypter
	if sh.encrypted != nil {
		if dec, rj = sp.checkEncryption(sh.encrypted, sh.responseSig); rj != nil {
			return nil, rj
		}
		sh.encryptedCBC = isCBC(sh.encrypted)
	}

	// Pass 1, on the unverified document: only to refuse early, with the
	// precise reason. Nothing read here is used.
	if _, rj := sp.checkResponse(resp, ids, now); rj != nil {
		return nil, rj
	}
	if sh.assertion != nil {
		if _, rj := sp.checkAssertion(sh.assertion, ids, now); rj != nil {
			return nil, rj
		}
	}

	// The library: XML, signatures (through rec), decryption, its checks.
	rec := &recorder{certs: sp.idp.SigningCerts, now: now}
	lib := sp.tmpl
	lib.SignatureVerifier = rec
	lib.Key = nil
	if dec != nil {
		lib.Key = dec.key
	}
	input := raw
	view, rj := prefixView(doc)
	if rj != nil {
		return nil, rj
	}
	if view != nil {
		// A prefix bound to two namespaces, which v0.5.2 cannot read
		// (libview.go): the library gets the view, and the round-trip
		// check it makes on its input is made on the original here.
		if err := xrv.Validate(bytes.NewReader(raw)); err != nil {
			return nil, rejectErr(RejectMalformed, err, "XML changes in an encoding/xml round trip")
		}
		input = view
		rec.originals = map[string]*etree.Element{attr(resp, "ID"): resp}
		if sh.assertion != nil {
			rec.originals[attr(sh.assertion, "ID")] = sh.assertion
		}
	}
	libAssertion, err := lib.ParseXMLResponse(input, ids, sp.acs)
	for _, v := range rec.results {
		if v.err != nil {
			return nil, v.err // whatever the library made of it
		}
	}
	if err != nil {
		return nil, libraryReject(err)
	}

	// Which elements did the library have verified?
	var respV, assertV *etree.Element
	for _, v := range rec.results {
		switch {
		case is(v.verified, nsProtocol, "Response") && v.id == attr(resp, "ID") && respV == nil:
			respV = v.verified
		case is(v.verified, nsAssertion, "Assertion") && assertV == nil:
			assertV = v.verified
		default:
			return nil, reject(RejectStructure, "unexpected verification of <%s> ID=%q", v.tag, v.id)
		}
	}
	if sp.conn.RequireSignedResponse && respV == nil {
		return nil, reject(RejectSignature, "the connection requires a signed Response and this one is not signed")
	}

	// The element we read: always from verified bytes.
	out := &Response{Raw: b64, ResponseSigned: respV != nil, Encrypted: sh.encrypted != nil}
	respRead := resp
	var assertRead *etree.Element
	switch {
	case respV != nil:
		respRead = respV
		a, e, rj := assertionChild(respV)
		if rj != nil {
			return nil, rj
		}
		if e != nil {
			if !out.Encrypted || dec == nil {
				return nil, reject(RejectDisagreement, "verified Response holds an EncryptedAssertion the document did not")
			}
			pt, rj := decryptAssertion(e, dec.key)
			if rj != nil {
				return nil, rj
			}
			a = pt
		} else if out.Encrypted {
			return nil, reject(RejectDisagreement, "verified Response holds a plaintext Assertion where the document had an EncryptedAssertion")
		}
		assertRead = a
		if len(children(a, nsDSig, "Signature")) > 0 {
			// v0.5.2 skips the Assertion's signature inside a signed
			// Response; a signature that is there must verify all the same.
			d, rj := detach(a)
			if rj != nil {
				return nil, rj
			}
			v, rj := verifyElement(d, sp.idp.SigningCerts, now)
			if rj != nil {
				return nil, rj
			}
			assertRead, out.AssertionSigned = v, true
		}
	case assertV != nil:
		assertRead, out.AssertionSigned = assertV, true
	default:
		return nil, reject(RejectSignature, "neither the Response nor the Assertion is signed")
	}
	if out.Encrypted && !out.ResponseSigned && !out.AssertionSigned {
		return nil, reject(RejectSignature, "the encrypted assertion is not signed")
	}
	if sh.encryptedCBC && !out.ResponseSigned {
		return nil, reject(RejectEncryption, "CBC encryption is accepted only inside a signed Response")
	}

	// Pass 2, on the verified bytes.
	irt, rj := sp.checkResponse(respRead, ids, now)
	if rj != nil {
		return nil, rj
	}
	f, rj := sp.checkAssertion(assertRead, ids, now)
	if rj != nil {
		return nil, rj
	}
	if irt != "" && f.inResponseTo != "" && irt != f.inResponseTo {
		return nil, reject(RejectInResponseTo, "Response InResponseTo %q differs from the assertion's %q", irt, f.inResponseTo)
	}
	if irt == "" {
		irt = f.inResponseTo
	}
	if sh.assertion != nil && attr(sh.assertion, "ID") != f.id {
		return nil, reject(RejectDisagreement, "verified assertion ID %q is not the document's %q", f.id, attr(sh.assertion, "ID"))
	}

	// Differential check against what the library read.
	if libAssertion == nil || libAssertion.ID != f.id ||
		strings.TrimSpace(libAssertion.Issuer.Value) != f.issuer ||
		libAssertion.Subject == nil || libAssertion.Subject.NameID == nil ||
		strings.TrimSpace(libAssertion.Subject.NameID.Value) != f.nameID {
		return nil, reject(RejectDisagreement, "crewjam/saml and the policy layer read different assertions")
	}

	if err := replay.Consume(ctx, f.id, f.replayUntil.Add(sp.skew)); err != nil {
		if errors.Is(err, ErrReplayed) || glossa.ErrorCode(err) == glossa.ECONFLICT {
			return nil, rejectErr(RejectReplay, err, "assertion %q was already used", f.id)
		}
		return nil, rejectErr(RejectInternal, err, "replay cache")
	}

	id := &glossa.SAMLIdentity{
		IdPEntityID:         sp.idp.EntityID,
		NameID:              f.nameID,
		NameIDFormat:        f.nameIDFormat,
		SessionIndex:        f.sessionIndex,
		Attributes:          map[string][]string{},
		AssertionID:         f.id,
		NotOnOrAfter:        f.notOnOrAfter,
		SessionNotOnOrAfter: f.sessionNotOnOrAfter,
	}
	for _, a := range f.attributes {
		id.Attributes[a.name] = append(id.Attributes[a.name], a.values...)
	}
	fillProfile(id, f.attributes, sp.names)
	out.Identity, out.InResponseTo = id, irt
	return out, nil
}

// shape is what checkStructure found.
type shape struct {
	assertion    *etree.Element // the plaintext Assertion, or nil
	encrypted    *etree.Element // the EncryptedAssertion, or nil
	responseSig  bool           // the Response carries a ds:Signature
	encryptedCBC bool           // set by checkEncryption
}

// checkStructure checks the shape of the whole document before anything
// else reads it:
//
//   - the root is samlp:Response (SAML core §3.2.2) with an ID and Version 2.0;
//   - there is exactly one element named Assertion or EncryptedAssertion, in
//     any namespace and at any depth, and it is a direct child of the
//     Response in the assertion namespace: wrapping attacks (XSW1-8), a second
//     assertion (CVE-2022-41912), an assertion hidden in Extensions, a
//     ds:Object or Advice, and a plaintext next to an encrypted one all fail
//     here;
//   - no other Response element exists;
//   - ds:Signature elements are direct children of the Response or of that
//     Assertion and hold only XML-DSig elements; no other XML-DSig element
//     exists outside them except inside the EncryptedAssertion; no element
//     named Signature lives in another namespace;
//   - the Response has no children but those SAML core §3.2.2 allows;
//   - every ID attribute value is unique.
//
// Security-sensitive.
func checkStructure(resp *etree.Element) (*shape, *RejectError) {
	if !is(resp, nsProtocol, "Response") {
		return nil, reject(RejectMalformed, "root element is <%s> in %q, not samlp:Response", resp.Tag, resp.NamespaceURI())
	}
	if attr(resp, "ID") == "" {
		return nil, reject(RejectMalformed, "Response has no ID")
	}
	sh := &shape{}
	for _, c := range resp.ChildElements() {
		switch {
		case is(c, nsAssertion, "Issuer"), is(c, nsProtocol, "Status"), is(c, nsProtocol, "Extensions"):
		case is(c, nsDSig, "Signature"):
			sh.responseSig = true
		case is(c, nsAssertion, "Assertion"):
			sh.assertion = c
		case is(c, nsAssertion, "EncryptedAssertion"):
			sh.encrypted = c
		default:
			return nil, reject(RejectStructure, "unexpected <%s> in %q inside the Response", c.Tag, c.NamespaceURI())
		}
	}
	assertions, ids := 0, map[string]bool{}
	var rj *RejectError
	var visit func(el *etree.Element, inSig, inEnc bool)
	visit = func(el *etree.Element, inSig, inEnc bool) {
		if rj != nil {
			return
		}
		ns := el.NamespaceURI()
		if v := attr(el, "ID"); hasAttr(el, "ID") {
			if ids[v] {
				rj = reject(RejectStructure, "ID %q appears more than once", v)
				return
			}
			ids[v] = true
		}
		switch {
		case el.Tag == "Assertion" || el.Tag == "EncryptedAssertion":
			assertions++
			if assertions > 1 {
				rj = reject(RejectStructure, "more than one assertion in the document")
				return
			}
			if el.Parent() != resp || ns != nsAssertion {
				rj = reject(RejectStructure, "<%s> in %q is not a direct child of the Response", el.Tag, ns)
				return
			}
			if el.Tag == "EncryptedAssertion" {
				inEnc = true
			}
		case el.Tag == "Response" && el != resp:
			rj = reject(RejectStructure, "a nested <Response>")
			return
		case el.Tag == "Signature" && !inSig:
			if ns != nsDSig {
				rj = reject(RejectStructure, "<Signature> in namespace %q", ns)
				return
			}
			p := el.Parent()
			if p != resp && !(p != nil && p.Parent() == resp && is(p, nsAssertion, "Assertion")) {
				rj = reject(RejectStructure, "a ds:Signature inside <%s> where SAML puts none", p.Tag)
				return
			}
			inSig = true
		case inSig:
			if ns != nsDSig && ns != nsExcC14N && ns != "http://www.w3.org/2009/xmldsig11#" {
				rj = reject(RejectStructure, "<%s> in %q inside a ds:Signature", el.Tag, ns)
				return
			}
		case ns == nsDSig && !inEnc:
			rj = reject(RejectStructure, "ds:%s outside a signature", el.Tag)
			return
		}
		for _, c := range el.ChildElements() {
			visit(c, inSig, inEnc)
		}
	}
	visit(resp, false, false)
	if rj != nil {
		return nil, rj
	}
	if assertions == 0 {
		return nil, reject(RejectStructure, "no assertion in the Response")
	}
	return sh, nil
}

// checkEncryption checks the algorithms of an EncryptedAssertion before the
// library decrypts anything (XML Encryption 1.1 §5; SAML core errata E93 for
// CBC), and picks the SP key it was encrypted to. RSA1_5 (Bleichenbacher)
// and 3DES are refused outright; CBC only inside a Response that carries a
// signature, which the library verifies before it decrypts; GCM always.
func (sp *ServiceProvider) checkEncryption(enc *etree.Element, responseSigned bool) (*decrypter, *RejectError) {
	var data, sibling *etree.Element
	for _, c := range enc.ChildElements() {
		switch {
		case is(c, nsXMLEnc, "EncryptedData") && data == nil:
			data = c
		case is(c, nsXMLEnc, "EncryptedKey") && sibling == nil:
			sibling = c
		default:
			return nil, reject(RejectStructure, "unexpected or repeated <%s> in the EncryptedAssertion", c.Tag)
		}
	}
	if data == nil {
		return nil, reject(RejectStructure, "EncryptedAssertion without EncryptedData")
	}
	m, rj := child(data, nsXMLEnc, "EncryptionMethod")
	if rj != nil || m == nil {
		return nil, reject(RejectStructure, "EncryptedData without one EncryptionMethod")
	}
	switch alg := attr(m, "Algorithm"); {
	case gcmAlgorithms[alg]:
	case cbcAlgorithms[alg]:
		if !responseSigned {
			return nil, reject(RejectEncryption, "CBC-encrypted assertion (%s) in an unsigned Response", alg)
		}
	case alg == algTripleDES:
		return nil, reject(RejectAlgorithm, "3DES encryption refused")
	default:
		return nil, reject(RejectAlgorithm, "data encryption %q refused", alg)
	}
	// The EncryptedKey the library will use: the sibling, else the first in
	// EncryptedData/KeyInfo.
	var keys []*etree.Element
	if sibling != nil {
		keys = append(keys, sibling)
	}
	if ki, _ := child(data, nsDSig, "KeyInfo"); ki != nil {
		keys = append(keys, children(ki, nsXMLEnc, "EncryptedKey")...)
	}
	if len(keys) == 0 {
		return nil, reject(RejectEncryption, "no EncryptedKey")
	}
	if len(keys) > 4 {
		return nil, reject(RejectTooLarge, "%d EncryptedKeys", len(keys))
	}
	for _, k := range keys {
		km, rj := child(k, nsXMLEnc, "EncryptionMethod")
		if rj != nil || km == nil {
			return nil, reject(RejectStructure, "EncryptedKey without one EncryptionMethod")
		}
		switch alg := attr(km, "Algorithm"); alg {
		case algRSAOAEPMGF1P:
		case algRSA15:
			return nil, reject(RejectAlgorithm, "RSA1_5 key transport refused")
		case algRSAOAEP11:
			return nil, reject(RejectAlgorithm, "xmlenc11#rsa-oaep key transport is not supported by crewjam/saml v0.5.2; use rsa-oaep-mgf1p")
		default:
			return nil, reject(RejectAlgorithm, "key transport %q refused", alg)
		}
		for _, dm := range km.ChildElements() {
			if is(dm, nsDSig, "DigestMethod") && !oaepDigests[attr(dm, "Algorithm")] {
				return nil, reject(RejectAlgorithm, "OAEP digest %q refused", attr(dm, "Algorithm"))
			}
		}
	}
	if len(sp.decrypters) == 0 {
		return nil, reject(RejectEncryption, "the assertion is encrypted but the SP has no encryption key")
	}
	key := keys[0]
	if ki, _ := child(key, nsDSig, "KeyInfo"); ki != nil {
		if xd, _ := child(ki, nsDSig, "X509Data"); xd != nil {
			if xc, _ := child(xd, nsDSig, "X509Certificate"); xc != nil {
				cert, err := parseCertificateText(xc)
				if err != nil {
					return nil, rejectErr(RejectEncryption, err, "EncryptedKey names an unparsable certificate")
				}
				for i := range sp.decrypters {
					if sp.decrypters[i].cert.Equal(cert) {
						return &sp.decrypters[i], nil
					}
				}
				return nil, reject(RejectEncryption, "the assertion is encrypted to a certificate that is not one of this SP's")
			}
		}
	}
	if len(sp.decrypters) == 1 {
		return &sp.decrypters[0], nil
	}
	// No certificate named and several keys live (a rotation): find the
	// key that opens the EncryptedKey. RSA-OAEP fails cleanly on a wrong key.
	for i := range sp.decrypters {
		if _, err := xmlenc.Decrypt(sp.decrypters[i].key, key); err == nil {
			return &sp.decrypters[i], nil
		}
	}
	return nil, reject(RejectEncryption, "no SP encryption key opens the EncryptedKey")
}

// isCBC reports whether an EncryptedAssertion uses a CBC cipher.
func isCBC(enc *etree.Element) bool {
	data, _ := child(enc, nsXMLEnc, "EncryptedData")
	if data == nil {
		return false
	}
	m, _ := child(data, nsXMLEnc, "EncryptionMethod")
	return m != nil && cbcAlgorithms[attr(m, "Algorithm")]
}

// decryptAssertion decrypts an EncryptedAssertion taken from a verified
// Response, as the library does, and parses the plaintext with the same
// screening as a response.
func decryptAssertion(enc *etree.Element, key *rsa.PrivateKey) (*etree.Element, *RejectError) {
	data, _ := child(enc, nsXMLEnc, "EncryptedData")
	if data == nil {
		return nil, reject(RejectStructure, "EncryptedAssertion without EncryptedData")
	}
	var k any = key
	if sibling, _ := child(enc, nsXMLEnc, "EncryptedKey"); sibling != nil {
		sym, err := xmlenc.Decrypt(key, sibling)
		if err != nil {
			return nil, rejectErr(RejectEncryption, err, "cannot decrypt the EncryptedKey")
		}
		k = sym
	}
	pt, err := xmlenc.Decrypt(k, data)
	if err != nil {
		return nil, rejectErr(RejectEncryption, err, "cannot decrypt the assertion")
	}
	if len(pt) > MaxResponseBytes {
		return nil, reject(RejectTooLarge, "decrypted assertion is over the limit")
	}
	doc, rj := parseXML(pt)
	if rj != nil {
		return nil, rj
	}
	a := doc.Root()
	if !is(a, nsAssertion, "Assertion") {
		return nil, reject(RejectStructure, "EncryptedAssertion decrypts to <%s>, not an Assertion", a.Tag)
	}
	if _, rj := checkSignatureProfile(a); rj != nil {
		return nil, rj
	}
	return a, nil
}

// assertionChild returns the one Assertion or EncryptedAssertion of a
// verified Response.
func assertionChild(resp *etree.Element) (plain, enc *etree.Element, rj *RejectError) {
	as := children(resp, nsAssertion, "Assertion")
	es := children(resp, nsAssertion, "EncryptedAssertion")
	if len(as)+len(es) != 1 {
		return nil, nil, reject(RejectStructure, "the verified Response holds %d assertions", len(as)+len(es))
	}
	if len(as) == 1 {
		return as[0], nil, nil
	}
	return nil, es[0], nil
}

// checkResponse applies the policy to the Response element (SAML core
// §3.2.2, profiles §4.1.4.2): Version, Destination equal to our ACS (required
// even when the Response is unsigned), IssueInstant within the window,
// Issuer (optional) equal to the IdP entity ID with the entity format, Status
// Success, and InResponseTo. It returns InResponseTo.
func (sp *ServiceProvider) checkResponse(resp *etree.Element, ids []string, now time.Time) (string, *RejectError) {
	if v := attr(resp, "Version"); v != "2.0" {
		return "", reject(RejectMalformed, "Response Version %q is not 2.0", v)
	}
	if d := strings.TrimSpace(attr(resp, "Destination")); d != sp.acsURL {
		return "", reject(RejectDestination, "Response Destination %q is not our ACS %q", clip(d), sp.acsURL)
	}
	if rj := sp.checkIssueInstant(resp, now, "Response"); rj != nil {
		return "", rj
	}
	iss, rj := child(resp, nsAssertion, "Issuer")
	if rj != nil {
		return "", rj
	}
	if iss != nil {
		if rj := sp.checkIssuer(iss, "Response"); rj != nil {
			return "", rj
		}
	}
	st, rj := child(resp, nsProtocol, "Status")
	if rj != nil {
		return "", rj
	}
	if st == nil {
		return "", reject(RejectStatus, "Response has no Status")
	}
	code, rj := child(st, nsProtocol, "StatusCode")
	if rj != nil {
		return "", rj
	}
	if code == nil {
		return "", reject(RejectStatus, "Response Status has no StatusCode")
	}
	if v := attr(code, "Value"); v != statusSuccess {
		detail := v
		if sub, _ := child(code, nsProtocol, "StatusCode"); sub != nil {
			detail += " / " + attr(sub, "Value")
		}
		return "", reject(RejectStatus, "IdP status %s", clip(detail))
	}
	irt := attr(resp, "InResponseTo")
	if rj := checkInResponseTo(irt, ids, sp.conn.AllowIdPInitiated, "Response"); rj != nil {
		return "", rj
	}
	return irt, nil
}

// facts is what checkAssertion read from an assertion.
type facts struct {
	id, issuer           string
	nameID, nameIDFormat string
	sessionIndex         string
	sessionNotOnOrAfter  *time.Time
	notOnOrAfter         time.Time
	replayUntil          time.Time
	inResponseTo         string
	attributes           []attribute
}

// checkAssertion applies the policy to an Assertion (SAML core §2.3.3,
// §2.4, §2.5, §2.7; profiles §4.1.4.2) and reads it: Version and ID;
// IssueInstant within the window; Issuer equal to the IdP entity ID; one
// Subject with one plain NameID that is not transient, not empty and not
// too long; every SubjectConfirmation bearer, each with
// SubjectConfirmationData whose Recipient is our ACS, whose NotOnOrAfter is
// present and not passed and whose InResponseTo follows the rule; one
// Conditions whose NotBefore and NotOnOrAfter hold, with at least one
// AudienceRestriction, each naming our entity ID among its audiences, and
// no condition we do not understand (§2.5.1.5: treat as Indeterminate); at
// least one AuthnStatement, none whose SessionNotOnOrAfter has passed; no
// EncryptedAttribute.
func (sp *ServiceProvider) checkAssertion(a *etree.Element, ids []string, now time.Time) (*facts, *RejectError) {
	if !is(a, nsAssertion, "Assertion") {
		return nil, reject(RejectStructure, "<%s> is not a saml:Assertion", a.Tag)
	}
	var nested *etree.Element
	walk(a, func(el *etree.Element) {
		if nested == nil && el != a && (el.Tag == "Assertion" || el.Tag == "EncryptedAssertion" || el.Tag == "Response") {
			nested = el
		}
	})
	if nested != nil {
		return nil, reject(RejectStructure, "a nested <%s> inside the assertion", nested.Tag)
	}
	f := &facts{id: attr(a, "ID")}
	if f.id == "" {
		return nil, reject(RejectMalformed, "Assertion has no ID")
	}
	if v := attr(a, "Version"); v != "2.0" {
		return nil, reject(RejectMalformed, "Assertion Version %q is not 2.0", v)
	}
	if rj := sp.checkIssueInstant(a, now, "Assertion"); rj != nil {
		return nil, rj
	}
	iss, rj := child(a, nsAssertion, "Issuer")
	if rj != nil {
		return nil, rj
	}
	if iss == nil {
		return nil, reject(RejectIssuer, "Assertion has no Issuer")
	}
	if rj := sp.checkIssuer(iss, "Assertion"); rj != nil {
		return nil, rj
	}
	f.issuer = sp.idp.EntityID

	// Subject (§2.4).
	subj, rj := child(a, nsAssertion, "Subject")
	if rj != nil {
		return nil, rj
	}
	if subj == nil {
		return nil, reject(RejectSubject, "Assertion has no Subject")
	}
	var nameID *etree.Element
	var confirmations []*etree.Element
	for _, c := range subj.ChildElements() {
		switch {
		case is(c, nsAssertion, "NameID") && nameID == nil:
			nameID = c
		case is(c, nsAssertion, "SubjectConfirmation"):
			confirmations = append(confirmations, c)
		case is(c, nsAssertion, "EncryptedID"), is(c, nsAssertion, "BaseID"):
			return nil, reject(RejectSubject, "Subject carries <%s>, which is not supported", c.Tag)
		default:
			return nil, reject(RejectSubject, "unexpected or repeated <%s> in %q inside the Subject", c.Tag, c.NamespaceURI())
		}
	}
	if nameID == nil {
		return nil, reject(RejectSubject, "Subject has no NameID")
	}
	v, ok := textOf(nameID)
	if !ok {
		return nil, reject(RejectSubject, "NameID holds elements")
	}
	f.nameID = strings.TrimSpace(v)
	f.nameIDFormat = strings.TrimSpace(attr(nameID, "Format"))
	switch {
	case f.nameID == "":
		return nil, reject(RejectSubject, "NameID is empty")
	case len(f.nameID) > maxNameID:
		return nil, reject(RejectSubject, "NameID is longer than %d bytes", maxNameID)
	case f.nameIDFormat == NameIDFormatTransient:
		return nil, reject(RejectSubject, "transient NameID cannot identify a person across sign-ins; configure a persistent or email NameID")
	}
	if len(confirmations) == 0 {
		return nil, reject(RejectSubject, "Subject has no SubjectConfirmation")
	}
	for _, sc := range confirmations {
		if m := attr(sc, "Method"); m != methodBearer {
			return nil, reject(RejectSubject, "SubjectConfirmation Method %q is not bearer", clip(m))
		}
		scds := children(sc, nsAssertion, "SubjectConfirmationData")
		if len(scds) != 1 {
			return nil, reject(RejectSubject, "bearer SubjectConfirmation needs one SubjectConfirmationData")
		}
		scd := scds[0]
		if r := strings.TrimSpace(attr(scd, "Recipient")); r != sp.acsURL {
			return nil, reject(RejectRecipient, "SubjectConfirmationData Recipient %q is not our ACS %q", clip(r), sp.acsURL)
		}
		noa, rj := sp.timeAttr(scd, "NotOnOrAfter", true, "SubjectConfirmationData")
		if rj != nil {
			return nil, rj
		}
		if !now.Add(-sp.skew).Before(noa) {
			return nil, reject(RejectTime, "SubjectConfirmationData expired at %s (now %s, skew %s)", stamp(noa), stamp(now), sp.skew)
		}
		if noa.After(f.replayUntil) {
			f.replayUntil = noa
		}
		if f.notOnOrAfter.IsZero() || noa.Before(f.notOnOrAfter) {
			f.notOnOrAfter = noa
		}
		nb, rj := sp.timeAttr(scd, "NotBefore", false, "SubjectConfirmationData")
		if rj != nil {
			return nil, rj
		}
		if !nb.IsZero() && nb.After(now.Add(sp.skew)) {
			return nil, reject(RejectTime, "SubjectConfirmationData not valid before %s (now %s, skew %s)", stamp(nb), stamp(now), sp.skew)
		}
		irt := attr(scd, "InResponseTo")
		if rj := checkInResponseTo(irt, ids, sp.conn.AllowIdPInitiated, "SubjectConfirmationData"); rj != nil {
			return nil, rj
		}
		if f.inResponseTo != "" && irt != f.inResponseTo {
			return nil, reject(RejectInResponseTo, "SubjectConfirmations disagree on InResponseTo")
		}
		f.inResponseTo = irt
	}

	// Conditions (§2.5).
	conds, rj := child(a, nsAssertion, "Conditions")
	if rj != nil {
		return nil, rj
	}
	if conds == nil {
		return nil, reject(RejectCondition, "Assertion has no Conditions")
	}
	nb, rj := sp.timeAttr(conds, "NotBefore", false, "Conditions")
	if rj != nil {
		return nil, rj
	}
	if !nb.IsZero() && nb.After(now.Add(sp.skew)) {
		return nil, reject(RejectTime, "Conditions not valid before %s (now %s, skew %s)", stamp(nb), stamp(now), sp.skew)
	}
	noa, rj := sp.timeAttr(conds, "NotOnOrAfter", false, "Conditions")
	if rj != nil {
		return nil, rj
	}
	if !noa.IsZero() {
		if !now.Add(-sp.skew).Before(noa) {
			return nil, reject(RejectTime, "Conditions expired at %s (now %s, skew %s)", stamp(noa), stamp(now), sp.skew)
		}
		if noa.After(f.replayUntil) {
			f.replayUntil = noa
		}
		if noa.Before(f.notOnOrAfter) {
			f.notOnOrAfter = noa
		}
	}
	restrictions := 0
	for _, c := range conds.ChildElements() {
		switch {
		case is(c, nsAssertion, "AudienceRestriction"):
			restrictions++
			var seen []string
			found := false
			for _, au := range children(c, nsAssertion, "Audience") {
				t, _ := textOnly(au)
				t = strings.TrimSpace(t)
				seen = append(seen, t)
				found = found || t == sp.entityID
			}
			if !found {
				return nil, reject(RejectAudience, "AudienceRestriction %q does not name our entity ID %q", clip(strings.Join(seen, " ")), sp.entityID)
			}
		case is(c, nsAssertion, "OneTimeUse"), is(c, nsAssertion, "ProxyRestriction"):
			// One-time use is what the replay cache enforces anyway; we
			// never proxy the assertion to a third party as an assertion.
		default:
			return nil, reject(RejectCondition, "unknown condition <%s> in %q", c.Tag, c.NamespaceURI())
		}
	}
	if restrictions == 0 {
		return nil, reject(RejectAudience, "Assertion has no AudienceRestriction")
	}
	if iss, rj := sp.timeAttr(a, "IssueInstant", true, "Assertion"); rj == nil {
		if t := iss.Add(issueDelay + sp.skew); t.After(f.replayUntil) {
			f.replayUntil = t
		}
	}

	// Statements (§2.7).
	authn := children(a, nsAssertion, "AuthnStatement")
	if len(authn) == 0 {
		return nil, reject(RejectStructure, "Assertion has no AuthnStatement")
	}
	for _, st := range authn {
		if f.sessionIndex == "" {
			f.sessionIndex = strings.TrimSpace(attr(st, "SessionIndex"))
		}
		snoa, rj := sp.timeAttr(st, "SessionNotOnOrAfter", false, "AuthnStatement")
		if rj != nil {
			return nil, rj
		}
		if snoa.IsZero() {
			continue
		}
		if !now.Add(-sp.skew).Before(snoa) {
			return nil, reject(RejectTime, "the IdP session ended at %s (now %s, skew %s)", stamp(snoa), stamp(now), sp.skew)
		}
		if f.sessionNotOnOrAfter == nil || snoa.Before(*f.sessionNotOnOrAfter) {
			t := snoa
			f.sessionNotOnOrAfter = &t
		}
	}
	values := 0
	for _, st := range children(a, nsAssertion, "AttributeStatement") {
		for _, c := range st.ChildElements() {
			switch {
			case is(c, nsAssertion, "Attribute"):
			case is(c, nsAssertion, "EncryptedAttribute"):
				return nil, reject(RejectStructure, "EncryptedAttribute is not supported; send attributes inside an encrypted assertion instead")
			default:
				continue // not an attribute in the SAML namespace: not read
			}
			at := attribute{name: strings.TrimSpace(attr(c, "Name")), friendlyName: strings.TrimSpace(attr(c, "FriendlyName"))}
			if at.name == "" {
				return nil, reject(RejectStructure, "Attribute without Name")
			}
			for _, av := range children(c, nsAssertion, "AttributeValue") {
				values++
				if values > maxAttributeValues {
					return nil, reject(RejectTooLarge, "more than %d attribute values", maxAttributeValues)
				}
				if nilAttr(av) {
					continue
				}
				t, ok := textOf(av)
				if !ok {
					// A structured value: only a NameID inside is read.
					if n, _ := child(av, nsAssertion, "NameID"); n != nil {
						t, ok = textOf(n)
					}
				}
				if ok {
					at.values = append(at.values, t)
				}
			}
			f.attributes = append(f.attributes, at)
		}
	}
	return f, nil
}

// nilAttr reports xsi:nil="true" on an AttributeValue (SAML core §2.7.3.1.1).
func nilAttr(el *etree.Element) bool {
	for _, a := range el.Attr {
		if a.Key == "nil" && a.NamespaceURI() == nsXSI {
			return a.Value == "true" || a.Value == "1"
		}
	}
	return false
}

// checkIssuer checks an Issuer element (SAML core §2.2.5; profiles §4.1.4.2:
// Format omitted or entity).
func (sp *ServiceProvider) checkIssuer(iss *etree.Element, where string) *RejectError {
	v, ok := textOnly(iss)
	if !ok {
		return reject(RejectIssuer, "%s Issuer holds more than text", where)
	}
	if v = strings.TrimSpace(v); v != sp.idp.EntityID {
		return reject(RejectIssuer, "%s Issuer %q is not the IdP %q", where, clip(v), sp.idp.EntityID)
	}
	if f := attr(iss, "Format"); f != "" && f != nameIDFormatEntity {
		return reject(RejectIssuer, "%s Issuer Format %q is not entity", where, clip(f))
	}
	return nil
}

// checkIssueInstant requires IssueInstant and keeps it within
// [now - skew - issueDelay, now + skew].
func (sp *ServiceProvider) checkIssueInstant(el *etree.Element, now time.Time, where string) *RejectError {
	t, rj := sp.timeAttr(el, "IssueInstant", true, where)
	if rj != nil {
		return rj
	}
	if t.After(now.Add(sp.skew)) {
		return reject(RejectTime, "%s issued in the future, at %s (now %s, skew %s)", where, stamp(t), stamp(now), sp.skew)
	}
	if t.Add(issueDelay + sp.skew).Before(now) {
		return reject(RejectTime, "%s issued at %s, more than %s before now %s", where, stamp(t), issueDelay+sp.skew, stamp(now))
	}
	return nil
}

// timeAttr reads an xs:dateTime attribute; a missing one is the zero time,
// or a rejection when required.
func (sp *ServiceProvider) timeAttr(el *etree.Element, key string, required bool, where string) (time.Time, *RejectError) {
	if !hasAttr(el, key) {
		if required {
			return time.Time{}, reject(RejectTime, "%s has no %s", where, key)
		}
		return time.Time{}, nil
	}
	t, err := parseTime(attr(el, key))
	if err != nil {
		return time.Time{}, rejectErr(RejectMalformed, err, "%s %s is not a date-time", where, key)
	}
	return t, nil
}

// checkInResponseTo applies the request-binding rule (SAML profiles
// §4.1.4.3, and §4.1.5 for unsolicited responses): a non-empty InResponseTo
// must be one of ids, the requests this browser started, even when
// unsolicited responses are allowed; an empty one is accepted only when they
// are.
func checkInResponseTo(v string, ids []string, allowUnsolicited bool, where string) *RejectError {
	if v == "" {
		if allowUnsolicited {
			return nil
		}
		return reject(RejectUnsolicited, "%s has no InResponseTo and unsolicited responses are not allowed", where)
	}
	if !slices.Contains(ids, v) {
		return reject(RejectInResponseTo, "%s InResponseTo %q answers no request this browser started", where, clip(v))
	}
	return nil
}

// libraryReject classifies an error of crewjam's ParseXMLResponse that our
// own checks did not anticipate. The class is a best effort from the
// library's message; the message itself is kept in the reason.
func libraryReject(err error) *RejectError {
	detail := err
	var ire *crewsaml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		detail = ire.PrivateErr
	}
	var rj *RejectError
	if errors.As(detail, &rj) {
		return rj // our own ValidateRequestID hook
	}
	msg := detail.Error()
	code := RejectLibrary
	for _, c := range []struct {
		substr string
		code   RejectCode
	}{
		{"invalid xml", RejectMalformed},
		{"decrypt", RejectEncryption},
		{"Recipient", RejectRecipient},
		{"request IDs", RejectInResponseTo},
		{"expired", RejectTime},
		{"not yet valid", RejectTime},
		{"no Conditions", RejectCondition},
		{"no Subject", RejectSubject},
		{"SubjectConfirmation", RejectSubject},
		{"signature", RejectSignature},
		{"Destination", RejectDestination},
		{"ssuer", RejectIssuer},
		{"udience", RejectAudience},
	} {
		if strings.Contains(msg, c.substr) {
			code = c.code
			break
		}
	}
	return &RejectError{Code: code, Reason: "crewjam/saml: " + clip(msg), Err: detail}
}

// nonEmpty drops empty request IDs, so that an empty InResponseTo can never
// match one.
func nonEmpty(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// clip shortens attacker-chosen text for the audit log.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
