// Package authz owns Glossa's permission matrix: which member may do what to
// which resource. It is one pure function, Can, with no I/O: the caller
// gathers what the check needs (the principal with its loaded Access, and the
// resource's organization, workspace, project and owner) and asks.
//
// The matrix is Label Studio Enterprise's default one (guide/admin_roles,
// guide/admin_permissions, guide/workspaces). Where Label Studio's pages
// disagree, the stricter reading wins: Managers may open the organization
// page and list members, but not invite them (admin_roles' matrix, not
// admin_permissions' "Invite members: Manager"). In short:
//
//   - Anything in another organization is Hide (404) for everyone, the Owner
//     included, before anything else is looked at, so that existence never
//     leaks across tenants.
//   - Owners and Administrators may do everything in their organization and
//     see every workspace and project without being a member.
//   - Everyone else sees only the workspaces they are a member of and the
//     projects in those workspaces or that they are a direct member of;
//     anything else in the organization is Hide, like a stranger's resource.
//   - Among what they see, the role decides what they may do (Deny, 403,
//     otherwise). Being a member of a workspace or project only ever widens
//     what someone may see, never what they may do.
//   - The one exception is an explicit project role: inside that project, a
//     direct project role of Annotator or Reviewer replaces the organization
//     role of org Annotators and Reviewers (so an org Annotator can review
//     one project). Managers and above are unaffected by project roles, and
//     Not Activated members stay powerless.
//   - Not Activated members are signed in only to be told to wait for a role:
//     everything they can see is Deny, everything else Hide. Deactivated
//     members, nil principals and unknown roles get Hide for everything.
//
// Rules a handler must add on top, because Can does not see them:
//
//   - MembersChangeRole: nobody may assign the Owner role or change the
//     Owner's role (Label Studio changes the Owner only through support), so
//     an Administrator can never act on the Owner. Check the target's and the
//     new role before calling UpdateMemberRole.
//   - ProjectUpdate that moves a project to another workspace: also check
//     ProjectCreate on the target workspace.
//   - TokenCreate always creates a token for the caller: take the owner from
//     the principal, never from the request.
package authz

import glossa "github.com/glossa-dev/glossa"

// Decision is the outcome of a permission check.
type Decision int

// The three decisions. The zero value is Hide, so a Decision that was never
// set refuses and reveals nothing.
const (
	// Hide means the resource is in another organization or not visible to
	// the caller: answer exactly as if it did not exist (404).
	Hide Decision = iota
	// Deny means the caller sees the resource but their role may not do
	// this (403).
	Deny
	// Allow means go ahead.
	Allow
)

// String returns "allow", "deny" or "hide".
func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	case Hide:
		return "hide"
	}
	return "unknown"
}

// Action is something a member does. Its string form ("project.update") is
// stable and suitable for logs and the audit trail.
type Action string

// String returns the action's name, such as "project.update".
func (a Action) String() string { return string(a) }

// Organization-level actions. They look only at Resource.OrgID.
const (
	// OrgView opens the organization page.
	OrgView Action = "org.view"
	// OrgUpdate changes organization settings, session timeouts included.
	OrgUpdate Action = "org.update"
	// MembersView lists the organization's members.
	MembersView Action = "members.view"
	// MembersInvite adds a member to the organization.
	MembersInvite Action = "members.invite"
	// MembersChangeRole changes a member's organization role. See the
	// package comment for the Owner rule the handler enforces.
	MembersChangeRole Action = "members.change_role"
	// AuditView reads the organization-wide activity log.
	AuditView Action = "audit.view"
	// SSOManage configures single sign-on and its enforcement.
	SSOManage Action = "sso.manage"
	// WorkspaceCreate creates a workspace.
	WorkspaceCreate Action = "workspace.create"
	// TokenCreate creates a personal API token for the caller.
	TokenCreate Action = "token.create"
)

// Workspace-level actions. They look at Resource.WorkspaceID.
const (
	// WorkspaceView reads a workspace and lists its projects.
	WorkspaceView Action = "workspace.view"
	// WorkspaceUpdate changes a workspace's title, description or color.
	WorkspaceUpdate Action = "workspace.update"
	// WorkspaceDelete deletes an (empty) workspace.
	WorkspaceDelete Action = "workspace.delete"
	// WorkspaceMembersManage adds members to or removes them from a workspace.
	WorkspaceMembersManage Action = "workspace.members.manage"
	// ProjectCreate creates a project in the workspace Resource.WorkspaceID.
	ProjectCreate Action = "project.create"
)

// Project-level actions. They look at Resource.WorkspaceID (the project's
// workspace) and Resource.ProjectID, and the annotation actions also at
// Resource.OwnerID (the annotation's author).
const (
	// ProjectView reads a project and its settings.
	ProjectView Action = "project.view"
	// ProjectUpdate changes a project's settings or labeling config.
	ProjectUpdate Action = "project.update"
	// ProjectDelete deletes a project with its tasks and annotations.
	ProjectDelete Action = "project.delete"
	// ProjectMembersManage sets or removes direct project members and roles.
	ProjectMembersManage Action = "project.members.manage"
	// TaskView lists and reads a project's tasks.
	TaskView Action = "task.view"
	// TaskImport imports tasks into a project.
	TaskImport Action = "task.import"
	// TaskDelete deletes tasks.
	TaskDelete Action = "task.delete"
	// Export exports a project's tasks and annotations.
	Export Action = "export"
	// AnnotationCreate labels a task.
	AnnotationCreate Action = "annotation.create"
	// AnnotationUpdate changes an annotation; Resource.OwnerID is its author.
	AnnotationUpdate Action = "annotation.update"
	// AnnotationDelete deletes an annotation; Resource.OwnerID is its author.
	AnnotationDelete Action = "annotation.delete"
	// Review accepts or rejects annotations (the review workflow).
	Review Action = "review"
	// StorageManage adds, changes, syncs and removes a project's cloud storage.
	StorageManage Action = "storage.manage"
)

// Actions lists every action, in the order of the permission table in the
// tests and docs.
var Actions = []Action{
	OrgView, OrgUpdate, MembersView, MembersInvite, MembersChangeRole, AuditView, SSOManage,
	WorkspaceView, WorkspaceCreate, WorkspaceUpdate, WorkspaceDelete, WorkspaceMembersManage,
	ProjectView, ProjectCreate, ProjectUpdate, ProjectDelete, ProjectMembersManage,
	TaskView, TaskImport, TaskDelete, Export,
	AnnotationCreate, AnnotationUpdate, AnnotationDelete, Review,
	StorageManage, TokenCreate,
}

// Resource is what a check is about, as gathered by the caller from the row
// being acted on (or, for a create, from where it is being created).
type Resource struct {
	// OrgID is the organization the resource belongs to. It must always be
	// set: zero never matches a principal, so a forgotten OrgID is Hide.
	OrgID int64
	// WorkspaceID is the workspace (for a project-level action, the
	// project's workspace); 0 if none.
	WorkspaceID int64
	// ProjectID is the project; 0 if none.
	ProjectID int64
	// OwnerID is the resource's creator or author, such as an annotation's
	// author; 0 if unknown, which counts as somebody else.
	OwnerID int64
}

type scope int

const (
	scopeOrg       scope = iota // Resource.OrgID only
	scopeWorkspace              // Resource.WorkspaceID must be visible
	scopeProject                // the project must be visible; project roles apply
)

// rule is one row of the matrix: where the action applies, the least
// powerful organization role that may do it, and what to tell those below.
// Rights grow with the role (Owner > Administrator > Manager > Reviewer >
// Annotator), so a minimum role is enough; the one exception, an
// Annotator's own annotations, is handled in Can.
type rule struct {
	scope scope
	min   glossa.Role
	deny  string
}

var rules = map[Action]rule{
	OrgView:           {scopeOrg, glossa.RoleManager, "Only Owners, Administrators and Managers can open the organization page."},
	OrgUpdate:         {scopeOrg, glossa.RoleAdministrator, "Only Owners and Administrators can change organization settings."},
	MembersView:       {scopeOrg, glossa.RoleManager, "Only Owners, Administrators and Managers can see the organization's members."},
	MembersInvite:     {scopeOrg, glossa.RoleAdministrator, "Only Owners and Administrators can invite members."},
	MembersChangeRole: {scopeOrg, glossa.RoleAdministrator, "Only Owners and Administrators can change roles."},
	AuditView:         {scopeOrg, glossa.RoleAdministrator, "Only Owners and Administrators can see the activity log."},
	SSOManage:         {scopeOrg, glossa.RoleAdministrator, "Only Owners and Administrators can configure single sign-on."},
	WorkspaceCreate:   {scopeOrg, glossa.RoleManager, "Only Owners, Administrators and Managers can create workspaces."},
	TokenCreate:       {scopeOrg, glossa.RoleAnnotator, "Your role cannot create API tokens."},

	WorkspaceView:          {scopeWorkspace, glossa.RoleAnnotator, "Your role cannot open workspaces."},
	WorkspaceUpdate:        {scopeWorkspace, glossa.RoleManager, "Only Owners, Administrators and the workspace's Managers can change a workspace."},
	WorkspaceDelete:        {scopeWorkspace, glossa.RoleManager, "Only Owners, Administrators and the workspace's Managers can delete a workspace."},
	WorkspaceMembersManage: {scopeWorkspace, glossa.RoleManager, "Only Owners, Administrators and the workspace's Managers can change who belongs to a workspace."},
	ProjectCreate:          {scopeWorkspace, glossa.RoleManager, "Only Owners, Administrators and the workspace's Managers can create projects."},

	ProjectView:          {scopeProject, glossa.RoleAnnotator, "Your role cannot open projects."},
	ProjectUpdate:        {scopeProject, glossa.RoleManager, "Only Owners, Administrators and Managers can change a project's settings."},
	ProjectDelete:        {scopeProject, glossa.RoleManager, "Only Owners, Administrators and Managers can delete a project."},
	ProjectMembersManage: {scopeProject, glossa.RoleManager, "Only Owners, Administrators and Managers can change who belongs to a project."},
	TaskView:             {scopeProject, glossa.RoleAnnotator, "Your role cannot see this project's tasks."},
	TaskImport:           {scopeProject, glossa.RoleManager, "Only Owners, Administrators and Managers can import data."},
	TaskDelete:           {scopeProject, glossa.RoleManager, "Only Owners, Administrators and Managers can delete tasks."},
	Export:               {scopeProject, glossa.RoleManager, "Only Owners, Administrators and Managers can export data."},
	AnnotationCreate:     {scopeProject, glossa.RoleAnnotator, "Your role cannot label tasks."},
	AnnotationUpdate:     {scopeProject, glossa.RoleReviewer, "Annotators can change only their own annotations; a Reviewer or Manager can change this one."},
	AnnotationDelete:     {scopeProject, glossa.RoleReviewer, "Annotators can delete only their own annotations; a Reviewer or Manager can delete this one."},
	Review:               {scopeProject, glossa.RoleReviewer, "Only Reviewers, Managers, Administrators and Owners can review annotations."},
	StorageManage:        {scopeProject, glossa.RoleManager, "Only Owners, Administrators and Managers can manage cloud storage."},
}

// Messages that do not depend on the action.
const (
	msgNotFound      = "Not found."
	msgNotActivated  = "Your account is waiting for an administrator of your organization to give you a role."
	msgNoWorkspace   = "Managers can create projects only inside a workspace they belong to: choose one."
	msgUnknownAction = "You cannot do this."
)

// Can decides whether p may do a to r. It is pure and cheap; call it for
// every request, after loading the resource (a resource that does not exist
// is the caller's ENOTFOUND, before Can is asked).
//
// Security-sensitive: this is the whole permission matrix. The order of the
// checks matters: organization first (Hide), then visibility (Hide), then the
// role (Deny), so a Deny can only ever be said about something the caller
// is allowed to know exists.
func Can(p *glossa.Principal, a Action, r Resource) Decision {
	d, _ := decide(p, a, r)
	return d
}

// Check is Can as an error for handlers: nil on Allow, a glossa ENOTFOUND
// error ("Not found.") on Hide, and a glossa EFORBIDDEN error on Deny whose
// message says which role is needed.
func Check(p *glossa.Principal, a Action, r Resource) error {
	switch d, msg := decide(p, a, r); d {
	case Allow:
		return nil
	case Deny:
		return glossa.Errorf(glossa.EFORBIDDEN, "%s", msg)
	default:
		return glossa.Errorf(glossa.ENOTFOUND, "%s", msgNotFound)
	}
}

// decide is Can with the message Check shows on Deny.
func decide(p *glossa.Principal, a Action, r Resource) (Decision, string) {
	// A missing principal, a Deactivated member (who should not be signed
	// in at all) or a role we do not know learn nothing, not even existence.
	if p == nil || p.Role == glossa.RoleDeactivated || !p.Role.Valid() {
		return Hide, ""
	}
	if r.OrgID != p.OrgID {
		return Hide, ""
	}
	ru, ok := rules[a]
	if !ok {
		// An action missing from the matrix is a programming error; refuse.
		return Deny, msgUnknownAction
	}

	role := p.Role
	admin := role == glossa.RoleOwner || role == glossa.RoleAdministrator
	if !admin {
		switch ru.scope {
		case scopeWorkspace:
			if r.WorkspaceID == 0 && a == ProjectCreate {
				// Nothing to hide: there is no workspace. Only admins may
				// create a project outside every workspace, since nobody
				// else could see it afterwards.
				if role == glossa.RoleNotActivated {
					return Deny, msgNotActivated
				}
				if role == glossa.RoleManager {
					return Deny, msgNoWorkspace
				}
				return Deny, ru.deny
			}
			if !memberOfWorkspace(p, r.WorkspaceID) {
				return Hide, ""
			}
		case scopeProject:
			if !memberOfWorkspace(p, r.WorkspaceID) && !memberOfProject(p, r.ProjectID) {
				return Hide, ""
			}
			role = projectRole(p, r.ProjectID)
		}
	}

	if role == glossa.RoleNotActivated {
		return Deny, msgNotActivated
	}
	need := ru.min
	if (a == AnnotationUpdate || a == AnnotationDelete) && r.OwnerID != 0 && r.OwnerID == p.UserID {
		// Everyone who may label may change and delete their own work.
		need = glossa.RoleAnnotator
	}
	if role.Rank() >= need.Rank() {
		return Allow, ""
	}
	return Deny, ru.deny
}

func memberOfWorkspace(p *glossa.Principal, id int64) bool {
	return id != 0 && p.Access.Workspaces[id]
}

func memberOfProject(p *glossa.Principal, id int64) bool {
	if id == 0 {
		return false
	}
	_, ok := p.Access.Projects[id]
	return ok
}

// projectRole returns the role p acts with inside project id: a direct
// project role of Annotator or Reviewer replaces an org Annotator's or
// Reviewer's role there. Managers and above keep their role (a project
// role never narrows them), and a Not Activated member stays Not Activated
// (a project role never grants what the organization withholds).
func projectRole(p *glossa.Principal, id int64) glossa.Role {
	if p.Role != glossa.RoleAnnotator && p.Role != glossa.RoleReviewer || id == 0 {
		return p.Role
	}
	switch p.Access.Projects[id] {
	case glossa.ProjectAnnotator:
		return glossa.RoleAnnotator
	case glossa.ProjectReviewer:
		return glossa.RoleReviewer
	}
	return p.Role
}
