package saml_test

// The SP side of the in-test IdP (internal/samlattack): the organization's
// ServiceProvider, built from the fixture's connection, and replay caches.

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/samlattack"
	"github.com/glossa-dev/glossa/saml"
)

// The default fixture's SP endpoints, as saml.New must name them.
const (
	spEntityID = samlattack.DefaultBaseURL + "/saml/" + samlattack.DefaultOrg + "/metadata"
	spACS      = samlattack.DefaultBaseURL + "/saml/" + samlattack.DefaultOrg + "/acs"
	spSLO      = samlattack.DefaultBaseURL + "/saml/" + samlattack.DefaultOrg + "/slo"
)

// fixture is one organization's SP plus the IdP that serves it.
type fixture struct {
	*samlattack.Fixture
	conn   *glossa.SAMLConnection
	sp     *saml.ServiceProvider
	replay *memoryReplay
}

// newFixture builds the SP of samlattack's default fixture from
// Fixture.Connection, changed by setup when it is not nil.
func newFixture(tb testing.TB, setup func(f *samlattack.Fixture, c *glossa.SAMLConnection, k *saml.Keys)) *fixture {
	tb.Helper()
	idp := samlattack.NewFixture(tb)
	conn, ks := idp.Connection()
	if setup != nil {
		setup(idp, conn, &ks)
	}
	base, _ := url.Parse(idp.BaseURL)
	sp, err := saml.New(conn, ks, base, idp.Org)
	if err != nil {
		tb.Fatalf("saml.New: %v", err)
	}
	return &fixture{Fixture: idp, conn: conn, sp: sp, replay: newMemoryReplay()}
}

// parse runs the ACS with the fixture's pending request ID.
func (f *fixture) parse(b64 string) (*saml.Response, error) {
	return f.sp.ValidateResponse(context.Background(), b64, []string{f.RequestID}, f.Now, f.replay)
}

// memoryReplay is a ReplayCache that answers a second use with ECONFLICT,
// as the database implementation does.
type memoryReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newMemoryReplay() *memoryReplay { return &memoryReplay{seen: map[string]time.Time{}} }

func (m *memoryReplay) Consume(_ context.Context, id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.seen[id]; ok {
		return glossa.Errorf(glossa.ECONFLICT, "already used")
	}
	m.seen[id] = until
	return nil
}

// failingReplay is a ReplayCache whose database is down.
type failingReplay struct{}

func (failingReplay) Consume(context.Context, string, time.Time) error {
	return errors.New("database is down")
}
