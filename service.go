package glossa

import (
	"context"
	"iter"
	"time"
)

// The service interfaces below are what the store implements. Every method
// that reads or writes tenant data takes the organization ID and enforces it
// inside its query: a row of another organization is ENOTFOUND, exactly like
// a row that does not exist.

// OrganizationService manages organizations.
type OrganizationService interface {
	// CreateOrganization creates org together with owner as its Owner, in
	// one transaction. A taken slug is ECONFLICT.
	CreateOrganization(ctx context.Context, org *Organization, owner *User) error
	FindOrganizationByID(ctx context.Context, id int64) (*Organization, error)
	FindOrganizationBySlug(ctx context.Context, slug string) (*Organization, error)
	UpdateOrganization(ctx context.Context, id int64, upd OrganizationUpdate) (*Organization, error)
	// CountOrganizations tells first-run setup whether the instance is empty.
	CountOrganizations(ctx context.Context) (int, error)
}

// MemberService manages the accounts and roles of an organization.
type MemberService interface {
	// CreateMember creates an account in u.OrgID with role. A taken email
	// in that organization is ECONFLICT.
	CreateMember(ctx context.Context, u *User, role Role) error
	FindMemberByID(ctx context.Context, orgID, userID int64) (*Member, error)
	FindMemberByEmail(ctx context.Context, orgID int64, email string) (*Member, error)
	// FindMembersByEmail finds the accounts with this email in every
	// organization; password sign-in without an organization uses it.
	FindMembersByEmail(ctx context.Context, email string) ([]Member, error)
	FindMembers(ctx context.Context, f MemberFilter) ([]Member, int, error)
	UpdateMemberRole(ctx context.Context, orgID, userID int64, role Role) (*Member, error)
	SetPassword(ctx context.Context, orgID, userID int64, hash string) error
	// FindAccess loads the workspaces and projects a user belongs to.
	FindAccess(ctx context.Context, orgID, userID int64) (Access, error)
}

// WorkspaceService manages workspaces and their members.
type WorkspaceService interface {
	// CreateWorkspace creates ws and makes its creator a member.
	CreateWorkspace(ctx context.Context, ws *Workspace) error
	FindWorkspaceByID(ctx context.Context, orgID, id int64) (*Workspace, error)
	FindWorkspaces(ctx context.Context, f WorkspaceFilter) ([]Workspace, error)
	UpdateWorkspace(ctx context.Context, orgID, id int64, upd WorkspaceUpdate) (*Workspace, error)
	// DeleteWorkspace deletes an empty workspace; one with projects is ECONFLICT.
	DeleteWorkspace(ctx context.Context, orgID, id int64) error
	AddWorkspaceMember(ctx context.Context, orgID, workspaceID, userID int64) error
	RemoveWorkspaceMember(ctx context.Context, orgID, workspaceID, userID int64) error
	FindWorkspaceMembers(ctx context.Context, orgID, workspaceID int64) ([]Member, error)
}

// ProjectService manages projects and their members.
type ProjectService interface {
	CreateProject(ctx context.Context, p *Project) error
	FindProjectByID(ctx context.Context, orgID, id int64) (*Project, error)
	FindProjects(ctx context.Context, f ProjectFilter) ([]Project, error)
	UpdateProject(ctx context.Context, orgID, id int64, upd ProjectUpdate) (*Project, error)
	// DeleteProject deletes the project with its tasks and annotations.
	DeleteProject(ctx context.Context, orgID, id int64) error
	SetProjectMember(ctx context.Context, orgID, projectID, userID int64, role ProjectRole) error
	RemoveProjectMember(ctx context.Context, orgID, projectID, userID int64) error
	FindProjectMembers(ctx context.Context, orgID, projectID int64) ([]ProjectMember, error)
}

// TaskService manages tasks, their import and their export.
type TaskService interface {
	// ImportTasks pulls tasks from the sequence and stores them, their
	// annotations (authored by importedBy) and their predictions in one
	// transaction: the first error from the sequence or the database rolls
	// everything back. Memory does not grow with the number of tasks, except
	// for the IDs when wantIDs is set.
	ImportTasks(ctx context.Context, orgID, projectID, importedBy int64, tasks iter.Seq2[*TaskImport, error], wantIDs bool) (*ImportResult, error)
	FindTaskByID(ctx context.Context, orgID, id int64) (*Task, error)
	// FindTasks returns one page and the total number of tasks matching the
	// filter (ignoring paging).
	FindTasks(ctx context.Context, f TaskFilter) ([]Task, int64, error)
	// DeleteTask deletes a task with its annotations, whose exported
	// objects are deleted as DeleteAnnotation says.
	DeleteTask(ctx context.Context, orgID, id int64) error
	// ExportTasks calls yield for each task, with its annotations and
	// predictions filled, in ID order, reading in chunks so that memory does
	// not grow with the project.
	ExportTasks(ctx context.Context, f ExportFilter, yield func(*Task) error) error
}

// AnnotationService manages annotations. Each change keeps the task's
// is_labeled and counters and the project's counters in step.
type AnnotationService interface {
	CreateAnnotation(ctx context.Context, a *Annotation) error
	FindAnnotationByID(ctx context.Context, orgID, id int64) (*Annotation, error)
	FindAnnotations(ctx context.Context, orgID, taskID int64) ([]Annotation, error)
	UpdateAnnotation(ctx context.Context, orgID, id int64, upd AnnotationUpdate) (*Annotation, error)
	// DeleteAnnotation deletes an annotation and, in the same transaction,
	// queues the deletion of its exported object from each target storage
	// of the project with can_delete_objects set. Per-person storages
	// delete with the credentials of the principal of ctx
	// (NewContextWithPrincipal), or the annotator's when there is none.
	DeleteAnnotation(ctx context.Context, orgID, id int64) error
}

// SessionService stores browser sessions by the hash of their ID.
type SessionService interface {
	CreateSession(ctx context.Context, s *Session) error
	FindSession(ctx context.Context, idHash string) (*Session, error)
	// TouchSession records activity, for the idle timeout.
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteUserSessions ends every session of a user (deactivation).
	DeleteUserSessions(ctx context.Context, orgID, userID int64) error
	// DeleteExpiredSessions removes sessions past their absolute end.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
}

// TokenService stores personal API tokens by hash.
type TokenService interface {
	CreateToken(ctx context.Context, t *APIToken) error
	FindTokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// FindTokens lists a user's tokens, revoked ones included.
	FindTokens(ctx context.Context, orgID, userID int64) ([]APIToken, error)
	RevokeToken(ctx context.Context, orgID, userID, id int64) error
	TouchToken(ctx context.Context, id int64, at time.Time) error
}

// AuditService is the append-only audit log.
type AuditService interface {
	AppendAudit(ctx context.Context, e *AuditEvent) error
	FindAuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}

// ThrottleService counts failed sign-ins in the database, so that several
// Glossa processes behind one load balancer share the count.
type ThrottleService interface {
	RecordSignInFailure(ctx context.Context, key string, at time.Time) error
	// CountSignInFailures counts the failures for key at or after since.
	CountSignInFailures(ctx context.Context, key string, since time.Time) (int, error)
	ClearSignInFailures(ctx context.Context, key string) error
}

// SAMLService stores each organization's SAML connection.
type SAMLService interface {
	FindSAMLConnection(ctx context.Context, orgID int64) (*SAMLConnection, error)
	// FindSAMLConnectionByDomain finds the connection an email domain routes to.
	FindSAMLConnectionByDomain(ctx context.Context, domain string) (*SAMLConnection, error)
	// SaveSAMLConnection creates or replaces a connection; a domain that
	// routes to another organization is ECONFLICT.
	SaveSAMLConnection(ctx context.Context, c *SAMLConnection) error
	DeleteSAMLConnection(ctx context.Context, orgID int64) error
	// FindSAMLConnections lists every organization's connection, for the
	// background refresh of metadata URLs.
	FindSAMLConnections(ctx context.Context) ([]SAMLConnection, error)

	// FindSPKeys lists the organization's live (not retired) SP keys, newest first.
	FindSPKeys(ctx context.Context, orgID int64) ([]SPKey, error)
	CreateSPKey(ctx context.Context, k *SPKey) error
	RetireSPKey(ctx context.Context, orgID, id int64, at time.Time) error

	// CreateSAMLRequest records a pending sign-in.
	CreateSAMLRequest(ctx context.Context, r *SAMLRequest) error
	// TakeSAMLRequest returns and deletes the pending sign-in named by a
	// RelayState handle, if it belongs to orgID, was started by the browser
	// with browserHash and has not expired; otherwise ENOTFOUND. One use only.
	TakeSAMLRequest(ctx context.Context, orgID int64, relayState, browserHash string, now time.Time) (*SAMLRequest, error)
	// ConsumeAssertion records that an assertion ID was used; a second use
	// before until is ECONFLICT, in this process or any other sharing the
	// database.
	ConsumeAssertion(ctx context.Context, orgID int64, assertionID string, until time.Time) error
	// DeleteExpiredAssertions removes the used assertion IDs whose time has
	// passed.
	DeleteExpiredAssertions(ctx context.Context, now time.Time) (int64, error)

	// FindSAMLMember returns the member linked to (org, IdP entity ID, NameID).
	FindSAMLMember(ctx context.Context, orgID int64, idpEntityID, nameID string) (*Member, error)
	// LinkSAMLIdentity links (org, IdP entity ID, NameID) to a user of orgID.
	LinkSAMLIdentity(ctx context.Context, orgID int64, idpEntityID, nameID string, userID int64) error

	// FindSAMLSession returns it, by the Glossa session's ID hash.
	FindSAMLSession(ctx context.Context, sessionIDHash string) (*SAMLSession, error)
	// DeleteSAMLSessions ends the Glossa sessions of an IdP subject of
	// orgID, only those of the given session indexes when there are any,
	// and says how many.
	DeleteSAMLSessions(ctx context.Context, orgID int64, idpEntityID, nameID string, sessionIndexes []string) (int64, error)
}
