package authz_test

import (
	"strings"
	"testing"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
)

// matrix is the expected decision for every role and action on a resource
// the principal can see: a project (and its workspace) in the principal's
// organization, reached through workspace membership, with no project role,
// and (for the annotation rows) an annotation by somebody else. The "/own"
// rows are the same actions on the principal's own annotation.
//
// Compare it with Label Studio's guide/admin_roles matrix
// (/work/shared/reference/labelstudio.md §2.2-2.4).
//
//	yes  = Allow (go ahead)
//	no   = Deny  (403: visible, but the role may not)
//	hide = Hide  (404)
const matrix = `
action                    Owner  Admin  Manager  Reviewer  Annotator  NotActivated  Deactivated
org.view                  yes    yes    yes      no        no         no            hide
org.update                yes    yes    no       no        no         no            hide
members.view              yes    yes    yes      no        no         no            hide
members.invite            yes    yes    no       no        no         no            hide
members.change_role       yes    yes    no       no        no         no            hide
audit.view                yes    yes    no       no        no         no            hide
sso.manage                yes    yes    no       no        no         no            hide
workspace.view            yes    yes    yes      yes       yes        no            hide
workspace.create          yes    yes    yes      no        no         no            hide
workspace.update          yes    yes    yes      no        no         no            hide
workspace.delete          yes    yes    yes      no        no         no            hide
workspace.members.manage  yes    yes    yes      no        no         no            hide
project.view              yes    yes    yes      yes       yes        no            hide
project.create            yes    yes    yes      no        no         no            hide
project.update            yes    yes    yes      no        no         no            hide
project.delete            yes    yes    yes      no        no         no            hide
project.members.manage    yes    yes    yes      no        no         no            hide
task.view                 yes    yes    yes      yes       yes        no            hide
task.import               yes    yes    yes      no        no         no            hide
task.delete               yes    yes    yes      no        no         no            hide
export                    yes    yes    yes      no        no         no            hide
annotation.create         yes    yes    yes      yes       yes        no            hide
annotation.update         yes    yes    yes      yes       no         no            hide
annotation.update/own     yes    yes    yes      yes       yes        no            hide
annotation.delete         yes    yes    yes      yes       no         no            hide
annotation.delete/own     yes    yes    yes      yes       yes        no            hide
review                    yes    yes    yes      yes       no         no            hide
storage.manage            yes    yes    yes      no        no         no            hide
token.create              yes    yes    yes      yes       yes        no            hide
`

const (
	org       = 1
	otherOrg  = 2
	me        = 7
	somebody  = 8
	workspace = 10
	project   = 100
)

// columns maps the matrix's column headers to roles.
var columns = map[string]glossa.Role{
	"Owner": glossa.RoleOwner, "Admin": glossa.RoleAdministrator, "Manager": glossa.RoleManager,
	"Reviewer": glossa.RoleReviewer, "Annotator": glossa.RoleAnnotator,
	"NotActivated": glossa.RoleNotActivated, "Deactivated": glossa.RoleDeactivated,
}

var cells = map[string]authz.Decision{"yes": authz.Allow, "no": authz.Deny, "hide": authz.Hide}

type row struct {
	action authz.Action
	own    bool
	want   map[glossa.Role]authz.Decision
}

// parseMatrix turns the matrix text into rows, failing the test on any
// malformed line, so that every cell written is a cell asserted.
func parseMatrix(t *testing.T) []row {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(matrix), "\n")
	header := strings.Fields(lines[0])
	if len(header) != 1+len(glossa.Roles) {
		t.Fatalf("matrix header has %d columns, want action + %d roles", len(header), len(glossa.Roles))
	}
	var roles []glossa.Role
	seen := map[glossa.Role]bool{}
	for _, h := range header[1:] {
		r, ok := columns[h]
		if !ok || seen[r] {
			t.Fatalf("matrix header: unknown or repeated column %q", h)
		}
		seen[r] = true
		roles = append(roles, r)
	}
	var rows []row
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != len(header) {
			t.Fatalf("matrix line %q has %d cells, want %d", line, len(f), len(header))
		}
		name, own := strings.CutSuffix(f[0], "/own")
		rw := row{action: authz.Action(name), own: own, want: map[glossa.Role]authz.Decision{}}
		for i, c := range f[1:] {
			d, ok := cells[c]
			if !ok {
				t.Fatalf("matrix line %q: unknown cell %q", line, c)
			}
			rw.want[roles[i]] = d
		}
		rows = append(rows, rw)
	}
	return rows
}

func principal(role glossa.Role, access glossa.Access) *glossa.Principal {
	return &glossa.Principal{OrgID: org, UserID: me, Email: "me@example.com", Role: role, Access: access}
}

// memberOfWorkspace is the access of someone who belongs to the workspace
// and, through it, to the project.
func memberOfWorkspace() glossa.Access {
	return glossa.Access{Workspaces: map[int64]bool{workspace: true}}
}

func TestMatrix(t *testing.T) {
	rows := parseMatrix(t)

	// The matrix covers every action exactly once (plus the /own rows).
	covered := map[authz.Action]int{}
	for _, r := range rows {
		if !r.own {
			covered[r.action]++
		}
	}
	for _, a := range authz.Actions {
		if covered[a] != 1 {
			t.Errorf("matrix has %d rows for action %q, want 1", covered[a], a)
		}
		delete(covered, a)
	}
	for a := range covered {
		t.Errorf("matrix has a row for %q, which is not in authz.Actions", a)
	}

	for _, r := range rows {
		res := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: project, OwnerID: somebody}
		if r.own {
			res.OwnerID = me
		}
		for _, role := range glossa.Roles {
			got := authz.Can(principal(role, memberOfWorkspace()), r.action, res)
			if want := r.want[role]; got != want {
				name := r.action.String()
				if r.own {
					name += "/own"
				}
				t.Errorf("Can(%s, %s) = %s, want %s", role, name, got, want)
			}
		}
	}
}

// The same matrix holds for a member of the project alone (not of its
// workspace), except for the workspace actions, which that member cannot see.
func TestMatrixDirectProjectMember(t *testing.T) {
	access := glossa.Access{Projects: map[int64]glossa.ProjectRole{project: glossa.ProjectInherit}}
	for _, r := range parseMatrix(t) {
		res := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: project, OwnerID: somebody}
		if r.own {
			res.OwnerID = me
		}
		for _, role := range glossa.Roles {
			want := r.want[role]
			if workspaceActions[r.action] && role != glossa.RoleOwner && role != glossa.RoleAdministrator {
				want = authz.Hide
			}
			if got := authz.Can(principal(role, access), r.action, res); got != want {
				t.Errorf("Can(%s, %s) as direct project member = %s, want %s", role, r.action, got, want)
			}
		}
	}
}

// workspaceActions and projectActions are the actions about a workspace or
// a project, which only members (and Owners and Administrators) can see.
var (
	workspaceActions = set(authz.WorkspaceView, authz.WorkspaceUpdate, authz.WorkspaceDelete,
		authz.WorkspaceMembersManage, authz.ProjectCreate)
	projectActions = set(authz.ProjectView, authz.ProjectUpdate, authz.ProjectDelete, authz.ProjectMembersManage,
		authz.TaskView, authz.TaskImport, authz.TaskDelete, authz.Export,
		authz.AnnotationCreate, authz.AnnotationUpdate, authz.AnnotationDelete, authz.Review, authz.StorageManage)
)

func set(as ...authz.Action) map[authz.Action]bool {
	m := map[authz.Action]bool{}
	for _, a := range as {
		m[a] = true
	}
	return m
}

// Somebody who belongs to neither the workspace nor the project sees
// neither: Hide, whatever the role below Administrator. Organization-level
// actions are unaffected by memberships.
func TestNotAMember(t *testing.T) {
	rows := parseMatrix(t)
	access := glossa.Access{
		Workspaces: map[int64]bool{workspace + 1: true},
		Projects:   map[int64]glossa.ProjectRole{project + 1: glossa.ProjectReviewer},
	}
	res := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: project, OwnerID: somebody}
	for _, r := range rows {
		if r.own {
			continue
		}
		for _, role := range glossa.Roles {
			want := r.want[role]
			admin := role == glossa.RoleOwner || role == glossa.RoleAdministrator
			if !admin && (workspaceActions[r.action] || projectActions[r.action]) {
				want = authz.Hide
			}
			if got := authz.Can(principal(role, access), r.action, res); got != want {
				t.Errorf("Can(%s, %s) for a non-member = %s, want %s", role, r.action, got, want)
			}
		}
	}
}

// Anything in another organization is Hide for every role and action, the
// Owner included, even when the IDs happen to match the caller's memberships.
func TestOtherOrganization(t *testing.T) {
	access := glossa.Access{
		Workspaces: map[int64]bool{workspace: true},
		Projects:   map[int64]glossa.ProjectRole{project: glossa.ProjectReviewer},
	}
	for _, res := range []authz.Resource{
		{OrgID: otherOrg, WorkspaceID: workspace, ProjectID: project, OwnerID: me},
		{OrgID: otherOrg},
		{OrgID: 0, WorkspaceID: workspace, ProjectID: project}, // a caller forgot OrgID
	} {
		for _, role := range glossa.Roles {
			for _, a := range authz.Actions {
				if got := authz.Can(principal(role, access), a, res); got != authz.Hide {
					t.Errorf("Can(%s, %s, %+v) = %s, want hide", role, a, res, got)
				}
			}
		}
	}
}

func TestNoPrincipal(t *testing.T) {
	res := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: project}
	for _, p := range []*glossa.Principal{
		nil,
		principal("", memberOfWorkspace()),
		principal("Superuser", memberOfWorkspace()),
	} {
		for _, a := range authz.Actions {
			if got := authz.Can(p, a, res); got != authz.Hide {
				t.Errorf("Can(%v, %s) = %s, want hide", p, a, got)
			}
		}
	}
}

func TestOwnAnnotations(t *testing.T) {
	tests := []struct {
		name  string
		role  glossa.Role
		owner int64
		a     authz.Action
		want  authz.Decision
	}{
		{"annotator updates own", glossa.RoleAnnotator, me, authz.AnnotationUpdate, authz.Allow},
		{"annotator deletes own", glossa.RoleAnnotator, me, authz.AnnotationDelete, authz.Allow},
		{"annotator updates another's", glossa.RoleAnnotator, somebody, authz.AnnotationUpdate, authz.Deny},
		{"annotator deletes another's", glossa.RoleAnnotator, somebody, authz.AnnotationDelete, authz.Deny},
		{"unknown author is not the annotator", glossa.RoleAnnotator, 0, authz.AnnotationUpdate, authz.Deny},
		{"reviewer updates another's", glossa.RoleReviewer, somebody, authz.AnnotationUpdate, authz.Allow},
		{"reviewer deletes another's", glossa.RoleReviewer, somebody, authz.AnnotationDelete, authz.Allow},
		{"manager deletes another's", glossa.RoleManager, somebody, authz.AnnotationDelete, authz.Allow},
		{"own annotation does not let an annotator review", glossa.RoleAnnotator, me, authz.Review, authz.Deny},
		{"own annotation does not let an annotator export", glossa.RoleAnnotator, me, authz.Export, authz.Deny},
		{"not activated cannot touch own", glossa.RoleNotActivated, me, authz.AnnotationUpdate, authz.Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: project, OwnerID: tt.owner}
			if got := authz.Can(principal(tt.role, memberOfWorkspace()), tt.a, res); got != tt.want {
				t.Errorf("Can = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestProjectRoles(t *testing.T) {
	const (
		reviewing = project     // the member's project role here is Reviewer
		labeling  = project + 1 // Annotator here
		inherit   = project + 2 // Inherit here
		plain     = project + 3 // in the workspace, no direct membership
	)
	access := glossa.Access{
		Workspaces: map[int64]bool{workspace: true},
		Projects: map[int64]glossa.ProjectRole{
			reviewing: glossa.ProjectReviewer,
			labeling:  glossa.ProjectAnnotator,
			inherit:   glossa.ProjectInherit,
		},
	}
	tests := []struct {
		name    string
		role    glossa.Role
		project int64
		a       authz.Action
		want    authz.Decision
	}{
		{"org annotator reviews where project reviewer", glossa.RoleAnnotator, reviewing, authz.Review, authz.Allow},
		{"org annotator edits others where project reviewer", glossa.RoleAnnotator, reviewing, authz.AnnotationUpdate, authz.Allow},
		{"project reviewer still cannot export", glossa.RoleAnnotator, reviewing, authz.Export, authz.Deny},
		{"project reviewer still cannot import", glossa.RoleAnnotator, reviewing, authz.TaskImport, authz.Deny},
		{"org annotator cannot review elsewhere", glossa.RoleAnnotator, plain, authz.Review, authz.Deny},
		{"org annotator with inherit", glossa.RoleAnnotator, inherit, authz.Review, authz.Deny},
		{"org reviewer cannot review where project annotator", glossa.RoleReviewer, labeling, authz.Review, authz.Deny},
		{"org reviewer cannot edit others where project annotator", glossa.RoleReviewer, labeling, authz.AnnotationDelete, authz.Deny},
		{"org reviewer still labels where project annotator", glossa.RoleReviewer, labeling, authz.AnnotationCreate, authz.Allow},
		{"org reviewer reviews elsewhere", glossa.RoleReviewer, plain, authz.Review, authz.Allow},
		{"org reviewer with inherit", glossa.RoleReviewer, inherit, authz.Review, authz.Allow},
		{"manager unaffected by project annotator", glossa.RoleManager, labeling, authz.Export, authz.Allow},
		{"manager unaffected by project annotator (review)", glossa.RoleManager, labeling, authz.Review, authz.Allow},
		{"admin unaffected by project annotator", glossa.RoleAdministrator, labeling, authz.ProjectDelete, authz.Allow},
		{"not activated gains nothing from project reviewer", glossa.RoleNotActivated, reviewing, authz.Review, authz.Deny},
		{"not activated gains nothing from project reviewer (view)", glossa.RoleNotActivated, reviewing, authz.ProjectView, authz.Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: tt.project, OwnerID: somebody}
			if got := authz.Can(principal(tt.role, access), tt.a, res); got != tt.want {
				t.Errorf("Can = %s, want %s", got, tt.want)
			}
		})
	}
}

// A direct project membership shows the project, not its workspace, and
// its project role never reaches the organization-level actions.
func TestProjectRoleScope(t *testing.T) {
	p := principal(glossa.RoleAnnotator, glossa.Access{Projects: map[int64]glossa.ProjectRole{project: glossa.ProjectReviewer}})
	res := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: project}
	for _, tt := range []struct {
		a    authz.Action
		want authz.Decision
	}{
		{authz.ProjectView, authz.Allow},
		{authz.Review, authz.Allow},
		{authz.WorkspaceView, authz.Hide},
		{authz.ProjectCreate, authz.Hide},
		{authz.MembersView, authz.Deny},
		{authz.WorkspaceCreate, authz.Deny},
	} {
		if got := authz.Can(p, tt.a, res); got != tt.want {
			t.Errorf("Can(project reviewer, %s) = %s, want %s", tt.a, got, tt.want)
		}
	}
	// Another project in the same workspace stays hidden.
	other := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: project + 9}
	if got := authz.Can(p, authz.ProjectView, other); got != authz.Hide {
		t.Errorf("Can(project reviewer, view other project) = %s, want hide", got)
	}
}

func TestProjectCreate(t *testing.T) {
	tests := []struct {
		name      string
		role      glossa.Role
		workspace int64
		want      authz.Decision
	}{
		{"manager in own workspace", glossa.RoleManager, workspace, authz.Allow},
		{"manager in a workspace not theirs", glossa.RoleManager, workspace + 1, authz.Hide},
		{"manager outside every workspace", glossa.RoleManager, 0, authz.Deny},
		{"admin outside every workspace", glossa.RoleAdministrator, 0, authz.Allow},
		{"owner in any workspace", glossa.RoleOwner, workspace + 1, authz.Allow},
		{"reviewer in own workspace", glossa.RoleReviewer, workspace, authz.Deny},
		{"annotator outside every workspace", glossa.RoleAnnotator, 0, authz.Deny},
		{"not activated outside every workspace", glossa.RoleNotActivated, 0, authz.Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := authz.Resource{OrgID: org, WorkspaceID: tt.workspace}
			if got := authz.Can(principal(tt.role, memberOfWorkspace()), authz.ProjectCreate, res); got != tt.want {
				t.Errorf("Can = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestUnknownAction(t *testing.T) {
	res := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: project}
	if got := authz.Can(principal(glossa.RoleOwner, memberOfWorkspace()), "project.teleport", res); got != authz.Deny {
		t.Errorf("Can(owner, unknown action) = %s, want deny", got)
	}
	if got := authz.Can(principal(glossa.RoleOwner, memberOfWorkspace()), "project.teleport", authz.Resource{OrgID: otherOrg}); got != authz.Hide {
		t.Errorf("Can(owner, unknown action, other org) = %s, want hide", got)
	}
}

func TestCheck(t *testing.T) {
	res := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: project, OwnerID: somebody}
	tests := []struct {
		name     string
		role     glossa.Role
		a        authz.Action
		res      authz.Resource
		wantCode string
		wantMsg  string
	}{
		{"allow", glossa.RoleManager, authz.Export, res, "", ""},
		{"change role", glossa.RoleManager, authz.MembersChangeRole, res, glossa.EFORBIDDEN, "Only Owners and Administrators can change roles."},
		{"import", glossa.RoleAnnotator, authz.TaskImport, res, glossa.EFORBIDDEN, "Only Owners, Administrators and Managers can import data."},
		{"others' annotation", glossa.RoleAnnotator, authz.AnnotationUpdate, res, glossa.EFORBIDDEN,
			"Annotators can change only their own annotations; a Reviewer or Manager can change this one."},
		{"not activated", glossa.RoleNotActivated, authz.ProjectView, res, glossa.EFORBIDDEN,
			"Your account is waiting for an administrator of your organization to give you a role."},
		{"manager without workspace", glossa.RoleManager, authz.ProjectCreate, authz.Resource{OrgID: org}, glossa.EFORBIDDEN,
			"Managers can create projects only inside a workspace they belong to: choose one."},
		{"other organization", glossa.RoleOwner, authz.ProjectView, authz.Resource{OrgID: otherOrg, ProjectID: project}, glossa.ENOTFOUND, "Not found."},
		{"not a member", glossa.RoleManager, authz.ProjectView, authz.Resource{OrgID: org, WorkspaceID: workspace + 1, ProjectID: project + 1}, glossa.ENOTFOUND, "Not found."},
		{"deactivated", glossa.RoleDeactivated, authz.ProjectView, res, glossa.ENOTFOUND, "Not found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := authz.Check(principal(tt.role, memberOfWorkspace()), tt.a, tt.res)
			if got := glossa.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("Check code = %q, want %q (err %v)", got, tt.wantCode, err)
			}
			if got := glossa.ErrorMessage(err); got != tt.wantMsg {
				t.Errorf("Check message = %q, want %q", got, tt.wantMsg)
			}
		})
	}
}

// Check and Can agree on every cell, and every Deny explains itself.
func TestCheckAgreesWithCan(t *testing.T) {
	codes := map[authz.Decision]string{authz.Allow: "", authz.Deny: glossa.EFORBIDDEN, authz.Hide: glossa.ENOTFOUND}
	for _, access := range []glossa.Access{memberOfWorkspace(), {}} {
		for _, role := range glossa.Roles {
			for _, a := range authz.Actions {
				p := principal(role, access)
				res := authz.Resource{OrgID: org, WorkspaceID: workspace, ProjectID: project, OwnerID: somebody}
				d := authz.Can(p, a, res)
				err := authz.Check(p, a, res)
				if got := glossa.ErrorCode(err); got != codes[d] {
					t.Errorf("%s %s: Can = %s but Check code = %q", role, a, d, got)
				}
				if d == authz.Deny && !strings.HasSuffix(glossa.ErrorMessage(err), ".") {
					t.Errorf("%s %s: Deny message %q is not a sentence", role, a, glossa.ErrorMessage(err))
				}
			}
		}
	}
}

func TestActionsAndDecisions(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range authz.Actions {
		s := a.String()
		if s == "" || strings.ToLower(s) != s || strings.ContainsAny(s, " \t") {
			t.Errorf("action name %q is not a lower-case dotted name", s)
		}
		if seen[s] {
			t.Errorf("action %q listed twice", s)
		}
		seen[s] = true
	}
	if got, want := len(authz.Actions), 27; got != want {
		t.Errorf("len(Actions) = %d, want %d", got, want)
	}
	if authz.ProjectUpdate.String() != "project.update" {
		t.Errorf("ProjectUpdate.String() = %q", authz.ProjectUpdate.String())
	}
	for d, want := range map[authz.Decision]string{authz.Allow: "allow", authz.Deny: "deny", authz.Hide: "hide"} {
		if d.String() != want {
			t.Errorf("Decision(%d).String() = %q, want %q", int(d), d.String(), want)
		}
	}
	var zero authz.Decision
	if zero != authz.Hide {
		t.Errorf("zero Decision = %s, want hide (fail closed)", zero)
	}
}
