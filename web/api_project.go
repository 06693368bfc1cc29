package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
	"github.com/glossa-dev/glossa/labeling"
)

func projectResource(pr *glossa.Project) authz.Resource {
	return authz.Resource{OrgID: pr.OrgID, WorkspaceID: pr.WorkspaceID, ProjectID: pr.ID, OwnerID: pr.CreatedBy}
}

// projectByID loads a project of the caller's organization and checks action on it.
func (s *Server) projectByID(r *http.Request, p *glossa.Principal, id int64, action authz.Action) (*glossa.Project, error) {
	pr, err := s.Projects.FindProjectByID(r.Context(), p.OrgID, id)
	if err != nil {
		return nil, err
	}
	if err := authz.Check(p, action, projectResource(pr)); err != nil {
		return nil, err
	}
	return pr, nil
}

func (s *Server) projectFromPath(r *http.Request, p *glossa.Principal, action authz.Action) (*glossa.Project, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return s.projectByID(r, p, id, action)
}

// handleProjectList lists the projects the caller can see, in Label
// Studio's paginated shape.
func (s *Server) handleProjectList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	var workspaceID int64
	if v := r.URL.Query().Get("workspace"); v != "" {
		id, err := parseID("workspace", v)
		if err != nil {
			return err
		}
		workspaceID = id
	}
	visible, err := s.visibleProjects(r, p, workspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(visible), "next": nil, "previous": nil, "results": visible})
	return nil
}

// visibleProjects lists the projects of the caller's organization that
// the caller may view, in one workspace or (workspaceID 0) in all. The API
// and the projects page both list with it, so they always agree.
func (s *Server) visibleProjects(r *http.Request, p *glossa.Principal, workspaceID int64) ([]glossa.Project, error) {
	f := glossa.ProjectFilter{OrgID: p.OrgID, WorkspaceID: workspaceID}
	if !seesAll(p) {
		f.VisibleTo = p.UserID
	}
	list, err := s.Projects.FindProjects(r.Context(), f)
	return allowed(p, authz.ProjectView, list, projectResource), err
}

type projectRequest struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	LabelConfig *string `json:"label_config"`
	Workspace   *int64  `json:"workspace"`
}

// update checks the request and returns the change it asks for, with the
// new labeling configuration parsed (nil when it does not change it).
func (req *projectRequest) update() (glossa.ProjectUpdate, *labeling.Config, error) {
	upd := glossa.ProjectUpdate{Description: req.Description, WorkspaceID: req.Workspace}
	var err error
	if upd.Title, err = optionalTitle(req.Title); err != nil {
		return upd, nil, err
	}
	if err := validateDescription(req.Description); err != nil {
		return upd, nil, err
	}
	var cfg *labeling.Config
	if req.LabelConfig != nil {
		if cfg, err = labeling.ParseConfig(*req.LabelConfig); err != nil {
			return upd, nil, err
		}
		upd.LabelConfig = req.LabelConfig
	}
	return upd, cfg, nil
}

// checkConfigChange refuses a new labeling configuration that would leave
// existing annotations pointing at labels, choices or controls it no
// longer has, as Label Studio does, and names them. It reads every
// annotation of the project, which is why it runs only when the
// configuration changes and annotations exist. next is config parsed.
func (s *Server) checkConfigChange(r *http.Request, pr *glossa.Project, config string, next *labeling.Config) error {
	if config == pr.LabelConfig || pr.AnnotationCount == 0 {
		return nil
	}
	// A configuration saved before configs were checked this closely may
	// not parse; then a change of a control's tag or toName cannot be
	// told, but removed labels still can.
	old, _ := labeling.ParseConfig(pr.LabelConfig)
	used := map[string][]string{}
	err := s.Tasks.ExportTasks(r.Context(), glossa.ExportFilter{OrgID: pr.OrgID, ProjectID: pr.ID, OnlyAnnotated: true}, func(t *glossa.Task) error {
		for _, a := range t.Annotations {
			labeling.AddUsedLabels(used, a.Result)
		}
		return nil
	})
	if err != nil {
		return err
	}
	orphans := labeling.OrphanedLabels(old, next, used)
	if len(orphans) == 0 {
		return nil
	}
	shown := orphans
	if len(shown) > 20 {
		shown = shown[:20]
	}
	more := ""
	if n := len(orphans) - len(shown); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	return glossa.Errorf(glossa.ECONFLICT, "The new labeling configuration drops what existing annotations use: %s%s. Keep those labels and controls, or delete the annotations that use them first.",
		strings.Join(shown, ", "), more)
}

// sandboxTitle names the personal workspace that receives projects created
// without one, as Label Studio's Sandbox does.
func sandboxTitle(p *glossa.Principal) string { return "Sandbox of " + p.Email }

// targetWorkspace returns the workspace a new project goes to: the one
// named, or the caller's sandbox, created on first use.
func (s *Server) targetWorkspace(r *http.Request, p *glossa.Principal, id *int64) (*glossa.Workspace, error) {
	ctx := r.Context()
	if id != nil {
		ws, err := s.Workspaces.FindWorkspaceByID(ctx, p.OrgID, *id)
		if err != nil {
			return nil, err
		}
		if err := authz.Check(p, authz.WorkspaceView, workspaceResource(ws)); err != nil {
			return nil, err
		}
		return ws, nil
	}
	mine, err := s.Workspaces.FindWorkspaces(ctx, glossa.WorkspaceFilter{OrgID: p.OrgID, MemberID: p.UserID})
	if err != nil {
		return nil, err
	}
	for _, ws := range mine {
		if ws.CreatedBy == p.UserID && ws.Title == sandboxTitle(p) {
			return &ws, nil
		}
	}
	if err := authz.Check(p, authz.WorkspaceCreate, authz.Resource{OrgID: p.OrgID}); err != nil {
		return nil, err
	}
	ws := &glossa.Workspace{OrgID: p.OrgID, Title: sandboxTitle(p), Description: "Personal workspace for projects created without one.", CreatedBy: p.UserID}
	if err := s.Workspaces.CreateWorkspace(ctx, ws); err != nil {
		return nil, err
	}
	p.Access.Workspaces[ws.ID] = true
	return ws, nil
}

func (s *Server) handleProjectCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	var req projectRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	pr, err := s.createProject(r, p, &req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, pr)
	return nil
}

// createProject checks and creates a project from req in the workspace it
// names or, without one, in the caller's sandbox. The API and the projects
// page both create with it.
func (s *Server) createProject(r *http.Request, p *glossa.Principal, req *projectRequest) (*glossa.Project, error) {
	// Refuse before any work (a sandbox may be created below) whoever may
	// not create a project where the request asks: roles below Manager
	// anywhere, Managers outside their workspaces or without one. The
	// check against the workspace actually used follows.
	var named int64
	if req.Workspace != nil {
		named = *req.Workspace
	}
	if err := authz.Check(p, authz.ProjectCreate, authz.Resource{OrgID: p.OrgID, WorkspaceID: named}); err != nil {
		return nil, err
	}
	if req.Title == nil {
		return nil, glossa.Errorf(glossa.EINVALID, "title is required.")
	}
	upd, _, err := req.update()
	if err != nil {
		return nil, err
	}
	ws, err := s.targetWorkspace(r, p, req.Workspace)
	if err != nil {
		return nil, err
	}
	pr := &glossa.Project{OrgID: p.OrgID, WorkspaceID: ws.ID, Title: *upd.Title, LabelConfig: labeling.DefaultConfig, CreatedBy: p.UserID}
	if upd.Description != nil {
		pr.Description = *upd.Description
	}
	if upd.LabelConfig != nil {
		pr.LabelConfig = *upd.LabelConfig
	}
	if err := authz.Check(p, authz.ProjectCreate, authz.Resource{OrgID: p.OrgID, WorkspaceID: ws.ID}); err != nil {
		return nil, err
	}
	if err := s.Projects.CreateProject(r.Context(), pr); err != nil {
		return nil, err
	}
	return pr, nil
}

func (s *Server) handleProjectGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.ProjectView)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pr)
	return nil
}

func (s *Server) handleProjectUpdate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.ProjectUpdate)
	if err != nil {
		return err
	}
	var req projectRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	upd, cfg, err := req.update()
	if err != nil {
		return err
	}
	if upd.LabelConfig != nil {
		if err := s.checkConfigChange(r, pr, *upd.LabelConfig, cfg); err != nil {
			return err
		}
	}
	if upd.WorkspaceID != nil && *upd.WorkspaceID != pr.WorkspaceID {
		// Moving a project needs the right to create projects in the target.
		ws, err := s.targetWorkspace(r, p, upd.WorkspaceID)
		if err != nil {
			return err
		}
		if err := authz.Check(p, authz.ProjectCreate, authz.Resource{OrgID: p.OrgID, WorkspaceID: ws.ID}); err != nil {
			return err
		}
	}
	updated, err := s.Projects.UpdateProject(r.Context(), p.OrgID, pr.ID, upd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, updated)
	return nil
}

func (s *Server) handleProjectDelete(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.ProjectDelete)
	if err != nil {
		return err
	}
	if err := s.Projects.DeleteProject(r.Context(), p.OrgID, pr.ID); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "project.delete", Outcome: glossa.OutcomeSuccess,
		TargetType: "project", TargetID: idString(pr.ID), Detail: map[string]any{"title": pr.Title, "tasks": pr.TaskCount}})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func projectMemberView(m *glossa.ProjectMember) map[string]any {
	v := memberView(&m.Member)
	v["project_role"] = m.ProjectRole
	return v
}

func (s *Server) handleProjectMemberList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.ProjectView)
	if err != nil {
		return err
	}
	members, err := s.Projects.FindProjectMembers(r.Context(), p.OrgID, pr.ID)
	if err != nil {
		return err
	}
	out := make([]any, len(members))
	for i := range members {
		out[i] = projectMemberView(&members[i])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleProjectMemberSet adds a member to the project or changes their
// project role: {"user": id, "role": "Annotator"|"Reviewer"|"Inherit"}.
func (s *Server) handleProjectMemberSet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.ProjectMembersManage)
	if err != nil {
		return err
	}
	var req struct {
		User int64  `json:"user"`
		Role string `json:"role"`
	}
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.User <= 0 {
		return glossa.Errorf(glossa.EINVALID, "user is required: the ID of a member of your organization.")
	}
	role := glossa.ProjectInherit
	if req.Role != "" {
		if role, err = glossa.ParseProjectRole(req.Role); err != nil {
			return err
		}
	}
	m, err := s.Members.FindMemberByID(r.Context(), p.OrgID, req.User)
	if err != nil {
		return err
	}
	if err := s.Projects.SetProjectMember(r.Context(), p.OrgID, pr.ID, m.ID, role); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "project.member.add", Outcome: glossa.OutcomeSuccess,
		TargetType: "project", TargetID: idString(pr.ID), Detail: map[string]any{"user_id": m.ID, "email": m.Email, "role": role}})
	writeJSON(w, http.StatusCreated, projectMemberView(&glossa.ProjectMember{Member: *m, ProjectRole: role}))
	return nil
}

func (s *Server) handleProjectMemberRemove(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.ProjectMembersManage)
	if err != nil {
		return err
	}
	m, err := s.memberFromPath(r, p.OrgID)
	if err != nil {
		return err
	}
	if err := s.Projects.RemoveProjectMember(r.Context(), p.OrgID, pr.ID, m.ID); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "project.member.remove", Outcome: glossa.OutcomeSuccess,
		TargetType: "project", TargetID: idString(pr.ID), Detail: map[string]any{"user_id": m.ID, "email": m.Email}})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
