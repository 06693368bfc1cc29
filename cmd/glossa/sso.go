package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/saml"
	"github.com/glossa-dev/glossa/secret"
	"github.com/glossa-dev/glossa/web"
)

// samlProviders gives the web layer each organization's SAML service
// provider: it loads the organization's SP keys, making and sealing them on
// first use, builds a saml.ServiceProvider from the connection (or finds
// the one built from the same connection and keys in its cache), and adapts
// it to web.SAMLProvider with the database's replay cache.
type samlProviders struct {
	store   glossa.SAMLService
	sealer  *secret.Sealer
	baseURL *url.URL
	now     func() time.Time

	// cache keeps each organization's built SP, so that a request does not
	// unseal the keys and parse the IdP metadata again (saml.Cache).
	cache saml.Cache

	// mu serializes key creation in this process; two processes racing
	// merely both add a key, and the newest one signs.
	mu sync.Mutex
}

// Provider implements web.SAMLProviders.
func (p *samlProviders) Provider(ctx context.Context, org *glossa.Organization, conn *glossa.SAMLConnection) (web.SAMLProvider, error) {
	sp, err := p.provider(ctx, org, conn)
	if err != nil {
		return nil, err
	}
	return &samlProvider{sp: sp, conn: conn, replay: replayCache{store: p.store, orgID: org.ID}}, nil
}

// provider returns the organization's saml.ServiceProvider for conn, from
// the cache when neither the connection nor the live keys have changed.
func (p *samlProviders) provider(ctx context.Context, org *glossa.Organization, conn *glossa.SAMLConnection) (*saml.ServiceProvider, error) {
	stored, err := p.storedKeys(ctx, org)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(stored))
	for i, k := range stored {
		ids[i] = k.ID
	}
	return p.cache.Provider(conn, ids, p.baseURL, org.Slug, func() (saml.Keys, error) { return p.open(org, stored) })
}

// keyAD binds a sealed SP key to its organization and purpose, so a sealed
// key copied to another row does not open.
func keyAD(orgID int64, purpose string) []byte {
	return fmt.Appendf(nil, "glossa sp-key org=%d purpose=%s", orgID, purpose)
}

// storedKeys returns the organization's live SP keys as stored (sealed),
// newest first, after making a signing or an encryption pair that is
// missing. Only that first use takes the lock.
func (p *samlProviders) storedKeys(ctx context.Context, org *glossa.Organization) ([]glossa.SPKey, error) {
	complete := func(ks []glossa.SPKey) bool {
		var signing, encryption bool
		for _, k := range ks {
			signing = signing || k.Purpose == glossa.KeySigning
			encryption = encryption || k.Purpose == glossa.KeyEncryption
		}
		return signing && encryption
	}
	stored, err := p.store.FindSPKeys(ctx, org.ID)
	if err != nil || complete(stored) {
		return stored, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if stored, err = p.store.FindSPKeys(ctx, org.ID); err != nil || complete(stored) {
		return stored, err
	}
	for _, purpose := range []string{glossa.KeySigning, glossa.KeyEncryption} {
		if !slices.ContainsFunc(stored, func(k glossa.SPKey) bool { return k.Purpose == purpose }) {
			if _, err := p.createKey(ctx, org, purpose); err != nil {
				return nil, err
			}
		}
	}
	return p.store.FindSPKeys(ctx, org.ID)
}

// keys returns the organization's live SP keys, unsealed, newest first per
// purpose.
func (p *samlProviders) keys(ctx context.Context, org *glossa.Organization) (saml.Keys, error) {
	stored, err := p.storedKeys(ctx, org)
	if err != nil {
		return saml.Keys{}, err
	}
	return p.open(org, stored)
}

// open unseals and parses stored SP keys.
func (p *samlProviders) open(org *glossa.Organization, stored []glossa.SPKey) (saml.Keys, error) {
	var keys saml.Keys
	for _, k := range stored {
		keyPEM, err := p.sealer.Open(k.SealedKey, keyAD(org.ID, k.Purpose))
		if err != nil {
			return saml.Keys{}, fmt.Errorf("open SP key %d of organization %d: %w", k.ID, org.ID, err)
		}
		kp, err := saml.ParseKeyPair(keyPEM, []byte(k.CertPEM))
		if err != nil {
			return saml.Keys{}, fmt.Errorf("SP key %d of organization %d: %w", k.ID, org.ID, err)
		}
		if k.Purpose == glossa.KeySigning {
			keys.Signing = append(keys.Signing, kp)
		} else {
			keys.Encryption = append(keys.Encryption, kp)
		}
	}
	return keys, nil
}

// createKey makes, seals and stores a new SP key pair.
func (p *samlProviders) createKey(ctx context.Context, org *glossa.Organization, purpose string) (saml.KeyPair, error) {
	kp, err := saml.GenerateKeyPair(fmt.Sprintf("Glossa SP %s (%s)", org.Slug, purpose), p.now())
	if err != nil {
		return saml.KeyPair{}, err
	}
	keyPEM, certPEM, err := kp.MarshalPEM()
	if err != nil {
		return saml.KeyPair{}, err
	}
	sealed, err := p.sealer.Seal(keyPEM, keyAD(org.ID, purpose))
	if err != nil {
		return saml.KeyPair{}, err
	}
	if err := p.store.CreateSPKey(ctx, &glossa.SPKey{OrgID: org.ID, Purpose: purpose, CertPEM: string(certPEM), SealedKey: sealed}); err != nil {
		return saml.KeyPair{}, err
	}
	return kp, nil
}

// samlProvider adapts saml.ServiceProvider to web.SAMLProvider.
type samlProvider struct {
	sp     *saml.ServiceProvider
	conn   *glossa.SAMLConnection
	replay replayCache
}

func (p *samlProvider) Metadata() ([]byte, error) { return p.sp.Metadata() }

func (p *samlProvider) AuthnRequestURL(relayState string, now time.Time) (string, string, error) {
	return p.sp.AuthnRequestURL(relayState, now)
}

func (p *samlProvider) ParseResponse(ctx context.Context, response string, ids []string, now time.Time) (*glossa.SAMLIdentity, error) {
	return p.sp.ParseResponse(ctx, response, ids, now, p.replay)
}

func (p *samlProvider) Grant(id *glossa.SAMLIdentity) web.SSOGrant {
	d := saml.Map(p.conn, id)
	g := web.SSOGrant{Role: d.Role, Workspaces: d.Workspaces}
	for _, pg := range d.Projects {
		g.Projects = append(g.Projects, glossa.ProjectMapping{ProjectID: pg.ProjectID, Role: pg.Role})
	}
	return g
}

// replayCache is the database's one-time-use record of assertion IDs, so
// that a second Glossa process sharing the database refuses a replay too.
type replayCache struct {
	store glossa.SAMLService
	orgID int64
}

func (c replayCache) Consume(ctx context.Context, id string, until time.Time) error {
	err := c.store.ConsumeAssertion(ctx, c.orgID, id, until)
	if glossa.ErrorCode(err) == glossa.ECONFLICT {
		return errors.Join(saml.ErrReplayed, err)
	}
	return err
}

func (p *samlProvider) LogoutRequestURL(ss *glossa.SAMLSession, relayState string, now time.Time) (string, string, error) {
	return p.sp.LogoutRequestURL(ss.NameID, ss.NameIDFormat, ss.SessionIndex, relayState, now)
}

func (p *samlProvider) ParseLogoutRequest(ctx context.Context, msg web.SAMLLogoutMessage, now time.Time) (*web.SAMLLogoutRequest, error) {
	lr, err := p.sp.ParseLogoutRequest(ctx, saml.LogoutMessage{RawQuery: msg.RawQuery, Form: msg.Form}, now, p.replay)
	if err != nil {
		return nil, err
	}
	return &web.SAMLLogoutRequest{ID: lr.ID, IdPEntityID: p.sp.IdP().EntityID, NameID: lr.NameID,
		SessionIndexes: lr.SessionIndexes, RelayState: lr.RelayState}, nil
}

func (p *samlProvider) ParseLogoutResponse(ctx context.Context, msg web.SAMLLogoutMessage, ids []string, now time.Time) error {
	_, err := p.sp.ParseLogoutResponse(ctx, saml.LogoutMessage{RawQuery: msg.RawQuery, Form: msg.Form}, ids, now, p.replay)
	return err
}

func (p *samlProvider) LogoutResponseURL(inResponseTo, relayState string, now time.Time) (string, error) {
	return p.sp.LogoutResponseURL(inResponseTo, relayState, now)
}

// SPMetadata implements web.SAMLProviders.
func (p *samlProviders) SPMetadata(ctx context.Context, org *glossa.Organization, conn *glossa.SAMLConnection) ([]byte, error) {
	if conn.MetadataXML != "" {
		sp, err := p.provider(ctx, org, conn)
		if err != nil {
			return nil, err
		}
		return sp.Metadata()
	}
	keys, err := p.keys(ctx, org)
	if err != nil {
		return nil, err
	}
	return saml.SPMetadata(conn, keys, p.baseURL, org.Slug)
}

// RotateKeys implements web.SAMLProviders.
func (p *samlProviders) RotateKeys(ctx context.Context, org *glossa.Organization) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, purpose := range []string{glossa.KeySigning, glossa.KeyEncryption} {
		if _, err := p.createKey(ctx, org, purpose); err != nil {
			return err
		}
	}
	return nil
}

// metadataFetcher adapts saml.MetadataFetcher to web.MetadataFetcher.
type metadataFetcher struct{ f *saml.MetadataFetcher }

func (m metadataFetcher) FetchMetadata(ctx context.Context, url, pinnedCertPEM string) ([]byte, error) {
	doc, _, err := m.f.Fetch(ctx, url, pinnedCertPEM)
	return doc, err
}

func (m metadataFetcher) CheckMetadata(metadataXML, pinnedCertPEM string) error {
	_, err := saml.ParseIdPMetadata([]byte(metadataXML), pinnedCertPEM)
	return err
}

// refreshMetadata keeps every metadata URL's copy fresh until ctx ends:
// each connection is fetched again when its metadata's cacheDuration (or a
// day) has passed, and before its validUntil. A failed fetch keeps the last
// good copy and records the error, which the settings show.
func refreshMetadata(ctx context.Context, store glossa.SAMLService, f *saml.MetadataFetcher, logger *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		conns, err := store.FindSAMLConnections(ctx)
		if err != nil && ctx.Err() == nil {
			logger.Warn("listing SSO connections for the metadata refresh failed", "err", err)
		}
		now := time.Now()
		for i := range conns {
			c := &conns[i]
			if c.MetadataURL == "" {
				continue
			}
			if c.FetchedAt != nil {
				md, _ := saml.ParseIdPMetadata([]byte(c.MetadataXML), c.MetadataSigningCert)
				if now.Before(saml.NextMetadataRefresh(md, *c.FetchedAt)) && c.FetchError == "" {
					continue
				}
				if c.FetchError != "" && now.Before(c.FetchedAt.Add(saml.MinMetadataRefresh)) {
					continue
				}
			}
			doc, _, err := f.Fetch(ctx, c.MetadataURL, c.MetadataSigningCert)
			if err != nil {
				c.FetchError = glossa.ErrorMessage(err) + " The last good copy stays in use."
				logger.Warn("refreshing IdP metadata failed; keeping the last good copy", "org_id", c.OrgID, "err", err)
			} else {
				c.MetadataXML, c.FetchError = string(doc), ""
			}
			fetched := now
			c.FetchedAt = &fetched
			if err := store.SaveSAMLConnection(ctx, c); err != nil && ctx.Err() == nil {
				logger.Warn("saving refreshed IdP metadata failed", "org_id", c.OrgID, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
