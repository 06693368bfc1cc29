package stsemu

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// This file holds the IAM side of the emulator: ARNs, SAML providers (parsed
// from their metadata as IAM's CreateSAMLProvider does) and roles.

// Namespaces read by the emulator.
const (
	nsMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
)

// Limits of IAM (reference §7, [IAMUG] reference_iam-quotas.md).
const (
	maxSigningKeys   = 10
	minRSAKeyBits    = 1024
	minSessionLength = time.Hour      // role MaxSessionDuration range
	maxSessionLength = 12 * time.Hour // (reference §5, §7)
)

// arn is a parsed IAM ARN of a role or SAML provider.
type arn struct {
	partition, account string
	kind               string // "role" or "saml-provider"
	name               string // last path segment: the role or provider friendly name
}

// iamARN matches arn:PARTITION:iam::ACCOUNT:KIND/[PATH/]NAME in the three
// partitions AWS SAML federation serves (reference §3).
var iamARN = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):iam::([0-9]{12}):(role|saml-provider)/(?:[\x21-\x7e]+/)?([\w+=,.@-]+)$`)

// parseARN parses s as an IAM role or SAML-provider ARN; ok is false for
// anything else.
func parseARN(s string) (a arn, ok bool) {
	m := iamARN.FindStringSubmatch(s)
	if m == nil {
		return arn{}, false
	}
	return arn{partition: m[1], account: m[2], kind: m[3], name: m[4]}, true
}

// provider is a registered IAM SAML provider: its ARN and what IAM keeps of
// its metadata, the IdP's entity ID and signing certificates.
type provider struct {
	id       arn
	entityID string
	certs    []*x509.Certificate
}

// errMetadata is IAM's refusal of a metadata document (troubleshoot_saml.md
// "Could not parse metadata").
var errMetadata = errors.New("Could not parse metadata")

// parseProvider registers p as IAM does: the ARN must name a SAML provider
// and the metadata must be UTF-8 without a BOM, without a DTD, one
// EntityDescriptor with an entityID and an IDPSSODescriptor with 1 to 10
// signing certificates whose RSA keys have at least 1024 bits (reference
// §6, §7; [IAMUG] id_roles_providers_create_saml.md).
func parseProvider(p Provider) (*provider, error) {
	id, ok := parseARN(p.ARN)
	if !ok || id.kind != "saml-provider" {
		return nil, fmt.Errorf("provider ARN %q is not arn:aws:iam::ACCOUNT:saml-provider/NAME", p.ARN)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("provider %s: %w: %s", p.ARN, errMetadata, fmt.Sprintf(format, args...))
	}
	md := p.Metadata
	if bytes.HasPrefix(md, []byte("\xef\xbb\xbf")) {
		return nil, fail("UTF-8 byte order mark")
	}
	doc, err := readXML(md)
	if err != nil {
		return nil, fail("%v", err)
	}
	root := doc.Root()
	if root == nil || !is(root, nsMetadata, "EntityDescriptor") {
		return nil, fail("root is not a single md:EntityDescriptor")
	}
	out := &provider{id: id, entityID: strings.TrimSpace(root.SelectAttrValue("entityID", ""))}
	if out.entityID == "" {
		return nil, fail("no entityID")
	}
	idps := children(root, nsMetadata, "IDPSSODescriptor")
	if len(idps) != 1 {
		return nil, fail("%d IDPSSODescriptors, want 1", len(idps))
	}
	for _, kd := range children(idps[0], nsMetadata, "KeyDescriptor") {
		if use := kd.SelectAttrValue("use", "signing"); use != "signing" {
			continue // encryption keys never verify signatures
		}
		for _, ki := range children(kd, nsDSig, "KeyInfo") {
			for _, xd := range children(ki, nsDSig, "X509Data") {
				for _, xc := range children(xd, nsDSig, "X509Certificate") {
					der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Text()), ""))
					if err != nil {
						return nil, fail("certificate is not base64: %v", err)
					}
					c, err := x509.ParseCertificate(der)
					if err != nil {
						return nil, fail("certificate: %v", err)
					}
					if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < minRSAKeyBits {
						return nil, fail("RSA key of %d bits, at least %d needed", k.N.BitLen(), minRSAKeyBits)
					}
					out.certs = append(out.certs, c)
				}
			}
		}
	}
	switch n := len(out.certs); {
	case n == 0:
		return nil, fail("no signing certificate")
	case n > maxSigningKeys:
		return nil, fail("%d signing certificates, at most %d", n, maxSigningKeys)
	}
	return out, nil
}

// role is a registered IAM role.
type role struct {
	id         arn
	trust      *policy
	maxSession time.Duration
}

// parseRole registers r as IAM's CreateRole does: a role ARN, a trust
// policy IAM would accept (as far as the emulator understands policies) and
// a MaxSessionDuration of 1 to 12 hours (default 1 hour).
func parseRole(r Role) (*role, error) {
	id, ok := parseARN(r.ARN)
	if !ok || id.kind != "role" {
		return nil, fmt.Errorf("role ARN %q is not arn:aws:iam::ACCOUNT:role/NAME", r.ARN)
	}
	trust, err := parsePolicy(r.TrustPolicy)
	if err != nil {
		return nil, fmt.Errorf("role %s: MalformedPolicyDocument: %w", r.ARN, err)
	}
	max := r.MaxSessionDuration
	if max == 0 {
		max = time.Hour
	}
	if max < minSessionLength || max > maxSessionLength || max%time.Second != 0 {
		return nil, fmt.Errorf("role %s: MaxSessionDuration %v is not a whole number of seconds between 1h and 12h", r.ARN, max)
	}
	return &role{id: id, trust: trust, maxSession: max}, nil
}

// is reports whether el is the element {ns}local.
func is(el *etree.Element, ns, local string) bool {
	return el.Tag == local && el.NamespaceURI() == ns
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

// child returns the first child element of el named {ns}local, or nil.
func child(el *etree.Element, ns, local string) *etree.Element {
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if is(c, ns, local) {
			return c
		}
	}
	return nil
}

// descendants returns every element below el (el excluded) named {ns}local.
func descendants(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if is(c, ns, local) {
			out = append(out, c)
		}
		out = append(out, descendants(c, ns, local)...)
	}
	return out
}
