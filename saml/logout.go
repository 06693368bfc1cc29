package saml

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	glossa "github.com/glossa-dev/glossa"
)

// LogoutMessage is a logout message as it arrived at the SLO endpoint, in
// one of two bindings: set exactly one field.
type LogoutMessage struct {
	// RawQuery is the request's raw (still URL-encoded) query string, for
	// the HTTP-Redirect binding (GET). The signature covers the encoded
	// values as sent (SAML bindings §3.4.4.1), so it must not be re-encoded.
	RawQuery string
	// Form is the SAMLRequest or SAMLResponse form value, for the
	// HTTP-POST binding (SAML bindings §3.5.4); the message must then carry
	// an enveloped XML signature.
	Form string
}

// LogoutRequest is a verified LogoutRequest from the IdP (SAML core
// §3.7.1): end the sessions of NameID, limited to SessionIndexes when there
// are any.
type LogoutRequest struct {
	ID             string
	NameID         string
	NameIDFormat   string
	SessionIndexes []string
	// RelayState is the RelayState that came with the request, to be sent
	// back with the LogoutResponse (Redirect binding only).
	RelayState string
}

// LogoutResponse is a verified LogoutResponse from the IdP (SAML core
// §3.7.2) to a LogoutRequest of ours.
type LogoutResponse struct {
	ID           string
	InResponseTo string
	RelayState   string
}

// Redirect-binding signature algorithms accepted from the IdP.
var redirectSigAlgs = map[string]x509.SignatureAlgorithm{
	dsig.RSASHA256SignatureMethod:   x509.SHA256WithRSA,
	dsig.RSASHA384SignatureMethod:   x509.SHA384WithRSA,
	dsig.RSASHA512SignatureMethod:   x509.SHA512WithRSA,
	dsig.ECDSASHA256SignatureMethod: x509.ECDSAWithSHA256,
	dsig.ECDSASHA384SignatureMethod: x509.ECDSAWithSHA384,
	dsig.ECDSASHA512SignatureMethod: x509.ECDSAWithSHA512,
}

// newID returns a new message ID (SAML core §1.3.4: unique, starting with
// a letter, at least 128 bits of randomness).
func newID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "id-" + hex.EncodeToString(b)
}

// LogoutRequestURL starts SP-initiated single logout: it returns the URL
// of the IdP's SLO endpoint carrying a LogoutRequest (SAML core §3.7.1) for
// the person's NameID (with its format) and SessionIndex, in the
// HTTP-Redirect binding, always signed with RSA-SHA256 (SAML profiles
// §4.4.4.1 requires logout messages to be authenticated), and the request
// ID, which the caller keeps to match the LogoutResponse.
func (sp *ServiceProvider) LogoutRequestURL(nameID, nameIDFormat, sessionIndex, relayState string, now time.Time) (redirectURL, requestID string, err error) {
	if sp.idp.SLORedirectURL == "" {
		return "", "", errors.New("saml: the IdP metadata has no SingleLogoutService for the HTTP-Redirect binding")
	}
	if nameID == "" {
		return "", "", errors.New("saml: LogoutRequest needs a NameID")
	}
	if err := checkRelayState(relayState); err != nil {
		return "", "", err
	}
	id := newID()
	el := etree.NewElement("samlp:LogoutRequest")
	el.CreateAttr("xmlns:samlp", nsProtocol)
	el.CreateAttr("xmlns:saml", nsAssertion)
	el.CreateAttr("ID", id)
	el.CreateAttr("Version", "2.0")
	el.CreateAttr("IssueInstant", now.UTC().Format(time.RFC3339))
	el.CreateAttr("Destination", sp.idp.SLORedirectURL)
	el.CreateAttr("NotOnOrAfter", now.Add(5*time.Minute).UTC().Format(time.RFC3339))
	el.CreateElement("saml:Issuer").SetText(sp.entityID)
	n := el.CreateElement("saml:NameID")
	if nameIDFormat != "" {
		n.CreateAttr("Format", nameIDFormat)
	}
	n.SetText(nameID)
	if sessionIndex != "" {
		el.CreateElement("samlp:SessionIndex").SetText(sessionIndex)
	}
	u, err := sp.redirect(sp.idp.SLORedirectURL, "SAMLRequest", el, relayState, true)
	if err != nil {
		return "", "", err
	}
	return u, id, nil
}

// LogoutResponseURL answers an IdP-initiated LogoutRequest (SAML core
// §3.7.2) with a signed Success LogoutResponse in the HTTP-Redirect binding,
// sent to the IdP's SLO response location.
func (sp *ServiceProvider) LogoutResponseURL(inResponseTo, relayState string, now time.Time) (string, error) {
	if sp.idp.SLOResponseRedirectURL == "" {
		return "", errors.New("saml: the IdP metadata has no SingleLogoutService for the HTTP-Redirect binding")
	}
	if err := checkRelayState(relayState); err != nil {
		return "", err
	}
	el := etree.NewElement("samlp:LogoutResponse")
	el.CreateAttr("xmlns:samlp", nsProtocol)
	el.CreateAttr("xmlns:saml", nsAssertion)
	el.CreateAttr("ID", newID())
	el.CreateAttr("Version", "2.0")
	el.CreateAttr("IssueInstant", now.UTC().Format(time.RFC3339))
	el.CreateAttr("Destination", sp.idp.SLOResponseRedirectURL)
	el.CreateAttr("InResponseTo", inResponseTo)
	el.CreateElement("saml:Issuer").SetText(sp.entityID)
	el.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", statusSuccess)
	return sp.redirect(sp.idp.SLOResponseRedirectURL, "SAMLResponse", el, relayState, true)
}

// ParseLogoutRequest verifies a LogoutRequest sent by the IdP to our SLO
// endpoint: a signature by one of the IdP's certificates is required (the
// query signature of the Redirect binding, or an enveloped XML signature for
// POST; GO-2026-4764 was an SP accepting unsigned ones), Issuer is the IdP,
// Destination is our SLO URL, IssueInstant and NotOnOrAfter hold with the
// connection's skew, and the message ID is consumed in the replay cache.
//
// Security-sensitive: it ends sessions.
func (sp *ServiceProvider) ParseLogoutRequest(ctx context.Context, msg LogoutMessage, now time.Time, replay ReplayCache) (req *LogoutRequest, err error) {
	defer func() {
		if r := recover(); r != nil {
			req, err = nil, reject(RejectPanic, "panic while parsing a LogoutRequest: %v", r)
		}
	}()
	el, relayState, rj := sp.readLogoutMessage(msg, "SAMLRequest", "LogoutRequest", now)
	if rj != nil {
		return nil, rj
	}
	out := &LogoutRequest{ID: attr(el, "ID"), RelayState: relayState}
	noa, rj := sp.timeAttr(el, "NotOnOrAfter", false, "LogoutRequest")
	if rj != nil {
		return nil, rj
	}
	if !noa.IsZero() && !now.Add(-sp.skew).Before(noa) {
		return nil, reject(RejectTime, "LogoutRequest expired at %s", stamp(noa))
	}
	var nameID *etree.Element
	for _, c := range el.ChildElements() {
		switch {
		case is(c, nsAssertion, "Issuer"), is(c, nsDSig, "Signature"), is(c, nsProtocol, "Extensions"):
		case is(c, nsAssertion, "NameID") && nameID == nil:
			nameID = c
		case is(c, nsProtocol, "SessionIndex"):
			v, ok := textOnly(c)
			if !ok {
				return nil, reject(RejectMalformed, "SessionIndex holds more than text")
			}
			if v = strings.TrimSpace(v); v != "" {
				out.SessionIndexes = append(out.SessionIndexes, v)
			}
		default:
			return nil, reject(RejectSubject, "unexpected or unsupported <%s> in the LogoutRequest", c.Tag)
		}
	}
	if nameID == nil {
		return nil, reject(RejectSubject, "LogoutRequest has no NameID")
	}
	v, ok := textOf(nameID)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, reject(RejectSubject, "LogoutRequest NameID is empty or not text")
	}
	out.NameID = strings.TrimSpace(v)
	out.NameIDFormat = strings.TrimSpace(attr(nameID, "Format"))
	until := now.Add(issueDelay + 2*sp.skew)
	if noa.After(until) {
		until = noa.Add(sp.skew)
	}
	if rj := consumeLogout(ctx, replay, out.ID, until); rj != nil {
		return nil, rj
	}
	return out, nil
}

// ParseLogoutResponse verifies the IdP's LogoutResponse to one of our
// LogoutRequests: signature required, Issuer, Destination, IssueInstant,
// InResponseTo among possibleRequestIDs (never empty), Status Success, and
// one-time use of its ID.
func (sp *ServiceProvider) ParseLogoutResponse(ctx context.Context, msg LogoutMessage, possibleRequestIDs []string, now time.Time, replay ReplayCache) (res *LogoutResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, reject(RejectPanic, "panic while parsing a LogoutResponse: %v", r)
		}
	}()
	el, relayState, rj := sp.readLogoutMessage(msg, "SAMLResponse", "LogoutResponse", now)
	if rj != nil {
		return nil, rj
	}
	out := &LogoutResponse{ID: attr(el, "ID"), InResponseTo: attr(el, "InResponseTo"), RelayState: relayState}
	if rj := checkInResponseTo(out.InResponseTo, nonEmpty(possibleRequestIDs), false, "LogoutResponse"); rj != nil {
		return nil, rj
	}
	st, _ := child(el, nsProtocol, "Status")
	var code *etree.Element
	if st != nil {
		code, _ = child(st, nsProtocol, "StatusCode")
	}
	if code == nil {
		return nil, reject(RejectStatus, "LogoutResponse has no StatusCode")
	}
	if v := attr(code, "Value"); v != statusSuccess {
		return nil, reject(RejectStatus, "LogoutResponse status %s", clip(v))
	}
	if rj := consumeLogout(ctx, replay, out.ID, now.Add(issueDelay+2*sp.skew)); rj != nil {
		return nil, rj
	}
	return out, nil
}

func consumeLogout(ctx context.Context, replay ReplayCache, id string, until time.Time) *RejectError {
	if replay == nil {
		return reject(RejectInternal, "no replay cache")
	}
	if err := replay.Consume(ctx, "logout:"+id, until); err != nil {
		if errors.Is(err, ErrReplayed) || glossa.ErrorCode(err) == glossa.ECONFLICT {
			return rejectErr(RejectReplay, err, "logout message %q was already used", id)
		}
		return rejectErr(RejectInternal, err, "replay cache")
	}
	return nil
}

// readLogoutMessage decodes, verifies and checks the common fields of a
// logout message (param SAMLRequest or SAMLResponse, root element tag) and
// returns the element to read, from verified bytes.
func (sp *ServiceProvider) readLogoutMessage(msg LogoutMessage, param, tag string, now time.Time) (*etree.Element, string, *RejectError) {
	var el *etree.Element
	var relayState string
	switch {
	case msg.RawQuery != "" && msg.Form == "":
		var rj *RejectError
		if el, relayState, rj = sp.readRedirect(msg.RawQuery, param, now); rj != nil {
			return nil, "", rj
		}
		if !is(el, nsProtocol, tag) {
			return nil, "", reject(RejectMalformed, "message is <%s>, not samlp:%s", el.Tag, tag)
		}
		// The query signature covers the whole message; an XML signature
		// is not expected in this binding and is not relied upon.
		if rj := checkLogoutStructure(el); rj != nil {
			return nil, "", rj
		}
	case msg.Form != "" && msg.RawQuery == "":
		raw, rj := decodeBase64(msg.Form, maxLogoutBytes)
		if rj != nil {
			return nil, "", rj
		}
		doc, rj := parseXML(raw)
		if rj != nil {
			return nil, "", rj
		}
		root := doc.Root()
		if !is(root, nsProtocol, tag) {
			return nil, "", reject(RejectMalformed, "message is <%s>, not samlp:%s", root.Tag, tag)
		}
		if rj := checkLogoutStructure(root); rj != nil {
			return nil, "", rj
		}
		d, rj := detach(root)
		if rj != nil {
			return nil, "", rj
		}
		if el, rj = verifyElement(d, sp.idp.SigningCerts, now); rj != nil {
			return nil, "", rj
		}
	default:
		return nil, "", reject(RejectMalformed, "a logout message comes either in the query or in a form, not both or neither")
	}
	if attr(el, "ID") == "" {
		return nil, "", reject(RejectMalformed, "%s has no ID", tag)
	}
	if v := attr(el, "Version"); v != "2.0" {
		return nil, "", reject(RejectMalformed, "%s Version %q is not 2.0", tag, v)
	}
	if d := strings.TrimSpace(attr(el, "Destination")); d != sp.sloURL {
		return nil, "", reject(RejectDestination, "%s Destination %q is not our SLO URL %q", tag, clip(d), sp.sloURL)
	}
	if rj := sp.checkIssueInstant(el, now, tag); rj != nil {
		return nil, "", rj
	}
	iss, rj := child(el, nsAssertion, "Issuer")
	if rj != nil {
		return nil, "", rj
	}
	if iss == nil {
		return nil, "", reject(RejectIssuer, "%s has no Issuer", tag)
	}
	if rj := sp.checkIssuer(iss, tag); rj != nil {
		return nil, "", rj
	}
	return el, relayState, nil
}

// checkLogoutStructure allows a signature only as a direct child of the
// message, and no other XML-DSig element anywhere.
func checkLogoutStructure(root *etree.Element) *RejectError {
	ids := map[string]bool{}
	var rj *RejectError
	var visit func(el *etree.Element, inSig bool)
	visit = func(el *etree.Element, inSig bool) {
		if rj != nil {
			return
		}
		if hasAttr(el, "ID") {
			if ids[attr(el, "ID")] {
				rj = reject(RejectStructure, "ID %q appears more than once", attr(el, "ID"))
				return
			}
			ids[attr(el, "ID")] = true
		}
		ns := el.NamespaceURI()
		switch {
		case el.Tag == "Signature" && !inSig:
			if ns != nsDSig || el.Parent() != root {
				rj = reject(RejectStructure, "a Signature where SAML puts none")
				return
			}
			inSig = true
		case inSig:
			if ns != nsDSig && ns != nsExcC14N && ns != "http://www.w3.org/2009/xmldsig11#" {
				rj = reject(RejectStructure, "<%s> in %q inside a ds:Signature", el.Tag, ns)
				return
			}
		case ns == nsDSig:
			rj = reject(RejectStructure, "ds:%s outside a signature", el.Tag)
			return
		}
		for _, c := range el.ChildElements() {
			visit(c, inSig)
		}
	}
	visit(root, false)
	return rj
}

// readRedirect verifies and decodes a message of the HTTP-Redirect binding
// (SAML bindings §3.4.4.1): the signature is over
// "param=value[&RelayState=value]&SigAlg=value" with the values exactly as
// they were URL-encoded in the query, and is checked with crypto/x509
// against each of the IdP's signing certificates valid at now.
func (sp *ServiceProvider) readRedirect(rawQuery, param string, now time.Time) (*etree.Element, string, *RejectError) {
	if len(rawQuery) > 4*maxLogoutBytes {
		return nil, "", reject(RejectTooLarge, "query of %d bytes", len(rawQuery))
	}
	vals := map[string]string{}
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, "", rejectErr(RejectMalformed, err, "query key")
		}
		switch key {
		case param, "RelayState", "SigAlg", "Signature":
			if _, dup := vals[key]; dup {
				return nil, "", reject(RejectMalformed, "query repeats %s", key)
			}
			vals[key] = v
		}
	}
	msgRaw, ok := vals[param]
	if !ok || msgRaw == "" {
		return nil, "", reject(RejectMalformed, "query has no %s", param)
	}
	sigAlgRaw, sigRaw := vals["SigAlg"], vals["Signature"]
	if sigAlgRaw == "" || sigRaw == "" {
		return nil, "", reject(RejectSignature, "unsigned %s in the Redirect binding", param)
	}
	signed := param + "=" + msgRaw
	if rs, ok := vals["RelayState"]; ok {
		signed += "&RelayState=" + rs
	}
	signed += "&SigAlg=" + sigAlgRaw
	sigAlg, err := url.QueryUnescape(sigAlgRaw)
	if err != nil {
		return nil, "", rejectErr(RejectMalformed, err, "SigAlg")
	}
	algo, ok := redirectSigAlgs[sigAlg]
	if !ok {
		if isSHA1(sigAlg) {
			return nil, "", reject(RejectAlgorithm, "SHA-1 signature algorithm %q refused", clip(sigAlg))
		}
		return nil, "", reject(RejectAlgorithm, "signature algorithm %q refused", clip(sigAlg))
	}
	sigB64, err := url.QueryUnescape(sigRaw)
	if err != nil {
		return nil, "", rejectErr(RejectMalformed, err, "Signature")
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return nil, "", rejectErr(RejectMalformed, err, "Signature is not base64")
	}
	verified := false
	for _, c := range sp.idp.SigningCerts {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			continue
		}
		if c.CheckSignature(algo, []byte(signed), sig) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, "", reject(RejectSignature, "the %s query signature verifies with none of the IdP's certificates", param)
	}
	relayState := ""
	if rs, ok := vals["RelayState"]; ok {
		if relayState, err = url.QueryUnescape(rs); err != nil {
			return nil, "", rejectErr(RejectMalformed, err, "RelayState")
		}
	}
	b64, err := url.QueryUnescape(msgRaw)
	if err != nil {
		return nil, "", rejectErr(RejectMalformed, err, "%s", param)
	}
	deflated, rj := decodeBase64(b64, maxLogoutBytes)
	if rj != nil {
		return nil, "", rj
	}
	xmlBytes, rj := inflate(deflated, maxLogoutBytes)
	if rj != nil {
		return nil, "", rj
	}
	doc, rj := parseXML(xmlBytes)
	if rj != nil {
		return nil, "", rj
	}
	return doc.Root(), relayState, nil
}
