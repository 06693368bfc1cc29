package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
	"github.com/glossa-dev/glossa/authz"
)

// orgView is an organization as the API shows it. The session timeouts are
// in minutes under Label Studio Enterprise's names.
func orgView(o *glossa.Organization) map[string]any {
	return map[string]any{
		"id": o.ID, "title": o.Title, "slug": o.Slug, "created_at": o.CreatedAt, "updated_at": o.UpdatedAt,
		"max_session_age":           int64(o.SessionMaxAge / time.Minute),
		"max_time_between_activity": int64(o.SessionIdleTimeout / time.Minute),
	}
}

// orgFromPath returns the caller's organization if {id} names it; any
// other organization is 404, whether or not it exists.
func (s *Server) orgFromPath(r *http.Request, p *glossa.Principal, action authz.Action) (*glossa.Organization, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	if err := authz.Check(p, action, authz.Resource{OrgID: id}); err != nil {
		return nil, err
	}
	return s.Orgs.FindOrganizationByID(r.Context(), p.OrgID)
}

func (s *Server) handleOrganizationList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	org, err := s.Orgs.FindOrganizationByID(r.Context(), p.OrgID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, []any{orgView(org)})
	return nil
}

func (s *Server) handleOrganizationGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	org, err := s.orgFromPath(r, p, authz.OrgView)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orgView(org))
	return nil
}

// Bounds for the session timeouts an organization may set, in minutes.
const (
	minSessionMinutes = 5
	maxSessionMinutes = 90 * 24 * 60
)

func (s *Server) handleOrganizationUpdate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	org, err := s.orgFromPath(r, p, authz.OrgUpdate)
	if err != nil {
		return err
	}
	var req struct {
		Title                  *string `json:"title"`
		MaxSessionAge          *int64  `json:"max_session_age"`
		MaxTimeBetweenActivity *int64  `json:"max_time_between_activity"`
	}
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	var upd glossa.OrganizationUpdate
	if req.Title != nil {
		t := strings.TrimSpace(*req.Title)
		if err := validateTitle("title", t); err != nil {
			return err
		}
		upd.Title = &t
	}
	minutes := func(field string, v *int64) (*time.Duration, error) {
		if v == nil {
			return nil, nil
		}
		if *v < minSessionMinutes || *v > maxSessionMinutes {
			return nil, glossa.Errorf(glossa.EINVALID, "%s must be between %d and %d minutes.", field, minSessionMinutes, maxSessionMinutes)
		}
		d := time.Duration(*v) * time.Minute
		return &d, nil
	}
	if upd.SessionMaxAge, err = minutes("max_session_age", req.MaxSessionAge); err != nil {
		return err
	}
	if upd.SessionIdleTimeout, err = minutes("max_time_between_activity", req.MaxTimeBetweenActivity); err != nil {
		return err
	}
	updated, err := s.Orgs.UpdateOrganization(r.Context(), org.ID, upd)
	if err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: org.ID, Action: "settings.update", Outcome: glossa.OutcomeSuccess,
		TargetType: "organization", TargetID: idString(org.ID), Detail: map[string]any{"before": orgView(org), "after": orgView(updated)}})
	writeJSON(w, http.StatusOK, orgView(updated))
	return nil
}

// memberView is a membership as the API shows it: Label Studio's shape,
// with the role by name and by code.
func memberView(m *glossa.Member) map[string]any {
	return map[string]any{
		"user_id": m.ID,
		"user": map[string]any{
			"id": m.ID, "email": m.Email, "first_name": m.FirstName, "last_name": m.LastName,
			"date_joined": m.CreatedAt,
		},
		"role":      m.Role,
		"role_code": m.Role.Code(),
	}
}

func (s *Server) handleMembershipList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	org, err := s.orgFromPath(r, p, authz.MembersView)
	if err != nil {
		return err
	}
	page, size, err := pageParams(r)
	if err != nil {
		return err
	}
	f := glossa.MemberFilter{OrgID: org.ID, Email: r.URL.Query().Get("email"), Offset: (page - 1) * size, Limit: size}
	if role := r.URL.Query().Get("role"); role != "" {
		if f.Role, err = glossa.ParseRole(role); err != nil {
			return err
		}
	}
	members, total, err := s.Members.FindMembers(r.Context(), f)
	if err != nil {
		return err
	}
	results := make([]any, len(members))
	for i := range members {
		results[i] = memberView(&members[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": total, "results": results})
	return nil
}

// handleMembershipCreate adds an account to the organization.
func (s *Server) handleMembershipCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	org, err := s.orgFromPath(r, p, authz.MembersInvite)
	if err != nil {
		return err
	}
	var req newMember
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	m, err := s.addMember(r, org.ID, &req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, memberView(m))
	return nil
}

// newMember is an account to add to an organization.
type newMember struct {
	Email     string `json:"email"`
	Role      string `json:"role"`
	Password  string `json:"password"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// addMember creates the account req describes in orgID (the caller has
// been checked for MembersInvite) and records it; the API and the members
// page both add with it. The role defaults to Annotator and can never be
// Owner; the password, if any, must meet the policy.
func (s *Server) addMember(r *http.Request, orgID int64, req *newMember) (*glossa.Member, error) {
	var err error
	role := glossa.RoleAnnotator
	if req.Role != "" {
		if role, err = glossa.ParseRole(req.Role); err != nil {
			return nil, err
		}
	}
	if role == glossa.RoleOwner {
		return nil, glossa.Errorf(glossa.EINVALID, "An organization has exactly one Owner, set when it is created; choose another role.")
	}
	u := &glossa.User{OrgID: orgID, Email: strings.TrimSpace(req.Email), FirstName: strings.TrimSpace(req.FirstName), LastName: strings.TrimSpace(req.LastName)}
	if err := glossa.ValidateEmail(u.Email); err != nil {
		return nil, err
	}
	if req.Password != "" {
		if err := auth.ValidatePassword(req.Password); err != nil {
			return nil, err
		}
		if u.PasswordHash, err = auth.HashPassword(req.Password); err != nil {
			return nil, err
		}
	}
	if err := s.Members.CreateMember(r.Context(), u, role); err != nil {
		return nil, err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: orgID, Action: "member.add", Outcome: glossa.OutcomeSuccess,
		TargetType: "user", TargetID: idString(u.ID), Detail: map[string]any{"email": u.Email, "role": role}})
	return &glossa.Member{User: *u, Role: role}, nil
}

// membershipFromPath checks action on the organization {id} and loads its
// member {user_id}.
func (s *Server) membershipFromPath(r *http.Request, p *glossa.Principal, action authz.Action) (*glossa.Member, error) {
	org, err := s.orgFromPath(r, p, action)
	if err != nil {
		return nil, err
	}
	return s.memberFromPath(r, org.ID)
}

// memberFromPath loads {user_id} within the caller's organization.
func (s *Server) memberFromPath(r *http.Request, orgID int64) (*glossa.Member, error) {
	uid, err := pathID(r, "user_id")
	if err != nil {
		return nil, err
	}
	return s.Members.FindMemberByID(r.Context(), orgID, uid)
}

func (s *Server) handleMembershipGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	m, err := s.membershipFromPath(r, p, authz.MembersView)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, memberView(m))
	return nil
}

// handleMembershipUpdate changes a member's role.
func (s *Server) handleMembershipUpdate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	m, err := s.membershipFromPath(r, p, authz.MembersChangeRole)
	if err != nil {
		return err
	}
	var req struct {
		Role string `json:"role"`
	}
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	role, err := glossa.ParseRole(req.Role)
	if err != nil {
		return err
	}
	updated, err := s.changeRole(r, p, m, role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, memberView(updated))
	return nil
}

// handleMembershipDelete removes a member the way Label Studio does: the
// account is deactivated, so its annotation history stays.
func (s *Server) handleMembershipDelete(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	m, err := s.membershipFromPath(r, p, authz.MembersChangeRole)
	if err != nil {
		return err
	}
	if _, err := s.changeRole(r, p, m, glossa.RoleDeactivated); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changeRole applies the rules around role changes, records the change and
// ends the member's sessions when they lose access. The Owner is fixed:
// nobody can make another Owner or change the Owner's role, and nobody
// changes their own role (that is how organizations lock themselves out).
func (s *Server) changeRole(r *http.Request, p *glossa.Principal, m *glossa.Member, role glossa.Role) (*glossa.Member, error) {
	ctx := r.Context()
	switch {
	case role == glossa.RoleOwner:
		return nil, glossa.Errorf(glossa.EINVALID, "An organization has exactly one Owner; the Owner role cannot be assigned.")
	case m.Role == glossa.RoleOwner:
		return nil, glossa.Errorf(glossa.EFORBIDDEN, "The Owner's role cannot be changed.")
	case m.ID == p.UserID:
		return nil, glossa.Errorf(glossa.EFORBIDDEN, "You cannot change your own role; ask another Owner or Administrator.")
	}
	if m.Role == role {
		return m, nil
	}
	updated, err := s.Members.UpdateMemberRole(ctx, m.OrgID, m.ID, role)
	if err != nil {
		return nil, err
	}
	if !role.Active() {
		if err := s.Sessions.DeleteUserSessions(ctx, m.OrgID, m.ID); err != nil {
			return nil, err
		}
	}
	action := "role.change"
	if role == glossa.RoleDeactivated {
		action = "member.remove"
	}
	s.audit(ctx, r, &glossa.AuditEvent{OrgID: m.OrgID, Action: action, Outcome: glossa.OutcomeSuccess,
		TargetType: "user", TargetID: idString(m.ID), Detail: map[string]any{"email": m.Email, "from": m.Role, "to": role}})
	return updated, nil
}
