package stsemu

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// This file reads the claims of a verified assertion (reference §15 items
// 4–10): time windows, subject, audience, attributes, role pair, session
// tags, and the condition context of the trust policy.

// checkTimes applies the time windows (reference §5, §15 item 4): the
// SubjectConfirmationData and Conditions NotOnOrAfter must be after now
// ("Response has expired"), Conditions NotBefore not after now, and the
// assertion (and Response) issued at most 5 minutes ago ("Token must be
// redeemed within 5 minutes of issuance").
func checkTimes(a *etree.Element, responseIssueInstant string, now time.Time) *Error {
	type window struct {
		attr string
		el   *etree.Element
	}
	var notOnOrAfter []window
	for _, sc := range children(child(a, nsAssertion, "Subject"), nsAssertion, "SubjectConfirmation") {
		if scd := child(sc, nsAssertion, "SubjectConfirmationData"); scd != nil {
			notOnOrAfter = append(notOnOrAfter, window{"NotOnOrAfter", scd})
		}
	}
	conds := child(a, nsAssertion, "Conditions")
	if conds != nil {
		notOnOrAfter = append(notOnOrAfter, window{"NotOnOrAfter", conds})
	}
	for _, w := range notOnOrAfter {
		s := w.el.SelectAttrValue(w.attr, "")
		if s == "" {
			continue // a missing SubjectConfirmationData NotOnOrAfter is step 5's
		}
		t, err := parseTime(s)
		if err != nil {
			return invalidResponse("%s: %v", w.attr, err)
		}
		if !now.Before(t) {
			return expired(MsgExpired)
		}
	}
	if conds != nil {
		if s := conds.SelectAttrValue("NotBefore", ""); s != "" {
			t, err := parseTime(s)
			if err != nil {
				return invalidResponse("NotBefore: %v", err)
			}
			if now.Before(t) {
				return expired(MsgNotYetValid)
			}
		}
	}
	instants := []string{a.SelectAttrValue("IssueInstant", "")}
	if responseIssueInstant != "" {
		instants = append(instants, responseIssueInstant)
	}
	for _, s := range instants {
		t, err := parseTime(s)
		if err != nil {
			return invalidResponse("IssueInstant: %v", err)
		}
		if now.Sub(t) > redeemWindow {
			return expired(MsgRedeemWithin5Min)
		}
		if t.Sub(now) > redeemWindow {
			return expired(MsgNotYetValid)
		}
	}
	return nil
}

// subject is what AWS reads from the Subject.
type subject struct {
	nameID, format, subType, recipient string
}

// readSubject applies §15 item 5: a NameID, and exactly one
// SubjectConfirmation, of the bearer method, whose SubjectConfirmationData
// has a Recipient and a NotOnOrAfter; anything else is AccessDenied
// (troubleshoot_saml.md, [IAMUG] "Subject and NameID").
func readSubject(a *etree.Element) (*subject, *Error) {
	subj := child(a, nsAssertion, "Subject")
	nid := child(subj, nsAssertion, "NameID")
	if nid == nil || text(nid) == "" {
		return nil, accessDenied()
	}
	scs := children(subj, nsAssertion, "SubjectConfirmation")
	if len(scs) != 1 || scs[0].SelectAttrValue("Method", "") != bearer {
		return nil, accessDenied()
	}
	scd := child(scs[0], nsAssertion, "SubjectConfirmationData")
	if scd == nil || scd.SelectAttrValue("NotOnOrAfter", "") == "" || strings.TrimSpace(scd.SelectAttrValue("Recipient", "")) == "" {
		return nil, accessDenied()
	}
	s := &subject{
		nameID:    text(nid),
		format:    nid.SelectAttrValue("Format", nameIDUnspecified),
		recipient: strings.TrimSpace(scd.SelectAttrValue("Recipient", "")),
	}
	// SubjectType and saml:sub_type: the SAML 2.0 name-ID prefix is
	// stripped ("persistent", "transient"), other formats are kept whole
	// ([API] SubjectType).
	s.subType = strings.TrimPrefix(s.format, nameIDFormatPrefix)
	return s, nil
}

// hasAudience reports whether some AudienceRestriction names an accepted
// audience (§15 item 6).
func hasAudience(a *etree.Element, accepted []string) bool {
	for _, ar := range children(child(a, nsAssertion, "Conditions"), nsAssertion, "AudienceRestriction") {
		for _, au := range children(ar, nsAssertion, "Audience") {
			for _, want := range accepted {
				if text(au) == want {
					return true
				}
			}
		}
	}
	return false
}

// readAttributes returns the assertion's attributes: Name → values, in
// document order (several Attribute elements with one Name are merged).
func readAttributes(a *etree.Element) map[string][]string {
	out := map[string][]string{}
	for _, st := range children(a, nsAssertion, "AttributeStatement") {
		for _, at := range children(st, nsAssertion, "Attribute") {
			name := at.SelectAttrValue("Name", "")
			for _, v := range children(at, nsAssertion, "AttributeValue") {
				out[name] = append(out[name], text(v))
			}
			if _, ok := out[name]; !ok {
				out[name] = nil
			}
		}
	}
	return out
}

// hasRolePair reports whether some Role attribute value is the pair
// {roleARN, principalARN}: AWS accepts the two ARNs in either order and
// whitespace around the comma (reference §3, §15 item 7).
func hasRolePair(values []string, roleARN, principalARN string) bool {
	for _, v := range values {
		r, p, ok := parseRolePair(v)
		if ok && r == roleARN && p == principalARN {
			return true
		}
	}
	return false
}

// parseRolePair splits one Role attribute value into its role and provider
// ARNs, telling them apart by ":role/" and ":saml-provider/" rather than by
// position.
func parseRolePair(v string) (roleARN, providerARN string, ok bool) {
	parts := strings.Split(v, ",")
	if len(parts) != 2 {
		return "", "", false
	}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		a, ok := parseARN(p)
		switch {
		case !ok:
			return "", "", false
		case a.kind == "role" && roleARN == "":
			roleARN = p
		case a.kind == "saml-provider" && providerARN == "":
			providerARN = p
		default:
			return "", "", false
		}
	}
	return roleARN, providerARN, true
}

// readTags reads the PrincipalTag:* attributes and TransitiveTagKeys (§15
// item 9; id_session-tags.md): at most 50 tags, one value each, keys of 1 to
// 128 characters, values of at most 256, keys unique regardless of case,
// transitive keys among the tags.
func readTags(attrs map[string][]string) (map[string]string, []string, *Error) {
	var tags map[string]string
	seen := map[string]bool{}
	for name, values := range attrs {
		key, ok := strings.CutPrefix(name, attrPrincipalTag)
		if !ok {
			continue
		}
		if !tagKeyRE.MatchString(key) || len(values) != 1 || len([]rune(values[0])) > 256 {
			return nil, nil, invalidIdentity("Session tag %q must have a key of 1 to 128 characters and exactly one value of at most 256 characters", key)
		}
		if seen[strings.ToLower(key)] {
			return nil, nil, invalidIdentity("Duplicate session tag key %q (tag keys are case-insensitive)", key)
		}
		seen[strings.ToLower(key)] = true
		if tags == nil {
			tags = map[string]string{}
		}
		tags[key] = values[0]
	}
	if len(tags) > 50 {
		return nil, nil, invalidIdentity("At most 50 session tags are allowed, the assertion has %d", len(tags))
	}
	transitive := attrs[attrTransitiveTags]
	for _, k := range transitive {
		if !seen[strings.ToLower(k)] {
			return nil, nil, invalidIdentity("TransitiveTagKeys names %q, which is not a session tag", k)
		}
	}
	return tags, transitive, nil
}

// samlKeys maps attribute Names to the saml:* trust-policy keys AWS derives
// from them ([IAMUG] id_roles_providers_create_saml_assertions.md, "Mapping
// SAML attributes to AWS trust policy context keys", reproduced as
// published, including its X.500 rows without "urn:oid:").
var samlKeys = map[string]string{
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.1":                                        "edupersonaffiliation",
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.2":                                        "edupersonnickname",
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.3":                                        "edupersonorgdn",
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.4":                                        "edupersonorgunitdn",
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.5":                                        "edupersonprimaryaffiliation",
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.6":                                        "edupersonprincipalname",
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.7":                                        "edupersonentitlement",
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.8":                                        "edupersonprimaryorgunitdn",
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.9":                                        "edupersonscopedaffiliation",
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.10":                                       "edupersontargetedid",
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.11":                                       "edupersonassurance",
	"urn:oid:1.3.6.1.4.1.5923.1.2.1.2":                                        "eduorghomepageuri",
	"urn:oid:1.3.6.1.4.1.5923.1.2.1.3":                                        "eduorgidentityauthnpolicyuri",
	"urn:oid:1.3.6.1.4.1.5923.1.2.1.4":                                        "eduorglegalname",
	"urn:oid:1.3.6.1.4.1.5923.1.2.1.5":                                        "eduorgsuperioruri",
	"urn:oid:1.3.6.1.4.1.5923.1.2.1.6":                                        "eduorgwhitepagesuri",
	"urn:oid:2.5.4.3":                                                         "cn",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name":              "name",
	"http://schemas.xmlsoap.org/claims/CommonName":                            "commonname",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname":         "givenname",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname":           "surname",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress":      "mail",
	"http://schemas.microsoft.com/ws/2008/06/identity/claims/primarygroupsid": "uid",
	"2.5.4.3":                    "commonname",
	"2.5.4.4":                    "surname",
	"2.4.5.42":                   "givenname",
	"2.5.4.45":                   "x500uniqueidentifier",
	"0.9.2342.19200300100.1.1":   "uid",
	"0.9.2342.19200300100.1.3":   "mail",
	"0.9.2342.19200300.100.1.45": "organizationstatus",
}

// trustContext builds the condition context of the trust-policy evaluation
// (reference §8): saml:aud is the Recipient, not the Audience.
func trustContext(a *etree.Element, attrs map[string][]string, s *subject, prov *provider, account string,
	tags map[string]string, transitive []string, sourceIdentity string) requestContext {
	rc := requestContext{
		"saml:aud":           {s.recipient},
		"saml:iss":           {prov.entityID},
		"saml:sub":           {s.nameID},
		"saml:sub_type":      {s.subType},
		"saml:namequalifier": {nameQualifier(prov.entityID, account, prov.id.name)},
		"saml:doc":           {account + "/" + prov.id.name},
	}
	// "Include only one claim per AWS context key. If you include more than
	// one, only one claim will be mapped": the first in document order wins.
	for _, st := range children(a, nsAssertion, "AttributeStatement") {
		for _, at := range children(st, nsAssertion, "Attribute") {
			key, ok := samlKeys[at.SelectAttrValue("Name", "")]
			if !ok {
				continue
			}
			key = "saml:" + key
			if _, done := rc[key]; !done {
				rc[key] = attrs[at.SelectAttrValue("Name", "")]
			}
		}
	}
	if len(tags) > 0 {
		var keys []string
		for k, v := range tags {
			rc["aws:requesttag/"+strings.ToLower(k)] = []string{v}
			keys = append(keys, k)
		}
		rc["aws:tagkeys"] = keys
	}
	if len(transitive) > 0 {
		rc["sts:transitivetagkeys"] = transitive
	}
	if sourceIdentity != "" {
		rc["sts:sourceidentity"] = []string{sourceIdentity}
	}
	return rc
}

// nameQualifier is BASE64(SHA1(issuer + account + "/" + providerName))
// ([API] NameQualifier; reference §2).
func nameQualifier(issuer, account, providerName string) string {
	sum := sha1.Sum([]byte(issuer + account + "/" + providerName))
	return base64.StdEncoding.EncodeToString(sum[:])
}
