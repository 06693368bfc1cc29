package saml

import (
	"strings"

	glossa "github.com/glossa-dev/glossa"
)

// Decision is what an organization's group mapping gives a person, computed
// by Map from the groups of a validated assertion.
type Decision struct {
	// Role is the organization role: the highest role (by glossa.Role.Rank)
	// that any of the person's groups maps to through roles_groups, or the
	// connection's default role when no group maps to one.
	Role glossa.Role
	// RoleFromGroups reports whether Role came from a group (false: it is
	// the default). A provisioning step that keeps manually managed roles
	// can use it.
	RoleFromGroups bool
	// Workspaces are the titles of the workspaces the groups give, each
	// once, in the order of workspaces_groups.
	Workspaces []string
	// Projects are the project memberships the groups give, each project
	// once, in the order of projects_groups.
	Projects []ProjectGrant
}

// ProjectGrant is one project membership given by a group.
type ProjectGrant struct {
	ProjectID int64
	Role      glossa.ProjectRole
}

// Map applies conn's roles_groups, workspaces_groups and projects_groups to
// the groups of id. It is a pure function.
//
// Rules, all documented for Owners on the settings page:
//   - Groups match exactly, after trimming spaces; IdP group names are case
//     sensitive in Entra ID, Okta and Keycloak, so "Admins" is not "admins".
//   - Several groups mapping to different roles: the highest wins.
//   - SSO never grants Owner: a roles_groups entry naming Owner, or an
//     unknown role name, is ignored. The Owner is a named person, the break-
//     glass account when the IdP fails, and is not created by an IdP group.
//   - No role from groups: conn.DefaultRole when it is a valid role other
//     than Owner, otherwise Annotator (Label Studio's default for a new
//     member).
//   - Projects: one grant per project; when several groups give the same
//     project different roles, the strongest wins, comparing Inherit at the
//     rank of the organization role decided above (so Inherit beats Reviewer
//     for a Manager and loses to it for an Annotator); a tie keeps the
//     explicit role. Unknown project roles are ignored.
func Map(conn *glossa.SAMLConnection, id *glossa.SAMLIdentity) Decision {
	groups := make(map[string]bool, len(id.Groups))
	for _, g := range id.Groups {
		if g = strings.TrimSpace(g); g != "" {
			groups[g] = true
		}
	}
	has := func(g string) bool { return groups[strings.TrimSpace(g)] }

	var d Decision
	for _, m := range conn.RolesGroups {
		if !has(m.Group) {
			continue
		}
		role, err := glossa.ParseRole(m.Name)
		if err != nil || role == glossa.RoleOwner {
			continue
		}
		if !d.RoleFromGroups || role.Rank() > d.Role.Rank() {
			d.Role, d.RoleFromGroups = role, true
		}
	}
	if !d.RoleFromGroups {
		d.Role = glossa.RoleAnnotator
		if conn.DefaultRole.Valid() && conn.DefaultRole != glossa.RoleOwner {
			d.Role = conn.DefaultRole
		}
	}

	seenWS := map[string]bool{}
	for _, m := range conn.WorkspacesGroups {
		title := strings.TrimSpace(m.Name)
		if title == "" || !has(m.Group) || seenWS[title] {
			continue
		}
		seenWS[title] = true
		d.Workspaces = append(d.Workspaces, title)
	}

	rank := func(r glossa.ProjectRole) int {
		switch r {
		case glossa.ProjectReviewer:
			return glossa.RoleReviewer.Rank()
		case glossa.ProjectAnnotator:
			return glossa.RoleAnnotator.Rank()
		}
		return d.Role.Rank() // Inherit
	}
	index := map[int64]int{}
	for _, m := range conn.ProjectsGroups {
		if m.ProjectID <= 0 || !has(m.Group) {
			continue
		}
		role, err := glossa.ParseProjectRole(string(m.Role))
		if err != nil {
			continue
		}
		i, ok := index[m.ProjectID]
		if !ok {
			index[m.ProjectID] = len(d.Projects)
			d.Projects = append(d.Projects, ProjectGrant{ProjectID: m.ProjectID, Role: role})
			continue
		}
		cur := d.Projects[i].Role
		if rank(role) > rank(cur) || (rank(role) == rank(cur) && cur == glossa.ProjectInherit && role != glossa.ProjectInherit) {
			d.Projects[i].Role = role
		}
	}
	return d
}
