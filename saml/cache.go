package saml

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"net/url"
	"sync"
	"time"

	glossa "github.com/glossa-dev/glossa"
)

// Cache keeps the ServiceProvider last built for each organization, so that
// the requests of a sign-in (login, ACS, logout, metadata) do not unseal
// the SP keys and parse the IdP metadata again: on a 2-core machine that
// rebuild (two 3072-bit RSA keys parsed and checked, the metadata screened
// and read) costs about 1 ms, half the library's parse of a response
// (BENCHMARKS.md).
//
// An entry is used only when everything the ServiceProvider was built from
// is unchanged: the connection, compared in full (not only by its
// updated_at: the store sets that from its clock, which may repeat a value,
// and a key rotation does not change it), the IDs of the SP keys (stored
// keys are never modified, only added and retired, so their IDs name their
// content), the base URL and the organization's slug. A settings change, a
// metadata refresh, a rotation or a retirement therefore takes effect at
// the next request, in every process sharing the database, with nothing to
// invalidate. When the metadata is pinned to a signing certificate, an
// entry also ends when that certificate expires, as parsing the metadata
// again would then fail.
//
// A Cache holds one entry per organization and is safe for concurrent use;
// the zero value is ready.
type Cache struct {
	// Now is the clock that ends entries at the pinned certificate's
	// expiry; nil means time.Now (which ParseIdPMetadata uses too).
	Now func() time.Time

	mu sync.Mutex
	m  map[int64]*cacheEntry
}

type cacheEntry struct {
	key   cacheKey
	sp    *ServiceProvider
	until time.Time // the pinned metadata signer's NotAfter, or zero
}

// cacheKey is everything New reads, the keys named by their IDs.
type cacheKey struct {
	conn    [sha256.Size]byte
	keyIDs  string
	baseURL string
	slug    string
}

// Provider returns the ServiceProvider of the organization conn belongs
// to: the cached one when conn, keyIDs, baseURL and orgSlug are those it was
// built from, else New(conn, keys, baseURL, orgSlug) with the keys that
// loadKeys returns, which then replaces it. keyIDs must name exactly the key
// pairs loadKeys returns, in their order (the stored keys' IDs); loadKeys
// is called only when the cache cannot answer. Errors are New's and
// loadKeys'; nothing is cached on error. The caller must not modify conn
// afterwards (New keeps it, as it does without the cache).
//
// Security-sensitive: a wrong hit would apply an old certificate or policy.
func (c *Cache) Provider(conn *glossa.SAMLConnection, keyIDs []int64, baseURL *url.URL, orgSlug string, loadKeys func() (Keys, error)) (*ServiceProvider, error) {
	if conn == nil {
		return nil, glossa.Errorf(glossa.EINVALID, "No SAML connection is configured.")
	}
	key, err := newCacheKey(conn, keyIDs, baseURL, orgSlug)
	if err != nil {
		return nil, err
	}
	now := c.now()
	c.mu.Lock()
	e := c.m[conn.OrgID]
	c.mu.Unlock()
	if e != nil && e.key == key && (e.until.IsZero() || !now.After(e.until)) {
		return e.sp, nil
	}

	// Built outside the lock: two requests that miss together both build,
	// and either result is right for its key.
	keys, err := loadKeys()
	if err != nil {
		return nil, err
	}
	sp, err := New(conn, keys, baseURL, orgSlug)
	if err != nil {
		return nil, err
	}
	e = &cacheEntry{key: key, sp: sp}
	if sp.idp.Signed {
		// ParseIdPMetadata checked the pinned certificate's validity now;
		// from its NotAfter on, it would refuse the same metadata.
		pin, err := parseCertificatePEM([]byte(conn.MetadataSigningCert))
		if err != nil {
			return nil, glossa.Wrap(glossa.EINVALID, err, "The metadata signing certificate is not a PEM certificate.")
		}
		e.until = pin.NotAfter
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[int64]*cacheEntry{}
	}
	c.m[conn.OrgID] = e
	c.mu.Unlock()
	return sp, nil
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// newCacheKey fingerprints the connection: its JSON form, which holds every
// field but the two tagged "-", and those two. (TestCacheKeyCoversConnection
// fails when SAMLConnection gains another field that JSON leaves out.)
func newCacheKey(conn *glossa.SAMLConnection, keyIDs []int64, baseURL *url.URL, orgSlug string) (cacheKey, error) {
	doc, err := json.Marshal(conn)
	if err != nil {
		return cacheKey{}, glossa.Wrap(glossa.EINTERNAL, err, "The SAML connection could not be read.")
	}
	h := sha256.New()
	var n [8]byte
	for _, v := range []int64{conn.OrgID, int64(conn.ClockSkew), int64(len(doc))} {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	h.Write(doc)
	key := cacheKey{slug: orgSlug}
	h.Sum(key.conn[:0])
	ids := make([]byte, 0, 8*len(keyIDs))
	for _, id := range keyIDs {
		ids = binary.BigEndian.AppendUint64(ids, uint64(id))
	}
	key.keyIDs = string(ids)
	if baseURL != nil {
		key.baseURL = baseURL.String()
	}
	return key, nil
}
