package glossa

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// StorageType says which way a cloud storage connection moves data.
type StorageType string

// Storage types: a source storage creates tasks from bucket objects (Label
// Studio's import storage); a target storage receives annotations (its
// export storage).
const (
	StorageSource StorageType = "source"
	StorageTarget StorageType = "target"
)

// AuthMode says where a storage's cloud credentials come from.
type AuthMode string

// Credential modes of a storage (CONTRACT.md, "Storage credential modes").
const (
	// AuthStatic uses an access key and secret (and session token) stored
	// sealed with the storage.
	AuthStatic AuthMode = "static"
	// AuthAssumeRole has Glossa's own principal call AssumeRole with the
	// storage's role ARN and external ID.
	AuthAssumeRole AuthMode = "assume_role"
	// AuthSAMLFederated exchanges the acting person's SAML response at STS
	// (AssumeRoleWithSAML) for the storage's role and principal ARNs.
	AuthSAMLFederated AuthMode = "saml_federated"
	// AuthBroker has Glossa's principal assume the role that the person's
	// IdP groups map to, with the person as session name and source
	// identity and a session policy narrowing it to the storage's prefix.
	AuthBroker AuthMode = "broker"
)

// Valid reports whether m is one of the four modes.
func (m AuthMode) Valid() bool {
	switch m {
	case AuthStatic, AuthAssumeRole, AuthSAMLFederated, AuthBroker:
		return true
	}
	return false
}

// PerPerson reports whether the mode reads and writes with the acting
// person's own credentials, so that what each person sees follows the
// bucket's policies for their role.
func (m AuthMode) PerPerson() bool { return m == AuthSAMLFederated || m == AuthBroker }

// SyncStatus is the state of a storage's last sync, in Label Studio's words.
type SyncStatus string

// Sync states: initialized → queued → in_progress → completed | failed;
// canceled when someone stops it.
const (
	SyncInitialized SyncStatus = "initialized"
	SyncQueued      SyncStatus = "queued"
	SyncInProgress  SyncStatus = "in_progress"
	SyncCompleted   SyncStatus = "completed"
	SyncFailed      SyncStatus = "failed"
	SyncCanceled    SyncStatus = "canceled"
)

// Done reports whether the state is final.
func (s SyncStatus) Done() bool {
	return s == SyncCompleted || s == SyncFailed || s == SyncCanceled
}

// Storage is an S3 source or target storage of a project, with Label
// Studio's fields and Glossa's credential modes.
type Storage struct {
	ID          int64       `json:"id"`
	OrgID       int64       `json:"-"`
	ProjectID   int64       `json:"project"`
	Type        StorageType `json:"-"`
	Title       string      `json:"title"`
	Description string      `json:"description"`

	Bucket      string `json:"bucket"`
	Prefix      string `json:"prefix"`
	RegexFilter string `json:"regex_filter"`
	// UseBlobURLs makes every object a task ({"<data key>": "s3://bucket/key"});
	// otherwise each object is a JSON file of one task or a list of tasks.
	UseBlobURLs   bool `json:"use_blob_urls"`
	RecursiveScan bool `json:"recursive_scan"`
	// Presign answers media requests with a redirect to a presigned URL
	// valid for PresignTTL minutes (never longer than the credentials);
	// otherwise Glossa streams the object itself.
	Presign    bool `json:"presign"`
	PresignTTL int  `json:"presign_ttl"`

	RegionName  string `json:"region_name"`
	S3Endpoint  string `json:"s3_endpoint"`
	STSEndpoint string `json:"sts_endpoint"`
	// SSEKMSKeyID, on a target storage, encrypts written objects with this
	// KMS key.
	SSEKMSKeyID      string `json:"aws_sse_kms_key_id"`
	CanDeleteObjects bool   `json:"can_delete_objects"`

	AuthMode     AuthMode `json:"auth_mode"`
	RoleARN      string   `json:"role_arn"`
	ExternalID   string   `json:"external_id"`
	PrincipalARN string   `json:"principal_arn"`
	// BrokerRoles maps IdP groups to the role that broker mode assumes:
	// [[role ARN, group], ...]; the first pair whose group the person has wins.
	BrokerRoles []GroupMapping `json:"broker_roles"`
	// SessionDuration is the requested credential lifetime in seconds
	// (STS clamps nothing: above the role's limit is an error).
	SessionDuration int `json:"session_duration"`

	AccessKeyID string `json:"aws_access_key_id"`
	// SealedSecret holds the static secret access key and session token,
	// sealed; it never leaves the server.
	SealedSecret []byte `json:"-"`

	Status        SyncStatus `json:"status"`
	LastSync      *time.Time `json:"last_sync"`
	LastSyncCount int64      `json:"last_sync_count"`
	LastSyncJob   *int64     `json:"last_sync_job"`
	// LastError is a sentence an Owner can act on, never internal text.
	LastError string    `json:"last_error"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Default storage settings.
const (
	DefaultPresignTTL      = 1    // minutes, as Label Studio
	DefaultSessionDuration = 3600 // seconds, as STS
)

// StorageFilter narrows FindStorages.
type StorageFilter struct {
	OrgID     int64
	ProjectID int64       // 0: every project
	Type      StorageType // "": both
	AuthMode  AuthMode    // "": every mode
}

// StorageObject is one bucket object that a source sync turns into tasks.
type StorageObject struct {
	Key string
	// Folder is the key up to its last "/" (or ""): what listing
	// visibility is decided by.
	Folder string
	// Tasks are the tasks the object holds: one for a blob URL, one or
	// more for a JSON task file.
	Tasks []json.RawMessage
}

// StorageLink ties a task to the object it came from.
type StorageLink struct {
	StorageID int64
	TaskID    int64
	Key       string
	Folder    string
}

// JobStatus is a background job's state.
type JobStatus = SyncStatus

// StorageJob is a background sync of one storage, with its progress. It
// lives in the database so that any Glossa process may run it and every
// process sees its progress.
type StorageJob struct {
	ID        int64       `json:"id"`
	OrgID     int64       `json:"-"`
	StorageID int64       `json:"storage"`
	Type      StorageType `json:"-"`
	Status    SyncStatus  `json:"status"`
	// Claim numbers the claims of the job; ClaimStorageJob sets it. A
	// runner reports and finishes with the claim it was given, and is
	// refused once another process has taken the job over, so that a
	// runner that was slow rather than dead cannot finish it too.
	Claim int64 `json:"-"`
	// RequestedBy is the person whose credentials a per-person storage
	// syncs with.
	RequestedBy int64 `json:"requested_by"`
	// Progress: objects listed, tasks created (source) or annotations
	// written (target), objects skipped (already linked or filtered out),
	// objects or writes that failed.
	Listed  int64 `json:"listed"`
	Created int64 `json:"created"`
	Skipped int64 `json:"skipped"`
	Failed  int64 `json:"failed"`
	// CancelRequested asks the runner to stop at the next batch.
	CancelRequested bool       `json:"cancel_requested"`
	Error           string     `json:"error,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	HeartbeatAt     *time.Time `json:"heartbeat_at"`
}

// JobProgress is a running job's counters, reported after each batch.
type JobProgress struct {
	Listed, Created, Skipped, Failed int64
}

// ExportWrite is one annotation waiting to be written to one target
// storage (the outbox): created in the same transaction as the annotation
// change, so an unreachable bucket loses nothing; retried with back-off
// until written, and counted as failed for the storage's status while it
// keeps failing.
type ExportWrite struct {
	ID           int64
	OrgID        int64
	StorageID    int64
	AnnotationID int64
	TaskID       int64
	// UserID is the annotator, whose credentials per-person storages write with.
	UserID    int64
	Attempts  int
	LastError string
	NextAt    time.Time
	Done      bool
}

// ExportDeletion is the deletion of one exported object from a target
// storage with can_delete_objects set: queued in the transaction that
// deletes its annotation (alone, or with its task), as Label Studio
// deletes the object when the annotation goes; retried with back-off, like
// an ExportWrite, until the bucket confirms it, and counted as failed for
// the storage's status while the bucket refuses it.
type ExportDeletion struct {
	ID           int64
	OrgID        int64
	StorageID    int64
	AnnotationID int64
	// Key is the object: ExportKey of the storage's prefix when the
	// annotation was deleted.
	Key string
	// UserID is the person who deleted the annotation (or the annotator,
	// when no person did), whose credentials per-person storages delete with.
	UserID    int64
	Attempts  int
	LastError string
	NextAt    time.Time
	Done      bool
}

// ExportWriteCounts sums a target storage's outbox: writes of annotations
// and deletions of the objects of deleted ones.
type ExportWriteCounts struct {
	Pending int64 `json:"pending"`
	Failed  int64 `json:"failed"` // pending writes that have failed at least once
	Written int64 `json:"written"`
	// Deleting, DeleteFailed and Deleted count deletions the same way:
	// waiting, waiting after at least one failure, and done.
	Deleting     int64 `json:"deleting"`
	DeleteFailed int64 `json:"delete_failed"`
	Deleted      int64 `json:"deleted"`
	// LastError says why the write or deletion that failed last, of those
	// still waiting, failed; empty when none is failing.
	LastError string `json:"last_error,omitempty"`
}

// DefaultRegion is the region of a storage that names none, as boto and
// the AWS CLI assume.
const DefaultRegion = "us-east-1"

// Region is the storage's region: RegionName, or DefaultRegion when unset.
func (s *Storage) Region() string {
	if r := strings.TrimSpace(s.RegionName); r != "" {
		return r
	}
	return DefaultRegion
}

// ListPrefix is the part of the bucket the storage covers: its prefix as a
// folder, with one trailing "/", as Label Studio lists
// prefix.rstrip('/') + '/', so that "scans" and "scans/" both mean the
// folder rather than every key that starts with "scans"; "" for the whole
// bucket. The S3 connector lists it and broker mode's session policy
// narrows credentials to it: both read it here so that they agree.
func (s *Storage) ListPrefix() string {
	if s.Prefix == "" {
		return ""
	}
	return strings.TrimRight(s.Prefix, "/") + "/"
}

// ExportKey is the object key an annotation is written to in a target
// storage: its ID under the storage's prefix, Label Studio's default
// layout ("prefix/<annotation id>", no extension). Label Studio joins
// prefix and ID with "/" even when the prefix already ends in one;
// Glossa does not double it.
func ExportKey(prefix string, annotationID int64) string {
	id := strconv.FormatInt(annotationID, 10)
	if p := strings.TrimRight(prefix, "/"); p != "" {
		return p + "/" + id
	}
	return id
}

// Credentials are short-lived (or static) cloud credentials.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expires is zero for static keys.
	Expires time.Time
}

// Expired reports whether the credentials are unusable at now, keeping a
// margin so that a request started now does not outlive them.
func (c Credentials) Expired(now time.Time, margin time.Duration) bool {
	return !c.Expires.IsZero() && !now.Add(margin).Before(c.Expires)
}

// PersonCredential is a person's cloud credential for one role, obtained
// at sign-in and kept sealed until it expires; or, when the exchange
// failed, the reason (ErrorCode, ErrorMessage) to show on the storages
// that need it.
type PersonCredential struct {
	OrgID  int64
	UserID int64
	// Key names what the credential is for: the role ARN in
	// saml_federated mode (storages naming the same role share it), the
	// role ARN and storage in broker mode (its session policy is the
	// storage's own).
	Key string
	// Sealed is the sealed JSON of the Credentials; empty after a failure.
	Sealed       []byte
	Expires      time.Time
	ErrorCode    string
	ErrorMessage string
	UpdatedAt    time.Time
}

// StorageService stores storages, their sync jobs, the links between
// tasks and objects, the export outbox and people's cloud credentials.
type StorageService interface {
	CreateStorage(ctx context.Context, s *Storage) error
	FindStorageByID(ctx context.Context, orgID, id int64) (*Storage, error)
	FindStorages(ctx context.Context, f StorageFilter) ([]Storage, error)
	// UpdateStorage replaces the settings of s (not its sync state).
	// Turning can_delete_objects off drops the deletions still waiting.
	UpdateStorage(ctx context.Context, s *Storage) error
	// DeleteStorage deletes the storage with its jobs, links and outbox;
	// tasks it created, and objects it wrote, stay.
	DeleteStorage(ctx context.Context, orgID, id int64) error

	// CreateStorageJob queues a job and marks its storage queued; a
	// storage with a job queued or running is ECONFLICT.
	CreateStorageJob(ctx context.Context, j *StorageJob) error
	FindStorageJob(ctx context.Context, orgID, id int64) (*StorageJob, error)
	// ClaimStorageJob takes the oldest queued job, or a running one whose
	// heartbeat is older than staleBefore (its process died), marks it
	// running with a new Claim and returns it; nil when there is none.
	// Several processes may call it at once: each job goes to one.
	ClaimStorageJob(ctx context.Context, now, staleBefore time.Time) (*StorageJob, error)
	// ReportStorageJob records progress and a heartbeat for the runner
	// holding claim, and reports whether cancellation was requested. A
	// runner whose job has been claimed again since gets ECONFLICT and
	// changes nothing: it must stop.
	ReportStorageJob(ctx context.Context, id, claim int64, p JobProgress, now time.Time) (cancel bool, err error)
	// FinishStorageJob ends a job (completed, failed or canceled) for the
	// runner holding claim and records the outcome on its storage; ECONFLICT,
	// changing nothing, once the job has been claimed again.
	FinishStorageJob(ctx context.Context, id, claim int64, status SyncStatus, p JobProgress, errMsg string, now time.Time) error
	// CancelStorageJob asks a queued or running job to stop.
	CancelStorageJob(ctx context.Context, orgID, id int64) (*StorageJob, error)

	// AddStorageObjects creates the tasks of the objects not yet linked to
	// the storage, and their links, in one transaction; it returns how many
	// tasks were created and how many objects were already linked. Running
	// it twice on the same objects creates nothing the second time.
	AddStorageObjects(ctx context.Context, s *Storage, objs []StorageObject) (created, skipped int64, err error)
	// FindStorageLink finds the object a task came from (ENOTFOUND for a
	// task that came from no storage).
	FindStorageLink(ctx context.Context, orgID, taskID int64) (*StorageLink, error)
	// FindStorageFolders lists the distinct folders of a storage's linked objects.
	FindStorageFolders(ctx context.Context, orgID, storageID int64) ([]string, error)

	// ClaimExportWrites takes up to limit outbox entries due at now
	// (postponing them by lease, so another process does not take them too).
	ClaimExportWrites(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ExportWrite, error)
	// FinishExportWrite marks an entry written (errMsg "") or records the
	// failure and when to try again.
	FinishExportWrite(ctx context.Context, id int64, errMsg string, next time.Time) error
	// EnqueueExportBackfill queues every annotation of the storage's
	// project that is not yet written to it; it returns how many.
	EnqueueExportBackfill(ctx context.Context, orgID, storageID int64, now time.Time) (int64, error)
	// ClaimExportDeletions is ClaimExportWrites for the deletions of
	// exported objects.
	ClaimExportDeletions(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ExportDeletion, error)
	// FinishExportDeletion marks a deletion done (errMsg "") or records the
	// failure and when to try again.
	FinishExportDeletion(ctx context.Context, id int64, errMsg string, next time.Time) error
	// CountExportWrites sums a target storage's writes and deletions.
	CountExportWrites(ctx context.Context, orgID, storageID int64) (ExportWriteCounts, error)

	SavePersonCredential(ctx context.Context, c *PersonCredential) error
	FindPersonCredential(ctx context.Context, orgID, userID int64, key string) (*PersonCredential, error)
	// DeletePersonCredentials forgets a person's credentials (sign-out).
	DeletePersonCredentials(ctx context.Context, orgID, userID int64) error
	DeleteExpiredPersonCredentials(ctx context.Context, now time.Time) (int64, error)
}
