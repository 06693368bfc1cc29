package federation_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/federation"
	"github.com/glossa-dev/glossa/internal/samltest"
	"github.com/glossa-dev/glossa/internal/stsemu"
	"github.com/glossa-dev/glossa/secret"
)

const (
	account   = "123456789012"
	provider  = "arn:aws:iam::" + account + ":saml-provider/AcmeIdP"
	provider2 = "arn:aws:iam::" + account + ":saml-provider/OtherIdP"
	roleA     = "arn:aws:iam::" + account + ":role/TeamA"
	roleB     = "arn:aws:iam::" + account + ":role/TeamB"
	roleC     = "arn:aws:iam::" + account + ":role/TeamC" // exists, never asserted
	roleLong  = "arn:aws:iam::" + account + ":role/Long"  // MaxSessionDuration 12 h

	idpEntity    = "https://idp.acme.example/saml"
	glossaEntity = "https://glossa.example/saml/acme/metadata"
	acs          = "https://glossa.example/saml/acme/acs"
	email        = "alice@acme.example"

	orgID  = 1
	userID = 7
)

// trust is the trust policy Glossa documents: the provider may assume the
// role with SAML when SAML:aud (the Recipient) is Glossa's ACS.
func trust(aud string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider +
		`"},"Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"SAML:aud":"` + aud + `"}}}]}`
}

// fakeStore is the store in memory: the org's storages and every person
// credential saved, the last per key and the whole history.
type fakeStore struct {
	mu       sync.Mutex
	storages []glossa.Storage
	creds    map[string]glossa.PersonCredential
	saved    []glossa.PersonCredential
	finds    int
}

func credKey(org, user int64, key string) string { return fmt.Sprintf("%d/%d/%s", org, user, key) }

func (s *fakeStore) FindStorages(_ context.Context, f glossa.StorageFilter) ([]glossa.Storage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []glossa.Storage
	for _, st := range s.storages {
		if st.OrgID == f.OrgID {
			out = append(out, st)
		}
	}
	return out, nil
}

func (s *fakeStore) SavePersonCredential(_ context.Context, c *glossa.PersonCredential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creds == nil {
		s.creds = make(map[string]glossa.PersonCredential)
	}
	cp := *c
	cp.Sealed = bytes.Clone(c.Sealed)
	s.creds[credKey(c.OrgID, c.UserID, c.Key)] = cp
	s.saved = append(s.saved, cp)
	return nil
}

func (s *fakeStore) FindPersonCredential(_ context.Context, org, user int64, key string) (*glossa.PersonCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finds++
	c, ok := s.creds[credKey(org, user, key)]
	if !ok {
		return nil, glossa.NotFound("Credential")
	}
	c.Sealed = bytes.Clone(c.Sealed)
	return &c, nil
}

func (s *fakeStore) get(t *testing.T, key string) glossa.PersonCredential {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[credKey(orgID, userID, key)]
	if !ok {
		t.Fatalf("no credential saved under %q", key)
	}
	return c
}

func (s *fakeStore) storage(t *testing.T, id int64) *glossa.Storage {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.storages {
		if st.ID == id {
			return &st
		}
	}
	t.Fatalf("no storage %d", id)
	return nil
}

// auditLog records audit events.
type auditLog struct {
	mu     sync.Mutex
	events []glossa.AuditEvent
}

func (a *auditLog) AppendAudit(_ context.Context, e *glossa.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, *e)
	return nil
}

// byTarget returns the exchange events for a role, failing unless there
// is exactly one.
func (a *auditLog) byTarget(t *testing.T, role string) glossa.AuditEvent {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	var found []glossa.AuditEvent
	for _, e := range a.events {
		if e.TargetID == role {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d audit events for %s, want 1: %+v", len(found), role, a.events)
	}
	e := found[0]
	if e.Action != "federation.exchange" || e.TargetType != "role" || e.OrgID != orgID || e.ActorID != userID || e.ActorEmail != email {
		t.Errorf("audit event = %+v", e)
	}
	return e
}

// recordingSealer is a real secret.Sealer that also keeps every plaintext
// it seals, so tests can look inside what was stored.
type recordingSealer struct {
	*secret.Sealer
	mu     sync.Mutex
	sealed [][]byte
}

func (r *recordingSealer) Seal(plaintext, ad []byte) ([]byte, error) {
	r.mu.Lock()
	r.sealed = append(r.sealed, bytes.Clone(plaintext))
	r.mu.Unlock()
	return r.Sealer.Seal(plaintext, ad)
}

func newSealer(t testing.TB) *recordingSealer {
	t.Helper()
	key := make([]byte, secret.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	s, err := secret.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return &recordingSealer{Sealer: s}
}

// counter counts the requests sent through it (to STS).
type counter struct {
	n atomic.Int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// issuer is the emulator's Issuer: it hands out distinct fake credentials,
// records each request, and can wait for several requests to be in flight
// at once (proof that exchanges run in parallel).
type issuer struct {
	mu       sync.Mutex
	requests []stsemu.IssueRequest
	expires  time.Time // zero: now + the asked duration

	// parallel, if > 0, holds each request until that many have arrived.
	parallel int
	arrived  chan struct{}
	all      chan struct{}
}

func (is *issuer) Issue(ctx context.Context, r stsemu.IssueRequest) (stsemu.Credentials, error) {
	is.mu.Lock()
	is.requests = append(is.requests, r)
	n := len(is.requests)
	exp := is.expires
	if is.parallel > 0 && n == is.parallel {
		close(is.all)
	}
	all := is.all
	is.mu.Unlock()
	if is.parallel > 0 {
		select {
		case <-all:
		case <-time.After(3 * time.Second):
			return stsemu.Credentials{}, &stsemu.Error{Status: 500, Code: "InternalFailure", Message: "the exchanges did not run in parallel"}
		case <-ctx.Done():
			return stsemu.Credentials{}, ctx.Err()
		}
	}
	if exp.IsZero() {
		exp = time.Now().Add(r.Duration)
	}
	return stsemu.Credentials{
		AccessKeyID:     fmt.Sprintf("ASIA%016d", n),
		SecretAccessKey: "secret-" + r.RoleARN,
		SessionToken:    fmt.Sprintf("token-%d-%s", n, r.SessionName),
		Expiration:      exp,
	}, nil
}

func (is *issuer) byRole(role string) []stsemu.IssueRequest {
	is.mu.Lock()
	defer is.mu.Unlock()
	var out []stsemu.IssueRequest
	for _, r := range is.requests {
		if r.RoleARN == role {
			out = append(out, r)
		}
	}
	return out
}

// rig is a broker wired to an STS emulator, an IdP, a fake store and a
// real sealer.
type rig struct {
	idp    *samltest.IdP
	emu    *stsemu.Emulator
	sts    *httptest.Server
	issuer *issuer
	store  *fakeStore
	audit  *auditLog
	sealer *recordingSealer
	calls  *counter
	logs   *bytes.Buffer
	b      *federation.Broker
	// offset moves the broker's clock.
	offset atomic.Int64
}

var (
	idpOnce sync.Once
	idp     *samltest.IdP
	idpRe   *samltest.IdP // the same IdP after a key rollover
)

func testIdP(t testing.TB) {
	idpOnce.Do(func() {
		idp = samltest.NewIdP(t, idpEntity)
		idpRe = samltest.NewIdP(t, idpEntity)
	})
}

func newRig(t *testing.T, storages ...glossa.Storage) *rig {
	t.Helper()
	testIdP(t)
	r := &rig{idp: idp, issuer: &issuer{}, store: &fakeStore{storages: storages}, audit: &auditLog{},
		sealer: newSealer(t), calls: &counter{}, logs: &bytes.Buffer{}}
	r.emu = &stsemu.Emulator{
		Account:   account,
		Providers: []stsemu.Provider{{ARN: provider, Metadata: idp.Metadata()}},
		Roles: []stsemu.Role{
			{ARN: roleA, TrustPolicy: trust(acs)},
			{ARN: roleB, TrustPolicy: trust(acs)},
			{ARN: roleC, TrustPolicy: trust(acs)},
			{ARN: roleLong, TrustPolicy: trust(acs), MaxSessionDuration: 12 * time.Hour},
		},
		Issuer: r.issuer,
	}
	if err := r.emu.Check(); err != nil {
		t.Fatal(err)
	}
	r.sts = httptest.NewServer(r.emu)
	t.Cleanup(r.sts.Close)
	var logMu sync.Mutex
	r.b = &federation.Broker{
		Store:       r.store,
		Sealer:      r.sealer,
		Audit:       r.audit,
		HTTPClient:  &http.Client{Transport: r.calls},
		STSEndpoint: r.sts.URL,
		Now:         func() time.Time { return time.Now().Add(time.Duration(r.offset.Load())) },
		Logger:      slog.New(slog.NewTextHandler(&lockedWriter{mu: &logMu, w: r.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return r
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func member() *glossa.Member {
	return &glossa.Member{User: glossa.User{ID: userID, OrgID: orgID, Email: email}, Role: glossa.RoleAnnotator}
}

// login is one sign-in: the response as the IdP posts it and the identity
// Glossa's SP reads from it.
type login struct {
	response string
	id       *glossa.SAMLIdentity
}

// signIn builds a signed response asserting the role values (raw
// attribute values) and the identity the SP would make of it; edit may
// change both before signing.
func (r *rig) signIn(t *testing.T, roleValues []string, edit func(*samltest.Response, *glossa.SAMLIdentity)) login {
	t.Helper()
	resp := samltest.Response{
		NameID:    "u-4711",
		Recipient: acs,
		Audiences: []string{glossaEntity, samltest.AudienceAWS},
		Attributes: []samltest.Attribute{
			{Name: samltest.AttrRole, Values: roleValues},
			{Name: samltest.AttrRoleSessionName, Values: []string{email}},
		},
	}
	id := &glossa.SAMLIdentity{
		IdPEntityID: idpEntity, NameID: "u-4711", Email: email, Groups: []string{"annotators"},
		Attributes: map[string][]string{
			samltest.AttrRole:            roleValues,
			samltest.AttrRoleSessionName: {email},
		},
	}
	if edit != nil {
		edit(&resp, id)
	}
	return login{response: r.idp.Sign(t, resp), id: id}
}

func (r *rig) afterSSO(t *testing.T, l login) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.b.AfterSSO(ctx, member(), l.id, l.response)
}

func samlStorage(id int64, role, principal string) glossa.Storage {
	return glossa.Storage{ID: id, OrgID: orgID, Bucket: "tasks", AuthMode: glossa.AuthSAMLFederated, RoleARN: role, PrincipalARN: principal}
}

// wantError asserts err's code and that its message contains every part.
func wantError(t *testing.T, what string, err error, code string, parts ...string) {
	t.Helper()
	var ge *glossa.Error
	if !errors.As(err, &ge) || ge.Code != code {
		t.Errorf("%s: err = %v, want a %s *glossa.Error", what, err, code)
		return
	}
	for _, p := range parts {
		if !strings.Contains(ge.Message, p) {
			t.Errorf("%s: message %q does not say %q", what, ge.Message, p)
		}
	}
}
