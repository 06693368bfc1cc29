package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
)

// Tests of labeling work through the API: configurations and results
// checked against each other, drafts, "next task", reviews and the data
// manager, on both engines.

// nerConfig is Label Studio's named-entity template with a sentiment
// choice and a rating besides.
const nerConfig = `<View>
  <Labels name="label" toName="text">
    <Label value="PER" background="red"/>
    <Label value="ORG" background="darkorange"/>
  </Labels>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="Positive"/><Choice value="Negative"/>
  </Choices>
  <Rating name="stars" toName="text" maxRating="5"/>
</View>`

// labelProject creates a project with config in the fixture's workspace
// and imports tasks; it returns the project and the task IDs.
func labelProject(t *testing.T, ts *TestServer, f *fixture, config string, tasks string) (glossa.Project, []int64) {
	t.Helper()
	var pr glossa.Project
	owner := ts.As(t, f.owner)
	owner.Must(t, 201, "POST", "/api/projects", map[string]any{"title": "Labeling", "workspace": f.workspace.ID, "label_config": config}, &pr)
	if tasks == "" {
		return pr, nil
	}
	var imp struct {
		TaskIDs []int64 `json:"task_ids"`
	}
	owner.Must(t, 201, "POST", fmt.Sprintf("/api/projects/%d/import?return_task_ids=true", pr.ID), tasks, &imp)
	return pr, imp.TaskIDs
}

// errorMessage returns the message of a JSON error response.
func errorMessage(t *testing.T, r *Response) string {
	t.Helper()
	var e struct{ Error struct{ Message string } }
	r.JSON(t, &e)
	return e.Error.Message
}

// TestAnnotationsCheckedAgainstConfig: every saved annotation is checked
// against the project's labeling configuration and the task's text; a
// skip is not.
func TestAnnotationsCheckedAgainstConfig(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		pr, ids := labelProject(t, ts, f, nerConfig, `[{"text": "Ada Lovelace met 🐱 Babbage"}]`)
		ann := ts.As(t, f.annotat)
		path := fmt.Sprintf("/api/tasks/%d/annotations", ids[0])
		span := func(start, end int, text, label string) map[string]any {
			return map[string]any{"id": "s1", "from_name": "label", "to_name": "text", "type": "labels",
				"value": map[string]any{"start": start, "end": end, "text": text, "labels": []string{label}}}
		}
		cases := []struct {
			name   string
			result any
			want   string // "" for accepted
		}{
			{"span after an emoji, in code points", []any{span(19, 26, "Babbage", "PER")}, ""},
			{"unknown label", []any{span(0, 3, "Ada", "LOC")}, `value.labels has "LOC", which control "label" does not list`},
			{"span text is not the text there", []any{span(0, 3, "Bob", "PER")}, `value.text "Bob" is not the text at 0..3`},
			{"span past the end", []any{span(20, 40, "x", "PER")}, "past the end of the text"},
			{"unknown control", []any{map[string]any{"from_name": "mood", "to_name": "text", "type": "choices", "value": map[string]any{"choices": []string{"x"}}}}, `from_name "mood" names no control`},
			{"rating out of range", []any{map[string]any{"from_name": "stars", "to_name": "text", "type": "rating", "value": map[string]any{"rating": 6}}}, "is not from 1 to 5"},
			{"not a list", map[string]any{"x": 1}, "result must be a list"},
		}
		for _, c := range cases {
			resp := ann.Do(t, "POST", path, map[string]any{"result": c.result})
			switch {
			case c.want == "" && resp.Status != 201:
				t.Errorf("%s: refused: %d %s", c.name, resp.Status, resp.Body)
			case c.want != "" && (resp.Status != 400 || !strings.Contains(errorMessage(t, resp), c.want)):
				t.Errorf("%s: = %d %s, want 400 saying %q", c.name, resp.Status, resp.Body, c.want)
			}
		}
		// A skip carries no answer and is not checked.
		var skip glossa.Annotation
		ts.As(t, f.reviewer).Must(t, 201, "POST", path, map[string]any{"result": []any{}, "was_cancelled": true}, &skip)
		// An update is checked too; a change of ground truth alone is not.
		var a glossa.Annotation
		ts.As(t, f.manager).Must(t, 201, "POST", path, map[string]any{"result": []any{span(0, 3, "Ada", "PER")}}, &a)
		resp := ts.As(t, f.manager).Do(t, "PATCH", fmt.Sprintf("/api/annotations/%d", a.ID), map[string]any{"result": []any{span(0, 3, "Ada", "XYZ")}})
		if resp.Status != 400 {
			t.Fatalf("invalid update = %d %s", resp.Status, resp.Body)
		}
		ts.As(t, f.manager).Must(t, 200, "PATCH", fmt.Sprintf("/api/annotations/%d", a.ID), map[string]any{"ground_truth": true}, nil)

		// The configuration: a bad one is refused with its line; one that
		// drops a label in use is refused naming it; dropping an unused
		// one is fine.
		owner := ts.As(t, f.owner)
		projectPath := fmt.Sprintf("/api/projects/%d", pr.ID)
		resp = owner.Do(t, "PATCH", projectPath, map[string]any{"label_config": "<View>\n<Choices name=\"c\" toName=\"nowhere\"><Choice value=\"A\"/></Choices>\n</View>"})
		if resp.Status != 422 || !strings.Contains(errorMessage(t, resp), `line 2, <Choices name="c">: toName "nowhere" names no object tag`) {
			t.Fatalf("bad config = %d %s", resp.Status, resp.Body)
		}
		withoutPER := strings.Replace(nerConfig, `<Label value="PER" background="red"/>`, "", 1)
		resp = owner.Do(t, "PATCH", projectPath, map[string]any{"label_config": withoutPER})
		if resp.Status != 409 || !strings.Contains(errorMessage(t, resp), "label:PER") {
			t.Fatalf("config orphaning PER = %d %s", resp.Status, resp.Body)
		}
		withoutRating := strings.Replace(nerConfig, `<Rating name="stars" toName="text" maxRating="5"/>`, "", 1)
		owner.Must(t, 200, "PATCH", projectPath, map[string]any{"label_config": withoutRating}, nil)
		withoutORG := strings.Replace(withoutRating, `<Label value="ORG" background="darkorange"/>`, "", 1)
		owner.Must(t, 200, "PATCH", projectPath, map[string]any{"label_config": withoutORG}, nil)
	})
}

// TestDrafts: a person's draft of a task is saved, read back, replaced
// and deleted; it is theirs alone; submitting the annotation ends it.
func TestDrafts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		other := mustFixture(t, ts, "other")
		ann := ts.As(t, f.annotat)
		second := f.task.ID + 1
		path := fmt.Sprintf("/api/tasks/%d/draft", second)

		ann.Must(t, 404, "GET", path, nil, nil)
		var d glossa.Draft
		ann.Must(t, 200, "PUT", path, map[string]any{"result": choice("Negative"), "lead_time": 4.5}, &d)
		if d.TaskID != second || d.UserID != f.annotat.ID || d.LeadTime != 4.5 || d.AnnotationID != nil {
			t.Fatalf("saved draft = %+v", d)
		}
		var got glossa.Draft
		ann.Must(t, 200, "GET", path, nil, &got)
		if string(got.Result) != string(choice("Negative")) {
			t.Fatalf("read draft result %s", got.Result)
		}
		// Label Studio's list and create.
		var list []glossa.Draft
		ann.Must(t, 200, "GET", fmt.Sprintf("/api/tasks/%d/drafts", second), nil, &list)
		if len(list) != 1 || list[0].ID != d.ID {
			t.Fatalf("drafts = %+v", list)
		}
		ann.Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/drafts", second), map[string]any{"result": []any{}, "lead_time": 1, "was_postponed": false}, nil)
		// A draft is not an annotation: an incomplete one is fine, a
		// result that is not a list is not.
		if code := ann.Do(t, "PUT", path, map[string]any{"result": map[string]any{}}).ErrorCode(t); code != "invalid" {
			t.Fatalf("draft with an object result: %s", code)
		}
		// Someone else's draft of the same task is theirs.
		ts.As(t, f.reviewer).Must(t, 404, "GET", path, nil, nil)
		ts.As(t, f.outsider).Must(t, 404, "PUT", path, map[string]any{"result": []any{}}, nil)
		ts.As(t, other.owner).Must(t, 404, "PUT", path, map[string]any{"result": []any{}}, nil)
		// A draft of changes to an annotation: only one the caller may
		// change, of this task.
		if resp := ts.As(t, f.manager).Do(t, "PUT", path, map[string]any{"result": []any{}, "annotation": f.annotation.ID}); resp.Status != 400 {
			t.Fatalf("draft naming another task's annotation = %d %s", resp.Status, resp.Body)
		}
		firstPath := fmt.Sprintf("/api/tasks/%d/draft", f.task.ID)
		other2 := ts.MustMember(t, f.org.ID, "second@acme.example", glossa.RoleAnnotator)
		ts.As(t, f.owner).Must(t, 201, "POST", fmt.Sprintf("/api/workspaces/%d/memberships", f.workspace.ID), map[string]any{"user": other2.ID}, nil)
		ts.As(t, other2).Must(t, 403, "PUT", firstPath, map[string]any{"result": []any{}, "annotation": f.annotation.ID}, nil)
		ann.Must(t, 200, "PUT", firstPath, map[string]any{"result": choice("Negative"), "annotation": f.annotation.ID}, nil)
		// Updating the annotation ends the draft of it.
		ann.Must(t, 200, "PATCH", fmt.Sprintf("/api/annotations/%d", f.annotation.ID), map[string]any{"result": choice("Negative")}, nil)
		ann.Must(t, 404, "GET", firstPath, nil, nil)

		// Submitting an annotation ends the draft of a new one.
		ann.Must(t, 200, "PUT", path, map[string]any{"result": choice("Positive")}, nil)
		ann.Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", second), map[string]any{"result": choice("Positive")}, nil)
		ann.Must(t, 404, "GET", path, nil, nil)
		ann.Must(t, 200, "PUT", path, map[string]any{"result": []any{}}, nil)
		ann.Must(t, 204, "DELETE", path, nil, nil)
		ann.Must(t, 404, "DELETE", path, nil, nil)
	})
}

// TestNextTask: "next task" hands each annotator an unlabeled task nobody
// else holds, the same one again until they submit or skip, and the
// task to someone else when the hold expires.
func TestNextTask(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		pr, ids := labelProject(t, ts, f, nerConfig, `[{"text": "one"}, {"text": "two"}, {"text": "three"}]`)
		path := fmt.Sprintf("/api/projects/%d/next", pr.ID)
		b := ts.MustMember(t, f.org.ID, "b@acme.example", glossa.RoleAnnotator)
		ts.As(t, f.owner).Must(t, 201, "POST", fmt.Sprintf("/api/workspaces/%d/memberships", f.workspace.ID), map[string]any{"user": b.ID}, nil)
		annA, annB := ts.As(t, f.annotat), ts.As(t, b)

		var ta, tb, again glossa.Task
		annA.Must(t, 200, "GET", path, nil, &ta)
		annB.Must(t, 200, "GET", path, nil, &tb)
		annA.Must(t, 200, "GET", path, nil, &again)
		if ta.ID != ids[0] || tb.ID != ids[1] || again.ID != ta.ID {
			t.Fatalf("A got %d then %d, B got %d; want %d, %d", ta.ID, again.ID, tb.ID, ids[0], ids[1])
		}
		// A skips: the skip is Label Studio's cancelled annotation, and A
		// moves on, to the one task left.
		annA.Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", ta.ID), map[string]any{"result": []any{}, "was_cancelled": true}, nil)
		annA.Must(t, 200, "GET", path, nil, &ta)
		if ta.ID != ids[2] {
			t.Fatalf("after a skip A got %d, want %d", ta.ID, ids[2])
		}
		// B's hold expires: the task goes to whoever asks.
		ts.Clock.Advance(16 * time.Minute)
		c := ts.MustMember(t, f.org.ID, "c@acme.example", glossa.RoleAnnotator)
		ts.As(t, f.owner).Must(t, 201, "POST", fmt.Sprintf("/api/workspaces/%d/memberships", f.workspace.ID), map[string]any{"user": c.ID}, nil)
		var tc glossa.Task
		ts.As(t, c).Must(t, 200, "GET", path, nil, &tc)
		if tc.ID != ids[0] {
			// The skipped task is unlabeled and C never saw it.
			t.Fatalf("C got %d, want %d", tc.ID, ids[0])
		}
		// A submits the last; B's expired hold hands A the second task;
		// once A has done that too, nothing is left for A (C holds the
		// first, which A skipped anyway).
		annA.Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", ids[2]), map[string]any{"result": []any{}}, nil)
		annA.Must(t, 200, "GET", path, nil, &ta)
		if ta.ID != ids[1] {
			t.Fatalf("after B's hold expired A got %d, want %d", ta.ID, ids[1])
		}
		annA.Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", ids[1]), map[string]any{"result": []any{}}, nil)
		var e struct {
			Error struct{ Code, Message string }
		}
		annA.Must(t, 404, "GET", path, nil, &e)
		if !strings.Contains(e.Error.Message, "No task is left") {
			t.Fatalf("nothing left: %+v", e)
		}
		// Strangers learn nothing.
		ts.As(t, f.outsider).Must(t, 404, "GET", path, nil, nil)
		ts.As(t, mustFixture(t, ts, "other").owner).Must(t, 404, "GET", path, nil, nil)
	})
}

// TestReviews: Reviewers accept or reject annotations with a comment;
// the annotator reads the verdicts; nobody reviews their own work or a
// skip; the review state is filterable in the data manager.
func TestReviews(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		path := fmt.Sprintf("/api/annotations/%d/reviews", f.annotation.ID)
		rev := ts.As(t, f.reviewer)

		var r glossa.Review
		rev.Must(t, 201, "POST", path, map[string]any{"accepted": false, "comment": "The text is neutral."}, &r)
		if r.AnnotationID != f.annotation.ID || r.TaskID != f.task.ID || r.ReviewerID != f.reviewer.ID || r.Accepted || r.Comment != "The text is neutral." {
			t.Fatalf("review = %+v", r)
		}
		if code := rev.Do(t, "POST", path, map[string]any{"comment": "no verdict"}).ErrorCode(t); code != "invalid" {
			t.Fatalf("review without a verdict: %s", code)
		}
		ts.As(t, f.annotat).Must(t, 403, "POST", path, map[string]any{"accepted": true}, nil)
		ts.As(t, f.outsider).Must(t, 404, "POST", path, map[string]any{"accepted": true}, nil)
		ts.As(t, mustFixture(t, ts, "other").owner).Must(t, 404, "GET", path, nil, nil)
		// Nobody reviews their own work.
		var mine glossa.Annotation
		rev.Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", f.task.ID), map[string]any{"result": choice("Negative")}, &mine)
		rev.Must(t, 403, "POST", fmt.Sprintf("/api/annotations/%d/reviews", mine.ID), map[string]any{"accepted": true}, nil)
		// A skip has nothing to review.
		var skip glossa.Annotation
		ts.As(t, f.annotat).Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", f.task.ID+1), map[string]any{"result": []any{}, "was_cancelled": true}, &skip)
		rev.Must(t, 409, "POST", fmt.Sprintf("/api/annotations/%d/reviews", skip.ID), map[string]any{"accepted": true}, nil)

		// The annotator sees the verdict, then the newer one.
		ts.As(t, f.manager).Must(t, 201, "POST", path, map[string]any{"accepted": true}, nil)
		var list []glossa.Review
		ts.As(t, f.annotat).Must(t, 200, "GET", path, nil, &list)
		if len(list) != 2 || list[0].Accepted || !list[1].Accepted || list[1].ReviewerID != f.manager.ID {
			t.Fatalf("reviews = %+v", list)
		}

		// Filterable: accepted shows the task, rejected does not.
		states := func(state string) []int64 {
			return dmIDs(t, ts.As(t, f.manager), f.project.ID, map[string]any{"filters": map[string]any{"conjunction": "and",
				"items": []any{map[string]any{"filter": "filter:tasks:review_state", "operator": "equal", "value": state}}}})
		}
		if got := states("accepted"); !slices.Equal(got, []int64{f.task.ID}) {
			t.Fatalf("accepted tasks = %v", got)
		}
		if got := states("rejected"); len(got) != 0 {
			t.Fatalf("rejected tasks = %v", got)
		}
		if got := states("none"); !slices.Equal(got, []int64{f.task.ID + 1}) {
			t.Fatalf("unreviewed tasks = %v", got)
		}
	})
}

// dmPage is the data manager's answer.
type dmPage struct {
	Tasks []struct {
		glossa.Task
		Annotators  []int64 `json:"annotators"`
		ReviewState string  `json:"review_state"`
	} `json:"tasks"`
	Total        int64  `json:"total"`
	TotalAtLeast bool   `json:"total_at_least"`
	NextCursor   string `json:"next_cursor"`
}

func dmQuery(t *testing.T, c *Client, project int64, query any, extra string) dmPage {
	t.Helper()
	q, _ := json.Marshal(query)
	var page dmPage
	c.Must(t, 200, "GET", fmt.Sprintf("/api/tasks?project=%d&query=%s%s", project, url.QueryEscape(string(q)), extra), nil, &page)
	return page
}

func dmIDs(t *testing.T, c *Client, project int64, query any) []int64 {
	t.Helper()
	var ids []int64
	for _, task := range dmQuery(t, c, project, query, "").Tasks {
		ids = append(ids, task.ID)
	}
	return ids
}

// TestDataManager: Label Studio's data manager query on /api/tasks:
// filters, ordering, cursor pages, selections; each role sees its scope;
// the bulk delete removes what was selected.
func TestDataManager(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		pr, ids := labelProject(t, ts, f, nerConfig, `[{"text": "alpha apple"}, {"text": "beta"}, {"text": "gamma APPLE"}, {"text": "delta"}, {"text": "epsilon"}]`)
		manager := ts.As(t, f.manager)
		ts.As(t, f.annotat).Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", ids[1]), map[string]any{"result": []any{}}, nil)

		contains := map[string]any{"filters": map[string]any{"conjunction": "and", "items": []any{
			map[string]any{"filter": "filter:tasks:data.text", "operator": "contains", "type": "String", "value": "apple"}}}}
		if got := dmIDs(t, manager, pr.ID, contains); !slices.Equal(got, []int64{ids[0], ids[2]}) {
			t.Errorf("contains apple = %v", got)
		}
		if got := dmIDs(t, manager, pr.ID, map[string]any{"ordering": []string{"-tasks:id"}}); !slices.Equal(got, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}) {
			t.Errorf("newest first = %v", got)
		}
		if got := dmIDs(t, manager, pr.ID, map[string]any{"selectedItems": map[string]any{"all": false, "included": []int64{ids[3], ids[1]}}}); !slices.Equal(got, []int64{ids[1], ids[3]}) {
			t.Errorf("selected = %v", got)
		}
		page := dmQuery(t, manager, pr.ID, map[string]any{}, "&page_size=2")
		if len(page.Tasks) != 2 || page.Total != 5 || page.NextCursor == "" {
			t.Fatalf("first page = %+v", page)
		}
		page = dmQuery(t, manager, pr.ID, map[string]any{}, "&page_size=2&cursor="+url.QueryEscape(page.NextCursor))
		if len(page.Tasks) != 2 || page.Tasks[0].ID != ids[2] {
			t.Fatalf("second page = %+v", page)
		}
		annotated := dmQuery(t, manager, pr.ID, map[string]any{"selectedItems": map[string]any{"all": false, "included": []int64{ids[1]}}}, "")
		if got := annotated.Tasks[0]; got.TotalAnnotations != 1 || !slices.Equal(got.Annotators, []int64{f.annotat.ID}) || got.ReviewState != "" {
			t.Fatalf("annotated row = %+v", got)
		}
		for _, bad := range []string{
			`{"filters": {"conjunction": "or", "items": []}}`,
			`{"filters": {"items": [{"filter": "filter:tasks:nope", "operator": "equal", "value": 1}]}}`,
			`{"ordering": ["tasks:id", "tasks:created_at"]}`,
			`not json`,
		} {
			if resp := manager.Do(t, "GET", fmt.Sprintf("/api/tasks?project=%d&query=%s", pr.ID, url.QueryEscape(bad)), nil); resp.Status != 400 {
				t.Errorf("query %s = %d %s", bad, resp.Status, resp.Body)
			}
		}
		manager.Must(t, 400, "GET", fmt.Sprintf("/api/tasks?project=%d&query={}&page=2", pr.ID), nil, nil)

		// Scopes: an Annotator sees their own work, a Reviewer what has
		// annotations.
		if got := dmIDs(t, ts.As(t, f.annotat), pr.ID, map[string]any{}); !slices.Equal(got, []int64{ids[1]}) {
			t.Errorf("the annotator sees %v", got)
		}
		if got := dmIDs(t, ts.As(t, f.reviewer), pr.ID, map[string]any{}); !slices.Equal(got, []int64{ids[1]}) {
			t.Errorf("the reviewer sees %v", got)
		}
		ts.As(t, f.outsider).Must(t, 404, "GET", fmt.Sprintf("/api/tasks?project=%d&query={}", pr.ID), nil, nil)

		// Bulk delete: Label Studio's data manager action.
		action := fmt.Sprintf("/api/dm/actions?id=delete_tasks&project=%d", pr.ID)
		body := map[string]any{"selectedItems": map[string]any{"all": false, "included": []int64{ids[0], ids[1], f.task.ID}}}
		ts.As(t, f.annotat).Must(t, 403, "POST", action, body, nil)
		ts.As(t, mustFixture(t, ts, "other").owner).Must(t, 404, "POST", action, body, nil)
		manager.Must(t, 400, "POST", fmt.Sprintf("/api/dm/actions?id=retrain&project=%d", pr.ID), body, nil)
		var res struct {
			Processed int64 `json:"processed_items"`
		}
		manager.Must(t, 200, "POST", action, body, &res)
		if res.Processed != 2 {
			t.Fatalf("deleted %d tasks, want 2 (the third is another project's)", res.Processed)
		}
		ts.As(t, f.owner).Must(t, 200, "GET", fmt.Sprintf("/api/tasks/%d", f.task.ID), nil, nil)
		// All but one, by the view's filters.
		manager.Must(t, 200, "POST", action, map[string]any{"selectedItems": map[string]any{"all": true, "excluded": []int64{ids[4]}},
			"filters": map[string]any{"conjunction": "and", "items": []any{}}}, &res)
		if got := dmIDs(t, manager, pr.ID, map[string]any{}); res.Processed != 2 || !slices.Equal(got, []int64{ids[4]}) {
			t.Fatalf("after deleting all but one: processed %d, left %v", res.Processed, got)
		}
		p, err := ts.DB.FindProjectByID(context.Background(), f.org.ID, pr.ID)
		if err != nil || p.TaskCount != 1 || p.AnnotationCount != 0 {
			t.Fatalf("project after deletes: %+v, %v", p, err)
		}
		if events := mustAudit(t, ts, f.org.ID, "tasks.delete"); len(events) != 2 {
			t.Fatalf("%d tasks.delete events, want 2", len(events))
		}
	})
}

// TestFederatedLabeling: a person whose credentials read only some
// folders of a per-person storage sees only those tasks in the data
// manager, in "next task" and on the labeling page, and deletes only
// those.
func TestFederatedLabeling(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		access := &fakeStorageAccess{readable: map[int64][]string{}}
		ts.Web.Storage = access
		ctx := context.Background()
		pr, _ := labelProject(t, ts, f, `<View><Image name="image" value="$image"/><RectangleLabels name="box" toName="image"><Label value="Cat"/></RectangleLabels></View>`, "")
		var created map[string]any
		ts.As(t, f.owner).Must(t, 201, "POST", "/api/storages/s3", storageBody(pr.ID, map[string]any{"prefix": ""}), &created)
		st, err := ts.DB.FindStorageByID(ctx, f.org.ID, int64(created["id"].(float64)))
		if err != nil {
			t.Fatal(err)
		}
		var objs []glossa.StorageObject
		for _, key := range []string{"teamA/1.jpg", "teamB/1.jpg"} {
			objs = append(objs, glossa.StorageObject{Key: key, Folder: key[:6],
				Tasks: []json.RawMessage{json.RawMessage(`{"image":"s3://acme-scans/` + key + `"}`)}})
		}
		if _, _, err := ts.DB.AddStorageObjects(ctx, st, objs); err != nil {
			t.Fatal(err)
		}
		access.readable[f.annotat.ID] = []string{"teamA/"}
		access.readable[f.manager.ID] = []string{"teamA/"}
		all := dmQuery(t, ts.As(t, f.owner), pr.ID, map[string]any{}, "")
		if len(all.Tasks) != 0 {
			// The owner has no role for the storage in this fake.
			t.Fatalf("the owner sees %d tasks", len(all.Tasks))
		}
		access.readable[f.owner.ID] = []string{"teamA/", "teamB/"}
		all = dmQuery(t, ts.As(t, f.owner), pr.ID, map[string]any{}, "")
		if len(all.Tasks) != 2 {
			t.Fatalf("the owner sees %d tasks, want 2", len(all.Tasks))
		}
		teamA, teamB := all.Tasks[0].ID, all.Tasks[1].ID

		// Next task: the annotator is handed teamA's task only.
		var next glossa.Task
		ts.As(t, f.annotat).Must(t, 200, "GET", fmt.Sprintf("/api/projects/%d/next", pr.ID), nil, &next)
		if next.ID != teamA {
			t.Fatalf("next = %d, want %d", next.ID, teamA)
		}
		ts.As(t, f.annotat).Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", teamA), map[string]any{"result": []any{}, "was_cancelled": true}, nil)
		ts.As(t, f.annotat).Must(t, 404, "GET", fmt.Sprintf("/api/projects/%d/next", pr.ID), nil, nil)
		// The labeling page and drafts of teamB's task do not exist for them.
		page := ts.SignInPage(t, f.annotat.Email, testPassword)
		if r := page.Page(t, fmt.Sprintf("/projects/%d/label/%d", pr.ID, teamB)); r.Status != 404 {
			t.Fatalf("teamB's labeling page for the annotator = %d", r.Status)
		}
		ts.As(t, f.annotat).Must(t, 404, "PUT", fmt.Sprintf("/api/tasks/%d/draft", teamB), map[string]any{"result": []any{}}, nil)
		// The manager's bulk delete of both deletes what they can see.
		var res struct {
			Processed int64 `json:"processed_items"`
		}
		ts.As(t, f.manager).Must(t, 200, "POST", fmt.Sprintf("/api/dm/actions?id=delete_tasks&project=%d", pr.ID),
			map[string]any{"selectedItems": map[string]any{"all": false, "included": []int64{teamA, teamB}}}, &res)
		if res.Processed != 1 {
			t.Fatalf("the manager deleted %d tasks, want 1", res.Processed)
		}
		if _, err := ts.DB.FindTaskByID(ctx, f.org.ID, teamB); err != nil {
			t.Fatalf("teamB's task: %v", err)
		}
	})
}

// TestBulkActionVisibility: a bulk action over more tasks than one page
// decides the person's storage visibility once, not once a page, and
// still acts only on what they may see.
func TestBulkActionVisibility(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		access := &fakeStorageAccess{readable: map[int64][]string{}}
		ts.Web.Storage = access
		ctx := context.Background()
		pr, _ := labelProject(t, ts, f, `<View><Image name="image" value="$image"/><RectangleLabels name="box" toName="image"><Label value="Cat"/></RectangleLabels></View>`, "")
		var created map[string]any
		ts.As(t, f.owner).Must(t, 201, "POST", "/api/storages/s3", storageBody(pr.ID, map[string]any{"prefix": ""}), &created)
		st, err := ts.DB.FindStorageByID(ctx, f.org.ID, int64(created["id"].(float64)))
		if err != nil {
			t.Fatal(err)
		}
		const visible = 1001 // more than one page of 1000
		var objs []glossa.StorageObject
		for i := range visible + 1 {
			folder := "teamA/"
			if i == visible {
				folder = "teamB/"
			}
			key := fmt.Sprintf("%s%d.jpg", folder, i)
			objs = append(objs, glossa.StorageObject{Key: key, Folder: folder,
				Tasks: []json.RawMessage{json.RawMessage(`{"image":"s3://acme-scans/` + key + `"}`)}})
		}
		if _, _, err := ts.DB.AddStorageObjects(ctx, st, objs); err != nil {
			t.Fatal(err)
		}
		access.readable[f.manager.ID] = []string{"teamA/"}
		access.mu.Lock()
		access.readableCalls = 0
		access.mu.Unlock()
		var res struct {
			Processed int64 `json:"processed_items"`
		}
		ts.As(t, f.manager).Must(t, 200, "POST", fmt.Sprintf("/api/dm/actions?id=delete_tasks&project=%d", pr.ID),
			map[string]any{"selectedItems": map[string]any{"all": true}}, &res)
		if res.Processed != visible {
			t.Fatalf("the manager deleted %d tasks, want %d", res.Processed, visible)
		}
		access.mu.Lock()
		calls := access.readableCalls
		access.mu.Unlock()
		if calls != 1 {
			t.Fatalf("visibility decided %d times for one action, want once", calls)
		}
		access.readable[f.owner.ID] = []string{"teamA/", "teamB/"}
		if left := dmQuery(t, ts.As(t, f.owner), pr.ID, map[string]any{}, ""); len(left.Tasks) != 1 {
			t.Fatalf("%d tasks left, want teamB's one", len(left.Tasks))
		}
	})
}

// TestTemplates: Label Studio's templates are offered to new projects.
func TestTemplates(t *testing.T) {
	ts := MustServer(t, "sqlite")
	_, owner := ts.MustOrg(t, "acme")
	var body struct {
		Templates []struct{ Name, Title, Config string }
	}
	ts.As(t, owner).Must(t, 200, "GET", "/api/templates", nil, &body)
	if len(body.Templates) < 3 || body.Templates[0].Name != "text-classification" || !strings.Contains(body.Templates[0].Config, `<Choices name="sentiment"`) {
		t.Fatalf("templates = %+v", body)
	}
}
