package web

import (
	"net/http"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
)

func workspaceResource(ws *glossa.Workspace) authz.Resource {
	return authz.Resource{OrgID: ws.OrgID, WorkspaceID: ws.ID, OwnerID: ws.CreatedBy}
}

// workspaceFromPath loads {id} in the caller's organization and checks action on it.
func (s *Server) workspaceFromPath(r *http.Request, p *glossa.Principal, action authz.Action) (*glossa.Workspace, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	ws, err := s.Workspaces.FindWorkspaceByID(r.Context(), p.OrgID, id)
	if err != nil {
		return nil, err
	}
	if err := authz.Check(p, action, workspaceResource(ws)); err != nil {
		return nil, err
	}
	return ws, nil
}

// seesAll reports whether the principal sees every workspace and project
// of the organization without being a member (Owner and Administrator).
func seesAll(p *glossa.Principal) bool {
	return p.Role == glossa.RoleOwner || p.Role == glossa.RoleAdministrator
}

func (s *Server) handleWorkspaceList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	visible, err := s.visibleWorkspaces(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, visible)
	return nil
}

// visibleWorkspaces lists the workspaces the caller may view; the API and
// the pages both list with it.
func (s *Server) visibleWorkspaces(r *http.Request, p *glossa.Principal) ([]glossa.Workspace, error) {
	f := glossa.WorkspaceFilter{OrgID: p.OrgID}
	if !seesAll(p) {
		f.MemberID = p.UserID
	}
	list, err := s.Workspaces.FindWorkspaces(r.Context(), f)
	return allowed(p, authz.WorkspaceView, list, workspaceResource), err
}

// allowed keeps the items of list on which the principal may do action.
// The store's filter already narrows the list; this applies the matrix
// itself, so a list never shows what a direct request would refuse.
func allowed[T any](p *glossa.Principal, action authz.Action, list []T, resource func(*T) authz.Resource) []T {
	out := make([]T, 0, len(list))
	for i := range list {
		if authz.Can(p, action, resource(&list[i])) == authz.Allow {
			out = append(out, list[i])
		}
	}
	return out
}

type workspaceRequest struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	Color       *string `json:"color"`
}

func (req *workspaceRequest) update() (glossa.WorkspaceUpdate, error) {
	upd := glossa.WorkspaceUpdate{Description: req.Description, Color: req.Color}
	var err error
	if upd.Title, err = optionalTitle(req.Title); err != nil {
		return upd, err
	}
	if err := validateDescription(req.Description); err != nil {
		return upd, err
	}
	if req.Color != nil && len(*req.Color) > 32 {
		return upd, glossa.Errorf(glossa.EINVALID, "color must be a CSS color such as #ffaa00.")
	}
	return upd, nil
}

func (s *Server) handleWorkspaceCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.WorkspaceCreate, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	var req workspaceRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	ws, err := s.createWorkspace(r, p, &req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ws)
	return nil
}

// createWorkspace checks and creates a workspace from req, with the caller
// as its creator and first member; the API and the workspaces page both
// create with it.
func (s *Server) createWorkspace(r *http.Request, p *glossa.Principal, req *workspaceRequest) (*glossa.Workspace, error) {
	if err := authz.Check(p, authz.WorkspaceCreate, authz.Resource{OrgID: p.OrgID}); err != nil {
		return nil, err
	}
	if req.Title == nil {
		return nil, glossa.Errorf(glossa.EINVALID, "title is required.")
	}
	upd, err := req.update()
	if err != nil {
		return nil, err
	}
	ws := &glossa.Workspace{OrgID: p.OrgID, Title: *upd.Title, CreatedBy: p.UserID}
	if upd.Description != nil {
		ws.Description = *upd.Description
	}
	if upd.Color != nil {
		ws.Color = *upd.Color
	}
	if err := s.Workspaces.CreateWorkspace(r.Context(), ws); err != nil {
		return nil, err
	}
	return ws, nil
}

func (s *Server) handleWorkspaceGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	ws, err := s.workspaceFromPath(r, p, authz.WorkspaceView)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}

func (s *Server) handleWorkspaceUpdate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	ws, err := s.workspaceFromPath(r, p, authz.WorkspaceUpdate)
	if err != nil {
		return err
	}
	var req workspaceRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	upd, err := req.update()
	if err != nil {
		return err
	}
	updated, err := s.Workspaces.UpdateWorkspace(r.Context(), p.OrgID, ws.ID, upd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, updated)
	return nil
}

func (s *Server) handleWorkspaceDelete(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	ws, err := s.workspaceFromPath(r, p, authz.WorkspaceDelete)
	if err != nil {
		return err
	}
	if err := s.Workspaces.DeleteWorkspace(r.Context(), p.OrgID, ws.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleWorkspaceMemberList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	ws, err := s.workspaceFromPath(r, p, authz.WorkspaceView)
	if err != nil {
		return err
	}
	members, err := s.Workspaces.FindWorkspaceMembers(r.Context(), p.OrgID, ws.ID)
	if err != nil {
		return err
	}
	out := make([]any, len(members))
	for i := range members {
		out[i] = memberView(&members[i])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// userRequest is Label Studio's body for membership changes: {"user": id}.
type userRequest struct {
	User int64 `json:"user"`
}

// memberFromBody reads {"user": id} and loads that member of the caller's
// organization; a user of another organization is 404.
func (s *Server) memberFromBody(r *http.Request, p *glossa.Principal) (*glossa.Member, error) {
	var req userRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	if req.User <= 0 {
		return nil, glossa.Errorf(glossa.EINVALID, "user is required: the ID of a member of your organization.")
	}
	return s.Members.FindMemberByID(r.Context(), p.OrgID, req.User)
}

func (s *Server) handleWorkspaceMemberAdd(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	ws, err := s.workspaceFromPath(r, p, authz.WorkspaceMembersManage)
	if err != nil {
		return err
	}
	m, err := s.memberFromBody(r, p)
	if err != nil {
		return err
	}
	if err := s.Workspaces.AddWorkspaceMember(r.Context(), p.OrgID, ws.ID, m.ID); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "workspace.member.add", Outcome: glossa.OutcomeSuccess,
		TargetType: "workspace", TargetID: idString(ws.ID), Detail: map[string]any{"user_id": m.ID, "email": m.Email}})
	writeJSON(w, http.StatusCreated, memberView(m))
	return nil
}

// handleWorkspaceMemberRemove takes the user from the path or, as Label
// Studio sends it, from the body.
func (s *Server) handleWorkspaceMemberRemove(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	ws, err := s.workspaceFromPath(r, p, authz.WorkspaceMembersManage)
	if err != nil {
		return err
	}
	var m *glossa.Member
	if r.PathValue("user_id") != "" {
		m, err = s.memberFromPath(r, p.OrgID)
		if err != nil {
			return err
		}
	} else if m, err = s.memberFromBody(r, p); err != nil {
		return err
	}
	if err := s.Workspaces.RemoveWorkspaceMember(r.Context(), p.OrgID, ws.ID, m.ID); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "workspace.member.remove", Outcome: glossa.OutcomeSuccess,
		TargetType: "workspace", TargetID: idString(ws.ID), Detail: map[string]any{"user_id": m.ID, "email": m.Email}})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
