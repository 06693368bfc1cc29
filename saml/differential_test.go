package saml_test

// The differential check of the issue: the same responses through
// github.com/russellhaering/gosaml2 v0.12.0 (the fallback library), wrapped
// with the two checks it leaves to its caller (time and audience warnings).
// Accepted responses must yield the same identity in both; no corpus case
// may yield the attacker's identity in either. gosaml2 has no InResponseTo
// check, no replay cache and a laxer algorithm policy, so it accepts some
// policy-class cases that Glossa refuses; those are counted, not failed.

import (
	"crypto/tls"
	"sort"
	"strings"
	"testing"

	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/glossa-dev/glossa/internal/samlattack"
)

// gosaml2SP builds gosaml2's SP for the fixture's organization.
func gosaml2SP(t *testing.T, f *fixture) *saml2.SAMLServiceProvider {
	t.Helper()
	sp := &saml2.SAMLServiceProvider{
		IdentityProviderIssuer:      samlattack.IdPEntityID,
		AssertionConsumerServiceURL: f.ACS(),
		ServiceProviderIssuer:       f.EntityID(),
		AudienceURI:                 f.EntityID(),
		IDPCertificateStore:         &dsig.MemoryX509CertificateStore{Roots: f.sp.IdP().SigningCerts},
		Clock:                       dsig.NewFakeClockAt(f.Now),
		MaximumXMLTokens:            200_000,
	}
	// gosaml2 v0.12.0 decrypts only with the deprecated SPKeyStore field.
	sp.SPKeyStore = dsig.TLSCertKeyStore(tls.Certificate{
		Certificate: [][]byte{f.Keys.SPEnc.Certificate.Raw},
		PrivateKey:  f.Keys.SPEnc.Key,
		Leaf:        f.Keys.SPEnc.Certificate,
	})
	return sp
}

// gosaml2Accepts runs gosaml2 as its documentation asks a caller to.
func gosaml2Accepts(sp *saml2.SAMLServiceProvider, b64 string) (*saml2.AssertionInfo, string) {
	info, err := sp.RetrieveAssertionInfo(b64)
	switch {
	case err != nil:
		return nil, err.Error()
	case info.WarningInfo.InvalidTime:
		return nil, "invalid time"
	case info.WarningInfo.NotInAudience:
		return nil, "not in audience"
	}
	return info, ""
}

func TestDifferentialGosaml2Accepts(t *testing.T) {
	for _, sh := range samlattack.Shapes() {
		t.Run(sh.Name, func(t *testing.T) {
			f := newFixture(t, nil)
			b64 := f.Build(sh.Base)
			ours, err := f.parse(b64)
			if err != nil {
				t.Fatalf("glossa rejects: %v", err)
			}
			info, why := gosaml2Accepts(gosaml2SP(t, f), b64)
			if info == nil {
				t.Fatalf("gosaml2 rejects: %s", why)
			}
			got := []string{info.NameID, info.NameIDFormat, info.Values.Get("Email"), info.Values.Get("Groups"), info.SessionIndex}
			want := []string{ours.Identity.NameID, ours.Identity.NameIDFormat, ours.Identity.Email, ours.Identity.Groups[0], ours.Identity.SessionIndex}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("identities differ: gosaml2 %q, glossa %q", got, want)
			}
		})
	}
}

func TestDifferentialGosaml2Corpus(t *testing.T) {
	var alsoRejected, policyOnly []string
	for _, c := range samlattack.Corpus() {
		if c.Before != nil {
			continue // replay: gosaml2 has no cache
		}
		t.Run(c.Name, func(t *testing.T) {
			f := newFixture(t, c.Setup)
			b64 := c.Make(f.Fixture)
			if _, err := f.parse(b64); err == nil {
				t.Fatal("glossa accepts a corpus case")
			}
			info, why := gosaml2Accepts(gosaml2SP(t, f), b64)
			if info == nil {
				alsoRejected = append(alsoRejected, c.Name+": "+why)
				return
			}
			if info.NameID == samlattack.Evil {
				t.Errorf("gosaml2 accepts the forged identity %q", info.NameID)
			}
			policyOnly = append(policyOnly, c.Name+" ["+string(c.Want)+"]")
		})
	}
	sort.Strings(policyOnly)
	t.Logf("gosaml2 also rejects %d cases; it accepts %d that Glossa's policy refuses:\n  %s",
		len(alsoRejected), len(policyOnly), strings.Join(policyOnly, "\n  "))
}
