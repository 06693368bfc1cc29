package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func testImportFind(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	p := MustCreateProject(t, db, a.org.ID, 0, "P")
	in := []*glossa.TaskImport{
		{Data: json.RawMessage(`{"text": "one"}`), Meta: json.RawMessage(`{"source": "upload"}`)},
		{Data: json.RawMessage(`{"text": "two"}`), Predictions: []glossa.Prediction{{ModelVersion: "v1", Result: json.RawMessage(`[]`)}}},
		{Data: json.RawMessage(`{"text": "three"}`), Annotations: []glossa.Annotation{{Result: json.RawMessage(`[{"x":1}]`)}}},
	}
	res, err := db.ImportTasks(ctx, a.org.ID, p.ID, a.owner.ID, seqOf(in), false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&glossa.ImportResult{TaskCount: 3, AnnotationCount: 1, PredictionCount: 1}, res); diff != "" {
		t.Errorf("ImportResult without IDs (-want +got):\n%s", diff)
	}
	tasks, total, err := db.FindTasks(ctx, glossa.TaskFilter{OrgID: a.org.ID, ProjectID: p.ID, Order: glossa.OldestFirst})
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(tasks) != 3 {
		t.Fatalf("FindTasks = %d tasks, total %d; want 3, 3", len(tasks), total)
	}
	want := []glossa.Task{
		{OrgID: a.org.ID, ProjectID: p.ID, Data: in[0].Data, Meta: in[0].Meta},
		{OrgID: a.org.ID, ProjectID: p.ID, Data: in[1].Data, TotalPredictions: 1},
		{OrgID: a.org.ID, ProjectID: p.ID, Data: in[2].Data, IsLabeled: true, TotalAnnotations: 1},
	}
	ignore := cmpopts.IgnoreFields(glossa.Task{}, "ID", "CreatedAt", "UpdatedAt")
	if diff := cmp.Diff(want, tasks, ignore); diff != "" {
		t.Errorf("imported tasks (-want +got):\n%s", diff)
	}
	got := MustFindTask(t, db, a.org.ID, tasks[0].ID)
	if diff := cmp.Diff(&tasks[0], got); diff != "" {
		t.Errorf("FindTaskByID (-want +got):\n%s", diff)
	}
	if c := MustCounters(t, db, a.org.ID, p.ID); c != (counters{3, 1, 1}) {
		t.Errorf("counters = %+v, want {3 1 1}", c)
	}

	// An empty import is fine and changes nothing.
	res, err = db.ImportTasks(ctx, a.org.ID, p.ID, a.owner.ID, seqOf(nil), true)
	if err != nil || res.TaskCount != 0 || len(res.TaskIDs) != 0 {
		t.Errorf("empty import = %+v, %v", res, err)
	}
	_, err = db.ImportTasks(ctx, a.org.ID, p.ID+1000, a.owner.ID, seqOf(numbered(1)), false)
	wantError(t, err, glossa.ENOTFOUND, "Project not found.")
	_, err = db.FindTaskByID(ctx, a.org.ID, tasks[2].ID+1000)
	wantError(t, err, glossa.ENOTFOUND, "Task not found.")

	for _, tc := range []struct {
		name string
		task *glossa.TaskImport
	}{
		{"nil task", nil},
		{"no data", &glossa.TaskImport{}},
		{"data not JSON", &glossa.TaskImport{Data: json.RawMessage(`{"a":`)}},
		{"data an array", &glossa.TaskImport{Data: json.RawMessage(`[1]`)}},
		{"data not UTF-8", &glossa.TaskImport{Data: json.RawMessage("{\"a\":\"\xff\"}")}},
		{"meta not JSON", &glossa.TaskImport{Data: json.RawMessage(`{}`), Meta: json.RawMessage(`{`)}},
		{"annotation result not JSON", &glossa.TaskImport{Data: json.RawMessage(`{}`),
			Annotations: []glossa.Annotation{{Result: json.RawMessage(`[`)}}}},
		{"prediction result not JSON", &glossa.TaskImport{Data: json.RawMessage(`{}`),
			Predictions: []glossa.Prediction{{Result: json.RawMessage(`nope`)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.ImportTasks(ctx, a.org.ID, p.ID, a.owner.ID, seqOf([]*glossa.TaskImport{numbered(1)[0], tc.task}), false)
			wantCode(t, err, glossa.EINVALID)
			if c := MustCounters(t, db, a.org.ID, p.ID); c != (counters{3, 1, 1}) {
				t.Errorf("counters after a refused import = %+v, want {3 1 1}", c)
			}
		})
	}
}

func testFindTasksPaging(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	p := MustCreateProject(t, db, a.org.ID, 0, "P")
	// 25 tasks; every third (3, 6, ..., 24) has an annotation.
	in := numbered(25)
	for i, task := range in {
		if (i+1)%3 == 0 {
			task.Annotations = []glossa.Annotation{{Result: json.RawMessage(`[]`)}}
		}
	}
	ids := MustImport(t, db, a.org.ID, p.ID, a.owner.ID, in...)
	var labeled, unlabeled []int64
	for i, id := range ids {
		if (i+1)%3 == 0 {
			labeled = append(labeled, id)
		} else {
			unlabeled = append(unlabeled, id)
		}
	}
	rev := func(s []int64) []int64 { s = slices.Clone(s); slices.Reverse(s); return s }
	yes, no := ptr(true), ptr(false)
	for _, tc := range []struct {
		name      string
		filter    glossa.TaskFilter
		want      []int64
		wantTotal int64
	}{
		{"newest first", glossa.TaskFilter{Limit: 10}, rev(ids)[:10], 25},
		{"default limit", glossa.TaskFilter{}, rev(ids), 25},
		{"oldest first, second page by offset", glossa.TaskFilter{Order: glossa.OldestFirst, Limit: 10, Offset: 10}, ids[10:20], 25},
		{"offset past the end", glossa.TaskFilter{Offset: 100}, nil, 25},
		{"negative offset is zero", glossa.TaskFilter{Offset: -5, Limit: 2}, rev(ids)[:2], 25},
		{"labeled, newest", glossa.TaskFilter{Labeled: yes}, rev(labeled), 8},
		{"labeled, oldest, limit", glossa.TaskFilter{Labeled: yes, Order: glossa.OldestFirst, Limit: 3}, labeled[:3], 8},
		{"unlabeled, newest", glossa.TaskFilter{Labeled: no, Limit: 4}, rev(unlabeled)[:4], 17},
		{"cursor, newest", glossa.TaskFilter{Cursor: ids[10], Limit: 3}, []int64{ids[9], ids[8], ids[7]}, 25},
		{"cursor, oldest", glossa.TaskFilter{Cursor: ids[10], Order: glossa.OldestFirst, Limit: 3}, ids[11:14], 25},
		{"cursor, unlabeled, oldest", glossa.TaskFilter{Cursor: ids[5], Labeled: no, Order: glossa.OldestFirst, Limit: 3},
			[]int64{ids[6], ids[7], ids[9]}, 17},
		{"cursor and offset", glossa.TaskFilter{Cursor: ids[10], Offset: 1, Limit: 2}, []int64{ids[8], ids[7]}, 25},
		{"cursor at the start", glossa.TaskFilter{Cursor: ids[0]}, nil, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.filter.OrgID, tc.filter.ProjectID = a.org.ID, p.ID
			tasks, total, err := db.FindTasks(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, task := range tasks {
				got = append(got, task.ID)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || total != tc.wantTotal {
				t.Errorf("total %d (want %d); IDs (-want +got):\n%s", total, tc.wantTotal, diff)
			}
		})
	}

	// Walking the unlabeled tasks by cursor visits each once.
	var walked []int64
	cursor := int64(0)
	for range 10 {
		page, _, err := db.FindTasks(ctx, glossa.TaskFilter{OrgID: a.org.ID, ProjectID: p.ID, Labeled: no, Cursor: cursor, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, task := range page {
			walked = append(walked, task.ID)
		}
		cursor = page[len(page)-1].ID
	}
	if diff := cmp.Diff(rev(unlabeled), walked); diff != "" {
		t.Errorf("cursor walk (-want +got):\n%s", diff)
	}

	// The page size is capped at 1000.
	big := MustCreateProject(t, db, a.org.ID, 0, "Big")
	MustImport(t, db, a.org.ID, big.ID, a.owner.ID, numbered(1003)...)
	for _, tc := range []struct{ limit, want int }{{0, 100}, {5000, 1000}, {1001, 1000}, {999, 999}} {
		tasks, total, err := db.FindTasks(ctx, glossa.TaskFilter{OrgID: a.org.ID, ProjectID: big.ID, Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) != tc.want || total != 1003 {
			t.Errorf("Limit %d: %d tasks, total %d; want %d, 1003", tc.limit, len(tasks), total, tc.want)
		}
	}
}

func testImportAllOrNothing(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	p := MustCreateProject(t, db, a.org.ID, 0, "P")
	first := numbered(2)
	first[0].Annotations = []glossa.Annotation{{Result: json.RawMessage(`[]`)}}
	MustImport(t, db, a.org.ID, p.ID, a.owner.ID, first...)
	before := MustCounters(t, db, a.org.ID, p.ID)

	// Past one full batch, so that rows were already sent to the database.
	const n = 1200
	withAnnotations := func(i int) *glossa.TaskImport {
		return &glossa.TaskImport{Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
			Annotations: []glossa.Annotation{{Result: json.RawMessage(`[]`)}},
			Predictions: []glossa.Prediction{{Result: json.RawMessage(`[]`)}}}
	}
	cases := []struct {
		name  string
		seq   func(cancel context.CancelFunc) func(yield func(*glossa.TaskImport, error) bool)
		check func(t *testing.T, err error)
	}{
		{
			name: "the sequence fails",
			seq: func(context.CancelFunc) func(yield func(*glossa.TaskImport, error) bool) {
				return func(yield func(*glossa.TaskImport, error) bool) {
					for i := range n {
						if i == 1100 {
							yield(nil, errBoom)
							return
						}
						if !yield(withAnnotations(i), nil) {
							return
						}
					}
				}
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, errBoom) {
					t.Errorf("error = %v, want the sequence's error", err)
				}
			},
		},
		{
			name: "a task is invalid",
			seq: func(context.CancelFunc) func(yield func(*glossa.TaskImport, error) bool) {
				return func(yield func(*glossa.TaskImport, error) bool) {
					for i := range n {
						task := withAnnotations(i)
						if i == 1100 {
							task.Data = json.RawMessage(`{`)
						}
						if !yield(task, nil) {
							return
						}
					}
				}
			},
			check: func(t *testing.T, err error) {
				wantError(t, err, glossa.EINVALID, "Task 1101: data must be a JSON object.")
			},
		},
		{
			name: "the database fails",
			seq: func(cancel context.CancelFunc) func(yield func(*glossa.TaskImport, error) bool) {
				return func(yield func(*glossa.TaskImport, error) bool) {
					for i := range n {
						if i == 700 {
							cancel() // the next batch's INSERT fails
						}
						if !yield(withAnnotations(i), nil) {
							return
						}
					}
				}
			},
			check: func(t *testing.T, err error) {
				if err == nil {
					t.Errorf("error = nil, want the database's")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			res, err := db.ImportTasks(ctx, a.org.ID, p.ID, a.owner.ID, tc.seq(cancel), true)
			if res != nil {
				t.Errorf("result = %+v, want nil", res)
			}
			tc.check(t, err)
			if c := MustCounters(t, db, a.org.ID, p.ID); c != before {
				t.Errorf("counters = %+v, want unchanged %+v", c, before)
			}
			if c := recount(t, db, a.org.ID, p.ID); c != before {
				t.Errorf("stored rows = %+v, want unchanged %+v", c, before)
			}
		})
	}
}

func testImportExportRoundTrip(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	ann := MustCreateMember(t, db, a.org.ID, "ann@a.example", glossa.RoleAnnotator)
	p := MustCreateProject(t, db, a.org.ID, 0, "P")
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	in := []*glossa.TaskImport{
		{
			// Key order, spacing, number spelling, escapes and big numbers
			// come back as they went in.
			Data: json.RawMessage(`{"text": "h\u00e9llo \"w\" ✓", "b": 1.50, "a": [2e3, {"z": null}], "big": 12345678901234567890}`),
			Meta: json.RawMessage(`{"source":"s3://bucket/key.json"}`),
			Annotations: []glossa.Annotation{
				{Result: json.RawMessage(`[{"from_name":"label","to_name":"text","type":"labels","value":{"start":0,"end":5,"labels":["Greeting"]}}]`),
					LeadTime: 12.25, GroundTruth: true, CreatedAt: at, UpdatedAt: at.Add(time.Minute)},
				{Result: json.RawMessage(`[]`), WasCancelled: true, CreatedAt: at},
			},
			Predictions: []glossa.Prediction{
				{ModelVersion: "ner-2", Score: ptr(0.87), Result: json.RawMessage(`[{"type":"labels","value":{"labels":["X"]}}]`), CreatedAt: at},
				{ModelVersion: "", Result: json.RawMessage(`[]`), CreatedAt: at},
			},
		},
		{Data: json.RawMessage(`{"image":"https://example.com/1.png"}`)},
	}
	res, err := db.ImportTasks(ctx, a.org.ID, p.ID, ann.ID, seqOf(in), true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&glossa.ImportResult{TaskCount: 2, AnnotationCount: 2, PredictionCount: 2, TaskIDs: res.TaskIDs}, res); diff != "" {
		t.Errorf("ImportResult (-want +got):\n%s", diff)
	}
	export := func(projectID int64) []*glossa.Task {
		var out []*glossa.Task
		err := db.ExportTasks(ctx, glossa.ExportFilter{OrgID: a.org.ID, ProjectID: projectID}, func(task *glossa.Task) error {
			out = append(out, task)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := export(p.ID)
	id0, id1 := res.TaskIDs[0], res.TaskIDs[1]
	want := []*glossa.Task{
		{ID: id0, OrgID: a.org.ID, ProjectID: p.ID, Data: in[0].Data, Meta: in[0].Meta, IsLabeled: true, TotalAnnotations: 1, TotalPredictions: 2,
			Annotations: []glossa.Annotation{
				{OrgID: a.org.ID, ProjectID: p.ID, TaskID: id0, Result: in[0].Annotations[0].Result, CompletedBy: ann.ID,
					GroundTruth: true, LeadTime: 12.25, CreatedAt: at, UpdatedAt: at.Add(time.Minute)},
				{OrgID: a.org.ID, ProjectID: p.ID, TaskID: id0, Result: json.RawMessage(`[]`), CompletedBy: ann.ID,
					WasCancelled: true, CreatedAt: at, UpdatedAt: at},
			},
			Predictions: []glossa.Prediction{
				{TaskID: id0, ModelVersion: "ner-2", Score: ptr(0.87), Result: in[0].Predictions[0].Result, CreatedAt: at},
				{TaskID: id0, Result: json.RawMessage(`[]`), CreatedAt: at},
			},
		},
		{ID: id1, OrgID: a.org.ID, ProjectID: p.ID, Data: in[1].Data},
	}
	opts := cmp.Options{
		cmpopts.IgnoreFields(glossa.Task{}, "CreatedAt", "UpdatedAt"),
		cmpopts.IgnoreFields(glossa.Annotation{}, "ID"),
		cmpopts.IgnoreFields(glossa.Prediction{}, "ID"),
		// Compare JSON as text, so a changed byte shows.
		cmp.Transformer("text", func(r json.RawMessage) string { return string(r) }),
	}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("export (-want +got):\n%s", diff)
	}

	// Exported tasks import again unchanged.
	p2 := MustCreateProject(t, db, a.org.ID, 0, "P2")
	var again []*glossa.TaskImport
	for _, task := range got {
		again = append(again, &glossa.TaskImport{Data: task.Data, Meta: task.Meta, Annotations: task.Annotations, Predictions: task.Predictions})
	}
	ids2 := MustImport(t, db, a.org.ID, p2.ID, ann.ID, again...)
	got2 := export(p2.ID)
	for i := range want {
		want[i].ID, want[i].ProjectID = ids2[i], p2.ID
		for j := range want[i].Annotations {
			want[i].Annotations[j].ProjectID, want[i].Annotations[j].TaskID = p2.ID, ids2[i]
		}
		for j := range want[i].Predictions {
			want[i].Predictions[j].TaskID = ids2[i]
		}
	}
	if diff := cmp.Diff(want, got2, opts); diff != "" {
		t.Errorf("export after a round trip (-want +got):\n%s", diff)
	}
	if c := MustCounters(t, db, a.org.ID, p2.ID); c != (counters{2, 1, 1}) {
		t.Errorf("counters after re-import = %+v, want {2 1 1}", c)
	}

	// With wantIDs, the IDs follow the input order across batches.
	p3 := MustCreateProject(t, db, a.org.ID, 0, "P3")
	ids3 := MustImport(t, db, a.org.ID, p3.ID, ann.ID, numbered(1234)...)
	for _, i := range []int{0, 499, 500, 501, 999, 1000, 1233} {
		task := MustFindTask(t, db, a.org.ID, ids3[i])
		if wantData := fmt.Sprintf(`{"n": %d}`, i+1); string(task.Data) != wantData {
			t.Errorf("TaskIDs[%d] has data %s, want %s", i, task.Data, wantData)
		}
	}
	if !slices.IsSorted(ids3) {
		t.Errorf("TaskIDs are not ascending")
	}
}

func testExportFilters(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	p := MustCreateProject(t, db, a.org.ID, 0, "P")
	other := MustCreateProject(t, db, a.org.ID, 0, "Other")
	// 2,500 tasks (three chunks); every seventh has an annotation and a
	// prediction.
	in := numbered(2500)
	for i, task := range in {
		if i%7 == 0 {
			task.Annotations = []glossa.Annotation{{Result: json.RawMessage(fmt.Sprintf(`[{"i":%d}]`, i))}}
			task.Predictions = []glossa.Prediction{{Result: json.RawMessage(`[]`), ModelVersion: "m"}}
		}
	}
	ids := MustImport(t, db, a.org.ID, p.ID, a.owner.ID, in...)
	otherIDs := MustImport(t, db, a.org.ID, other.ID, a.owner.ID, numbered(2)...)

	exportIDs := func(t *testing.T, filter glossa.ExportFilter) []int64 {
		t.Helper()
		var got []int64
		filter.OrgID, filter.ProjectID = a.org.ID, p.ID
		err := db.ExportTasks(ctx, filter, func(task *glossa.Task) error {
			got = append(got, task.ID)
			i := slices.Index(ids, task.ID)
			wantAnn := i%7 == 0
			if (len(task.Annotations) == 1) != wantAnn || (len(task.Predictions) == 1) != wantAnn {
				return fmt.Errorf("task %d: %d annotations, %d predictions", i, len(task.Annotations), len(task.Predictions))
			}
			if wantAnn && string(task.Annotations[0].Result) != fmt.Sprintf(`[{"i":%d}]`, i) {
				return fmt.Errorf("task %d has annotation %s", i, task.Annotations[0].Result)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	var annotated []int64
	for i, id := range ids {
		if i%7 == 0 {
			annotated = append(annotated, id)
		}
	}
	for _, tc := range []struct {
		name   string
		filter glossa.ExportFilter
		want   []int64
	}{
		{"all", glossa.ExportFilter{}, ids},
		{"only annotated", glossa.ExportFilter{OnlyAnnotated: true}, annotated},
		{"IDs, unsorted, repeated, foreign and missing", glossa.ExportFilter{
			IDs: []int64{ids[2000], ids[1], ids[7], ids[1], otherIDs[0], ids[2499] + 1000}},
			[]int64{ids[1], ids[7], ids[2000]}},
		{"IDs and only annotated", glossa.ExportFilter{IDs: []int64{ids[0], ids[1], ids[7]}, OnlyAnnotated: true},
			[]int64{ids[0], ids[7]}},
		{"empty ID list", glossa.ExportFilter{IDs: []int64{}}, nil},
		{"many IDs", glossa.ExportFilter{IDs: ids}, ids},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, exportIDs(t, tc.filter)); diff != "" {
				t.Errorf("exported IDs (-want +got):\n%s", diff)
			}
		})
	}

	calls := 0
	err := db.ExportTasks(ctx, glossa.ExportFilter{OrgID: a.org.ID, ProjectID: p.ID}, func(*glossa.Task) error {
		calls++
		return errBoom
	})
	if !errors.Is(err, errBoom) || calls != 1 {
		t.Errorf("a failing yield: error %v after %d calls; want errBoom after 1", err, calls)
	}
	err = db.ExportTasks(ctx, glossa.ExportFilter{OrgID: a.org.ID, ProjectID: p.ID + 1000}, func(*glossa.Task) error { return nil })
	wantError(t, err, glossa.ENOTFOUND, "Project not found.")
}

func testAnnotationsAndCounters(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	ann := MustCreateMember(t, db, a.org.ID, "ann@a.example", glossa.RoleAnnotator)
	p := MustCreateProject(t, db, a.org.ID, 0, "P")
	ids := MustImport(t, db, a.org.ID, p.ID, a.owner.ID, numbered(3)...)
	t1, t2 := ids[0], ids[1]

	check := func(t *testing.T, step string, want counters) {
		t.Helper()
		if c := MustCounters(t, db, a.org.ID, p.ID); c != want {
			t.Errorf("%s: project counters = %+v, want %+v", step, c, want)
		}
		if c := recount(t, db, a.org.ID, p.ID); c != want {
			t.Errorf("%s: recount = %+v, want %+v", step, c, want)
		}
	}
	check(t, "imported", counters{3, 0, 0})

	a1 := MustCreateAnnotation(t, db, a.org.ID, t1, ann.ID, false)
	if a1.ID == 0 || a1.ProjectID != p.ID || a1.CreatedAt.IsZero() {
		t.Errorf("CreateAnnotation did not fill in ID, project and times: %+v", a1)
	}
	got, err := db.FindAnnotationByID(ctx, a.org.ID, a1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a1, got); diff != "" {
		t.Errorf("FindAnnotationByID (-want +got):\n%s", diff)
	}
	if task := MustFindTask(t, db, a.org.ID, t1); !task.IsLabeled || task.TotalAnnotations != 1 {
		t.Errorf("task after one annotation: is_labeled %v, total %d", task.IsLabeled, task.TotalAnnotations)
	}
	check(t, "one annotation", counters{3, 1, 1})

	a2 := MustCreateAnnotation(t, db, a.org.ID, t2, ann.ID, true)
	if task := MustFindTask(t, db, a.org.ID, t2); task.IsLabeled || task.TotalAnnotations != 0 {
		t.Errorf("task with only a cancelled annotation: is_labeled %v, total %d; want false, 0", task.IsLabeled, task.TotalAnnotations)
	}
	check(t, "cancelled annotation", counters{3, 1, 1})

	a3 := MustCreateAnnotation(t, db, a.org.ID, t1, a.owner.ID, false)
	check(t, "second annotation on a task", counters{3, 1, 2})

	upd, err := db.UpdateAnnotation(ctx, a.org.ID, a2.ID, glossa.AnnotationUpdate{WasCancelled: ptr(false),
		Result: ptr(json.RawMessage(`[{"v":2}]`)), GroundTruth: ptr(true), LeadTime: ptr(3.5)})
	if err != nil {
		t.Fatal(err)
	}
	want := *a2
	want.WasCancelled, want.Result, want.GroundTruth, want.LeadTime, want.UpdatedAt = false, json.RawMessage(`[{"v":2}]`), true, 3.5, upd.UpdatedAt
	if diff := cmp.Diff(&want, upd); diff != "" {
		t.Errorf("UpdateAnnotation (-want +got):\n%s", diff)
	}
	check(t, "restored annotation", counters{3, 2, 3})

	if _, err := db.UpdateAnnotation(ctx, a.org.ID, a1.ID, glossa.AnnotationUpdate{WasCancelled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	check(t, "cancelled one of two", counters{3, 2, 2})

	if err := db.DeleteAnnotation(ctx, a.org.ID, a3.ID); err != nil {
		t.Fatal(err)
	}
	check(t, "deleted the last live one", counters{3, 1, 1})
	wantCode(t, db.DeleteAnnotation(ctx, a.org.ID, a3.ID), glossa.ENOTFOUND)
	_, err = db.FindAnnotationByID(ctx, a.org.ID, a3.ID)
	wantError(t, err, glossa.ENOTFOUND, "Annotation not found.")

	list, err := db.FindAnnotations(ctx, a.org.ID, t1)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != a1.ID || !list[0].WasCancelled {
		t.Errorf("FindAnnotations(t1) = %+v, want the cancelled a1", list)
	}
	if list, err := db.FindAnnotations(ctx, a.org.ID, ids[2]); err != nil || list == nil || len(list) != 0 {
		t.Errorf("FindAnnotations(task without) = %v, %v; want an empty list", list, err)
	}
	_, err = db.FindAnnotations(ctx, a.org.ID, ids[2]+1000)
	wantError(t, err, glossa.ENOTFOUND, "Task not found.")

	// An empty result is Label Studio's empty result.
	empty := &glossa.Annotation{OrgID: a.org.ID, TaskID: ids[2], CompletedBy: ann.ID}
	if err := db.CreateAnnotation(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if string(empty.Result) != "[]" {
		t.Errorf("empty result stored as %q", empty.Result)
	}
	check(t, "empty result", counters{3, 2, 2})

	wantCode(t, db.CreateAnnotation(ctx, &glossa.Annotation{OrgID: a.org.ID, TaskID: t1, CompletedBy: ann.ID, Result: json.RawMessage(`[`)}), glossa.EINVALID)
	_, err = db.UpdateAnnotation(ctx, a.org.ID, a1.ID, glossa.AnnotationUpdate{Result: ptr(json.RawMessage(`{`))})
	wantCode(t, err, glossa.EINVALID)
	wantError(t, db.CreateAnnotation(ctx, &glossa.Annotation{OrgID: a.org.ID, TaskID: ids[2] + 1000, CompletedBy: ann.ID}), glossa.ENOTFOUND, "Task not found.")
	wantCode(t, db.CreateAnnotation(ctx, &glossa.Annotation{OrgID: a.org.ID, TaskID: t1, CompletedBy: ann.ID + 1000}), glossa.ENOTFOUND)
	_, err = db.UpdateAnnotation(ctx, a.org.ID, a3.ID, glossa.AnnotationUpdate{LeadTime: ptr(1.0)})
	wantCode(t, err, glossa.ENOTFOUND)
	check(t, "refused changes", counters{3, 2, 2})
}

func testDeleteTaskAndProject(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	ann := MustCreateMember(t, db, a.org.ID, "ann@a.example", glossa.RoleAnnotator)
	p := MustCreateProject(t, db, a.org.ID, 0, "P")
	in := numbered(3)
	in[0].Predictions = []glossa.Prediction{{Result: json.RawMessage(`[]`)}}
	ids := MustImport(t, db, a.org.ID, p.ID, a.owner.ID, in...)
	a1 := MustCreateAnnotation(t, db, a.org.ID, ids[0], ann.ID, false)
	MustCreateAnnotation(t, db, a.org.ID, ids[0], ann.ID, false)
	MustCreateAnnotation(t, db, a.org.ID, ids[1], ann.ID, true)
	if c := MustCounters(t, db, a.org.ID, p.ID); c != (counters{3, 1, 2}) {
		t.Fatalf("counters = %+v, want {3 1 2}", c)
	}
	if err := db.DeleteTask(ctx, a.org.ID, ids[0]); err != nil {
		t.Fatal(err)
	}
	if c := MustCounters(t, db, a.org.ID, p.ID); c != (counters{2, 0, 0}) {
		t.Errorf("counters after deleting the labeled task = %+v, want {2 0 0}", c)
	}
	if c := recount(t, db, a.org.ID, p.ID); c != (counters{2, 0, 0}) {
		t.Errorf("recount = %+v, want {2 0 0}", c)
	}
	_, err := db.FindAnnotationByID(ctx, a.org.ID, a1.ID)
	wantCode(t, err, glossa.ENOTFOUND)
	wantError(t, db.DeleteTask(ctx, a.org.ID, ids[0]), glossa.ENOTFOUND, "Task not found.")
	if err := db.DeleteTask(ctx, a.org.ID, ids[1]); err != nil {
		t.Fatal(err)
	}
	if c := MustCounters(t, db, a.org.ID, p.ID); c != (counters{1, 0, 0}) {
		t.Errorf("counters after deleting a task with a cancelled annotation = %+v, want {1 0 0}", c)
	}

	if err := db.SetProjectMember(ctx, a.org.ID, p.ID, ann.ID, glossa.ProjectAnnotator); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteProject(ctx, a.org.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = db.FindProjectByID(ctx, a.org.ID, p.ID)
	wantCode(t, err, glossa.ENOTFOUND)
	_, err = db.FindTaskByID(ctx, a.org.ID, ids[2])
	wantCode(t, err, glossa.ENOTFOUND)
	if access, err := db.FindAccess(ctx, a.org.ID, ann.ID); err != nil || len(access.Projects) != 0 {
		t.Errorf("access after the project was deleted = %+v, %v", access, err)
	}
	wantCode(t, db.DeleteProject(ctx, a.org.ID, p.ID), glossa.ENOTFOUND)
}
