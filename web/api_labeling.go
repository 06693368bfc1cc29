package web

// The API of labeling work, at Label Studio's paths where it has them:
// drafts (/api/tasks/{id}/drafts, and /api/tasks/{id}/draft for the one
// draft a person keeps per task), the next task to label
// (/api/projects/{id}/next), reviews (/api/annotations/{id}/reviews), the
// data manager's listing (/api/tasks?project=&query=, the query Label
// Studio's data manager and SDK send) and its bulk delete
// (/api/dm/actions?id=delete_tasks). A skip is Label Studio's: an
// annotation with was_cancelled=true.

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
	"github.com/glossa-dev/glossa/labeling"
)

// DefaultTaskLease is how long "next task" holds a task for the person it
// hands it to. Saving a draft renews it, so it only has to outlast a
// pause; when it expires the task goes to the next person who asks.
const DefaultTaskLease = 15 * time.Minute

// noLabeling is the LabelingService of a server built without one.
type noLabeling struct{}

var errNoLabeling = glossa.Errorf(glossa.EUNAVAILABLE, "Labeling work is not configured on this server.")

func (noLabeling) SaveDraft(context.Context, *glossa.Draft) error { return errNoLabeling }
func (noLabeling) FindDraft(context.Context, int64, int64, int64) (*glossa.Draft, error) {
	return nil, glossa.NotFound("Draft")
}
func (noLabeling) DeleteDraft(context.Context, int64, int64, int64) error { return errNoLabeling }
func (noLabeling) NextTask(context.Context, glossa.NextTaskRequest) (*glossa.Task, error) {
	return nil, errNoLabeling
}
func (noLabeling) ReleaseTask(context.Context, int64, int64, int64) error { return errNoLabeling }
func (noLabeling) CreateReview(context.Context, *glossa.Review) error     { return errNoLabeling }
func (noLabeling) FindReviews(context.Context, int64, int64) ([]glossa.Review, error) {
	return []glossa.Review{}, nil
}
func (noLabeling) QueryTasks(context.Context, glossa.DataManagerQuery) (*glossa.DataManagerPage, error) {
	return nil, errNoLabeling
}
func (noLabeling) DeleteTasks(context.Context, int64, int64, []int64) (int64, error) {
	return 0, errNoLabeling
}

// draftRequest is the body of a draft, as Label Studio's editor sends it.
type draftRequest struct {
	Result     *json.RawMessage `json:"result"`
	LeadTime   *float64         `json:"lead_time"`
	Annotation *int64           `json:"annotation"`
	// Sent by Label Studio's editor; accepted and ignored.
	Task         json.RawMessage `json:"task"`
	Project      json.RawMessage `json:"project"`
	WasPostponed json.RawMessage `json:"was_postponed"`
	DraftID      json.RawMessage `json:"draft_id"`
}

// isResultList reports whether raw is a JSON list of objects: all a draft
// must be. A draft is work in progress, so it is not checked against the
// configuration (a required answer may still be missing); the annotation
// it becomes is.
func isResultList(raw json.RawMessage) bool {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || items == nil {
		return false
	}
	for _, it := range items {
		if len(it) == 0 || it[0] != '{' {
			return false
		}
	}
	return true
}

// handleDraftList lists the caller's drafts of a task (Label Studio's
// GET /api/tasks/{id}/drafts): none or one.
func (s *Server) handleDraftList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	t, _, err := s.taskFromPath(r, p, authz.AnnotationCreate)
	if err != nil {
		return err
	}
	list := []glossa.Draft{}
	d, err := s.Labeling.FindDraft(r.Context(), p.OrgID, t.ID, p.UserID)
	switch {
	case err == nil:
		list = append(list, *d)
	case glossa.ErrorCode(err) != glossa.ENOTFOUND:
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// handleDraftGet returns the caller's draft of a task, 404 if none.
func (s *Server) handleDraftGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	t, _, err := s.taskFromPath(r, p, authz.AnnotationCreate)
	if err != nil {
		return err
	}
	d, err := s.Labeling.FindDraft(r.Context(), p.OrgID, t.ID, p.UserID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// handleDraftSave creates or replaces the caller's draft of a task (PUT
// .../draft answers 200, Label Studio's POST .../drafts 201). Saving a
// draft renews the caller's lease on the task.
func (s *Server) handleDraftSave(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	t, pr, err := s.taskFromPath(r, p, authz.AnnotationCreate)
	if err != nil {
		return err
	}
	var req draftRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Result == nil || !isResultList(*req.Result) {
		return glossa.Errorf(glossa.EINVALID, "result is required: a list of Label Studio result objects ([] for none).")
	}
	d := &glossa.Draft{OrgID: p.OrgID, TaskID: t.ID, UserID: p.UserID, Result: *req.Result}
	if req.LeadTime != nil {
		if *req.LeadTime < 0 || *req.LeadTime > 1e9 {
			return glossa.Errorf(glossa.EINVALID, "lead_time must be a number of seconds, 0 or more.")
		}
		d.LeadTime = *req.LeadTime
	}
	if req.Annotation != nil {
		// A draft of changes to an annotation: only of one the caller may
		// change, on this task.
		a, err := s.Annotations.FindAnnotationByID(r.Context(), p.OrgID, *req.Annotation)
		if err != nil {
			return err
		}
		res := projectResource(pr)
		res.OwnerID = a.CompletedBy
		if a.TaskID != t.ID {
			return glossa.Errorf(glossa.EINVALID, "annotation %d is not an annotation of task %d.", a.ID, t.ID)
		}
		if err := authz.Check(p, authz.AnnotationUpdate, res); err != nil {
			return err
		}
		d.AnnotationID = &a.ID
	}
	if err := s.Labeling.SaveDraft(r.Context(), d); err != nil {
		return err
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	writeJSON(w, status, d)
	return nil
}

// handleDraftDelete deletes the caller's draft of a task.
func (s *Server) handleDraftDelete(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	t, _, err := s.taskFromPath(r, p, authz.AnnotationCreate)
	if err != nil {
		return err
	}
	if err := s.Labeling.DeleteDraft(r.Context(), p.OrgID, t.ID, p.UserID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// dropDraftOf deletes the caller's draft of changes to a, once a is
// saved. A failure only leaves a stale draft, so it is logged, not
// returned. (The store drops drafts of new annotations itself, when one
// is created.)
func (s *Server) dropDraftOf(r *http.Request, p *glossa.Principal, a *glossa.Annotation) {
	ctx := r.Context()
	d, err := s.Labeling.FindDraft(ctx, p.OrgID, a.TaskID, p.UserID)
	if err != nil || d.AnnotationID == nil || *d.AnnotationID != a.ID {
		if err != nil && glossa.ErrorCode(err) != glossa.ENOTFOUND {
			s.Logger.WarnContext(ctx, "looking for the draft of a saved annotation", "annotation", a.ID, "err", err)
		}
		return
	}
	if err := s.Labeling.DeleteDraft(ctx, p.OrgID, a.TaskID, p.UserID); err != nil && glossa.ErrorCode(err) != glossa.ENOTFOUND {
		s.Logger.WarnContext(ctx, "deleting the draft of a saved annotation", "annotation", a.ID, "err", err)
	}
}

// nextTask hands the caller the next task of pr to label, leased to them.
func (s *Server) nextTask(ctx context.Context, p *glossa.Principal, pr *glossa.Project) (*glossa.Task, error) {
	vis, err := s.taskVisibility(ctx, p, pr.ID)
	if err != nil {
		return nil, err
	}
	return s.Labeling.NextTask(ctx, glossa.NextTaskRequest{
		OrgID: p.OrgID, ProjectID: pr.ID, UserID: p.UserID, Lease: s.TaskLease, Now: s.Now(), Visibility: vis,
	})
}

// handleNextTask is Label Studio's GET /api/projects/{id}/next: the task
// the caller should label next, held for them (nobody else is handed it
// until they submit, skip or the lease expires); 404 when none is left.
func (s *Server) handleNextTask(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.AnnotationCreate)
	if err != nil {
		return err
	}
	t, err := s.nextTask(r.Context(), p, pr)
	if err != nil {
		return err
	}
	rewriteMediaURLs(t)
	writeJSON(w, http.StatusOK, t)
	return nil
}

// reviewRequest is a reviewer's verdict.
type reviewRequest struct {
	Accepted *bool  `json:"accepted"`
	Comment  string `json:"comment"`
	// Label Studio Enterprise's review body names the annotation too; the
	// path does here, so it is accepted and ignored.
	Annotation json.RawMessage `json:"annotation"`
}

// handleReviewCreate records a verdict on an annotation: POST
// /api/annotations/{id}/reviews {"accepted": true|false, "comment": "..."}.
// Reviewers and up may review, but nobody their own annotation, and a skip
// has nothing to review.
func (s *Server) handleReviewCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	a, _, _, err := s.annotationFromPath(r, p, authz.Review)
	if err != nil {
		return err
	}
	var req reviewRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Accepted == nil {
		return glossa.Errorf(glossa.EINVALID, "accepted is required: true to accept the annotation, false to reject it.")
	}
	if a.CompletedBy == p.UserID {
		return glossa.Errorf(glossa.EFORBIDDEN, "You cannot review your own annotation: another reviewer must.")
	}
	if a.WasCancelled {
		return glossa.Errorf(glossa.ECONFLICT, "This annotation is a skip: there is nothing to review.")
	}
	rv := &glossa.Review{OrgID: p.OrgID, AnnotationID: a.ID, ReviewerID: p.UserID, Accepted: *req.Accepted, Comment: strings.TrimSpace(req.Comment)}
	if err := s.Labeling.CreateReview(r.Context(), rv); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rv)
	return nil
}

// handleReviewList lists an annotation's reviews, oldest first, to anyone
// who may see the annotation: its author sees the verdicts on their work.
func (s *Server) handleReviewList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	a, _, _, err := s.annotationFromPath(r, p, authz.TaskView)
	if err != nil {
		return err
	}
	list, err := s.Labeling.FindReviews(r.Context(), p.OrgID, a.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// dmQuery is Label Studio's data manager query: what its data manager and
// its SDK send as the JSON of ?query= on /api/tasks, and in the body of
// /api/dm/actions.
type dmQuery struct {
	Filters *struct {
		Conjunction string     `json:"conjunction"`
		Items       []dmFilter `json:"items"`
	} `json:"filters"`
	Ordering      []string         `json:"ordering"`
	SelectedItems *dmSelectedItems `json:"selectedItems"`
}

// dmFilter is one filter item: Label Studio names columns
// "filter:tasks:<column>"; the bare column name works too.
type dmFilter struct {
	Filter   string          `json:"filter"`
	Operator string          `json:"operator"`
	Type     string          `json:"type"` // Label Studio's column type; the column says it already
	Value    json.RawMessage `json:"value"`
}

// dmSelectedItems are the rows ticked in the data manager: the listed
// ones, or all but the excluded ones.
type dmSelectedItems struct {
	All      bool    `json:"all"`
	Included []int64 `json:"included"`
	Excluded []int64 `json:"excluded"`
}

// column turns Label Studio's column names ("filter:tasks:data.text",
// "tasks:id") into Glossa's ("data.text", "id").
func column(name string) glossa.DataManagerColumn {
	name = strings.TrimPrefix(name, "filter:")
	name = strings.TrimPrefix(name, "tasks:")
	return glossa.DataManagerColumn(name)
}

// idsFilter is the filter "id in ids" (or not in, when out).
func idsFilter(ids []int64, out bool) glossa.DataManagerFilter {
	op := "in"
	if out {
		op = "not_in"
	}
	b, _ := json.Marshal(ids)
	return glossa.DataManagerFilter{Column: glossa.ColumnID, Operator: op, Value: b}
}

// filters returns the query's filters, selection included. Only "and"
// joins filters here: a view's filters must all hold.
func (q *dmQuery) filters() ([]glossa.DataManagerFilter, error) {
	var out []glossa.DataManagerFilter
	if q.Filters != nil {
		if c := strings.ToLower(q.Filters.Conjunction); c != "" && c != "and" {
			return nil, glossa.Errorf(glossa.EINVALID, "Filters can only be joined with \"and\": a task must match all of them.")
		}
		for _, it := range q.Filters.Items {
			out = append(out, glossa.DataManagerFilter{Column: column(it.Filter), Operator: it.Operator, Value: it.Value})
		}
	}
	if sel := q.SelectedItems; sel != nil {
		switch {
		case !sel.All:
			out = append(out, idsFilter(sel.Included, false))
		case len(sel.Excluded) > 0:
			out = append(out, idsFilter(sel.Excluded, true))
		}
	}
	return out, nil
}

// order returns the query's sort: one column, "-" in front for
// descending.
func (q *dmQuery) order() (glossa.DataManagerColumn, bool, error) {
	switch len(q.Ordering) {
	case 0:
		return glossa.ColumnID, false, nil
	case 1:
		name, desc := strings.CutPrefix(q.Ordering[0], "-")
		return column(name), desc, nil
	}
	return "", false, glossa.Errorf(glossa.EINVALID, "ordering takes one column, such as [\"-tasks:created_at\"].")
}

// parseDMQuery reads a data manager query; "" is the empty query.
func parseDMQuery(s string) (*dmQuery, error) {
	q := &dmQuery{}
	if s == "" {
		return q, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(q); err != nil {
		return nil, glossa.Errorf(glossa.EINVALID, "query must be Label Studio's data manager query: JSON such as {\"filters\": {\"conjunction\": \"and\", \"items\": [...]}, \"ordering\": [\"-tasks:id\"]}.")
	}
	return q, nil
}

// roleScope says which tasks the data manager shows p, by their role in
// the project: "" (Managers and up: every task), "review" (Reviewers: the
// tasks that have annotations, what there is to review) or "own"
// (Annotators: the tasks they annotated or skipped; new work comes to them
// from "next task").
func roleScope(p *glossa.Principal, pr *glossa.Project) string {
	res := projectResource(pr)
	switch {
	case authz.Can(p, authz.ProjectUpdate, res) == authz.Allow:
		return ""
	case authz.Can(p, authz.Review, res) == authz.Allow:
		return "review"
	}
	return "own"
}

// dmScope narrows the data manager to what the caller's role in the
// project is for (see roleScope). Per-person storage visibility applies
// on top, to everyone.
func dmScope(p *glossa.Principal, pr *glossa.Project) []glossa.DataManagerFilter {
	switch roleScope(p, pr) {
	case "":
		return nil
	case "review":
		return []glossa.DataManagerFilter{{Column: glossa.ColumnAnnotations, Operator: "greater", Value: json.RawMessage("0")}}
	}
	return []glossa.DataManagerFilter{{Column: glossa.ColumnAnnotators, Operator: "in", Value: json.RawMessage("[" + strconv.FormatInt(p.UserID, 10) + "]")}}
}

// queryTasks runs a data manager query for p: their role's scope and
// their storage visibility are added to the filters.
func (s *Server) queryTasks(ctx context.Context, p *glossa.Principal, pr *glossa.Project, q glossa.DataManagerQuery) (*glossa.DataManagerPage, error) {
	vis, err := s.taskVisibility(ctx, p, pr.ID)
	if err != nil {
		return nil, err
	}
	return s.queryVisibleTasks(ctx, p, pr, q, vis)
}

// queryVisibleTasks is queryTasks with p's storage visibility already
// decided (by taskVisibility), for walking many pages of one action.
func (s *Server) queryVisibleTasks(ctx context.Context, p *glossa.Principal, pr *glossa.Project, q glossa.DataManagerQuery, vis *glossa.TaskVisibility) (*glossa.DataManagerPage, error) {
	q.OrgID, q.ProjectID = p.OrgID, pr.ID
	q.Filters = append(slices.Clip(q.Filters), dmScope(p, pr)...)
	q.Visibility = vis
	return s.Labeling.QueryTasks(ctx, q)
}

// walkTasks calls fn with the IDs on each page of the tasks of pr that
// p may see and one of the filter sets selects (each set is a query of
// its own, walked by cursor), deciding p's storage visibility once for
// them all. It stops at the first error.
func (s *Server) walkTasks(ctx context.Context, p *glossa.Principal, pr *glossa.Project, sets [][]glossa.DataManagerFilter, fn func(ids []int64) error) error {
	if len(sets) == 0 {
		return nil
	}
	vis, err := s.taskVisibility(ctx, p, pr.ID)
	if err != nil {
		return err
	}
	for _, filters := range sets {
		q := glossa.DataManagerQuery{Filters: filters, Limit: 1000}
		for {
			page, err := s.queryVisibleTasks(ctx, p, pr, q, vis)
			if err != nil {
				return err
			}
			ids := make([]int64, len(page.Rows))
			for i, row := range page.Rows {
				ids[i] = row.ID
			}
			if err := fn(ids); err != nil {
				return err
			}
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
		}
	}
	return nil
}

// selectedSets splits a selection of task IDs into filter sets of at most
// maxSelectedIDs IDs each, for walkTasks.
func selectedSets(ids []int64) [][]glossa.DataManagerFilter {
	var sets [][]glossa.DataManagerFilter
	for start := 0; start < len(ids); start += maxSelectedIDs {
		sets = append(sets, []glossa.DataManagerFilter{idsFilter(ids[start:min(len(ids), start+maxSelectedIDs)], false)})
	}
	return sets
}

// handleTaskQuery is the data manager's listing: GET /api/tasks?project=ID
// &query=<Label Studio's query JSON>&page_size=N&cursor=C. Pages go by
// cursor (next_cursor of the previous page), so that a page deep into a
// million tasks costs what the first does; page=N beyond the first is
// refused.
func (s *Server) handleTaskQuery(w http.ResponseWriter, r *http.Request, p *glossa.Principal, pr *glossa.Project) error {
	qs := r.URL.Query()
	q, err := parseDMQuery(qs.Get("query"))
	if err != nil {
		return err
	}
	page, size, err := pageParams(r)
	if err != nil {
		return err
	}
	if page > 1 {
		return glossa.Errorf(glossa.EINVALID, "With a query, pages go by cursor: pass next_cursor of the previous page as cursor=, not page=.")
	}
	dq := glossa.DataManagerQuery{Limit: size, Cursor: qs.Get("cursor")}
	if dq.Filters, err = q.filters(); err != nil {
		return err
	}
	if dq.OrderBy, dq.Descending, err = q.order(); err != nil {
		return err
	}
	res, err := s.queryTasks(r.Context(), p, pr, dq)
	if err != nil {
		return err
	}
	if res.Rows == nil {
		res.Rows = []glossa.TaskRow{}
	}
	for i := range res.Rows {
		rewriteMediaURLs(&res.Rows[i].Task)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// deleteTasks deletes the tasks of pr that one of the filter sets selects
// and p may see (their role's scope and storage visibility apply, as in
// the listing), a page at a time, and returns how many it deleted.
func (s *Server) deleteTasks(ctx context.Context, p *glossa.Principal, pr *glossa.Project, sets ...[]glossa.DataManagerFilter) (int64, error) {
	var deleted int64
	err := s.walkTasks(ctx, p, pr, sets, func(ids []int64) error {
		if len(ids) == 0 {
			return nil
		}
		n, err := s.Labeling.DeleteTasks(ctx, p.OrgID, pr.ID, ids)
		deleted += n
		if n > 0 {
			s.Storage.Kick() // the store may have queued deletions of exported objects
		}
		return err
	})
	return deleted, err
}

// maxSelectedIDs bounds one filter's ID list (the store's limit).
const maxSelectedIDs = 10_000

// deleteSelected deletes the listed tasks of pr that p may see.
func (s *Server) deleteSelected(ctx context.Context, p *glossa.Principal, pr *glossa.Project, ids []int64) (int64, error) {
	return s.deleteTasks(ctx, p, pr, selectedSets(ids)...)
}

// handleDMAction runs a data manager action, Label Studio's POST
// /api/dm/actions?id=<action>&project=ID with {"selectedItems": ...} and
// the view's filters. The one action is delete_tasks.
func (s *Server) handleDMAction(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	qs := r.URL.Query()
	projectID, err := parseID("project", qs.Get("project"))
	if err != nil {
		return err
	}
	pr, err := s.projectByID(r, p, projectID, authz.TaskDelete)
	if err != nil {
		return err
	}
	if action := qs.Get("id"); action != "delete_tasks" {
		return glossa.Errorf(glossa.EINVALID, "Unknown action %q: the data manager's action here is delete_tasks.", truncate(action, 60))
	}
	var body struct {
		dmQuery
		Project json.RawMessage `json:"project"` // Label Studio's frontend repeats it
	}
	if err := decodeJSON(r, s.MaxBodyBytes, &body); err != nil {
		return err
	}
	sel := body.SelectedItems
	if sel == nil || (!sel.All && len(sel.Included) == 0) {
		return glossa.Errorf(glossa.EINVALID, "selectedItems is required: {\"all\": false, \"included\": [task IDs]}, or {\"all\": true, \"excluded\": [...]} with the view's filters.")
	}
	var n int64
	if !sel.All {
		n, err = s.deleteSelected(r.Context(), p, pr, sel.Included)
	} else {
		var filters []glossa.DataManagerFilter
		if filters, err = body.filters(); err == nil {
			n, err = s.deleteTasks(r.Context(), p, pr, filters)
		}
	}
	if n > 0 {
		s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "tasks.delete", Outcome: glossa.OutcomeSuccess,
			TargetType: "project", TargetID: idString(pr.ID), Detail: map[string]any{"tasks": n}})
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"processed_items": n, "detail": "Deleted " + strconv.FormatInt(n, 10) + " tasks"})
	return nil
}

// handleTemplateList lists the labeling templates a project can start
// from (Label Studio's GET /api/templates).
func (s *Server) handleTemplateList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"templates": labeling.Templates})
	return nil
}
