package store_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/store"
	gocmp "github.com/google/go-cmp/cmp"
)

// flt is a data manager filter with its value written as JSON.
func flt(col glossa.DataManagerColumn, op, value string) glossa.DataManagerFilter {
	return glossa.DataManagerFilter{Column: col, Operator: op, Value: json.RawMessage(value)}
}

// dmTask is a task as the test expects the data manager to see it.
type dmTask struct {
	row  glossa.TaskRow
	data map[string]any // numbers as json.Number
}

// queryAll pages through a query, limit rows at a time, and returns every
// row, checking that each page reports the same total.
func queryAll(t *testing.T, db *store.DB, q glossa.DataManagerQuery) ([]glossa.TaskRow, *glossa.DataManagerPage) {
	t.Helper()
	var rows []glossa.TaskRow
	var first *glossa.DataManagerPage
	for pages := 0; ; pages++ {
		page, err := db.QueryTasks(context.Background(), q)
		if err != nil {
			t.Fatalf("QueryTasks (page %d): %v", pages+1, err)
		}
		if first == nil {
			first = page
		} else if page.Total != first.Total || page.TotalAtLeast != first.TotalAtLeast {
			t.Fatalf("page %d: total %d (at least: %v), first page said %d (%v)", pages+1, page.Total, page.TotalAtLeast, first.Total, first.TotalAtLeast)
		}
		if len(page.Rows) > pageSize(q.Limit) || (page.NextCursor != "" && len(page.Rows) != pageSize(q.Limit)) {
			t.Fatalf("page %d has %d rows (limit %d, next cursor %q)", pages+1, len(page.Rows), q.Limit, page.NextCursor)
		}
		rows = append(rows, page.Rows...)
		if page.NextCursor == "" {
			return rows, first
		}
		if pages > 20000 {
			t.Fatal("paging does not end")
		}
		q.Cursor = page.NextCursor
	}
}

func pageSize(limit int) int {
	if limit <= 0 {
		return 100
	}
	return min(limit, 1000)
}

func testQueryTasks(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	lf := mustLabeling(t, db, 0)
	org, p := lf.org.ID, lf.project.ID
	u1, u2 := lf.ann1, lf.ann2
	batches := [][]string{{
		`{"text":"Apple pie","n":5,"rank":3,"word":"kiwi","flag":true}`,
		`{"text":"banana split","n":2,"rank":1,"word":"apple"}`,
		`{"text":"Cherry","n":2.5,"word":"fig"}`,
		`{"text":"","n":10,"rank":3}`,
	}, {
		`{"n":"5","rank":2,"word":"banana","flag":false}`,
		`{"text":"apple","n":null,"rank":7,"word":"date"}`,
		`{"text":"Dates and APPLES","n":-1,"rank":0}`,
		`{"text":null,"rank":5,"word":"cherry"}`,
	}, {
		`{"text":"eggplant","n":7,"rank":-2,"word":"elder"}`,
		`{"text":"fig","n":3,"word":"apple"}`,
		`{"other":"x","rank":4}`,
		`{"text":"grape","n":1e2,"rank":1,"word":"grape"}`,
	}}
	var id []int64 // id[i] is task i, counting from 1
	id = append(id, 0)
	var created []time.Time
	for _, batch := range batches {
		var in []*glossa.TaskImport
		for _, d := range batch {
			ti := &glossa.TaskImport{Data: json.RawMessage(d)}
			switch len(id) + len(in) {
			case 2:
				ti.Predictions = []glossa.Prediction{{ModelVersion: "v1", Result: json.RawMessage(`[]`)}}
			case 9:
				ti.Predictions = []glossa.Prediction{{ModelVersion: "v1", Result: json.RawMessage(`[]`)}, {ModelVersion: "v2", Result: json.RawMessage(`[]`)}}
			}
			in = append(in, ti)
		}
		ids := MustImport(t, db, org, p, lf.owner.ID, in...)
		id = append(id, ids...)
		created = append(created, MustFindTask(t, db, org, ids[0]).CreatedAt)
	}
	review := map[int64]glossa.ReviewState{}
	a1 := MustCreateAnnotation(t, db, org, id[1], u1.ID, false)
	MustCreateAnnotation(t, db, org, id[2], u1.ID, false)
	MustCreateAnnotation(t, db, org, id[3], u1.ID, true)
	a22 := MustCreateAnnotation(t, db, org, id[2], u2.ID, false)
	a26 := MustCreateAnnotation(t, db, org, id[6], u2.ID, false)
	MustCreateAnnotation(t, db, org, id[9], lf.owner.ID, false)
	for _, r := range []struct {
		a        *glossa.Annotation
		accepted bool
	}{{a1, true}, {a22, false}, {a26, true}, {a26, false}} {
		if err := db.CreateReview(ctx, &glossa.Review{OrgID: org, AnnotationID: r.a.ID, ReviewerID: lf.reviewer.ID, Accepted: r.accepted}); err != nil {
			t.Fatal(err)
		}
		review[r.a.TaskID] = map[bool]glossa.ReviewState{true: glossa.ReviewAccepted, false: glossa.ReviewRejected}[r.accepted]
	}

	// What the data manager should show, from the export.
	var all []dmTask
	err := db.ExportTasks(ctx, glossa.ExportFilter{OrgID: org, ProjectID: p}, func(task *glossa.Task) error {
		row := glossa.TaskRow{Task: *task, Annotators: []int64{}, ReviewState: review[task.ID]}
		for _, a := range task.Annotations {
			if !slices.Contains(row.Annotators, a.CompletedBy) {
				row.Annotators = append(row.Annotators, a.CompletedBy)
			}
		}
		row.Task.Annotations, row.Task.Predictions = nil, nil
		d := json.NewDecoder(bytes.NewReader(task.Data))
		d.UseNumber()
		var data map[string]any
		if err := d.Decode(&data); err != nil {
			return err
		}
		all = append(all, dmTask{row: row, data: data})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 12 {
		t.Fatalf("exported %d tasks", len(all))
	}
	num := func(v any) (float64, bool) {
		n, ok := v.(json.Number)
		if !ok {
			return 0, false
		}
		f, err := n.Float64()
		return f, err == nil
	}
	str := func(v any) (string, bool) { s, ok := v.(string); return s, ok }
	ids := func(ns ...int) string {
		var s []string
		for _, n := range ns {
			s = append(s, fmt.Sprint(id[n]))
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	isTask := func(ns ...int) func(dmTask) bool {
		return func(d dmTask) bool {
			for _, n := range ns {
				if d.row.ID == id[n] {
					return true
				}
			}
			return false
		}
	}
	not := func(f func(dmTask) bool) func(dmTask) bool { return func(d dmTask) bool { return !f(d) } }
	timeJSON := func(t time.Time) string { return `"` + t.Format(time.RFC3339Nano) + `"` }
	// sortValue is what the test sorts by: a number, a string or a time;
	// nil (a missing field) sorts first.
	sortValue := func(d dmTask, col glossa.DataManagerColumn) any {
		switch col {
		case glossa.ColumnCreatedAt:
			return d.row.CreatedAt
		case glossa.ColumnUpdatedAt:
			return d.row.UpdatedAt
		case glossa.ColumnAnnotations:
			return float64(d.row.TotalAnnotations)
		case glossa.ColumnPredictions:
			return float64(d.row.TotalPredictions)
		case glossa.ColumnReviewState:
			return string(d.row.ReviewState)
		case "data.rank":
			if n, ok := num(d.data["rank"]); ok {
				return n
			}
			return nil
		case "data.word":
			if s, ok := str(d.data["word"]); ok {
				return s
			}
			return nil
		}
		return nil
	}
	compare := func(a, b any) int {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return -1
		case b == nil:
			return 1
		}
		switch a := a.(type) {
		case float64:
			return cmp.Compare(a, b.(float64))
		case string:
			return cmp.Compare(a, b.(string))
		case time.Time:
			return a.Compare(b.(time.Time))
		}
		panic(fmt.Sprintf("cannot compare %T", a))
	}

	for _, tc := range []struct {
		name    string
		filters []glossa.DataManagerFilter
		order   glossa.DataManagerColumn
		desc    bool
		want    func(dmTask) bool
	}{
		{name: "everything"},
		{name: "everything, newest first", desc: true},
		{name: "id in a list", filters: []glossa.DataManagerFilter{flt("id", "in", ids(2, 5, 9)+"")}, want: isTask(2, 5, 9)},
		{name: "id in a list with strangers", filters: []glossa.DataManagerFilter{flt("id", "in", "[0, 99999999, "+fmt.Sprint(lf.otherTask)+"]")}, want: isTask()},
		{name: "id not in a list", filters: []glossa.DataManagerFilter{flt("id", "not_in", ids(1, 12))}, want: not(isTask(1, 12))},
		{name: "id between", filters: []glossa.DataManagerFilter{flt("id", "in", fmt.Sprintf(`{"min": %d, "max": %d}`, id[3], id[7]))}, want: isTask(3, 4, 5, 6, 7)},
		{name: "id not between", filters: []glossa.DataManagerFilter{flt("id", "not_in", fmt.Sprintf(`{"min": %d, "max": %d}`, id[3], id[7]))}, want: not(isTask(3, 4, 5, 6, 7))},
		{name: "id comparisons", filters: []glossa.DataManagerFilter{flt("id", "greater", fmt.Sprint(id[2])), flt("id", "less_or_equal", fmt.Sprint(id[5])),
			flt("id", "not_equal", fmt.Sprint(id[4]))}, want: isTask(3, 5), desc: true},
		{name: "unlabeled", filters: []glossa.DataManagerFilter{flt("total_annotations", "equal", "0")}, want: not(isTask(1, 2, 6, 9))},
		{name: "most annotations first", filters: []glossa.DataManagerFilter{flt("total_annotations", "greater", "0")}, order: "total_annotations", desc: true, want: isTask(1, 2, 6, 9)},
		{name: "by annotations", order: "total_annotations"},
		{name: "with predictions", filters: []glossa.DataManagerFilter{flt("total_predictions", "greater_or_equal", "1")}, order: "total_predictions", want: isTask(2, 9)},
		{name: "by predictions, descending", order: "total_predictions", desc: true},
		{name: "created after the first batch", filters: []glossa.DataManagerFilter{flt("created_at", "greater", timeJSON(created[0]))}, order: "created_at", desc: true, want: not(isTask(1, 2, 3, 4))},
		{name: "created in the second batch", filters: []glossa.DataManagerFilter{flt("created_at", "in", `{"min":`+timeJSON(created[1])+`,"max":`+timeJSON(created[1])+`}`)}, want: isTask(5, 6, 7, 8)},
		{name: "created outside the second batch", filters: []glossa.DataManagerFilter{flt("created_at", "not_in", `{"min":`+timeJSON(created[1])+`,"max":`+timeJSON(created[1])+`}`)}, order: "created_at", want: not(isTask(5, 6, 7, 8))},
		{name: "by created_at", order: "created_at"},
		{name: "by updated_at", order: "updated_at"},
		{name: "by updated_at, descending", order: "updated_at", desc: true},
		{name: "accepted", filters: []glossa.DataManagerFilter{flt("review_state", "equal", `"accepted"`)}, want: isTask(1)},
		{name: "not reviewed", filters: []glossa.DataManagerFilter{flt("review_state", "equal", `"none"`)}, want: not(isTask(1, 2, 6))},
		{name: "not reviewed (empty)", filters: []glossa.DataManagerFilter{flt("review_state", "empty", `true`)}, want: not(isTask(1, 2, 6))},
		{name: "reviewed", filters: []glossa.DataManagerFilter{flt("review_state", "empty", `false`)}, order: "review_state", want: isTask(1, 2, 6)},
		{name: "not rejected", filters: []glossa.DataManagerFilter{flt("review_state", "not_equal", `"rejected"`)}, want: not(isTask(2, 6))},
		{name: "review state in", filters: []glossa.DataManagerFilter{flt("review_state", "in", `["accepted", "rejected"]`)}, want: isTask(1, 2, 6)},
		{name: "review state not in", filters: []glossa.DataManagerFilter{flt("review_state", "not_in", `["none", "rejected"]`)}, want: isTask(1)},
		{name: "by review state", order: "review_state"},
		{name: "by review state, descending", order: "review_state", desc: true},
		{name: "annotated by u1", filters: []glossa.DataManagerFilter{flt("annotators", "in", fmt.Sprintf("[%d]", u1.ID))}, want: isTask(1, 2, 3)},
		{name: "annotated by u1 or u2", filters: []glossa.DataManagerFilter{flt("annotators", "in", fmt.Sprintf("[%d, %d]", u2.ID, u1.ID))}, order: "updated_at", want: isTask(1, 2, 3, 6)},
		{name: "not annotated by u1", filters: []glossa.DataManagerFilter{flt("annotators", "not_in", fmt.Sprintf("[%d]", u1.ID))}, want: not(isTask(1, 2, 3))},
		{name: "annotated by nobody listed", filters: []glossa.DataManagerFilter{flt("annotators", "in", "[]")}, want: isTask()},
		{name: "annotated by another org's user", filters: []glossa.DataManagerFilter{flt("annotators", "in", fmt.Sprintf("[%d]", lf.other.owner.ID))}, want: isTask()},
		{name: "no annotators", filters: []glossa.DataManagerFilter{flt("annotators", "empty", "true")}, want: not(isTask(1, 2, 3, 6, 9))},
		{name: "some annotators", filters: []glossa.DataManagerFilter{flt("annotators", "empty", "false")}, want: isTask(1, 2, 3, 6, 9)},
		{name: "text contains", filters: []glossa.DataManagerFilter{flt("data.text", "contains", `"aPPle"`)}, want: isTask(1, 6, 7)},
		{name: "text does not contain", filters: []glossa.DataManagerFilter{flt("data.text", "not_contains", `"apple"`)}, want: not(isTask(1, 6, 7))},
		{name: "text equal", filters: []glossa.DataManagerFilter{flt("data.text", "equal", `"apple"`)}, want: isTask(6)},
		{name: "text empty", filters: []glossa.DataManagerFilter{flt("data.text", "empty", `true`)}, want: isTask(4, 5, 8, 11)},
		{name: "text not empty", filters: []glossa.DataManagerFilter{flt("data.text", "empty", `false`)}, want: not(isTask(4, 5, 8, 11))},
		{name: "n is the number 5", filters: []glossa.DataManagerFilter{flt("data.n", "equal", `5`)}, want: isTask(1)},
		{name: "n is the string 5", filters: []glossa.DataManagerFilter{flt("data.n", "equal", `"5"`)}, want: isTask(5)},
		{name: "n is 2.5", filters: []glossa.DataManagerFilter{flt("data.n", "equal", `2.5`)}, want: isTask(3)},
		{name: "n is 100 (written 1e2)", filters: []glossa.DataManagerFilter{flt("data.n", "equal", `100`)}, want: isTask(12)},
		{name: "n is null", filters: []glossa.DataManagerFilter{flt("data.n", "equal", `null`)}, want: isTask(6)},
		{name: "n is not 5", filters: []glossa.DataManagerFilter{flt("data.n", "not_equal", `5`)}, want: not(isTask(1))},
		{name: "n below 3", filters: []glossa.DataManagerFilter{flt("data.n", "less", `3`)}, want: isTask(2, 3, 7)},
		{name: "n at least 7", filters: []glossa.DataManagerFilter{flt("data.n", "greater_or_equal", `7`)}, want: isTask(4, 9, 12)},
		{name: "n a string above 4", filters: []glossa.DataManagerFilter{flt("data.n", "greater", `"4"`)}, want: isTask(5)},
		{name: "flag true", filters: []glossa.DataManagerFilter{flt("data.flag", "equal", `true`)}, want: isTask(1)},
		{name: "flag false", filters: []glossa.DataManagerFilter{flt("data.flag", "equal", `false`)}, want: isTask(5)},
		{name: "by rank", order: "data.rank"},
		{name: "by rank, descending", order: "data.rank", desc: true},
		{name: "by word", order: "data.word"},
		{name: "by word, descending", order: "data.word", desc: true},
		{name: "by rank, not annotated by u1", order: "data.rank", filters: []glossa.DataManagerFilter{flt("annotators", "not_in", fmt.Sprintf("[%d]", u1.ID))}, want: not(isTask(1, 2, 3))},
		{name: "to review, latest first", order: "updated_at", desc: true,
			filters: []glossa.DataManagerFilter{flt("total_annotations", "greater", "0"), flt("review_state", "equal", `"none"`)}, want: isTask(9)},
		{name: "a field name that looks like SQL", filters: []glossa.DataManagerFilter{flt(`data.x') OR 1=1 --`, "equal", `"a"`)}, want: isTask()},
		{name: "a field name that looks like SQL, not equal", filters: []glossa.DataManagerFilter{flt(`data.x' OR '1'='1`, "not_equal", `"a"`)}, order: `data.'; DROP TABLE tasks; --`},
		{name: "a field name with dots and accents", filters: []glossa.DataManagerFilter{flt("data.a.b ünï", "empty", `true`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []glossa.TaskRow
			for _, d := range all {
				if tc.want == nil || tc.want(d) {
					want = append(want, d.row)
				}
			}
			byID := map[int64]dmTask{}
			for _, d := range all {
				byID[d.row.ID] = d
			}
			slices.SortStableFunc(want, func(a, b glossa.TaskRow) int {
				c := compare(sortValue(byID[a.ID], tc.order), sortValue(byID[b.ID], tc.order))
				if c == 0 {
					c = cmp.Compare(a.ID, b.ID)
				}
				if tc.desc {
					return -c
				}
				return c
			})
			for _, limit := range []int{3, 100} {
				rows, page := queryAll(t, db, glossa.DataManagerQuery{OrgID: org, ProjectID: p, Filters: tc.filters, OrderBy: tc.order, Descending: tc.desc, Limit: limit})
				if diff := gocmp.Diff(want, rows); diff != "" {
					t.Fatalf("limit %d: rows (-want +got):\n%s", limit, diff)
				}
				if page.Total != int64(len(want)) || page.TotalAtLeast {
					t.Errorf("limit %d: total %d (at least: %v), want %d", limit, page.Total, page.TotalAtLeast, len(want))
				}
			}
		})
	}
	if c := MustCounters(t, db, org, p); c.Tasks != 12 {
		t.Fatalf("the tasks are not all there after the tests: %+v", c)
	}

	// Anything the data manager does not know is refused, saying why.
	for _, tc := range []struct {
		name    string
		q       glossa.DataManagerQuery
		message string
	}{
		{"unknown column", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("foo", "equal", "1")}},
			`Unknown column "foo": use id, created_at, updated_at, total_annotations, total_predictions, review_state, annotators or data.<field>.`},
		{"unknown operator", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("data.text", "regex", `"a.*"`)}},
			`The operator "regex" does not apply to data.text: use equal, not_equal, less, greater, less_or_equal, greater_or_equal, contains, not_contains or empty.`},
		{"contains on a number", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("total_annotations", "contains", "1")}},
			`The operator "contains" does not apply to total_annotations: use equal, not_equal, less, greater, less_or_equal, greater_or_equal, in or not_in.`},
		{"empty data key", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("data.", "empty", "true")}}, ""},
		{"quote in a data key", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt(`data.a"b`, "empty", "true")}}, ""},
		{"backslash in a data key", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt(`data.a\b`, "empty", "true")}}, ""},
		{"control character in a data key", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("data.a\nb", "empty", "true")}}, ""},
		{"long data key", glossa.DataManagerQuery{OrderBy: glossa.DataManagerColumn("data." + strings.Repeat("k", 257))}, ""},
		{"id not a number", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("id", "equal", `"1"`)}},
			"The filter on id (equal) takes a whole number."},
		{"id a fraction", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("id", "less", `1.5`)}}, ""},
		{"id in a string", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("id", "in", `"1,2"`)}}, ""},
		{"id range without max", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("id", "in", `{"min": 1}`)}}, ""},
		{"empty on a counter", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("total_annotations", "empty", `true`)}}, ""},
		{"a time that is not one", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("created_at", "greater", `"yesterday"`)}}, ""},
		{"a time range as a list", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("created_at", "in", `["2025-01-01T00:00:00Z"]`)}}, ""},
		{"unknown review state", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("review_state", "equal", `"maybe"`)}}, ""},
		{"annotators not a list", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("annotators", "in", `1`)}}, ""},
		{"annotators less", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("annotators", "less", `[1]`)}}, ""},
		{"data less than a list", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("data.n", "less", `[1]`)}}, ""},
		{"data equal to an object", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("data.n", "equal", `{"a": 1}`)}}, ""},
		{"data in", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("data.n", "in", `[1]`)}}, ""},
		{"data value not JSON", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{flt("data.n", "equal", `nul`)}}, ""},
		{"data value missing", glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{{Column: "data.n", Operator: "equal"}}}, ""},
		{"sort by annotators", glossa.DataManagerQuery{OrderBy: "annotators"}, "Tasks cannot be sorted by annotators: sort by another column."},
		{"sort by something else", glossa.DataManagerQuery{OrderBy: "title"}, ""},
		{"cursor not base64", glossa.DataManagerQuery{Cursor: "!!!"}, "The cursor is not valid: start again from the first page."},
		{"cursor not JSON", glossa.DataManagerQuery{Cursor: "bm9wZQ"}, "The cursor is not valid: start again from the first page."},
		{"too many filters", glossa.DataManagerQuery{Filters: slices.Repeat([]glossa.DataManagerFilter{flt("id", "greater", "0")}, 33)}, "A view has at most 32 filters."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.OrgID, tc.q.ProjectID = org, p
			_, err := db.QueryTasks(ctx, tc.q)
			wantCode(t, err, glossa.EINVALID)
			if tc.message != "" {
				wantError(t, err, glossa.EINVALID, tc.message)
			}
		})
	}

	// A cursor belongs to its query: its filters, order and direction.
	q := glossa.DataManagerQuery{OrgID: org, ProjectID: p, OrderBy: "data.rank", Limit: 2}
	page, err := db.QueryTasks(ctx, q)
	if err != nil || page.NextCursor == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	for _, other := range []glossa.DataManagerQuery{
		{OrderBy: "data.word"},
		{OrderBy: "data.rank", Descending: true},
		{OrderBy: "data.rank", Filters: []glossa.DataManagerFilter{flt("id", "greater", "0")}},
		{OrderBy: "data.rank", Visibility: &glossa.TaskVisibility{Storages: []int64{1}}},
	} {
		other.OrgID, other.ProjectID, other.Cursor = org, p, page.NextCursor
		_, err := db.QueryTasks(ctx, other)
		wantError(t, err, glossa.EINVALID, "The cursor belongs to another query (its filters, order or visibility changed): start again from the first page.")
	}

	// Another organization's project is not there, and the people of
	// another organization annotated nothing here.
	_, err = db.QueryTasks(ctx, glossa.DataManagerQuery{OrgID: lf.other.org.ID, ProjectID: p})
	wantError(t, err, glossa.ENOTFOUND, "Project not found.")
	_, err = db.QueryTasks(ctx, glossa.DataManagerQuery{OrgID: org, ProjectID: lf.otherProject.ID})
	wantError(t, err, glossa.ENOTFOUND, "Project not found.")
	if page, err := db.QueryTasks(ctx, glossa.DataManagerQuery{OrgID: lf.other.org.ID, ProjectID: lf.otherProject.ID,
		Filters: []glossa.DataManagerFilter{flt("annotators", "in", fmt.Sprintf("[%d, %d]", u1.ID, u2.ID))}}); err != nil || len(page.Rows) != 0 {
		t.Fatalf("the other organization's tasks annotated by this one's people: %+v, %v", page, err)
	}
}

// testQueryTasksVisibility: the data manager hides what the person may
// not see, and its totals agree.
func testQueryTasksVisibility(t *testing.T, f *fixture) {
	ctx := context.Background()
	sf := mustStorages(t, f.db, "acme")
	MustImport(t, f.db, sf.org.ID, sf.project.ID, sf.owner.ID, numbered(1)...)
	if _, _, err := f.db.AddStorageObjects(ctx, sf.source, blobObjects("in/a/1.jpg", "in/b/1.jpg", "in/b/2.jpg")); err != nil {
		t.Fatal(err)
	}
	vis := &glossa.TaskVisibility{Storages: []int64{sf.source.ID}, Readable: map[int64][]string{sf.source.ID: {"in/a/"}}}
	for _, tc := range []struct {
		name    string
		filters []glossa.DataManagerFilter
	}{
		{"no filter", nil},
		{"a filter", []glossa.DataManagerFilter{flt("id", "greater", "0")}},
	} {
		rows, page := queryAll(t, f.db, glossa.DataManagerQuery{OrgID: sf.org.ID, ProjectID: sf.project.ID, Filters: tc.filters, Visibility: vis, Limit: 1})
		if len(rows) != 2 || page.Total != 2 || strings.Contains(string(rows[0].Data)+string(rows[1].Data), "in/b/") {
			t.Errorf("%s: %d rows, total %d: %s / %s", tc.name, len(rows), page.Total, rows[0].Data, rows[1].Data)
		}
	}
}

// testQueryTasksAtScale runs the data manager on a project past the
// count limit and with an annotator past the task list threshold.
func testQueryTasksAtScale(t *testing.T, f *fixture) {
	ctx := context.Background()
	const n = glossa.DataManagerCountLimit + 50
	a := MustCreateOrg(t, f.db, "acme")
	p := MustCreateProject(t, f.db, a.org.ID, 0, "big")
	// Every third task is annotated by the owner (see SeedTasks).
	if err := store.SeedTasks(ctx, f.db, a.org.ID, p.ID, a.owner.ID, n); err != nil {
		t.Fatal(err)
	}
	q := glossa.DataManagerQuery{OrgID: a.org.ID, ProjectID: p.ID, Limit: 1000}

	all, page := queryAll(t, f.db, q)
	if len(all) != n || page.Total != n || page.TotalAtLeast {
		t.Fatalf("everything: %d rows, total %d (at least: %v); want %d", len(all), page.Total, page.TotalAtLeast, n)
	}
	q.Filters = []glossa.DataManagerFilter{flt("total_annotations", "less", "5")}
	if rows, page := queryAll(t, f.db, q); len(rows) != n || page.Total != glossa.DataManagerCountLimit || !page.TotalAtLeast {
		t.Fatalf("a filter that matches everything: %d rows, total %d (at least: %v); want %d, at least %d",
			len(rows), page.Total, page.TotalAtLeast, n, glossa.DataManagerCountLimit)
	}
	// Every task has the same created_at: the cursor's ID breaks the ties.
	q.Filters, q.OrderBy, q.Descending = nil, glossa.ColumnCreatedAt, true
	rows, _ := queryAll(t, f.db, q)
	if len(rows) != n || rows[0].ID != all[n-1].ID || rows[n-1].ID != all[0].ID {
		t.Fatalf("by created_at, descending: %d rows, from %d to %d", len(rows), rows[0].ID, rows[len(rows)-1].ID)
	}
	q.OrderBy, q.Descending = glossa.ColumnAnnotations, true
	rows, _ = queryAll(t, f.db, q)
	labeled := n / 3
	if len(rows) != n || rows[labeled-1].TotalAnnotations != 1 || rows[labeled].TotalAnnotations != 0 || rows[0].ID != all[n-n%3-1].ID {
		t.Fatalf("by total_annotations, descending: %d rows", len(rows))
	}
	for _, tc := range []struct {
		op   string
		want int
	}{{"in", labeled}, {"not_in", n - labeled}} {
		q := glossa.DataManagerQuery{OrgID: a.org.ID, ProjectID: p.ID, Limit: 1000,
			Filters: []glossa.DataManagerFilter{flt("annotators", tc.op, fmt.Sprintf("[%d]", a.owner.ID))}}
		rows, page := queryAll(t, f.db, q)
		if len(rows) != tc.want || page.Total != int64(tc.want) {
			t.Fatalf("annotators %s [owner]: %d rows, total %d; want %d", tc.op, len(rows), page.Total, tc.want)
		}
		for _, r := range rows {
			if (tc.op == "in") != (r.TotalAnnotations == 1) || (tc.op == "in") != slices.Equal(r.Annotators, []int64{a.owner.ID}) {
				t.Fatalf("annotators %s [owner]: row %+v", tc.op, r)
			}
		}
	}
}
