// Package glossa holds Glossa's domain: the types every other package speaks
// (organizations, members, workspaces, projects, tasks, annotations, sessions,
// tokens, audit events), the Error type with its codes, context helpers, and
// the service interfaces that the store implements and the web layer calls.
//
// Nothing in this package does I/O. Implementation packages (store, authz,
// auth, web, ...) import it and the standard library, never each other;
// cmd/glossa wires them together.
package glossa

import (
	"encoding/json"
	"strings"
	"time"
)

// Role is an organization role, named exactly as Label Studio names it.
type Role string

// The organization roles, from most to least powerful.
const (
	RoleOwner         Role = "Owner"
	RoleAdministrator Role = "Administrator"
	RoleManager       Role = "Manager"
	RoleReviewer      Role = "Reviewer"
	RoleAnnotator     Role = "Annotator"
	RoleNotActivated  Role = "Not Activated"
	RoleDeactivated   Role = "Deactivated"
)

// Roles lists every organization role, most powerful first.
var Roles = []Role{RoleOwner, RoleAdministrator, RoleManager, RoleReviewer, RoleAnnotator, RoleNotActivated, RoleDeactivated}

var roleCodes = map[Role]string{
	RoleOwner: "OW", RoleAdministrator: "AD", RoleManager: "MA", RoleReviewer: "RE",
	RoleAnnotator: "AN", RoleNotActivated: "NO", RoleDeactivated: "DI",
}

// Code returns Label Studio Enterprise's two-letter code for the role ("OW", "AN", ...).
func (r Role) Code() string { return roleCodes[r] }

// Valid reports whether r is one of the seven roles.
func (r Role) Valid() bool { _, ok := roleCodes[r]; return ok }

// Rank orders roles by power: Owner is highest, Deactivated lowest, an
// unknown role below everything.
func (r Role) Rank() int {
	for i, x := range Roles {
		if x == r {
			return len(Roles) - i
		}
	}
	return 0
}

// Active reports whether a member with this role may sign in and use the API.
// Not Activated members may sign in (to see that they wait for a role) but
// can do nothing else; Deactivated members may not sign in at all.
func (r Role) Active() bool { return r.Valid() && r != RoleDeactivated }

// ParseRole accepts a role's name in any case ("annotator", "Not Activated")
// or its Label Studio code ("AN", "NO").
func ParseRole(s string) (Role, error) {
	s = strings.TrimSpace(s)
	for role, code := range roleCodes {
		if strings.EqualFold(s, string(role)) || strings.EqualFold(s, code) ||
			strings.EqualFold(strings.ReplaceAll(s, "_", " "), string(role)) {
			return role, nil
		}
	}
	return "", Errorf(EINVALID, "Unknown role %q: use one of Owner, Administrator, Manager, Reviewer, Annotator, Not Activated, Deactivated.", s)
}

// ProjectRole is a member's role inside one project.
type ProjectRole string

// Project roles. Inherit means "use the organization role".
const (
	ProjectAnnotator ProjectRole = "Annotator"
	ProjectReviewer  ProjectRole = "Reviewer"
	ProjectInherit   ProjectRole = "Inherit"
)

// ParseProjectRole accepts Annotator, Reviewer or Inherit in any case.
func ParseProjectRole(s string) (ProjectRole, error) {
	for _, r := range []ProjectRole{ProjectAnnotator, ProjectReviewer, ProjectInherit} {
		if strings.EqualFold(strings.TrimSpace(s), string(r)) {
			return r, nil
		}
	}
	return "", Errorf(EINVALID, "Unknown project role %q: use Annotator, Reviewer or Inherit.", s)
}

// Organization is a tenant. Everything else belongs to exactly one.
type Organization struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Slug      string    `json:"slug"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// SessionIdleTimeout ends a browser session after this long without a
	// request; SessionMaxAge ends it this long after sign-in, whatever the
	// activity. Label Studio's defaults are 5 and 14 days.
	SessionIdleTimeout time.Duration `json:"-"`
	SessionMaxAge      time.Duration `json:"-"`
}

// Default session timeouts, as Label Studio ships them.
const (
	DefaultSessionIdleTimeout = 5 * 24 * time.Hour
	DefaultSessionMaxAge      = 14 * 24 * time.Hour
)

// OrganizationUpdate holds the fields an update changes; nil means unchanged.
type OrganizationUpdate struct {
	Title              *string
	SessionIdleTimeout *time.Duration
	SessionMaxAge      *time.Duration
}

// User is an account. An account belongs to exactly one organization: the
// same email in two organizations is two accounts, so nothing, not a
// password and not an SSO identity, ever links across tenants.
type User struct {
	ID        int64     `json:"id"`
	OrgID     int64     `json:"-"`
	Email     string    `json:"email"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// PasswordHash is an Argon2id hash in PHC string form, or empty for
	// accounts that can only sign in through SSO.
	PasswordHash string `json:"-"`
}

// Member is a user together with their role in their organization.
type Member struct {
	User
	Role Role `json:"role"`
}

// MemberFilter narrows FindMembers.
type MemberFilter struct {
	OrgID  int64
	Email  string // exact, case-insensitive; empty for all
	Role   Role   // empty for all
	Offset int
	Limit  int // 0 means the store's default page size
}

// Workspace groups projects.
type Workspace struct {
	ID          int64     `json:"id"`
	OrgID       int64     `json:"-"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Color       string    `json:"color"`
	CreatedBy   int64     `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// WorkspaceUpdate holds the fields an update changes; nil means unchanged.
type WorkspaceUpdate struct {
	Title       *string
	Description *string
	Color       *string
}

// WorkspaceFilter narrows FindWorkspaces.
type WorkspaceFilter struct {
	OrgID int64
	// MemberID, when non-zero, keeps only the workspaces that user belongs to.
	MemberID int64
}

// Project is a labeling project.
type Project struct {
	ID          int64     `json:"id"`
	OrgID       int64     `json:"organization"`
	WorkspaceID int64     `json:"workspace"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	LabelConfig string    `json:"label_config"`
	CreatedBy   int64     `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// Counters kept by the store in the same transaction as the change, so
	// that totals never need a COUNT over a million rows.
	TaskCount          int64 `json:"task_number"`
	AnnotatedTaskCount int64 `json:"num_tasks_with_annotations"`
	AnnotationCount    int64 `json:"total_annotations_number"`
}

// ProjectUpdate holds the fields an update changes; nil means unchanged.
type ProjectUpdate struct {
	Title       *string
	Description *string
	LabelConfig *string
	WorkspaceID *int64
}

// ProjectFilter narrows FindProjects.
type ProjectFilter struct {
	OrgID       int64
	WorkspaceID int64 // 0 for all
	// VisibleTo, when non-zero, keeps only projects that user is a member
	// of, directly or through the project's workspace.
	VisibleTo int64
}

// ProjectMember is a member of a project with their project role.
type ProjectMember struct {
	Member
	ProjectRole ProjectRole `json:"project_role"`
}

// Access is what one user belongs to inside their organization; it is
// loaded once per request and handed to the permission check.
type Access struct {
	Workspaces map[int64]bool        // workspace ID -> member
	Projects   map[int64]ProjectRole // project ID -> direct project membership
}

// Task is one item to label; Data is Label Studio's task data object.
type Task struct {
	ID               int64           `json:"id"`
	OrgID            int64           `json:"-"`
	ProjectID        int64           `json:"project"`
	Data             json.RawMessage `json:"data"`
	Meta             json.RawMessage `json:"meta,omitempty"`
	IsLabeled        bool            `json:"is_labeled"`
	TotalAnnotations int             `json:"total_annotations"`
	TotalPredictions int             `json:"total_predictions"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`

	// Annotations and Predictions are filled only by ExportTasks.
	Annotations []Annotation `json:"annotations,omitempty"`
	Predictions []Prediction `json:"predictions,omitempty"`
}

// TaskOrder is the order of a task listing.
type TaskOrder int

// Task orders.
const (
	NewestFirst TaskOrder = iota
	OldestFirst
)

// TaskFilter narrows FindTasks. Pages are either by Offset (Label Studio's
// page numbers) or, much faster deep into a big project, by Cursor: the ID
// of the last task of the previous page.
type TaskFilter struct {
	OrgID     int64
	ProjectID int64
	Labeled   *bool // nil for all
	Order     TaskOrder
	Cursor    int64
	Offset    int
	Limit     int
	// Visibility, when set, hides tasks that came from per-person storages
	// unless their folder is one the acting person's credentials may read.
	Visibility *TaskVisibility
}

// TaskVisibility says which objects of per-person (federated) storages a
// person may see. A task that came from one of Storages is shown only if
// Readable lists its folder for that storage; other tasks are unaffected.
type TaskVisibility struct {
	Storages []int64
	Readable map[int64][]string // storage ID -> readable folders
}

// TaskImport is one task as Label Studio's import format gives it.
type TaskImport struct {
	Data        json.RawMessage
	Meta        json.RawMessage
	Annotations []Annotation
	Predictions []Prediction
}

// ImportResult summarizes a finished import.
type ImportResult struct {
	TaskCount       int     `json:"task_count"`
	AnnotationCount int     `json:"annotation_count"`
	PredictionCount int     `json:"prediction_count"`
	TaskIDs         []int64 `json:"task_ids,omitempty"`
}

// ExportFilter narrows ExportTasks.
type ExportFilter struct {
	OrgID         int64
	ProjectID     int64
	OnlyAnnotated bool    // Label Studio's download_all_tasks=false
	IDs           []int64 // only these tasks, if set
	// Visibility, when set, leaves out the tasks of per-person storages
	// that the exporting person's credentials may not read, as listings do.
	Visibility *TaskVisibility
}

// Annotation is one person's labels on a task, in Label Studio's result JSON.
type Annotation struct {
	ID           int64           `json:"id"`
	OrgID        int64           `json:"-"`
	ProjectID    int64           `json:"project"`
	TaskID       int64           `json:"task"`
	Result       json.RawMessage `json:"result"`
	CompletedBy  int64           `json:"completed_by"`
	WasCancelled bool            `json:"was_cancelled"`
	GroundTruth  bool            `json:"ground_truth"`
	LeadTime     float64         `json:"lead_time"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// AnnotationUpdate holds the fields an update changes; nil means unchanged.
type AnnotationUpdate struct {
	Result       *json.RawMessage
	WasCancelled *bool
	GroundTruth  *bool
	LeadTime     *float64
}

// Prediction is a model's pre-annotation of a task.
type Prediction struct {
	ID           int64           `json:"id"`
	TaskID       int64           `json:"task"`
	ModelVersion string          `json:"model_version"`
	Score        *float64        `json:"score"`
	Result       json.RawMessage `json:"result"`
	CreatedAt    time.Time       `json:"created_at"`
}

// Session is a browser session. The store keeps only a hash of the opaque
// session ID that the cookie carries, so a database dump opens no session.
type Session struct {
	IDHash     string
	OrgID      int64
	UserID     int64
	CSRFToken  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the absolute end (sign-in + the organization's max age,
	// or earlier, e.g. an assertion's SessionNotOnOrAfter).
	ExpiresAt time.Time
	// Method says how the person signed in: "password" or "saml".
	Method string
	// IdP is, for a SAML sign-in, the IdP session it came from. It is
	// recorded with the session, in the same transaction, so that single
	// logout always finds it; its SessionIDHash and OrgID are the
	// session's. It is not read back by FindSession.
	IdP *SAMLSession
}

// APIToken is a personal access token. Only its hash is stored.
type APIToken struct {
	ID         int64      `json:"id"`
	OrgID      int64      `json:"-"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	Hash       string     `json:"-"`
	Prefix     string     `json:"prefix"` // the first characters, to recognize a token in a list
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// AuditEvent is one security-relevant event. The audit log is append-only.
type AuditEvent struct {
	ID         int64          `json:"id"`
	OrgID      int64          `json:"-"` // 0 when the organization is unknown (a sign-in for an unknown email)
	At         time.Time      `json:"at"`
	ActorID    int64          `json:"actor_id,omitempty"`
	ActorEmail string         `json:"actor_email,omitempty"`
	Action     string         `json:"action"`  // e.g. "signin", "role.change"
	Outcome    string         `json:"outcome"` // "success" or "failure"
	Reason     string         `json:"reason,omitempty"`
	TargetType string         `json:"target_type,omitempty"`
	TargetID   string         `json:"target_id,omitempty"`
	IP         string         `json:"ip,omitempty"`
	UserAgent  string         `json:"user_agent,omitempty"`
	RequestID  string         `json:"request_id,omitempty"`
	Detail     map[string]any `json:"detail,omitempty"`
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// AuditFilter narrows FindAuditEvents; events come newest first.
type AuditFilter struct {
	OrgID  int64
	Action string // exact; empty for all
	Before int64  // ID cursor: only events with a smaller ID; 0 for the newest
	Limit  int
}
