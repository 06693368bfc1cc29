package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
	"github.com/glossa-dev/glossa/labeling"
)

// taskFromPath loads the task {id} of the caller's organization and its
// project, and checks action on the project.
func (s *Server) taskFromPath(r *http.Request, p *glossa.Principal, action authz.Action) (*glossa.Task, *glossa.Project, error) {
	t, pr, _, err := s.taskAndSource(r, p, action)
	return t, pr, err
}

// taskAndSource is taskFromPath that also returns the storage the task
// came from (nil for none), which its media are read from.
func (s *Server) taskAndSource(r *http.Request, p *glossa.Principal, action authz.Action) (*glossa.Task, *glossa.Project, *glossa.Storage, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, nil, nil, err
	}
	t, err := s.Tasks.FindTaskByID(r.Context(), p.OrgID, id)
	if err != nil {
		return nil, nil, nil, err
	}
	pr, err := s.projectByID(r, p, t.ProjectID, action)
	if err != nil {
		return nil, nil, nil, err
	}
	src, err := s.taskSource(r.Context(), p, t)
	if err != nil {
		return nil, nil, nil, err
	}
	return t, pr, src, nil
}

// handleProjectImport imports tasks in Label Studio's JSON task format. The
// body is decoded as a stream and written in batches inside one
// transaction: all the tasks are imported, or none.
func (s *Server) handleProjectImport(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.TaskImport)
	if err != nil {
		return err
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	start := s.Now()
	body := http.MaxBytesReader(w, r.Body, s.MaxImportBytes)
	wantIDs := r.URL.Query().Get("return_task_ids") == "true"
	res, err := s.Tasks.ImportTasks(r.Context(), p.OrgID, pr.ID, p.UserID, labeling.ReadTasks(body), wantIDs)
	if err != nil {
		return err
	}
	s.Logger.InfoContext(r.Context(), "tasks imported", "project", pr.ID, "tasks", res.TaskCount, "annotations", res.AnnotationCount)
	out := map[string]any{
		"task_count": res.TaskCount, "annotation_count": res.AnnotationCount, "prediction_count": res.PredictionCount,
		"duration": s.Now().Sub(start).Seconds(), "file_upload_ids": []int64{}, "could_be_tasks_list": false,
		"found_formats": []string{}, "data_columns": []string{},
	}
	if wantIDs {
		out["task_ids"] = res.TaskIDs
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// handleTaskList lists a project's tasks: ?project=ID, Label Studio's
// page and page_size, or cursor for fast deep paging; ordering=-id for
// newest first; labeled=true|false. With query= (Label Studio's data
// manager query) it is the data manager's listing, handleTaskQuery.
func (s *Server) handleTaskList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	q := r.URL.Query()
	if q.Get("project") == "" {
		return glossa.Errorf(glossa.EINVALID, "Say which project: /api/tasks?project=ID.")
	}
	projectID, err := parseID("project", q.Get("project"))
	if err != nil {
		return err
	}
	pr, err := s.projectByID(r, p, projectID, authz.TaskView)
	if err != nil {
		return err
	}
	if q.Has("query") {
		return s.handleTaskQuery(w, r, p, pr)
	}
	page, size, err := pageParams(r)
	if err != nil {
		return err
	}
	f := glossa.TaskFilter{OrgID: p.OrgID, ProjectID: pr.ID, Offset: (page - 1) * size, Limit: size, Order: glossa.OldestFirst}
	switch q.Get("ordering") {
	case "", "id":
	case "-id":
		f.Order = glossa.NewestFirst
	default:
		return glossa.Errorf(glossa.EINVALID, "ordering must be id (oldest first) or -id (newest first).")
	}
	if v := q.Get("cursor"); v != "" {
		if f.Cursor, err = parseID("cursor", v); err != nil {
			return err
		}
		f.Offset = 0
	}
	if v := q.Get("labeled"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return glossa.Errorf(glossa.EINVALID, "labeled must be true or false.")
		}
		f.Labeled = &b
	}
	if f.Visibility, err = s.taskVisibility(r.Context(), p, pr.ID); err != nil {
		return err
	}
	tasks, total, err := s.Tasks.FindTasks(r.Context(), f)
	if err != nil {
		return err
	}
	for i := range tasks {
		rewriteMediaURLs(&tasks[i])
	}
	out := map[string]any{"tasks": tasks, "total": total, "total_annotations": pr.AnnotationCount}
	if len(tasks) == size {
		out["next_cursor"] = tasks[len(tasks)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleTaskGet returns a task with its annotations.
func (s *Server) handleTaskGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	t, _, err := s.taskFromPath(r, p, authz.TaskView)
	if err != nil {
		return err
	}
	if t.Annotations, err = s.Annotations.FindAnnotations(r.Context(), p.OrgID, t.ID); err != nil {
		return err
	}
	if t.Annotations == nil {
		t.Annotations = []glossa.Annotation{}
	}
	rewriteMediaURLs(t)
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) handleTaskDelete(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	t, _, err := s.taskFromPath(r, p, authz.TaskDelete)
	if err != nil {
		return err
	}
	if err := s.Tasks.DeleteTask(r.Context(), p.OrgID, t.ID); err != nil {
		return err
	}
	s.Storage.Kick() // the store may have queued deletions of exported objects
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleAnnotationList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	t, _, err := s.taskFromPath(r, p, authz.TaskView)
	if err != nil {
		return err
	}
	list, err := s.Annotations.FindAnnotations(r.Context(), p.OrgID, t.ID)
	if err != nil {
		return err
	}
	if list == nil {
		list = []glossa.Annotation{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// annotationRequest is Label Studio's annotation body.
type annotationRequest struct {
	Result       *json.RawMessage `json:"result"`
	WasCancelled *bool            `json:"was_cancelled"`
	GroundTruth  *bool            `json:"ground_truth"`
	LeadTime     *float64         `json:"lead_time"`
	// Accepted and ignored, as Label Studio's frontend sends them.
	Task        json.RawMessage `json:"task"`
	Project     json.RawMessage `json:"project"`
	CompletedBy json.RawMessage `json:"completed_by"`
}

func (req *annotationRequest) update() (glossa.AnnotationUpdate, error) {
	upd := glossa.AnnotationUpdate{Result: req.Result, WasCancelled: req.WasCancelled, GroundTruth: req.GroundTruth, LeadTime: req.LeadTime}
	if req.LeadTime != nil && (*req.LeadTime < 0 || *req.LeadTime > 1e9) {
		return upd, glossa.Errorf(glossa.EINVALID, "lead_time must be a number of seconds, 0 or more.")
	}
	return upd, nil
}

// checkResult validates an annotation's result against the project's
// labeling configuration and the task's data. A skip (was_cancelled) is
// not checked: Label Studio stores whatever a skipped annotation holds.
func checkResult(pr *glossa.Project, t *glossa.Task, result json.RawMessage, cancelled bool) error {
	if cancelled {
		if len(result) == 0 || string(result) == "[]" {
			return nil
		}
		var items []json.RawMessage
		if json.Unmarshal(result, &items) != nil {
			return glossa.Errorf(glossa.EINVALID, "result must be a list of Label Studio result objects.")
		}
		return nil
	}
	cfg, err := labeling.ParseConfig(pr.LabelConfig)
	if err != nil {
		return glossa.Errorf(glossa.EUNPROCESSABLE, "This project's labeling configuration is not valid, so annotations cannot be checked against it; a Manager can correct it. %s", glossa.ErrorMessage(err))
	}
	return cfg.ValidateResult(result, t.Data)
}

func (s *Server) handleAnnotationCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	t, pr, err := s.taskFromPath(r, p, authz.AnnotationCreate)
	if err != nil {
		return err
	}
	var req annotationRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Result == nil {
		return glossa.Errorf(glossa.EINVALID, "result is required: a list of Label Studio result objects.")
	}
	upd, err := req.update()
	if err != nil {
		return err
	}
	if err := checkResult(pr, t, *upd.Result, upd.WasCancelled != nil && *upd.WasCancelled); err != nil {
		return err
	}
	a := &glossa.Annotation{OrgID: p.OrgID, ProjectID: pr.ID, TaskID: t.ID, Result: *upd.Result, CompletedBy: p.UserID}
	if upd.WasCancelled != nil {
		a.WasCancelled = *upd.WasCancelled
	}
	if upd.GroundTruth != nil {
		a.GroundTruth = *upd.GroundTruth
	}
	if upd.LeadTime != nil {
		a.LeadTime = *upd.LeadTime
	}
	if err := s.Annotations.CreateAnnotation(r.Context(), a); err != nil {
		return err
	}
	s.Storage.Kick() // the store queued its writes to the target storages
	writeJSON(w, http.StatusCreated, a)
	return nil
}

// annotationFromPath loads {id} with its task and project and checks
// action on it; the author decides what Annotators may change. A task the
// caller may not see hides its annotations too.
func (s *Server) annotationFromPath(r *http.Request, p *glossa.Principal, action authz.Action) (*glossa.Annotation, *glossa.Task, *glossa.Project, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := s.Annotations.FindAnnotationByID(r.Context(), p.OrgID, id)
	if err != nil {
		return nil, nil, nil, err
	}
	pr, err := s.Projects.FindProjectByID(r.Context(), p.OrgID, a.ProjectID)
	if err != nil {
		return nil, nil, nil, err
	}
	res := projectResource(pr)
	res.OwnerID = a.CompletedBy
	if err := authz.Check(p, action, res); err != nil {
		return nil, nil, nil, err
	}
	t, err := s.Tasks.FindTaskByID(r.Context(), p.OrgID, a.TaskID)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := s.checkTaskVisible(r.Context(), p, t); err != nil {
		return nil, nil, nil, err
	}
	return a, t, pr, nil
}

func (s *Server) handleAnnotationGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	a, _, _, err := s.annotationFromPath(r, p, authz.TaskView)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) handleAnnotationUpdate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	a, t, pr, err := s.annotationFromPath(r, p, authz.AnnotationUpdate)
	if err != nil {
		return err
	}
	var req annotationRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	upd, err := req.update()
	if err != nil {
		return err
	}
	// A new result is checked, and so is the old one when a skip becomes
	// an annotation; a change of ground_truth alone checks nothing.
	cancelled := a.WasCancelled
	if upd.WasCancelled != nil {
		cancelled = *upd.WasCancelled
	}
	if upd.Result != nil || (a.WasCancelled && !cancelled) {
		result := a.Result
		if upd.Result != nil {
			result = *upd.Result
		}
		if err := checkResult(pr, t, result, cancelled); err != nil {
			return err
		}
	}
	updated, err := s.Annotations.UpdateAnnotation(r.Context(), p.OrgID, a.ID, upd)
	if err != nil {
		return err
	}
	s.Storage.Kick()
	s.dropDraftOf(r, p, a)
	writeJSON(w, http.StatusOK, updated)
	return nil
}

func (s *Server) handleAnnotationDelete(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	a, _, _, err := s.annotationFromPath(r, p, authz.AnnotationDelete)
	if err != nil {
		return err
	}
	if err := s.Annotations.DeleteAnnotation(r.Context(), p.OrgID, a.ID); err != nil {
		return err
	}
	s.Storage.Kick() // the store may have queued deletions of exported objects
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleExportFormats lists the export formats, as Label Studio does.
func (s *Server) handleExportFormats(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if _, err := s.projectFromPath(r, p, authz.Export); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, labeling.ExportFormats)
	return nil
}

// handleProjectExport streams an export: ?exportType=JSON|JSON_MIN|CSV,
// download_all_tasks=true for tasks without annotations too, ids=1,2,3 for
// some tasks only. Nothing is buffered: tasks are read in chunks and
// written as they come.
func (s *Server) handleProjectExport(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.Export)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	format := q.Get("exportType")
	if format == "" {
		format = q.Get("export_type")
	}
	if format == "" {
		format = "JSON"
	}
	f := glossa.ExportFilter{OrgID: p.OrgID, ProjectID: pr.ID, OnlyAnnotated: true}
	if v := q.Get("download_all_tasks"); v != "" {
		all, err := strconv.ParseBool(v)
		if err != nil {
			return glossa.Errorf(glossa.EINVALID, "download_all_tasks must be true or false.")
		}
		f.OnlyAnnotated = !all
	}
	for _, v := range q["ids"] {
		id, err := parseID("ids", v)
		if err != nil {
			return err
		}
		f.IDs = append(f.IDs, id)
	}
	// A federated person exports only what they may see.
	if f.Visibility, err = s.taskVisibility(r.Context(), p, pr.ID); err != nil {
		return err
	}
	return s.streamExport(w, r, pr, format, f)
}

// streamExport writes the tasks f selects in format, as a download.
// Nothing is buffered: tasks are read in chunks and written as they come.
func (s *Server) streamExport(w http.ResponseWriter, r *http.Request, pr *glossa.Project, format string, f glossa.ExportFilter) error {
	// The writer is made before anything is sent, so an unknown format is
	// still a clean 400.
	ew, err := labeling.NewExportWriter(format, w)
	if err != nil {
		return err
	}
	name := "project-" + idString(pr.ID) + "-at-" + s.Now().UTC().Format("2006-01-02-15-04-05") + ew.Extension()
	w.Header().Set("Content-Type", ew.ContentType())
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	lastFlush := time.Now()
	err = s.Tasks.ExportTasks(r.Context(), f, func(t *glossa.Task) error {
		if err := ew.Write(t); err != nil {
			return err
		}
		if time.Since(lastFlush) > 500*time.Millisecond {
			lastFlush = time.Now()
			_ = rc.Flush()
		}
		return nil
	})
	if err == nil {
		err = ew.Close()
	}
	if err != nil {
		// The status is sent: the only honest signal left is to cut the
		// connection, so the client sees a broken download, not a short one.
		s.Logger.ErrorContext(r.Context(), "export failed midway", "project", pr.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}
