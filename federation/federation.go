// Package federation is Glossa's credential broker: it owns where the cloud
// credentials that a storage is read and written with come from, and how
// long they may be used.
//
// In the per-person modes (glossa.AuthMode.PerPerson) it acts once, at
// sign-in: Broker.AfterSSO, the SAML ACS's post-sign-in hook, exchanges the
// person's SAML response at AWS STS (AssumeRoleWithSAML, saml_federated
// mode), or has Glossa's own principal assume the role the person's IdP
// groups map to (AssumeRole, broker mode), for every role the
// organization's storages need, in parallel and within the few minutes STS
// accepts a response. It keeps only the resulting credentials, sealed, in
// the store until they expire (never the SAML response), or, when an
// exchange fails, a sentence saying why that an Owner can act on.
// Afterwards Broker.Credentials hands them to the S3 connector (it
// implements connector/s3.CredentialSource) without ever calling the cloud:
// expired or missing credentials are glossa.EREAUTH, so the person is sent
// back through the IdP.
//
// In the shared modes it unseals a storage's static secret, or assumes the
// storage's role as Glossa's principal and caches the session in memory.
//
// References (§) are to shared/reference/aws-saml-federation.md.
package federation

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/glossa-dev/glossa"
)

// Store is the part of glossa.StorageService the broker uses.
type Store interface {
	FindStorages(ctx context.Context, f glossa.StorageFilter) ([]glossa.Storage, error)
	SavePersonCredential(ctx context.Context, c *glossa.PersonCredential) error
	// FindPersonCredential returns a glossa.ENOTFOUND error when there is none.
	FindPersonCredential(ctx context.Context, orgID, userID int64, key string) (*glossa.PersonCredential, error)
}

// Sealer seals secrets at rest; *secret.Sealer implements it.
type Sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(sealed, associatedData []byte) ([]byte, error)
}

// Auditor appends to the audit log (part of glossa.AuditService).
type Auditor interface {
	AppendAudit(ctx context.Context, e *glossa.AuditEvent) error
}

// Defaults and margins.
const (
	// DefaultExchangeTimeout bounds AfterSSO's calls to STS: the sign-in
	// waits for them, and a person should not wait long for a cloud that
	// does not answer.
	DefaultExchangeTimeout = 5 * time.Second
	// ExpiryMargin: per-person credentials this close to their expiry are
	// already treated as expired (EREAUTH), so that a request started with
	// them does not outlive them.
	ExpiryMargin = 30 * time.Second
	// RenewMargin: assume_role sessions are renewed this long before they
	// expire.
	RenewMargin = time.Minute
	// FailureLifetime is how long a failed exchange is remembered when the
	// IdP session sets no end: until then the storage shows why, after it
	// the person is asked to sign in again.
	FailureLifetime = time.Hour
)

// Broker obtains, keeps and hands out the cloud credentials of storages.
// Set the fields, then use it from any number of goroutines; do not change
// the fields afterwards. Store and Sealer are required.
type Broker struct {
	Store  Store
	Sealer Sealer
	// Audit, if set, records every exchange at STS ("federation.exchange").
	Audit Auditor

	// Principal is Glossa's own AWS identity, which calls AssumeRole in
	// the assume_role and broker modes. Nil: those modes fail with a
	// sentence saying that this server has no AWS credentials.
	Principal aws.CredentialsProvider

	// HTTPClient sends the STS requests; nil means the SDK's default.
	HTTPClient *http.Client
	// STSEndpoint is the STS endpoint of storages that set none; "" means
	// AWS (the regional endpoint of the storage's region).
	STSEndpoint string
	// ExchangeTimeout bounds all of AfterSSO's STS calls together;
	// DefaultExchangeTimeout when 0.
	ExchangeTimeout time.Duration

	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger

	once    sync.Once
	mu      sync.Mutex
	clients map[clientKey]*sts.Client
	roles   map[roleKey]*roleSession  // assume_role sessions
	opened  map[personKey]*openedCred // unsealed per-person credentials
}

func (b *Broker) setup() {
	b.once.Do(func() {
		b.clients = make(map[clientKey]*sts.Client)
		b.roles = make(map[roleKey]*roleSession)
		b.opened = make(map[personKey]*openedCred)
	})
}

func (b *Broker) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Broker) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (b *Broker) exchangeTimeout() time.Duration {
	if b.ExchangeTimeout > 0 {
		return b.ExchangeTimeout
	}
	return DefaultExchangeTimeout
}

// clientKey is what an STS client is built for: where it sends and
// whether it signs as Glossa's principal (assume_role, broker) or not at
// all (AssumeRoleWithSAML is unsigned, §1).
type clientKey struct {
	endpoint, region string
	signed           bool
}

// stsEndpoint is the STS endpoint for s: its own, else the broker's
// default, else "" for AWS.
func (b *Broker) stsEndpoint(s *glossa.Storage) string {
	if e := strings.TrimSpace(s.STSEndpoint); e != "" {
		return e
	}
	return strings.TrimSpace(b.STSEndpoint)
}

// client returns the (cached) STS client for s's endpoint and region.
func (b *Broker) client(s *glossa.Storage, signed bool) *sts.Client {
	b.setup()
	k := clientKey{b.stsEndpoint(s), s.Region(), signed}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.clients[k]; c != nil {
		return c
	}
	o := sts.Options{Region: k.region}
	if k.endpoint != "" {
		o.BaseEndpoint = aws.String(k.endpoint)
	}
	if b.HTTPClient != nil {
		o.HTTPClient = b.HTTPClient
	}
	if signed {
		o.Credentials = b.Principal
	} else {
		// AssumeRoleWithSAML "does not require the use of AWS security
		// credentials" (§1): the SAML response is the credential.
		o.Credentials = aws.AnonymousCredentials{}
	}
	c := sts.New(o)
	b.clients[k] = c
	return c
}

// noPrincipal is the error of the modes that need Glossa's own AWS
// identity when the server has none.
func noPrincipal() *glossa.Error {
	return glossa.Errorf(glossa.EFORBIDDEN, "Glossa has no AWS credentials configured, so it cannot assume roles for this storage: "+
		"an administrator must give the server an AWS identity (environment, shared config or instance role), or use another credential mode.")
}
