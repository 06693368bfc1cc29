// Package s3 owns Glossa's cloud storage on Amazon S3 and S3-compatible
// stores: it lists, reads, presigns and writes bucket objects, runs the
// background sync of source storages (bucket objects become tasks) and the
// export of annotations to target storages, and decides, per person, which
// objects of a per-person (federated) storage that person may see.
//
// Every call that touches a bucket acts for one person. In the per-person
// modes (glossa.AuthMode.PerPerson) it uses that person's own short-lived
// credentials, obtained at sign-in by the federation package and handed over
// through CredentialSource, so the bucket's IAM policies decide what each
// person reads and writes; in the shared modes the storage's credentials
// are used for everyone.
//
// Label Studio semantics are kept where Label Studio has an answer (its
// storage fields, validate_connection, the sync algorithm, blob URLs,
// presign versus proxy, the export key and body); see
// docs/storage.md and the Label Studio reference, §8.
package s3

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/glossa-dev/glossa"
)

// CredentialSource hands out the cloud credentials that a storage is read
// and written with on behalf of userID: the person's own in the
// per-person modes, the storage's in the shared modes (which ignore
// userID). It is implemented by the federation package and must be cheap
// (credentials are cached there; no STS call sits on this path).
//
// In the per-person modes it returns a *glossa.Error with code
// glossa.EREAUTH when the person's credentials expired or are missing;
// Connector passes such errors through unchanged, so the person is sent
// back through the IdP.
type CredentialSource interface {
	Credentials(ctx context.Context, s *glossa.Storage, userID int64) (glossa.Credentials, error)
}

// RoleNamer may also be implemented by a CredentialSource: it names the
// role ARN that userID's credentials for s stand for (in broker mode this
// depends on the person's IdP groups). Audit events and error messages
// then name that role; without it they name s.RoleARN.
type RoleNamer interface {
	RoleARN(ctx context.Context, s *glossa.Storage, userID int64) string
}

// DataKeySource names, per storage, the task data field that a blob-URL
// sync (use_blob_urls) puts each object's s3:// URL in. Label Studio
// leaves that to the labeling config: it is the $variable of the project's
// first object tag ("image" for <Image value="$image"/>). The labeling
// package implements it; without one, or when it returns "", the field is
// DefaultBlobDataKey.
type DataKeySource interface {
	BlobDataKey(ctx context.Context, s *glossa.Storage) (string, error)
}

// Store is the part of glossa.StorageService that the connector calls.
type Store interface {
	FindStorageByID(ctx context.Context, orgID, id int64) (*glossa.Storage, error)
	ClaimStorageJob(ctx context.Context, now, staleBefore time.Time) (*glossa.StorageJob, error)
	ReportStorageJob(ctx context.Context, id, claim int64, p glossa.JobProgress, now time.Time) (cancel bool, err error)
	FinishStorageJob(ctx context.Context, id, claim int64, status glossa.SyncStatus, p glossa.JobProgress, errMsg string, now time.Time) error
	AddStorageObjects(ctx context.Context, s *glossa.Storage, objs []glossa.StorageObject) (created, skipped int64, err error)
	ClaimExportWrites(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]glossa.ExportWrite, error)
	FinishExportWrite(ctx context.Context, id int64, errMsg string, next time.Time) error
	ClaimExportDeletions(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]glossa.ExportDeletion, error)
	FinishExportDeletion(ctx context.Context, id int64, errMsg string, next time.Time) error
	EnqueueExportBackfill(ctx context.Context, orgID, storageID int64, now time.Time) (int64, error)
	CountExportWrites(ctx context.Context, orgID, storageID int64) (glossa.ExportWriteCounts, error)
}

// AnnotationFinder loads what an export write writes: the annotation and
// its task (parts of glossa.AnnotationService and glossa.TaskService).
type AnnotationFinder interface {
	FindAnnotationByID(ctx context.Context, orgID, id int64) (*glossa.Annotation, error)
	FindTaskByID(ctx context.Context, orgID, id int64) (*glossa.Task, error)
}

// Auditor appends to the audit log (part of glossa.AuditService).
type Auditor interface {
	AppendAudit(ctx context.Context, e *glossa.AuditEvent) error
}

// Defaults of Connector's optional fields and the limits it keeps.
const (
	DefaultBatchSize       = 1000
	DefaultBlobDataKey     = "image"
	DefaultPollInterval    = time.Second
	DefaultReadConcurrency = 8
	// DefaultMaxTaskFileBytes bounds one JSON task file: a bigger object
	// counts as failed rather than exhausting memory.
	DefaultMaxTaskFileBytes = 64 << 20

	// HeartbeatInterval is how often a running job reports progress, at
	// the least; a job whose heartbeat is older than StaleAfter is taken
	// over by another process (its process is presumed dead).
	HeartbeatInterval = 10 * time.Second
	StaleAfter        = 30 * time.Second

	// Export writes and deletions are claimed ExportLimit at a time for
	// ExportLease; a failed one is retried after ExportBackoffMin,
	// doubling up to ExportBackoffMax.
	ExportLimit      = 100
	ExportLease      = time.Minute
	ExportBackoffMin = 5 * time.Second
	ExportBackoffMax = 15 * time.Minute

	// MaxPresignExpiry is SigV4's longest presigned URL (7 days).
	MaxPresignExpiry = 7 * 24 * time.Hour

	// decisionTTL bounds how long a visibility decision made with
	// credentials that never expire (static keys) is kept.
	decisionTTL = 5 * time.Minute
	// Cache bounds: S3 clients (one per credential tuple) and visibility
	// decisions (one per storage, person, credential and key or folder).
	maxClients   = 512
	maxDecisions = 100_000
)

// Connector reads and writes S3 storages. Set the fields, then use it from
// any number of goroutines; do not change the fields afterwards. Creds and
// Store are required; Annotations for export, Audit for the audit trail of
// federated access.
type Connector struct {
	Creds       CredentialSource
	Store       Store
	Annotations AnnotationFinder
	Audit       Auditor
	DataKeys    DataKeySource

	// HTTPClient sends the S3 requests; nil means an AWS SDK client with
	// a 10 s dial timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger gets what an Owner does not see (the detail behind an
	// explained error, jobs started and failed); nil discards it.
	Logger *slog.Logger

	// BatchSize is how many objects a sync lists, reads and commits at a
	// time (one AddStorageObjects transaction and one progress report per
	// batch): DefaultBatchSize when 0; at most 1000 (S3's page size).
	BatchSize int
	// ReadConcurrency bounds the parallel GetObject calls of a sync of
	// JSON task files, and the parallel writes of the export worker:
	// DefaultReadConcurrency when 0.
	ReadConcurrency int
	// MaxTaskFileBytes: DefaultMaxTaskFileBytes when 0.
	MaxTaskFileBytes int64
	// PollInterval is how often the worker looks for jobs and due export
	// writes when nobody kicks it: DefaultPollInterval when 0.
	PollInterval time.Duration

	once       sync.Once
	signer     *v4.Signer
	httpClient awss3.HTTPClient
	clients    *lru[clientKey, *endpoint]
	decisions  *lru[decisionKey, bool]
	jobKick    chan struct{}
	writeKick  chan struct{}
}

// setup initializes the unexported state once.
func (c *Connector) setup() {
	c.once.Do(func() {
		c.signer = v4.NewSigner(func(o *v4.SignerOptions) {
			// S3 signs the path as sent, without the second escaping
			// other services use (SigV4, "Create a canonical request").
			o.DisableURIPathEscaping = true
		})
		if c.HTTPClient != nil {
			c.httpClient = c.HTTPClient
		} else {
			c.httpClient = awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
				d.Timeout = 10 * time.Second
			})
		}
		c.clients = newLRU[clientKey, *endpoint](maxClients)
		c.decisions = newLRU[decisionKey, bool](maxDecisions)
		c.jobKick = make(chan struct{}, 1)
		c.writeKick = make(chan struct{}, 1)
	})
}

func (c *Connector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Connector) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Connector) batchSize() int {
	switch {
	case c.BatchSize <= 0:
		return DefaultBatchSize
	case c.BatchSize > 1000:
		return 1000
	}
	return c.BatchSize
}

func (c *Connector) readConcurrency() int {
	if c.ReadConcurrency <= 0 {
		return DefaultReadConcurrency
	}
	return c.ReadConcurrency
}

// forEach calls f(i) for every i in [0, n), ReadConcurrency calls at a
// time, and returns when all have returned.
func (c *Connector) forEach(n int, f func(i int)) {
	sem := make(chan struct{}, c.readConcurrency())
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

func (c *Connector) maxTaskFileBytes() int64 {
	if c.MaxTaskFileBytes <= 0 {
		return DefaultMaxTaskFileBytes
	}
	return c.MaxTaskFileBytes
}

// clientKey is the credential tuple an S3 client is built for.
type clientKey struct {
	accessKeyID, secretAccessKey, sessionToken string
	endpoint, region                           string
}

// endpoint is what talking to one (credentials, endpoint, region) takes:
// the SDK client, built on first use because building it is the costly
// part, and what presigning a URL needs, which is cheap.
type endpoint struct {
	creds  aws.Credentials
	region string
	// scheme and host of the custom endpoint, with its base path
	// (unescaped and escaped); empty host means AWS.
	scheme, host, basePath, rawBasePath string

	once   sync.Once
	client *awss3.Client
}

// endpointFor returns the (cached) endpoint for creds and s's endpoint and
// region. Clients are cached by the whole credential tuple so that a
// person's fresh credentials after a new sign-in get a fresh client, and
// dropped when the credentials expire.
func (c *Connector) endpointFor(s *glossa.Storage, creds glossa.Credentials) (*endpoint, error) {
	c.setup()
	region := s.Region()
	k := clientKey{creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken, s.S3Endpoint, region}
	now := c.now()
	if e, ok := c.clients.get(k, now); ok {
		return e, nil
	}
	e := &endpoint{
		creds: aws.Credentials{
			AccessKeyID:     creds.AccessKeyID,
			SecretAccessKey: creds.SecretAccessKey,
			SessionToken:    creds.SessionToken,
			Source:          "glossa",
		},
		region: region,
	}
	if s.S3Endpoint != "" {
		u, err := parseEndpoint(s.S3Endpoint)
		if err != nil {
			return nil, err
		}
		e.scheme, e.host = u.Scheme, u.Host
		e.basePath, e.rawBasePath = strings.TrimSuffix(u.Path, "/"), strings.TrimSuffix(u.EscapedPath(), "/")
	}
	c.clients.put(k, e, creds.Expires)
	return e, nil
}

// parseEndpoint checks an s3_endpoint: an absolute http or https URL.
func parseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, glossa.Errorf(glossa.EINVALID, "The S3 endpoint %q is not a URL such as https://s3.example.com.", raw)
	}
	return u, nil
}

// s3 returns the endpoint's SDK client, building it on first use. A custom
// endpoint (S3-compatible stores, VPC endpoints) is addressed path-style,
// which every S3-compatible store understands, and is sent checksums only
// where the operation requires them, which not all of them understand.
func (e *endpoint) s3(c *Connector) *awss3.Client {
	e.once.Do(func() {
		creds := e.creds
		o := awss3.Options{
			Region: e.region,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return creds, nil
			}),
			HTTPClient: c.httpClient,
			Logger:     logging.Nop{},
			// The SDK logs a warning per response it cannot checksum;
			// S3-compatible stores often send none.
			DisableLogOutputChecksumValidationSkipped: true,
		}
		if e.host != "" {
			o.BaseEndpoint = aws.String(e.scheme + "://" + e.host + e.rawBasePath)
			o.UsePathStyle = true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
		e.client = awss3.New(o)
	})
	return e.client
}

// access is what one call acts with: the storage, the person, their
// credentials and the endpoint built for them.
type access struct {
	s      *glossa.Storage
	userID int64
	creds  glossa.Credentials
	ep     *endpoint
}

// acquire fetches userID's credentials for s and the endpoint for them.
// Errors of the source (EREAUTH for expired per-person credentials) pass
// through unchanged; credentials that have expired by our clock are
// refused here too (expiredError), so that no request is sent that S3
// would refuse with ExpiredToken.
func (c *Connector) acquire(ctx context.Context, s *glossa.Storage, userID int64) (*access, error) {
	if c.Creds == nil {
		return nil, glossa.Errorf(glossa.EUNAVAILABLE, "Cloud storage credentials are not configured on this server.")
	}
	creds, err := c.Creds.Credentials(ctx, s, userID)
	if err != nil {
		return nil, err
	}
	if creds.Expired(c.now(), 0) {
		return nil, expiredError(s, nil)
	}
	ep, err := c.endpointFor(s, creds)
	if err != nil {
		return nil, err
	}
	return &access{s: s, userID: userID, creds: creds, ep: ep}, nil
}

// roleOf names the role userID acts as on s, for audit events and
// messages: from the credential source if it knows, else the storage's
// role ARN (empty for static keys).
func (c *Connector) roleOf(ctx context.Context, s *glossa.Storage, userID int64) string {
	if rn, ok := c.Creds.(RoleNamer); ok {
		if r := rn.RoleARN(ctx, s, userID); r != "" {
			return r
		}
	}
	return s.RoleARN
}

// audit records one federated access decision. A failure to record is
// logged, not returned: the access itself was decided by the bucket, and
// losing the page over an audit hiccup would not make anything safer.
func (c *Connector) audit(ctx context.Context, s *glossa.Storage, userID int64, op, role, what, name string, allowed bool, reason string) {
	if c.Audit == nil {
		return
	}
	outcome := glossa.OutcomeSuccess
	if !allowed {
		outcome = glossa.OutcomeFailure
	}
	e := &glossa.AuditEvent{
		OrgID:      s.OrgID,
		At:         c.now(),
		ActorID:    userID,
		Action:     "federation.access",
		Outcome:    outcome,
		Reason:     reason,
		TargetType: "storage",
		TargetID:   itoa(s.ID),
		RequestID:  glossa.RequestIDFromContext(ctx),
		Detail: map[string]any{
			"storage":   s.ID,
			"bucket":    s.Bucket,
			"role":      role,
			"operation": op,
			what:        name,
			"allowed":   allowed,
		},
	}
	if err := c.Audit.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		c.logger().ErrorContext(ctx, "s3: audit", "storage", s.ID, "user", userID, "err", err)
	}
}
