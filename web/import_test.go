package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glossa-dev/glossa"
)

// labelStudioExport is a file in Label Studio's JSON export format, written
// from its documented task and result shapes: choices, text spans and
// image boxes, predictions, meta, nested and unicode data, and the fields
// of an export that an import ignores (ids, timestamps, drafts).
const labelStudioExport = `[
  {
    "id": 101,
    "data": {"text": "Glossa is great — ünïcödé ✓", "meta_info": {"source": "forum", "score": 4.5, "tags": ["a", "b"], "none": null}},
    "annotations": [
      {"id": 9001, "completed_by": 3, "was_cancelled": false, "ground_truth": true, "lead_time": 12.25,
       "created_at": "2024-03-01T10:00:00.000000Z", "updated_at": "2024-03-01T10:00:00.000000Z", "task": 101, "project": 7,
       "result": [
         {"id": "a1", "from_name": "sentiment", "to_name": "text", "type": "choices", "origin": "manual", "value": {"choices": ["Positive"]}},
         {"id": "a2", "from_name": "label", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 6, "text": "Glossa", "labels": ["ORG"]}}
       ]}
    ],
    "predictions": [{"id": 55, "model_version": "ner-v2", "score": 0.87, "result": [{"id": "p1", "from_name": "label", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 6, "text": "Glossa", "labels": ["ORG"]}}]}],
    "drafts": [], "project": 7, "created_at": "2024-03-01T09:00:00.000000Z", "updated_at": "2024-03-01T10:00:00.000000Z",
    "meta": {"batch": 3}
  },
  {
    "id": 102,
    "data": {"image": "s3://bucket/cats/1.jpg", "text": "two annotators"},
    "annotations": [
      {"id": 9002, "result": [{"id": "r1", "from_name": "box", "to_name": "image", "type": "rectanglelabels", "original_width": 640, "original_height": 480, "image_rotation": 0,
        "value": {"x": 50.8, "y": 5.87, "width": 12.4, "height": 10.46, "rotation": 0, "rectanglelabels": ["Cat"]}}]},
      {"id": 9003, "was_cancelled": true, "result": []}
    ],
    "predictions": []
  },
  {"id": 103, "data": {"text": "not labeled yet", "n": 1e3}, "annotations": [], "predictions": []}
]`

// TestImportExportRoundTrip: a Label Studio export imported into Glossa and
// exported again keeps every task's data and every annotation's result,
// and so does a second trip through Glossa.
func TestImportExportRoundTrip(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		owner := ts.As(t, f.owner)
		want := parseExport(t, []byte(labelStudioExport))

		first := mustProject(t, owner, f.workspace.ID, "first trip")
		var res map[string]any
		owner.Must(t, 201, "POST", fmt.Sprintf("/api/projects/%d/import", first), labelStudioExport, &res)
		if res["task_count"] != 3.0 || res["annotation_count"] != 3.0 || res["prediction_count"] != 1.0 {
			t.Fatalf("import answered %v", res)
		}
		exp := owner.Must(t, 200, "GET", fmt.Sprintf("/api/projects/%d/export?exportType=JSON&download_all_tasks=true", first), nil, nil)
		if cd := exp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.HasSuffix(cd, `.json"`) {
			t.Fatalf("Content-Disposition = %q", cd)
		}
		got := parseExport(t, exp.Body)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("first trip changed the tasks (-want +got):\n%s", diff)
		}
		// The export is in Label Studio's shape.
		var tasks []map[string]any
		json.Unmarshal(exp.Body, &tasks)
		for _, key := range []string{"id", "data", "annotations", "predictions", "project", "created_at", "updated_at", "drafts", "meta"} {
			if _, ok := tasks[0][key]; !ok {
				t.Errorf("exported task lacks %q", key)
			}
		}
		ann := tasks[0]["annotations"].([]any)[0].(map[string]any)
		for _, key := range []string{"id", "result", "was_cancelled", "ground_truth", "created_at", "updated_at", "lead_time", "result_count", "task", "completed_by"} {
			if _, ok := ann[key]; !ok {
				t.Errorf("exported annotation lacks %q", key)
			}
		}
		if ann["result_count"] != 2.0 || ann["ground_truth"] != true || ann["lead_time"] != 12.25 || ann["completed_by"] != float64(f.owner.ID) {
			t.Errorf("exported annotation = %v", ann)
		}

		// Second trip: Glossa's own export, imported again.
		second := mustProject(t, owner, f.workspace.ID, "second trip")
		owner.Must(t, 201, "POST", fmt.Sprintf("/api/projects/%d/import", second), exp.Body, nil)
		exp2 := owner.Must(t, 200, "GET", fmt.Sprintf("/api/projects/%d/export?exportType=JSON&download_all_tasks=true", second), nil, nil)
		if diff := cmp.Diff(want, parseExport(t, exp2.Body)); diff != "" {
			t.Fatalf("second trip changed the tasks (-want +got):\n%s", diff)
		}

		// Without download_all_tasks only annotated tasks come out (Label Studio's default).
		only := parseExport(t, owner.Must(t, 200, "GET", fmt.Sprintf("/api/projects/%d/export?exportType=JSON", first), nil, nil).Body)
		if len(only) != 2 {
			t.Fatalf("annotated-only export has %d tasks, want 2", len(only))
		}

		// JSON_MIN: one row per annotation, answers under the control's name.
		var rows []map[string]any
		owner.Must(t, 200, "GET", fmt.Sprintf("/api/projects/%d/export?exportType=JSON_MIN", first), nil, &rows)
		if len(rows) != 3 {
			t.Fatalf("JSON_MIN has %d rows, want 3: %v", len(rows), rows)
		}
		if rows[0]["sentiment"] != "Positive" || rows[0]["text"] != "Glossa is great — ünïcödé ✓" {
			t.Errorf("JSON_MIN row = %v", rows[0])
		}
		if label, ok := rows[0]["label"].(map[string]any); !ok || label["text"] != "Glossa" {
			t.Errorf("JSON_MIN span = %v", rows[0]["label"])
		}

		// CSV: a header with every column, then the same rows.
		c := owner.Must(t, 200, "GET", fmt.Sprintf("/api/projects/%d/export?exportType=CSV&download_all_tasks=true", first), nil, nil)
		records, err := csv.NewReader(bytes.NewReader(c.Body)).ReadAll()
		if err != nil {
			t.Fatalf("CSV does not parse: %v\n%s", err, c.Body)
		}
		header := records[0]
		col := map[string]int{}
		for i, h := range header {
			col[h] = i
		}
		if header[0] != "id" || len(records) != 5 {
			t.Fatalf("CSV header %v, %d records", header, len(records))
		}
		for _, name := range []string{"text", "sentiment", "label", "box", "image", "annotator"} {
			if _, ok := col[name]; !ok {
				t.Errorf("CSV lacks column %q: %v", name, header)
			}
		}
		if records[1][col["sentiment"]] != "Positive" || records[1][col["text"]] != "Glossa is great — ünïcödé ✓" {
			t.Errorf("CSV row 1 = %v", records[1])
		}
	})
}

// exportedTask is what a round trip must keep: each task's data and meta,
// and its annotations' and predictions' results, compared as JSON values.
type exportedTask struct {
	Data        any
	Meta        any
	Annotations []any
	Cancelled   []bool
	Predictions []any
	Versions    []string
}

func parseExport(t *testing.T, b []byte) []exportedTask {
	t.Helper()
	var raw []struct {
		Data        any `json:"data"`
		Meta        any `json:"meta"`
		Annotations []struct {
			Result       any  `json:"result"`
			WasCancelled bool `json:"was_cancelled"`
		} `json:"annotations"`
		Predictions []struct {
			Result       any    `json:"result"`
			ModelVersion string `json:"model_version"`
		} `json:"predictions"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("export is not a JSON task list: %v\n%.300s", err, b)
	}
	out := make([]exportedTask, len(raw))
	for i, r := range raw {
		out[i].Data = r.Data
		out[i].Meta = r.Meta
		if m, ok := r.Meta.(map[string]any); !ok || len(m) == 0 {
			out[i].Meta = nil // an absent meta and an empty one are the same
		}
		for _, a := range r.Annotations {
			out[i].Annotations = append(out[i].Annotations, a.Result)
			out[i].Cancelled = append(out[i].Cancelled, a.WasCancelled)
		}
		for _, p := range r.Predictions {
			out[i].Predictions = append(out[i].Predictions, p.Result)
			out[i].Versions = append(out[i].Versions, p.ModelVersion)
		}
	}
	return out
}

func mustProject(t *testing.T, c *Client, workspace int64, title string) int64 {
	t.Helper()
	var p glossa.Project
	c.Must(t, 201, "POST", "/api/projects", map[string]any{"title": title, "workspace": workspace}, &p)
	return p.ID
}

// TestImportAllOrNothing: an import that fails anywhere imports nothing,
// and the error names the task.
func TestImportAllOrNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		owner := ts.As(t, f.owner)
		path := fmt.Sprintf("/api/projects/%d/import", f.project.ID)
		many := make([]string, 2000)
		for i := range many {
			many[i] = fmt.Sprintf(`{"text": "task %d"}`, i)
		}
		cases := []struct {
			name, body string
			status     int
			message    string
		}{
			{"bad task in the middle", `[{"text":"a"},{"text":"b"},"oops",{"text":"d"}]`, 400, "Task 3 is not a JSON object"},
			{"bad task after many batches", "[" + strings.Join(many, ",") + `,{"data": {"text": "x"}, "annotations": [{"result": {"not": "a list"}}]}]`, 400, "Task 2001, annotation 1"},
			{"cut short", "[" + strings.Join(many, ",") + `,{"text": "x"`, 400, "cut short"},
			{"syntax error", `[{"text":"a"} {"text":"b"}]`, 400, "not valid JSON"},
			{"empty list", `[]`, 400, "no tasks"},
			{"empty body", ``, 400, "empty"},
			{"not JSON", `hello`, 400, "not valid JSON"},
			{"trailing data", `[{"text":"a"}] [1]`, 400, "after the closing"},
			{"data not an object", `[{"text":"a"},{"data": "x", "annotations": []}]`, 400, "Task 2: data must be an object"},
			{"annotations not a list", `[{"data": {"text":"a"}, "annotations": 5}]`, 400, "annotations has the wrong JSON type"},
		}
		for _, c := range cases {
			r := owner.Do(t, "POST", path, c.body)
			if r.Status != c.status || !strings.Contains(string(r.Body), c.message) {
				t.Errorf("%s: %d %s, want %d containing %q", c.name, r.Status, r.Body, c.status, c.message)
			}
		}
		ts.Web.MaxImportBytes = 10_000
		if r := owner.Do(t, "POST", path, "["+strings.Join(many, ",")+"]"); r.Status != 413 {
			t.Errorf("oversized import: %d %s", r.Status, r.Body)
		}
		pr, err := ts.DB.FindProjectByID(context.Background(), f.org.ID, f.project.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, total, err := ts.DB.FindTasks(context.Background(), glossa.TaskFilter{OrgID: f.org.ID, ProjectID: f.project.ID})
		if err != nil || pr.TaskCount != 2 || total != 2 {
			t.Fatalf("after failed imports: counter %d, total %d (%v), want 2", pr.TaskCount, total, err)
		}
	})
}

// TestImportHundredThousand imports 100,000 tasks in one request, the
// size the issue promises, and lists them back by cursor.
func TestImportHundredThousand(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		owner := ts.As(t, f.owner)
		project := mustProject(t, owner, f.workspace.ID, "big")
		const n = 100_000
		var b bytes.Buffer
		b.WriteString("[")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			if i%3 == 0 {
				fmt.Fprintf(&b, `{"data":{"text":"task %d"},"annotations":[{"result":[{"from_name":"sentiment","to_name":"text","type":"choices","value":{"choices":["Positive"]}}]}]}`, i)
			} else {
				fmt.Fprintf(&b, `{"text":"task %d"}`, i)
			}
		}
		b.WriteString("]")
		var res map[string]any
		owner.Must(t, 201, "POST", fmt.Sprintf("/api/projects/%d/import", project), b.Bytes(), &res)
		if res["task_count"] != float64(n) || res["annotation_count"] != float64((n+2)/3) {
			t.Fatalf("import answered %v", res)
		}
		var page struct {
			Tasks      []glossa.Task
			Total      int64
			NextCursor int64 `json:"next_cursor"`
		}
		owner.Must(t, 200, "GET", fmt.Sprintf("/api/tasks?project=%d&ordering=-id&labeled=false&page_size=100", project), nil, &page)
		if page.Total != n-(n+2)/3 || len(page.Tasks) != 100 || page.Tasks[0].IsLabeled || page.NextCursor == 0 {
			t.Fatalf("unlabeled page: total %d, %d tasks, cursor %d", page.Total, len(page.Tasks), page.NextCursor)
		}
		cursor := page.NextCursor
		owner.Must(t, 200, "GET", fmt.Sprintf("/api/tasks?project=%d&ordering=-id&labeled=false&page_size=100&cursor=%d", project, cursor), nil, &page)
		// Every third task is labeled, so the next unlabeled one is at most
		// two IDs below the cursor.
		if next := page.Tasks[0].ID; next >= cursor || next < cursor-2 || page.Tasks[0].IsLabeled {
			t.Fatalf("cursor page does not continue the first: %d after cursor %d", next, cursor)
		}
	})
}
