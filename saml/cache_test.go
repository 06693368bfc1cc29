package saml_test

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/samlattack"
	"github.com/glossa-dev/glossa/saml"
)

// cacheProbe builds through a Cache and counts how often it had to load
// the keys, that is, how often it missed.
type cacheProbe struct {
	c     saml.Cache
	keys  saml.Keys
	loads int
	base  *url.URL
}

func newCacheProbe(f *fixture) *cacheProbe {
	base, _ := url.Parse(samlattack.DefaultBaseURL)
	return &cacheProbe{keys: saml.Keys{Signing: []saml.KeyPair{f.Keys.SPSign}, Encryption: []saml.KeyPair{f.Keys.SPEnc}}, base: base}
}

func (p *cacheProbe) get(t *testing.T, conn *glossa.SAMLConnection, keyIDs ...int64) *saml.ServiceProvider {
	t.Helper()
	sp, err := p.c.Provider(conn, keyIDs, p.base, samlattack.DefaultOrg, func() (saml.Keys, error) { p.loads++; return p.keys, nil })
	if err != nil {
		t.Fatalf("Provider: %v", err)
	}
	return sp
}

// TestCacheSettingsChangeTakesEffect: the cached provider is reused while
// nothing changes, and a new IdP certificate in the settings is used by the
// very next response, although the connection's updated_at did not move
// (the store's clock may repeat a value).
func TestCacheSettingsChangeTakesEffect(t *testing.T) {
	f := newFixture(t, nil)
	p := newCacheProbe(f)
	stamp := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	conn := &glossa.SAMLConnection{OrgID: 7, MetadataXML: f.Keys.IdPMetadata(samlattack.IdPEntityID, f.Keys.IdPCert), IdPProvider: "custom", UpdatedAt: stamp}

	sp := p.get(t, conn, 1, 2)
	if again := p.get(t, conn, 1, 2); again != sp || p.loads != 1 {
		t.Fatalf("an unchanged connection was built again (%d loads)", p.loads)
	}
	// The store hands out a fresh copy per request: equal, not identical.
	copied := *conn
	if p.get(t, &copied, 1, 2) != sp || p.loads != 1 {
		t.Fatalf("an equal copy of the connection missed (%d loads)", p.loads)
	}

	signedByNew := f.Build(samlattack.Options{SignResponse: true, Signer: f.Keys.IdP2, SignerCert: f.Keys.IdP2Cert})
	f.sp = sp
	if _, err := f.parse(signedByNew); err == nil {
		t.Fatal("a response signed by a certificate not yet in the settings was accepted")
	}

	// The Owner replaces the IdP certificate; updated_at is the same.
	changed := *conn
	changed.MetadataXML = f.Keys.IdPMetadata(samlattack.IdPEntityID, f.Keys.IdP2Cert)
	f.sp = p.get(t, &changed, 1, 2)
	if p.loads != 2 {
		t.Fatalf("the changed connection did not rebuild (%d loads)", p.loads)
	}
	if _, err := f.parse(f.Build(samlattack.Options{SignResponse: true, Signer: f.Keys.IdP2, SignerCert: f.Keys.IdP2Cert})); err != nil {
		t.Fatalf("the new IdP certificate is not used: %v", err)
	}
	if _, err := f.parse(f.Build(samlattack.Options{SignResponse: true})); err == nil {
		t.Fatal("the replaced IdP certificate is still trusted")
	}
}

// TestCacheKey: every input of New, and nothing else, decides a hit.
func TestCacheKey(t *testing.T) {
	f := newFixture(t, nil)
	base := glossa.SAMLConnection{OrgID: 7, MetadataXML: f.Keys.IdPMetadata(samlattack.IdPEntityID, f.Keys.IdPCert), IdPProvider: "custom",
		Domains: []string{"acme.example"}, RolesGroups: []glossa.GroupMapping{{Name: "Manager", Group: "leads"}}}
	changes := []struct {
		name   string
		change func(c *glossa.SAMLConnection)
	}{
		{"clock skew (not in the JSON form)", func(c *glossa.SAMLConnection) { c.ClockSkew = 30 * time.Second }},
		{"organization (not in the JSON form)", func(c *glossa.SAMLConnection) { c.OrgID = 8 }},
		{"unsolicited responses", func(c *glossa.SAMLConnection) { c.AllowIdPInitiated = true }},
		{"signed Response required", func(c *glossa.SAMLConnection) { c.RequireSignedResponse = true }},
		{"signed requests", func(c *glossa.SAMLConnection) { c.SignAuthnRequests = true }},
		{"attribute names", func(c *glossa.SAMLConnection) { c.MappingEmail = "mail" }},
		{"role mapping", func(c *glossa.SAMLConnection) { c.RolesGroups[0].Group = "admins" }},
		{"metadata refreshed", func(c *glossa.SAMLConnection) {
			c.MetadataXML = strings.Replace(c.MetadataXML, samlattack.IdPSLOURL, samlattack.IdPSLOURL+"/v2", 1)
		}},
		{"updated_at", func(c *glossa.SAMLConnection) { c.UpdatedAt = c.UpdatedAt.Add(time.Nanosecond) }},
	}
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			p := newCacheProbe(f)
			first := base
			first.RolesGroups = append([]glossa.GroupMapping(nil), base.RolesGroups...)
			p.get(t, &first, 1, 2)
			second := base
			second.RolesGroups = append([]glossa.GroupMapping(nil), base.RolesGroups...)
			ch.change(&second)
			p.get(t, &second, 1, 2)
			if p.loads != 2 {
				t.Fatalf("a changed %s hit the cache", ch.name)
			}
		})
	}

	p := newCacheProbe(f)
	conn := base
	sp := p.get(t, &conn, 1, 2)
	for _, ids := range [][]int64{{3, 4, 1, 2}, {3, 4}, {4, 3}, {3}} { // rotated, retired, reordered, lost one
		p.get(t, &conn, ids...)
	}
	if p.loads != 5 {
		t.Fatalf("key ID changes: %d loads, want 5", p.loads)
	}
	if _, err := p.c.Provider(&conn, []int64{1, 2}, p.base, "beta", func() (saml.Keys, error) { p.loads++; return p.keys, nil }); err != nil || p.loads != 6 {
		t.Fatalf("a new slug hit the cache (%d loads, %v)", p.loads, err)
	}
	other, _ := url.Parse("https://labels.example.org")
	if got, err := p.c.Provider(&conn, []int64{1, 2}, other, samlattack.DefaultOrg, func() (saml.Keys, error) { p.loads++; return p.keys, nil }); err != nil || p.loads != 7 || got == sp {
		t.Fatalf("a new base URL hit the cache (%d loads, %v)", p.loads, err)
	}
}

// TestCacheKeyCoversConnection: the cache fingerprints a connection by its
// JSON form plus the fields JSON leaves out, which it names. A new field
// tagged "-" must be added to the fingerprint (cache.go) and here.
func TestCacheKeyCoversConnection(t *testing.T) {
	var hidden []string
	ty := reflect.TypeFor[glossa.SAMLConnection]()
	for i := range ty.NumField() {
		if fl := ty.Field(i); fl.Tag.Get("json") == "-" || !fl.IsExported() {
			hidden = append(hidden, fl.Name)
		}
	}
	if strings.Join(hidden, ",") != "OrgID,ClockSkew" {
		t.Fatalf("fields outside the JSON form: %v; the cache key covers OrgID and ClockSkew only", hidden)
	}
}

// TestCacheErrorsAndExpiry: failures are not cached, and an entry whose
// metadata is pinned ends when the pinned certificate expires.
func TestCacheErrorsAndExpiry(t *testing.T) {
	f := newFixture(t, nil)
	p := newCacheProbe(f)
	conn := &glossa.SAMLConnection{OrgID: 7, MetadataXML: f.Keys.IdPMetadata(samlattack.IdPEntityID, f.Keys.IdPCert)}
	fail := errors.New("sealed key does not open")
	for range 2 {
		if _, err := p.c.Provider(conn, []int64{1}, p.base, samlattack.DefaultOrg, func() (saml.Keys, error) { p.loads++; return saml.Keys{}, fail }); !errors.Is(err, fail) {
			t.Fatalf("err = %v", err)
		}
	}
	if p.loads != 2 {
		t.Fatalf("a failed load was cached (%d loads)", p.loads)
	}
	bad := &glossa.SAMLConnection{OrgID: 7, MetadataXML: "<nope/>"}
	if _, err := p.c.Provider(bad, []int64{1}, p.base, samlattack.DefaultOrg, func() (saml.Keys, error) { return p.keys, nil }); err == nil {
		t.Fatal("bad metadata was accepted")
	}

	now := time.Now()
	p = newCacheProbe(f)
	p.c.Now = func() time.Time { return now }
	pinned := &glossa.SAMLConnection{OrgID: 7, MetadataXML: signedMetadata(t, f, nil), MetadataSigningCert: certPEM(f.Keys.IdP3Cert)}
	p.get(t, pinned, 1)
	now = f.Keys.IdP3Cert.NotAfter
	p.get(t, pinned, 1)
	if p.loads != 1 {
		t.Fatalf("the entry ended before the pinned certificate expired (%d loads)", p.loads)
	}
	now = f.Keys.IdP3Cert.NotAfter.Add(time.Second)
	p.get(t, pinned, 1) // parsed again (still valid by the real clock)
	if p.loads != 2 {
		t.Fatalf("the entry outlived the pinned certificate (%d loads)", p.loads)
	}
}

// TestCacheConcurrent: concurrent requests for several organizations get
// providers built from their own connections (run with -race).
func TestCacheConcurrent(t *testing.T) {
	f := newFixture(t, nil)
	base, _ := url.Parse(samlattack.DefaultBaseURL)
	var c saml.Cache
	keys := saml.Keys{Signing: []saml.KeyPair{f.Keys.SPSign}}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := &glossa.SAMLConnection{OrgID: int64(i % 3), MetadataXML: f.Keys.IdPMetadata(samlattack.IdPEntityID, f.Keys.IdPCert), AllowIdPInitiated: i%2 == 0}
			for range 20 {
				sp, err := c.Provider(conn, []int64{int64(i)}, base, samlattack.DefaultOrg, func() (saml.Keys, error) { return keys, nil })
				if err != nil {
					t.Error(err)
					return
				}
				if sp.EntityID() != spEntityID {
					t.Errorf("entity ID %s", sp.EntityID())
				}
			}
		}()
	}
	wg.Wait()
}
