package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/glossa-dev/glossa"
)

// labelData returns the JSON data block of a labeling page.
func labelData(t *testing.T, page *Response) map[string]any {
	t.Helper()
	m := regexp.MustCompile(`<script type="application/json" id="label-data">([^<]*)</script>`).FindSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no data block in the page:\n%s", page.Body)
	}
	var data map[string]any
	if err := json.Unmarshal(m[1], &data); err != nil {
		t.Fatalf("data block: %v\n%s", err, m[1])
	}
	return data
}

// TestLabelPage: the labeling page renders the configuration for a task
// under a strict CSP, with the task's text exact and its HTML sanitized;
// each person sees their own work, reviewers everyone's.
func TestLabelPage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		config := `<View><Header value="Read"/><Text name="text" value="$text"/><HyperText name="html" value="$html"/><Image name="img" value="$image"/>
<Labels name="ner" toName="text"><Label value="PER" background="red" hotkey="p"/><Label value="ORG"/></Labels>
<RectangleLabels name="box" toName="img"><Label value="Cat"/></RectangleLabels>
<Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>`
		data, _ := json.Marshal([]map[string]any{{
			"data": map[string]string{
				"text":  "</script><script>alert(1)</script>\r\nline two",
				"html":  `<p onclick="x()">Hi <a href="javascript:alert(1)">x</a><script>alert(1)</script></p>`,
				"image": "https://images.example/cat.png",
			},
			"predictions": []map[string]any{{"model_version": "ner-1", "score": 0.9, "result": []map[string]any{{
				"id": "p1", "from_name": "sentiment", "to_name": "text", "type": "choices", "value": map[string]any{"choices": []string{"Negative"}}}}}},
		}})
		pr, ids := labelProject(t, ts, f, config, string(data))
		path := fmt.Sprintf("/projects/%d/label/%d", pr.ID, ids[0])

		ann := ts.SignInPage(t, f.annotat.Email, testPassword)
		page := ann.Page(t, path)
		wantPage(t, page, http.StatusOK, `<h2 class="label-header">Read</h2>`, `data-hotkey="p"`, `data-hotkey="1"`,
			`<div class="lbl-html" data-object="html"><p>Hi <a target="_blank" rel="noopener noreferrer nofollow">x</a></p></div>`,
			`src="https://images.example/cat.png"`, `id="submit"`, `id="skip"`, "pre-annotated by model", "/static/label.js?v=")
		csp := page.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "img-src 'self' data: https://images.example;") {
			t.Errorf("CSP = %q", csp)
		}
		body := string(page.Body)
		block := body[strings.Index(body, `id="label-data">`):]
		block = block[:strings.Index(block, "</script>")]
		if strings.Contains(block, "<") {
			t.Errorf("the data block holds a raw <: %s", block)
		}
		d := labelData(t, page)
		if texts := d["texts"].(map[string]any); texts["text"] != "</script><script>alert(1)</script>\r\nline two" {
			t.Errorf("texts = %q, want the task's text exactly", texts)
		}
		if d["start_from"] != "prediction" || !strings.Contains(fmt.Sprint(d["start"]), "Negative") {
			t.Errorf("start = %v from %v, want the prediction", d["start"], d["start_from"])
		}

		// The annotator's own work loads for Update; others' stays theirs.
		var mine glossa.Annotation
		ts.As(t, f.annotat).Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", ids[0]), map[string]any{"result": choice("Positive")}, &mine)
		var theirs glossa.Annotation
		ts.As(t, f.manager).Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", ids[0]), map[string]any{"result": choice("Negative")}, &theirs)
		page = ann.Page(t, path)
		wantPage(t, page, http.StatusOK, "Your annotation", `id="update"`, "Not reviewed yet.")
		if d := labelData(t, page); d["annotation"] != float64(mine.ID) || d["start_from"] != "annotation" {
			t.Errorf("the annotator's page edits %v from %v", d["annotation"], d["start_from"])
		}
		if strings.Contains(string(page.Body), "manager@acme.example") || strings.Contains(string(page.Body), `id="review-panel"`) {
			t.Errorf("the annotator sees others' work or the review form:\n%s", page.Body)
		}
		if r := ann.Page(t, fmt.Sprintf("%s?annotation=%d", path, theirs.ID)); r.Status != 404 {
			t.Errorf("the manager's annotation for the annotator = %d", r.Status)
		}

		// A reviewer sees every annotation and may review others'.
		rev := ts.SignInPage(t, f.reviewer.Email, testPassword)
		page = rev.Page(t, fmt.Sprintf("%s?annotation=%d", path, mine.ID))
		wantPage(t, page, http.StatusOK, `id="review-panel" data-annotation="`+formatID(mine.ID)+`"`, "manager@acme.example", "annotator@acme.example", `id="new-annotation"`)
		ts.As(t, f.reviewer).Must(t, 201, "POST", fmt.Sprintf("/api/annotations/%d/reviews", mine.ID), map[string]any{"accepted": false, "comment": "Look again <b>please</b>"}, nil)
		page = ann.Page(t, path)
		wantPage(t, page, http.StatusOK, `<p id="review-state" class="state rejected">Rejected</p>`, "Rejected</strong> by reviewer@acme.example", "Look again &lt;b&gt;please&lt;/b&gt;")

		// Strangers learn nothing; the stream says when nothing is left.
		wantPage(t, ts.SignInPage(t, f.outsider.Email, testPassword).Page(t, path), http.StatusNotFound)
		wantPage(t, ts.SignInPage(t, mustFixture(t, ts, "other").owner.Email, testPassword).Page(t, path), http.StatusNotFound)
		next := ann.Page(t, fmt.Sprintf("/projects/%d/label", pr.ID))
		wantPage(t, next, http.StatusOK, "Nothing left to label", `id="all-done"`)

		// A configuration that no longer parses (saved before configs were
		// checked) is said, not rendered.
		bad := "<View><Polygon name=\"p\" toName=\"x\"/></View>"
		if _, err := ts.DB.UpdateProject(context.Background(), f.org.ID, pr.ID, glossa.ProjectUpdate{LabelConfig: &bad}); err != nil {
			t.Fatal(err)
		}
		wantPage(t, ann.Page(t, path), http.StatusOK, `id="config-error"`, "unknown tag")
	})
}

// TestLabelStream: "Label tasks" leases the next task and opens it; the
// page sends the annotator on to the next one after submitting.
func TestLabelStream(t *testing.T) {
	ts := MustServer(t, "sqlite")
	f := mustFixture(t, ts, "acme")
	pr, ids := labelProject(t, ts, f, nerConfig, `[{"text": "a"}, {"text": "b"}]`)
	ann := ts.SignInPage(t, f.annotat.Email, testPassword)
	r := ann.Page(t, fmt.Sprintf("/projects/%d/label", pr.ID))
	want := fmt.Sprintf("/projects/%d/label/%d?stream=1", pr.ID, ids[0])
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
		t.Fatalf("label = %d to %q, want %s", r.Status, r.Header.Get("Location"), want)
	}
	if d := labelData(t, ann.Page(t, want)); d["after"] != fmt.Sprintf("/projects/%d/label", pr.ID) {
		t.Fatalf("after submitting the stream goes to %v", d["after"])
	}
	// Another annotator is handed the other task.
	b := ts.MustMember(t, f.org.ID, "b@acme.example", glossa.RoleAnnotator)
	ts.As(t, f.owner).Must(t, 201, "POST", fmt.Sprintf("/api/workspaces/%d/memberships", f.workspace.ID), map[string]any{"user": b.ID}, nil)
	r = ts.SignInPage(t, b.Email, testPassword).Page(t, fmt.Sprintf("/projects/%d/label", pr.ID))
	if want := fmt.Sprintf("/projects/%d/label/%d?stream=1", pr.ID, ids[1]); r.Header.Get("Location") != want {
		t.Fatalf("the second annotator went to %q, want %s", r.Header.Get("Location"), want)
	}
}

// TestDataManagerSelected: the data manager's actions on ticked tasks:
// label them one after another, export them, delete them.
func TestDataManagerSelected(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		pr, ids := labelProject(t, ts, f, nerConfig, `[{"text": "a"}, {"text": "b"}, {"text": "c"}]`)
		base := fmt.Sprintf("/projects/%d", pr.ID)
		manager := ts.SignInPage(t, f.manager.Email, testPassword)
		csrf := csrfFrom(t, manager.Page(t, base))
		form := func(action string, ids ...int64) url.Values {
			v := url.Values{"csrf_token": {csrf}, "action": {action}, "exportType": {"JSON"}}
			for _, id := range ids {
				v.Add("ids", formatID(id))
			}
			return v
		}

		r := manager.SubmitForm(t, base+"/tasks/selected", form("label", ids[2], ids[0]))
		if want := fmt.Sprintf("%s/label/%d?queue=%d", base, ids[2], ids[0]); r.Status != 303 || r.Header.Get("Location") != want {
			t.Fatalf("label selected = %d to %q, want %s", r.Status, r.Header.Get("Location"), want)
		}
		if d := labelData(t, manager.Page(t, r.Header.Get("Location"))); d["after"] != fmt.Sprintf("%s/label/%d", base, ids[0]) {
			t.Fatalf("the queue continues to %v", d["after"])
		}

		r = manager.SubmitForm(t, base+"/tasks/selected", form("export", ids[1], f.task.ID))
		var exported []struct{ ID int64 }
		if err := json.Unmarshal(r.Body, &exported); r.Status != 200 || err != nil || len(exported) != 1 || exported[0].ID != ids[1] {
			t.Fatalf("export selected = %d %s (%v): want task %d only", r.Status, r.Body, err, ids[1])
		}
		if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
			t.Fatalf("export is not a download: %q", cd)
		}

		wantPage(t, manager.SubmitForm(t, base+"/tasks/selected", form("delete")), http.StatusBadRequest, "No task is selected")
		annotator := ts.SignInPage(t, f.annotat.Email, testPassword)
		acsrf := csrfFrom(t, annotator.Page(t, base))
		v := form("delete", ids[0])
		v.Set("csrf_token", acsrf)
		wantPage(t, annotator.SubmitForm(t, base+"/tasks/selected", v), http.StatusForbidden)
		r = manager.SubmitForm(t, base+"/tasks/selected", form("delete", ids[0], ids[1]))
		if r.Status != 303 || !strings.Contains(r.Header.Get("Location"), "notice=tasks-deleted") {
			t.Fatalf("delete selected = %d to %q", r.Status, r.Header.Get("Location"))
		}
		page := manager.Page(t, r.Header.Get("Location"))
		wantPage(t, page, http.StatusOK, "The selected tasks are deleted", `id="task-`+formatID(ids[2])+`"`, `id="dm-total">(1)`)
		if strings.Contains(string(page.Body), `id="task-`+formatID(ids[0])+`"`) {
			t.Errorf("a deleted task is still listed")
		}
	})
}

// TestProjectFromTemplate: the create form offers Label Studio's
// templates; choosing one without writing a configuration uses it.
func TestProjectFromTemplate(t *testing.T) {
	ts := MustServer(t, "sqlite")
	f := mustFixture(t, ts, "acme")
	c := ts.SignInPage(t, f.owner.Email, testPassword)
	page := c.Page(t, "/projects")
	wantPage(t, page, http.StatusOK, `<option value="named-entity-recognition" data-config="`, "Named Entity Recognition")
	r := c.SubmitForm(t, "/projects", url.Values{"csrf_token": {csrfFrom(t, page)}, "title": {"People"}, "workspace": {formatID(f.workspace.ID)},
		"template": {"named-entity-recognition"}, "label_config": {""}})
	if r.Status != 303 {
		t.Fatalf("create from a template = %d:\n%s", r.Status, r.Body)
	}
	projects, err := ts.DB.FindProjects(context.Background(), glossa.ProjectFilter{OrgID: f.org.ID})
	if err != nil {
		t.Fatal(err)
	}
	var got *glossa.Project
	for i := range projects {
		if projects[i].Title == "People" {
			got = &projects[i]
		}
	}
	if got == nil || !strings.Contains(got.LabelConfig, `<Labels name="label" toName="text">`) {
		t.Fatalf("project from the template: %+v", got)
	}
}

// TestProjectConfigForm: a Manager changes the labeling configuration on
// the project page; mistakes come back with their line, a change that
// drops a label in use names it, and neither is saved.
func TestProjectConfigForm(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme") // an annotation says Positive
		path := fmt.Sprintf("/projects/%d", f.project.ID)
		c := ts.SignInPage(t, f.manager.Email, testPassword)
		page := c.Page(t, path)
		wantPage(t, page, http.StatusOK, `id="save-config"`, "&lt;Choice value=&#34;Positive&#34;/&gt;")
		csrf := csrfFrom(t, page)
		post := func(config string) *Response {
			return c.SubmitForm(t, path+"/config", url.Values{"csrf_token": {csrf}, "label_config": {config}})
		}
		wantPage(t, post("<View>\n<Text name=\"text\" value=\"$text\"/>\n<Choices name=\"sentiment\" toName=\"txt\"><Choice value=\"Positive\"/></Choices>\n</View>"),
			http.StatusUnprocessableEntity, `line 3, &lt;Choices name=&#34;sentiment&#34;&gt;: toName &#34;txt&#34; names no object tag`, "toName=&#34;txt&#34;")
		wantPage(t, post(`<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Negative"/></Choices></View>`),
			http.StatusConflict, "sentiment:Positive")
		r := post(`<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Mixed"/></Choices></View>`)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("a good configuration = %d:\n%s", r.Status, r.Body)
		}
		pr, err := ts.DB.FindProjectByID(context.Background(), f.org.ID, f.project.ID)
		if err != nil || !strings.Contains(pr.LabelConfig, "Mixed") {
			t.Fatalf("saved configuration: %q, %v", pr.LabelConfig, err)
		}
		annotator := ts.SignInPage(t, f.annotat.Email, testPassword)
		if strings.Contains(string(annotator.Page(t, path).Body), `id="save-config"`) {
			t.Errorf("an Annotator is offered the configuration form")
		}
	})
}
