package web

// Projects, one project's tasks, and workspaces.

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
	"github.com/glossa-dev/glossa/labeling"
)

// projectRow is one line of the projects table.
type projectRow struct {
	glossa.Project
	WorkspaceTitle string
}

// option is one entry of a <select>.
type option struct {
	Value, Label string
	Selected     bool
}

// projectForm holds what was typed into the create form, to show it again
// next to an error.
type projectForm struct {
	Title, Description, LabelConfig, Workspace, Template string
}

// templateOption is a labeling template offered by the create form.
type templateOption struct {
	Name, Title, Config string
	Selected            bool
}

type projectsData struct {
	Projects      []projectRow
	CanCreate     bool
	Workspaces    []option
	Templates     []templateOption
	Form          projectForm
	DefaultConfig string
}

func (s *Server) handleUIProjectList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	return s.renderProjects(w, r, p, http.StatusOK, projectForm{}, "")
}

// renderProjects shows the projects page, with the create form filled
// with form and an error above it when errMsg is set.
func (s *Server) renderProjects(w http.ResponseWriter, r *http.Request, p *glossa.Principal, status int, form projectForm, errMsg string) error {
	projects, err := s.visibleProjects(r, p, 0)
	if err != nil {
		return err
	}
	workspaces, err := s.visibleWorkspaces(r, p)
	if err != nil {
		return err
	}
	titles := make(map[int64]string, len(workspaces))
	data := projectsData{Form: form, DefaultConfig: labeling.DefaultConfig}
	for _, tpl := range labeling.Templates {
		data.Templates = append(data.Templates, templateOption{Name: tpl.Name, Title: tpl.Title, Config: tpl.Config, Selected: tpl.Name == form.Template})
	}
	for _, ws := range workspaces {
		titles[ws.ID] = ws.Title
		if authz.Can(p, authz.ProjectCreate, authz.Resource{OrgID: p.OrgID, WorkspaceID: ws.ID}) == authz.Allow {
			v := idString(ws.ID)
			data.Workspaces = append(data.Workspaces, option{Value: v, Label: ws.Title, Selected: v == form.Workspace})
		}
	}
	// Without a workspace, a project goes to the creator's sandbox, which
	// only Owners and Administrators may do.
	if authz.Can(p, authz.ProjectCreate, authz.Resource{OrgID: p.OrgID}) == authz.Allow {
		data.Workspaces = append([]option{{Value: "", Label: "My sandbox (personal workspace)", Selected: form.Workspace == ""}}, data.Workspaces...)
	}
	data.CanCreate = len(data.Workspaces) > 0
	for _, pr := range projects {
		data.Projects = append(data.Projects, projectRow{Project: pr, WorkspaceTitle: titles[pr.WorkspaceID]})
	}
	pd := s.newPage(r, p, "Projects")
	pd.Error = errMsg
	pd.Data = data
	s.render(w, r, status, "projects", pd)
	return nil
}

// handleUIProjectCreate creates a project from the form and opens it.
func (s *Server) handleUIProjectCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	form := projectForm{Title: f.Get("title"), Description: f.Get("description"), LabelConfig: f.Get("label_config"),
		Workspace: f.Get("workspace"), Template: f.Get("template")}
	req := projectRequest{Title: &form.Title, Description: &form.Description}
	if strings.TrimSpace(form.LabelConfig) != "" {
		// A configuration written (or a template edited) wins over the
		// template chosen.
		req.LabelConfig = &form.LabelConfig
	} else if tpl := labeling.FindTemplate(form.Template); tpl != nil {
		req.LabelConfig = &tpl.Config
	}
	fail := func(err error) error {
		if glossa.ErrorCode(err) == glossa.EINTERNAL {
			return err
		}
		return s.renderProjects(w, r, p, errorStatus(glossa.ErrorCode(err)), form, glossa.ErrorMessage(err))
	}
	if form.Workspace != "" {
		id, err := parseID("workspace", form.Workspace)
		if err != nil {
			return fail(err)
		}
		req.Workspace = &id
	}
	pr, err := s.createProject(r, p, &req)
	if err != nil {
		return fail(err)
	}
	http.Redirect(w, r, "/projects/"+idString(pr.ID)+"?notice=project-created", http.StatusSeeOther)
	return nil
}

type exportLink struct{ Label, Href string }

type projectData struct {
	Project        *glossa.Project
	WorkspaceTitle string
	CanImport      bool
	ImportURL      string
	Exports        []exportLink
	// Tasks is the data manager, nil for those who may not see tasks.
	Tasks *dataManager
	// CanConfig shows the labeling configuration form, with Config in it.
	CanConfig bool
	Config    string
	// CanManageStorage shows the storage section; Storages are its rows.
	CanManageStorage bool
	Storages         []storageRow
}

// storageRow is one storage on the project page, with its sync progress
// and, in per-person modes, whether the viewer's own credentials work.
type storageRow struct {
	glossa.Storage
	Job         *glossa.StorageJob
	Export      *glossa.ExportWriteCounts
	AccessError string
	Running     bool
}

// handleUIProjectGet shows a project: its details, import and export,
// storages and the data manager over its tasks.
func (s *Server) handleUIProjectGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.ProjectView)
	if err != nil {
		return err
	}
	return s.renderProject(w, r, p, pr, http.StatusOK, pr.LabelConfig, "")
}

// handleUIProjectConfig changes the project's labeling configuration from
// its page: a configuration with mistakes, or one that would drop labels
// existing annotations use, comes back with what is wrong, unsaved.
func (s *Server) handleUIProjectConfig(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.ProjectUpdate)
	if err != nil {
		return err
	}
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	config := r.PostForm.Get("label_config")
	if strings.TrimSpace(config) == "" {
		config = labeling.DefaultConfig
	}
	upd, cfg, err := (&projectRequest{LabelConfig: &config}).update()
	if err == nil {
		err = s.checkConfigChange(r, pr, config, cfg)
	}
	if err == nil {
		_, err = s.Projects.UpdateProject(r.Context(), p.OrgID, pr.ID, upd)
	}
	if err != nil {
		if glossa.ErrorCode(err) == glossa.EINTERNAL {
			return err
		}
		return s.renderProject(w, r, p, pr, errorStatus(glossa.ErrorCode(err)), config, glossa.ErrorMessage(err))
	}
	http.Redirect(w, r, "/projects/"+idString(pr.ID)+"?notice=config-saved#config", http.StatusSeeOther)
	return nil
}

// renderProject shows the project page, with config in the configuration
// form and errMsg above the page when set.
func (s *Server) renderProject(w http.ResponseWriter, r *http.Request, p *glossa.Principal, pr *glossa.Project, status int, config, errMsg string) error {
	var err error
	res := projectResource(pr)
	data := projectData{
		Project:   pr,
		CanImport: authz.Can(p, authz.TaskImport, res) == authz.Allow,
		ImportURL: "/api/projects/" + idString(pr.ID) + "/import",
		CanConfig: authz.Can(p, authz.ProjectUpdate, res) == authz.Allow,
		Config:    config,
	}
	if ws, err := s.Workspaces.FindWorkspaceByID(r.Context(), p.OrgID, pr.WorkspaceID); err == nil && authz.Can(p, authz.WorkspaceView, workspaceResource(ws)) == authz.Allow {
		data.WorkspaceTitle = ws.Title
	}
	if authz.Can(p, authz.Export, res) == authz.Allow {
		for _, format := range []string{"JSON", "JSON_MIN", "CSV"} {
			data.Exports = append(data.Exports, exportLink{Label: format,
				Href: "/api/projects/" + idString(pr.ID) + "/export?exportType=" + format + "&download_all_tasks=true"})
		}
	}
	if authz.Can(p, authz.TaskView, res) == authz.Allow {
		if data.Tasks, err = s.dataManager(r, p, pr); err != nil {
			return err
		}
	}
	pd := s.newPage(r, p, pr.Title)
	pd.Error = errMsg
	if data.CanManageStorage = authz.Can(p, authz.StorageManage, res) == authz.Allow; data.CanManageStorage {
		if data.Storages, err = s.storageRows(r, p, pr.ID); err != nil {
			return err
		}
		for _, row := range data.Storages {
			if row.Running {
				pd.Refresh = 3
			}
		}
	}
	pd.Data = data
	s.render(w, r, status, "project", pd)
	return nil
}

// preview shortens a task's data JSON for a table cell.
func preview(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// workspaceForm holds what was typed into the create form.
type workspaceForm struct{ Title, Description string }

type workspaceRow struct {
	glossa.Workspace
	Projects int
}

type workspacesData struct {
	Workspaces []workspaceRow
	CanCreate  bool
	Form       workspaceForm
}

func (s *Server) handleUIWorkspaceList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	return s.renderWorkspaces(w, r, p, http.StatusOK, workspaceForm{}, "")
}

func (s *Server) renderWorkspaces(w http.ResponseWriter, r *http.Request, p *glossa.Principal, status int, form workspaceForm, errMsg string) error {
	workspaces, err := s.visibleWorkspaces(r, p)
	if err != nil {
		return err
	}
	projects, err := s.visibleProjects(r, p, 0)
	if err != nil {
		return err
	}
	count := map[int64]int{}
	for _, pr := range projects {
		count[pr.WorkspaceID]++
	}
	data := workspacesData{Form: form, CanCreate: authz.Can(p, authz.WorkspaceCreate, authz.Resource{OrgID: p.OrgID}) == authz.Allow}
	for _, ws := range workspaces {
		data.Workspaces = append(data.Workspaces, workspaceRow{Workspace: ws, Projects: count[ws.ID]})
	}
	pd := s.newPage(r, p, "Workspaces")
	pd.Error = errMsg
	pd.Data = data
	s.render(w, r, status, "workspaces", pd)
	return nil
}

// handleUIWorkspaceCreate creates a workspace from the form.
func (s *Server) handleUIWorkspaceCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	form := workspaceForm{Title: r.PostForm.Get("title"), Description: r.PostForm.Get("description")}
	if _, err := s.createWorkspace(r, p, &workspaceRequest{Title: &form.Title, Description: &form.Description}); err != nil {
		if glossa.ErrorCode(err) == glossa.EINTERNAL {
			return err
		}
		return s.renderWorkspaces(w, r, p, errorStatus(glossa.ErrorCode(err)), form, glossa.ErrorMessage(err))
	}
	http.Redirect(w, r, "/workspaces?notice=workspace-created", http.StatusSeeOther)
	return nil
}

// storageRows loads the project's storages with their progress for the
// project page.
func (s *Server) storageRows(r *http.Request, p *glossa.Principal, projectID int64) ([]storageRow, error) {
	ctx := r.Context()
	list, err := s.Storages.FindStorages(ctx, glossa.StorageFilter{OrgID: p.OrgID, ProjectID: projectID})
	if err != nil {
		return nil, err
	}
	rows := make([]storageRow, 0, len(list))
	for _, st := range list {
		row := storageRow{Storage: st}
		job, export, access := s.storageStatus(ctx, p, &st)
		row.Job, row.Export = job, export
		row.Running = job != nil && !job.Status.Done()
		if access != nil {
			row.AccessError = glossa.ErrorMessage(access)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// uiStorage loads storage {sid} of project {id} for a page form.
func (s *Server) uiStorage(r *http.Request, p *glossa.Principal) (*glossa.Storage, error) {
	pr, err := s.projectFromPath(r, p, authz.StorageManage)
	if err != nil {
		return nil, err
	}
	sid, err := pathID(r, "sid")
	if err != nil {
		return nil, err
	}
	st, err := s.Storages.FindStorageByID(r.Context(), p.OrgID, sid)
	if err != nil {
		return nil, err
	}
	if st.ProjectID != pr.ID {
		return nil, glossa.NotFound("Storage")
	}
	return st, nil
}

// handleUIStorageSync queues a sync from the project page.
func (s *Server) handleUIStorageSync(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	st, err := s.uiStorage(r, p)
	if err != nil {
		return err
	}
	if err := s.queueSync(r, p, st); err != nil {
		if glossa.ErrorCode(err) == glossa.EREAUTH {
			// Sign in again, then come back to the project page.
			http.Redirect(w, r, reauthPath(p.OrgSlug, "/projects/"+idString(st.ProjectID)), http.StatusSeeOther)
			return nil
		}
		return err
	}
	http.Redirect(w, r, "/projects/"+idString(st.ProjectID)+"?notice=sync-queued#storages", http.StatusSeeOther)
	return nil
}

// handleUIStorageCancel stops the storage's running sync.
func (s *Server) handleUIStorageCancel(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	st, err := s.uiStorage(r, p)
	if err != nil {
		return err
	}
	if st.LastSyncJob == nil {
		return glossa.Errorf(glossa.ECONFLICT, "This storage has no sync to cancel.")
	}
	if _, err := s.Storages.CancelStorageJob(r.Context(), p.OrgID, *st.LastSyncJob); err != nil {
		return err
	}
	http.Redirect(w, r, "/projects/"+idString(st.ProjectID)+"?notice=sync-canceled#storages", http.StatusSeeOther)
	return nil
}

// mediaItem is one field of a task's data on the task page.
type mediaItem struct {
	Name  string
	Text  string
	Image string // a media link, for s3:// references and image URLs
}

type taskPageData struct {
	Project     *glossa.Project
	Task        *glossa.Task
	Fields      []mediaItem
	Annotations int
}

// handleUITaskGet shows one task with its media. A task from a per-person
// storage shows only if the viewer's credentials may read its object;
// expired credentials send the browser through the IdP and back here.
func (s *Server) handleUITaskGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.TaskView)
	if err != nil {
		return err
	}
	tid, err := pathID(r, "task_id")
	if err != nil {
		return err
	}
	t, err := s.Tasks.FindTaskByID(r.Context(), p.OrgID, tid)
	if err != nil {
		return err
	}
	if t.ProjectID != pr.ID {
		return glossa.NotFound("Task")
	}
	if err := s.checkTaskVisible(r.Context(), p, t); err != nil {
		return err
	}
	var data map[string]any
	_ = json.Unmarshal(t.Data, &data) // stored data is always a JSON object
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	sort.Strings(names)
	page := taskPageData{Project: pr, Task: t, Annotations: t.TotalAnnotations}
	for _, k := range names {
		item := mediaItem{Name: k}
		switch v := data[k].(type) {
		case string:
			if strings.HasPrefix(v, "s3://") {
				item.Image = mediaLink(t.ID, v)
			} else {
				item.Text = v
			}
		default:
			b, _ := json.Marshal(v)
			item.Text = string(b)
		}
		page.Fields = append(page.Fields, item)
	}
	// Presigned media comes from the buckets' own origins.
	storages, err := s.Storages.FindStorages(r.Context(), glossa.StorageFilter{OrgID: p.OrgID, ProjectID: pr.ID, Type: glossa.StorageSource})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy(mediaOrigins(storages)))
	pd := s.newPage(r, p, "Task "+idString(t.ID))
	pd.Data = page
	s.render(w, r, http.StatusOK, "task", pd)
	return nil
}
