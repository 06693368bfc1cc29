package web

// The labeling page: a project's labeling configuration rendered for one
// task, server-side, with one small script (static/label.js) for what a
// form cannot do (spans, boxes, hotkeys, drafts). Nothing from the task
// runs: text is escaped by html/template, HyperText goes through
// sanitizeHTML, image addresses must be http(s), data:image or storage
// references, and the script reads its data from a JSON block (not
// executable) under a CSP without 'unsafe-inline'.

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
	"github.com/glossa-dev/glossa/labeling"
)

// labelBlock is one entry of the page, in the configuration's order.
type labelBlock struct {
	Header  string
	Object  *objectView
	Control *controlView
}

// objectView is an object tag with its task data.
type objectView struct {
	Tag, Name string
	Text      string        // Text: the text (label.js re-renders it from the page data)
	HTML      template.HTML // HyperText: sanitized
	Image     string        // Image: an address the browser may load
	Problem   string        // why the data cannot be shown, if it cannot
}

// controlView is a control tag as the page shows it.
type controlView struct {
	Tag, Name, ToName, Type, Choice string
	Required, PerRegion             bool
	Options                         []optionView
	Ratings                         []int
	Placeholder                     string
	Rows                            int
	// Unsupported says why the page cannot answer this control (spans on
	// HTML); its answers are kept as they are.
	Unsupported string
}

type optionView struct {
	Value, Text, Hotkey, Color string
}

// annotationView is an annotation in the page's list.
type annotationView struct {
	ID          int64
	Author      string
	Mine        bool
	Cancelled   bool
	UpdatedAt   string
	ReviewState glossa.ReviewState
	Reviews     []reviewView
	Href        string
	Current     bool
}

type reviewView struct {
	Reviewer, At, Comment string
	Accepted              bool
}

// labelPayload is what label.js reads from the page's JSON block.
type labelPayload struct {
	Project int64 `json:"project"`
	Task    int64 `json:"task"`
	// Texts are the Text objects' texts, exactly (the HTML parser would
	// turn \r\n into \n, and span offsets count the original).
	Texts map[string]string `json:"texts"`
	// Start is the result the editor opens with, and StartFrom where it
	// comes from: "draft", "annotation", "prediction" or "".
	Start     json.RawMessage `json:"start"`
	StartFrom string          `json:"start_from"`
	// Annotation is the annotation being edited, 0 for a new one.
	Annotation  int64               `json:"annotation"`
	LeadTime    float64             `json:"lead_time"`
	Predictions []glossa.Prediction `json:"predictions"`
	CanEdit     bool                `json:"can_edit"`
	// After is where to go once the work is submitted or skipped.
	After string `json:"after"`
}

type labelPageData struct {
	Project     *glossa.Project
	Task        *glossa.Task
	Blocks      []labelBlock
	ConfigError string
	Annotations []annotationView
	Current     *annotationView
	// CanCreate shows Submit and Skip (a new annotation), CanEdit Update,
	// CanReview the verdict form.
	CanCreate, CanEdit, CanReview bool
	StartFrom                     string
	HasRegions                    bool   // the configuration draws regions (spans, boxes)
	Prediction                    string // "model_version (score)" of the pre-annotation shown
	NewHref                       string // "label it yourself" for those looking at others' work
	BackHref                      string
	Payload                       labelPayload
}

// handleUILabelNext is "Label": it hands the person their next task,
// leased to them, and opens it; when none is left it says so.
func (s *Server) handleUILabelNext(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.AnnotationCreate)
	if err != nil {
		return err
	}
	t, err := s.nextTask(r.Context(), p, pr)
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		pd := s.newPage(r, p, "Nothing left to label")
		pd.Data = labelPageData{Project: pr, BackHref: "/projects/" + idString(pr.ID)}
		s.render(w, r, http.StatusOK, "label_done", pd)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/projects/"+idString(pr.ID)+"/label/"+idString(t.ID)+"?stream=1", http.StatusSeeOther)
	return nil
}

// handleUILabelTask renders the labeling page of one task. Who sees what:
// everyone who may see the task sees their own annotation (or a new one);
// those who may review see every annotation, choose one with ?annotation=,
// and accept or reject it; ?annotation=new starts a new one.
func (s *Server) handleUILabelTask(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	ctx := r.Context()
	pr, err := s.projectFromPath(r, p, authz.TaskView)
	if err != nil {
		return err
	}
	tid, err := pathID(r, "task_id")
	if err != nil {
		return err
	}
	t, err := s.Tasks.FindTaskByID(ctx, p.OrgID, tid)
	if err != nil {
		return err
	}
	if t.ProjectID != pr.ID {
		return glossa.NotFound("Task")
	}
	if err := s.checkTaskVisible(ctx, p, t); err != nil {
		return err
	}
	res := projectResource(pr)
	canLabel := authz.Can(p, authz.AnnotationCreate, res) == authz.Allow
	canReview := authz.Can(p, authz.Review, res) == authz.Allow
	base := "/projects/" + idString(pr.ID)
	data := labelPageData{Project: pr, Task: t, BackHref: base}

	// Annotations and predictions: one read for both when there are
	// predictions (the export's), else just the annotations.
	annotations, predictions, err := s.taskWork(ctx, p.OrgID, t)
	if err != nil {
		return err
	}
	var draft *glossa.Draft
	if canLabel {
		if draft, err = s.Labeling.FindDraft(ctx, p.OrgID, t.ID, p.UserID); err != nil {
			if glossa.ErrorCode(err) != glossa.ENOTFOUND {
				return err
			}
			draft = nil
		}
	}

	// Which annotations the person sees: reviewers every one, others
	// their own.
	var visible []glossa.Annotation
	for _, a := range annotations {
		if canReview || a.CompletedBy == p.UserID {
			visible = append(visible, a)
		}
	}
	current, draft, err := pickWork(visible, draft, p.UserID, canReview, r.URL.Query().Get("annotation"))
	if err != nil {
		return err
	}

	// What the editor starts with.
	pl := labelPayload{Project: pr.ID, Task: t.ID, Texts: map[string]string{}, Start: json.RawMessage("[]"), Predictions: predictions}
	switch {
	case draft != nil:
		pl.Start, pl.StartFrom, pl.LeadTime = draft.Result, "draft", draft.LeadTime
	case current != nil:
		pl.Start, pl.StartFrom, pl.LeadTime = current.Result, "annotation", current.LeadTime
	case len(predictions) > 0:
		best := bestPrediction(predictions)
		pl.Start, pl.StartFrom = best.Result, "prediction"
		data.Prediction = best.ModelVersion
		if best.Score != nil {
			data.Prediction += " (score " + strconv.FormatFloat(*best.Score, 'f', -1, 64) + ")"
		}
	}
	if current != nil {
		pl.Annotation = current.ID
		owner := res
		owner.OwnerID = current.CompletedBy
		data.CanEdit = authz.Can(p, authz.AnnotationUpdate, owner) == authz.Allow
		mine := current.CompletedBy == p.UserID
		data.CanReview = canReview && !mine && !current.WasCancelled
		if canLabel && !mine {
			data.NewHref = base + "/label/" + idString(t.ID) + "?annotation=new"
		}
	} else {
		data.CanCreate = canLabel
	}
	pl.CanEdit = data.CanCreate || data.CanEdit
	data.StartFrom = pl.StartFrom
	q := r.URL.Query()
	switch {
	case q.Get("stream") == "1":
		pl.After = base + "/label"
	case q.Get("queue") != "":
		pl.After = queueNext(base, q.Get("queue"))
	}

	// The list of annotations, with who made them and their verdicts.
	if err := s.annotationViews(ctx, p, base, t.ID, visible, current, &data); err != nil {
		return err
	}

	// The configuration, rendered.
	var origins []string
	if cfg, err := labeling.ParseConfig(pr.LabelConfig); err != nil {
		data.ConfigError = glossa.ErrorMessage(err)
	} else {
		data.Blocks, origins = s.labelBlocks(cfg, t, pl.Texts)
		for _, b := range data.Blocks {
			if c := b.Control; c != nil && c.Unsupported == "" && (c.Tag == "Labels" || c.Tag == "RectangleLabels") {
				data.HasRegions = true
			}
		}
	}
	data.Payload = pl

	storages, err := s.Storages.FindStorages(ctx, glossa.StorageFilter{OrgID: p.OrgID, ProjectID: pr.ID, Type: glossa.StorageSource})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy(append(mediaOrigins(storages), origins...)))
	pd := s.newPage(r, p, "Label task "+idString(t.ID))
	pd.Styles, pd.Scripts = []string{"label.css"}, []string{"label.js"}
	pd.Wide = true
	pd.Data = data
	s.render(w, r, http.StatusOK, "label", pd)
	return nil
}

// pickWork chooses the annotation the page shows (nil: a new one) and
// whether the person's draft applies to it. choice is ?annotation=: an
// annotation's ID, "new", or "" for the default: what the draft is of,
// else the person's own latest annotation, else (for reviewers) the latest
// one of someone else that is not a skip. A draft resumes only what is
// shown: a new annotation, or changes to the annotation shown.
func pickWork(visible []glossa.Annotation, draft *glossa.Draft, userID int64, canReview bool, choice string) (*glossa.Annotation, *glossa.Draft, error) {
	var current *glossa.Annotation
	latest := func(ok func(*glossa.Annotation) bool) *glossa.Annotation {
		for i := len(visible) - 1; i >= 0; i-- {
			if ok(&visible[i]) {
				return &visible[i]
			}
		}
		return nil
	}
	switch {
	case choice == "new":
	case choice != "":
		id, err := strconv.ParseInt(choice, 10, 64)
		if current = latest(func(a *glossa.Annotation) bool { return a.ID == id }); err != nil || current == nil {
			return nil, nil, glossa.NotFound("Annotation")
		}
	case draft != nil && draft.AnnotationID != nil:
		current = latest(func(a *glossa.Annotation) bool { return a.ID == *draft.AnnotationID })
	case draft != nil:
	default:
		current = latest(func(a *glossa.Annotation) bool { return a.CompletedBy == userID })
		if current == nil && canReview {
			current = latest(func(a *glossa.Annotation) bool { return !a.WasCancelled })
		}
	}
	if draft != nil {
		if current == nil && draft.AnnotationID != nil || current != nil && (draft.AnnotationID == nil || *draft.AnnotationID != current.ID) {
			draft = nil
		}
	}
	return current, draft, nil
}

// taskWork loads a task's annotations (oldest first) and predictions.
func (s *Server) taskWork(ctx context.Context, orgID int64, t *glossa.Task) ([]glossa.Annotation, []glossa.Prediction, error) {
	if t.TotalPredictions == 0 {
		list, err := s.Annotations.FindAnnotations(ctx, orgID, t.ID)
		return list, []glossa.Prediction{}, err
	}
	var full *glossa.Task
	err := s.Tasks.ExportTasks(ctx, glossa.ExportFilter{OrgID: orgID, ProjectID: t.ProjectID, IDs: []int64{t.ID}}, func(x *glossa.Task) error {
		full = x
		return nil
	})
	if err != nil || full == nil {
		return nil, nil, err
	}
	if full.Predictions == nil {
		full.Predictions = []glossa.Prediction{}
	}
	return full.Annotations, full.Predictions, nil
}

// bestPrediction is the one shown first: the highest score, else the
// first given.
func bestPrediction(list []glossa.Prediction) glossa.Prediction {
	best := list[0]
	for _, pr := range list[1:] {
		if pr.Score != nil && (best.Score == nil || *pr.Score > *best.Score) {
			best = pr
		}
	}
	return best
}

// queueNext is where a queue of selected tasks ("1,2,3") goes next.
func queueNext(base, queue string) string {
	first, rest, _ := strings.Cut(queue, ",")
	id, err := strconv.ParseInt(first, 10, 64)
	if err != nil || id <= 0 {
		return base
	}
	next := base + "/label/" + idString(id)
	if rest != "" {
		next += "?queue=" + url.QueryEscape(rest)
	}
	return next
}

// annotationViews fills the page's list of annotations and the verdicts
// on them.
func (s *Server) annotationViews(ctx context.Context, p *glossa.Principal, base string, taskID int64, list []glossa.Annotation, current *glossa.Annotation, data *labelPageData) error {
	email := s.emailCache(ctx, p)
	for _, a := range list {
		v := annotationView{ID: a.ID, Author: email(a.CompletedBy), Mine: a.CompletedBy == p.UserID, Cancelled: a.WasCancelled,
			UpdatedAt: formatTime(a.UpdatedAt), Href: base + "/label/" + idString(taskID) + "?annotation=" + idString(a.ID),
			Current: current != nil && current.ID == a.ID}
		reviews, err := s.Labeling.FindReviews(ctx, p.OrgID, a.ID)
		if err != nil {
			return err
		}
		for _, rv := range reviews {
			v.Reviews = append(v.Reviews, reviewView{Reviewer: email(rv.ReviewerID), At: formatTime(rv.CreatedAt), Comment: rv.Comment, Accepted: rv.Accepted})
			v.ReviewState = glossa.ReviewRejected
			if rv.Accepted {
				v.ReviewState = glossa.ReviewAccepted
			}
		}
		data.Annotations = append(data.Annotations, v)
		if v.Current {
			data.Current = &data.Annotations[len(data.Annotations)-1]
		}
	}
	return nil
}

// labelBlocks renders the configuration for a task: the blocks of the
// page, the Text objects' texts (into texts) and the origins of the
// task's image addresses, which the page's CSP must allow.
func (s *Server) labelBlocks(cfg *labeling.Config, t *glossa.Task, texts map[string]string) ([]labelBlock, []string) {
	var data map[string]json.RawMessage
	_ = json.Unmarshal(t.Data, &data) // stored data is always a JSON object
	hotkeys := assignHotkeys(cfg)
	var blocks []labelBlock
	var origins []string
	for _, b := range cfg.Layout {
		switch {
		case b.Object >= 0:
			o := &cfg.Objects[b.Object]
			ov := &objectView{Tag: o.Tag, Name: o.Name}
			value, ok := objectValue(o, data)
			switch o.Tag {
			case "Text":
				ov.Text, texts[o.Name] = value, value
			case "HyperText":
				ov.HTML = template.HTML(sanitizeHTML(value)) // safe by construction: see sanitize.go
			case "Image":
				if ov.Image = imageAddress(t.ID, value); ov.Image == "" && ok {
					ov.Problem = "This image's address cannot be shown: it must be an http(s) or data:image URL or a storage reference."
				}
				if u, err := url.Parse(ov.Image); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
					if origin := u.Scheme + "://" + u.Host; !slices.Contains(origins, origin) {
						origins = append(origins, origin)
					}
				}
			}
			if !ok && ov.Problem == "" {
				ov.Problem = "The task has no field " + strconv.Quote(o.DataKey) + " to show here."
			}
			blocks = append(blocks, labelBlock{Object: ov})
		case b.Control >= 0:
			blocks = append(blocks, labelBlock{Control: controlFor(cfg, &cfg.Controls[b.Control], hotkeys)})
		default:
			blocks = append(blocks, labelBlock{Header: b.Header})
		}
	}
	return blocks, origins
}

// objectValue is what an object shows: its data field as text (a string
// as is, anything else as JSON), or its value as written when it binds no
// field. ok is false when the field is missing.
func objectValue(o *labeling.Object, data map[string]json.RawMessage) (string, bool) {
	if o.DataKey == "" {
		return o.Value, true
	}
	raw, ok := data[o.DataKey]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return string(raw), true
}

// imageAddress returns the address the browser loads an image from: a
// storage reference becomes the task's media link; http(s), data:image
// and local paths stay; anything else (javascript:, file:, ...) is "".
func imageAddress(taskID int64, v string) string {
	v = strings.TrimSpace(v)
	lower := strings.ToLower(v)
	switch {
	case strings.HasPrefix(lower, "s3://"):
		return mediaLink(taskID, v)
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		if u, err := url.Parse(v); err == nil && u.Host != "" {
			return v
		}
	case strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") && !strings.Contains(v, `\`):
		return v
	case strings.HasPrefix(lower, "data:image/"):
		if a, ok := safeURL(v, true); ok {
			return a
		}
	}
	return ""
}

// controlFor renders a control.
func controlFor(cfg *labeling.Config, c *labeling.Control, hotkeys map[*labeling.Option]string) *controlView {
	v := &controlView{Tag: c.Tag, Name: c.Name, ToName: c.ToName, Type: c.Type(), Choice: c.Choice, Required: c.Required,
		PerRegion: c.PerRegion, Placeholder: c.Attrs.Get("placeholder")}
	for i := range c.Options {
		o := &c.Options[i]
		v.Options = append(v.Options, optionView{Value: o.Value, Text: o.Text, Hotkey: hotkeys[o], Color: o.Background})
	}
	switch c.Tag {
	case "Rating":
		for n := 1; n <= min(c.MaxRating, 100); n++ {
			v.Ratings = append(v.Ratings, n)
		}
	case "TextArea":
		v.Rows, _ = strconv.Atoi(c.Attrs.Get("rows"))
		v.Rows = max(1, min(v.Rows, 20))
	case "HyperTextLabels":
		v.Unsupported = "Spans on HTML are not labelled on this page yet; answers made through the API are kept."
	case "Labels":
		if o := cfg.Object(c.ToName); o != nil && o.Tag != "Text" {
			v.Unsupported = "Spans on HTML are not labelled on this page yet; answers made through the API are kept."
		}
	}
	return v
}

// autoHotkeys are given, in order, to options without a hotkey of their
// own, as Label Studio numbers its labels.
var autoHotkeys = []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "0"}

// assignHotkeys gives each option of the configuration its hotkey: its
// own hotkey attribute, else the next free one of autoHotkeys (none once
// they run out), so that no key means two things.
func assignHotkeys(cfg *labeling.Config) map[*labeling.Option]string {
	keys := map[*labeling.Option]string{}
	used := map[string]bool{}
	for i := range cfg.Controls {
		for j := range cfg.Controls[i].Options {
			if k := strings.ToLower(cfg.Controls[i].Options[j].Hotkey); k != "" {
				keys[&cfg.Controls[i].Options[j]] = k
				used[k] = true
			}
		}
	}
	next := 0
	for i := range cfg.Controls {
		for j := range cfg.Controls[i].Options {
			o := &cfg.Controls[i].Options[j]
			if keys[o] != "" {
				continue
			}
			for next < len(autoHotkeys) && used[autoHotkeys[next]] {
				next++
			}
			if next < len(autoHotkeys) {
				keys[o] = autoHotkeys[next]
				used[autoHotkeys[next]] = true
			}
		}
	}
	return keys
}
