package web

// The data manager: the project page's task table, with columns from the
// task data, filters, sorting and cursor pages (glossa.LabelingService's
// QueryTasks), and actions on the selected tasks (label, export, delete).
// It is plain HTML: links sort and page, a GET form filters, a POST form
// acts on the ticked rows. app.js only adds "select all".

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
	"github.com/glossa-dev/glossa/labeling"
)

// tasksPerPage is how many tasks a page of the data manager lists.
const tasksPerPage = 100

type dataManager struct {
	Base string // the project page
	// Scope words what the person sees: "" (every task), "review" (tasks
	// with annotations) or "own" (tasks they annotated).
	Scope   string
	Headers []dmHeader
	Rows    []dmRow
	// Keys are the data fields shown as columns.
	Keys                []string
	Total               int64
	TotalAtLeast        bool
	Filtered            bool
	NextPage, FirstPage string
	Filter              dmForm
	Reviews, Annotated  []option
	Annotators, Fields  []option
	CanLabel, CanDelete bool
	Formats             []string // export formats, when the person may export
}

// dmHeader is a column heading; Href sorts by it when set.
type dmHeader struct {
	Label, Href, Class string
	Sort               string // "ascending" or "descending" when the table is sorted by it
}

type dmRow struct {
	ID                       int64
	Href                     string
	Cells                    []string
	Annotations, Predictions int
	Annotators               string
	ReviewState              string
	Created, Updated         string
}

// dmForm holds the data manager's URL parameters.
type dmForm struct {
	Order, Cursor, Review, Annotated, Annotator, Field, Q string
}

func readDMForm(q url.Values) dmForm {
	return dmForm{Order: q.Get("order"), Cursor: q.Get("cursor"), Review: q.Get("review"), Annotated: q.Get("annotated"),
		Annotator: q.Get("annotator"), Field: q.Get("field"), Q: strings.TrimSpace(q.Get("q"))}
}

// values returns the form as URL parameters, without the cursor.
func (f dmForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"order": f.Order, "review": f.Review, "annotated": f.Annotated, "annotator": f.Annotator, "field": f.Field, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Q == "" {
		v.Del("field")
	}
	return v
}

// filters turns the form into data manager filters.
func (f dmForm) filters() ([]glossa.DataManagerFilter, error) {
	var out []glossa.DataManagerFilter
	add := func(col glossa.DataManagerColumn, op string, v any) {
		b, _ := json.Marshal(v)
		out = append(out, glossa.DataManagerFilter{Column: col, Operator: op, Value: b})
	}
	switch f.Review {
	case "":
	case "accepted", "rejected", "none":
		add(glossa.ColumnReviewState, "equal", f.Review)
	default:
		return nil, glossa.Errorf(glossa.EINVALID, "review must be accepted, rejected or none.")
	}
	switch f.Annotated {
	case "":
	case "yes":
		add(glossa.ColumnAnnotations, "greater", 0)
	case "no":
		add(glossa.ColumnAnnotations, "equal", 0)
	default:
		return nil, glossa.Errorf(glossa.EINVALID, "annotated must be yes or no.")
	}
	if f.Annotator != "" {
		id, err := parseID("annotator", f.Annotator)
		if err != nil {
			return nil, err
		}
		add(glossa.ColumnAnnotators, "in", []int64{id})
	}
	if f.Q != "" {
		if f.Field == "" {
			return nil, glossa.Errorf(glossa.EINVALID, "Choose the field to search in.")
		}
		add(glossa.DataManagerColumn("data."+f.Field), "contains", f.Q)
	}
	return out, nil
}

// dataManager builds the project page's task table for p.
func (s *Server) dataManager(r *http.Request, p *glossa.Principal, pr *glossa.Project) (*dataManager, error) {
	ctx := r.Context()
	res := projectResource(pr)
	base := "/projects/" + idString(pr.ID)
	form := readDMForm(r.URL.Query())
	dm := &dataManager{Base: base, Filter: form,
		CanLabel:  authz.Can(p, authz.AnnotationCreate, res) == authz.Allow,
		CanDelete: authz.Can(p, authz.TaskDelete, res) == authz.Allow,
	}
	if authz.Can(p, authz.Export, res) == authz.Allow {
		dm.Formats = []string{"JSON", "JSON_MIN", "CSV"}
	}
	dm.Scope = roleScope(p, pr)
	if cfg, err := labeling.ParseConfig(pr.LabelConfig); err == nil {
		dm.Keys = cfg.DataKeys()
	}

	q := glossa.DataManagerQuery{Limit: tasksPerPage, Cursor: form.Cursor}
	order, desc := strings.CutPrefix(form.Order, "-")
	if order != "" {
		q.OrderBy, q.Descending = glossa.DataManagerColumn(order), desc
	}
	var err error
	if q.Filters, err = form.filters(); err != nil {
		return nil, err
	}
	dm.Filtered = len(q.Filters) > 0
	page, err := s.queryTasks(ctx, p, pr, q)
	if err != nil {
		return nil, err
	}
	dm.Total, dm.TotalAtLeast = page.Total, page.TotalAtLeast

	// Headings: each sorts by its column, the current one the other way.
	params := form.values()
	sortBy := func(label, col, class string) dmHeader {
		h := dmHeader{Label: label, Class: class}
		v := cloneValues(params)
		next := col
		if order == col || (order == "" && col == "id") {
			h.Sort = "ascending"
			if desc {
				h.Sort = "descending"
			} else {
				next = "-" + col
			}
		}
		v.Set("order", next)
		h.Href = base + "?" + v.Encode() + "#data-manager"
		return h
	}
	dm.Headers = append(dm.Headers, sortBy("ID", "id", "num"))
	for _, k := range dm.Keys {
		dm.Headers = append(dm.Headers, sortBy(k, "data."+k, ""))
		dm.Fields = append(dm.Fields, option{Value: k, Label: k, Selected: form.Field == k})
	}
	if len(dm.Keys) == 0 {
		dm.Headers = append(dm.Headers, dmHeader{Label: "Data"})
	}
	dm.Headers = append(dm.Headers, sortBy("Annotations", string(glossa.ColumnAnnotations), "num"),
		sortBy("Predictions", string(glossa.ColumnPredictions), "num"), dmHeader{Label: "Annotators"},
		sortBy("Review", string(glossa.ColumnReviewState), ""), sortBy("Created", string(glossa.ColumnCreatedAt), ""),
		sortBy("Updated", string(glossa.ColumnUpdatedAt), ""))

	emails := s.emailCache(ctx, p)
	for _, row := range page.Rows {
		dm.Rows = append(dm.Rows, dmRowFor(base, row, dm.Keys, emails))
	}
	if page.NextCursor != "" {
		v := cloneValues(params)
		v.Set("cursor", page.NextCursor)
		dm.NextPage = base + "?" + v.Encode() + "#data-manager"
	}
	if form.Cursor != "" {
		dm.FirstPage = base + "?" + params.Encode() + "#data-manager"
	}

	dm.Reviews = options(form.Review, "", "Any review state", "none", "Not reviewed", "accepted", "Accepted", "rejected", "Rejected")
	dm.Annotated = options(form.Annotated, "", "With or without annotations", "yes", "With annotations", "no", "Without annotations")
	if authz.Can(p, authz.MembersView, authz.Resource{OrgID: p.OrgID}) == authz.Allow {
		members, _, err := s.Members.FindMembers(ctx, glossa.MemberFilter{OrgID: p.OrgID, Limit: 1000})
		if err != nil {
			return nil, err
		}
		dm.Annotators = options(form.Annotator, "", "Anyone")
		for _, m := range members {
			v := idString(m.ID)
			dm.Annotators = append(dm.Annotators, option{Value: v, Label: m.Email, Selected: v == form.Annotator})
		}
	}
	return dm, nil
}

// options makes <select> options from value, label pairs.
func options(current string, pairs ...string) []option {
	var out []option
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, option{Value: pairs[i], Label: pairs[i+1], Selected: pairs[i] == current})
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// emailCache returns a lookup of members' emails that asks the store once
// per person and request.
func (s *Server) emailCache(ctx context.Context, p *glossa.Principal) func(int64) string {
	emails := map[int64]string{}
	return func(id int64) string {
		if e, ok := emails[id]; ok {
			return e
		}
		e := "member " + idString(id)
		if m, err := s.Members.FindMemberByID(ctx, p.OrgID, id); err == nil {
			e = m.Email
		}
		emails[id] = e
		return e
	}
}

func dmRowFor(base string, row glossa.TaskRow, keys []string, email func(int64) string) dmRow {
	out := dmRow{ID: row.ID, Href: base + "/label/" + idString(row.ID), Annotations: row.TotalAnnotations,
		Predictions: row.TotalPredictions, ReviewState: string(row.ReviewState),
		Created: formatTime(row.CreatedAt), Updated: formatTime(row.UpdatedAt)}
	if len(keys) == 0 {
		out.Cells = []string{preview(string(row.Data), 160)}
	} else {
		var data map[string]json.RawMessage
		_ = json.Unmarshal(row.Data, &data)
		for _, k := range keys {
			cell := ""
			if raw, ok := data[k]; ok {
				if json.Unmarshal(raw, &cell) != nil {
					cell = string(raw)
				}
			}
			out.Cells = append(out.Cells, preview(cell, 120))
		}
	}
	names := make([]string, len(row.Annotators))
	for i, id := range row.Annotators {
		names[i] = email(id)
	}
	out.Annotators = strings.Join(names, ", ")
	return out
}

// handleUITasksSelected acts on the tasks ticked in the data manager:
// action=label opens them one after the other, action=export downloads
// them (exportType), action=delete deletes them. Only tasks the person
// may see are acted on.
func (s *Server) handleUITasksSelected(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.TaskView)
	if err != nil {
		return err
	}
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	var ids []int64
	for _, v := range r.PostForm["ids"] {
		id, err := parseID("ids", v)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return glossa.Errorf(glossa.EINVALID, "No task is selected: tick the tasks first, then choose what to do with them.")
	}
	base := "/projects/" + idString(pr.ID)
	res := projectResource(pr)
	switch r.PostForm.Get("action") {
	case "label":
		if err := authz.Check(p, authz.AnnotationCreate, res); err != nil {
			return err
		}
		target := base + "/label/" + idString(ids[0])
		if len(ids) > 1 {
			rest := make([]string, len(ids)-1)
			for i, id := range ids[1:] {
				rest[i] = idString(id)
			}
			target += "?queue=" + url.QueryEscape(strings.Join(rest, ","))
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	case "export":
		if err := authz.Check(p, authz.Export, res); err != nil {
			return err
		}
		visible, err := s.visibleTaskIDs(r, p, pr, ids)
		if err != nil {
			return err
		}
		format := r.PostForm.Get("exportType")
		if format == "" {
			format = "JSON"
		}
		// No ID visible would export everything: refuse instead.
		if len(visible) == 0 {
			return glossa.NotFound("Task")
		}
		return s.streamExport(w, r, pr, format, glossa.ExportFilter{OrgID: p.OrgID, ProjectID: pr.ID, IDs: visible})
	case "delete":
		if err := authz.Check(p, authz.TaskDelete, res); err != nil {
			return err
		}
		n, err := s.deleteSelected(r.Context(), p, pr, ids)
		if n > 0 {
			s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "tasks.delete", Outcome: glossa.OutcomeSuccess,
				TargetType: "project", TargetID: idString(pr.ID), Detail: map[string]any{"tasks": n}})
		}
		if err != nil {
			return err
		}
		http.Redirect(w, r, base+"?notice=tasks-deleted#data-manager", http.StatusSeeOther)
	default:
		return glossa.Errorf(glossa.EINVALID, "Choose what to do with the selected tasks: label, export or delete.")
	}
	return nil
}

// visibleTaskIDs returns those of ids that p may see in pr, in order.
func (s *Server) visibleTaskIDs(r *http.Request, p *glossa.Principal, pr *glossa.Project, ids []int64) ([]int64, error) {
	var out []int64
	err := s.walkTasks(r.Context(), p, pr, selectedSets(ids), func(page []int64) error {
		out = append(out, page...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// formatCount shows a total, "10,000+" when it is a lower bound.
func formatCount(n int64, atLeast bool) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if atLeast {
		s += "+"
	}
	return s
}
