package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/testpg"
)

// planDB is a database with two projects of 20,000 seeded tasks each, for
// the plan tests; it returns the second ("big") project.
func planDB(t *testing.T, dialect string) (*DB, *glossa.Organization, *glossa.User, *glossa.Project) {
	t.Helper()
	ctx := context.Background()
	db, org, owner := openPlanDB(t, dialect)
	var p *glossa.Project
	for _, title := range []string{"other", "big"} {
		p = &glossa.Project{OrgID: org.ID, Title: title}
		if err := db.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := seedTasks(ctx, db, org.ID, p.ID, owner.ID, 20000); err != nil {
			t.Fatal(err)
		}
	}
	return db, org, owner, p
}

// noSortOrScan fails if plan sorts or reads a table whole.
func noSortOrScan(t *testing.T, what, plan string) {
	t.Helper()
	for _, bad := range []string{"TEMP B-TREE", "Sort", "Seq Scan", "SCAN t\n", "SCAN a\n", "Hash", "Bitmap"} {
		if strings.Contains(plan+"\n", bad) {
			t.Errorf("%s: the plan has %q:\n%s", what, bad, plan)
		}
	}
}

// TestLabelingPlans checks the plans that make NextTask and the data
// manager fast at a million tasks: the hand-out is a range scan of
// (project_id, is_labeled, id) with an index probe per task, and every
// page sorted by a task column is a range scan of that column's index,
// positioned on the cursor's value and ID, without a sort.
func TestLabelingPlans(t *testing.T) {
	for _, dialect := range []string{SQLite, Postgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db, org, owner, p := planDB(t, dialect)
			ctx := context.Background()

			vis := &glossa.TaskVisibility{Storages: []int64{1}, Readable: map[int64][]string{1: {"a/"}}}
			q, args := db.nextTaskQuery(glossa.NextTaskRequest{OrgID: org.ID, ProjectID: p.ID, UserID: owner.ID, Lease: time.Hour, Visibility: vis}, time.Now())
			plan := explain(t, db, q, args)
			t.Logf("NextTask:\n%s", plan)
			noSortOrScan(t, "NextTask", plan)
			for _, index := range []string{"tasks_project_labeled ", "annotations_author ", map[string]string{SQLite: "INTEGER PRIMARY KEY", Postgres: "task_leases_pkey"}[dialect], "storage_links_task "} {
				if !strings.Contains(strings.ReplaceAll(plan, "(", " "), index) {
					t.Errorf("NextTask does not use %s:\n%s", index, plan)
				}
			}

			f := func(col glossa.DataManagerColumn, op, v string) glossa.DataManagerFilter {
				return glossa.DataManagerFilter{Column: col, Operator: op, Value: json.RawMessage(v)}
			}
			for _, tc := range []struct {
				q     glossa.DataManagerQuery
				index string
			}{
				{glossa.DataManagerQuery{Descending: true}, "tasks_project "},
				{glossa.DataManagerQuery{OrderBy: "created_at", Descending: true}, "tasks_project_created "},
				{glossa.DataManagerQuery{OrderBy: "updated_at"}, "tasks_project_updated "},
				{glossa.DataManagerQuery{OrderBy: "total_annotations", Descending: true}, "tasks_project_annotations "},
				{glossa.DataManagerQuery{OrderBy: "total_predictions"}, "tasks_project_predictions "},
				{glossa.DataManagerQuery{OrderBy: "review_state", Descending: true}, "tasks_project_review "},
				// Filters that every task passes: any index of tasks that
				// gives the order will do.
				{glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{f("review_state", "equal", `"none"`)}}, "tasks_project"},
				{glossa.DataManagerQuery{OrderBy: "updated_at", Descending: true,
					Filters: []glossa.DataManagerFilter{f("total_annotations", "less", "5"), f("review_state", "equal", `"none"`)}}, "tasks_project"},
				// The owner annotated a third of the tasks: far more than
				// the list threshold, so a probe per task.
				{glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{f("annotators", "in", fmt.Sprintf("[%d]", owner.ID))}}, "tasks_project "},
				{glossa.DataManagerQuery{Filters: []glossa.DataManagerFilter{f("annotators", "not_in", fmt.Sprintf("[%d]", owner.ID))}, Visibility: vis}, "tasks_project "},
			} {
				dq := tc.q
				dq.OrgID, dq.ProjectID, dq.Limit = org.ID, p.ID, 100
				// The first page, then one from a cursor.
				first, err := db.compileQuery(ctx, db.reader(), dq)
				if err != nil {
					t.Fatal(err)
				}
				page, err := db.QueryTasks(ctx, dq)
				if err != nil || page.NextCursor == "" {
					t.Fatalf("%+v: %v", dq, err)
				}
				dq.Cursor = page.NextCursor
				next, err := db.compileQuery(ctx, db.reader(), dq)
				if err != nil {
					t.Fatal(err)
				}
				for i, part := range append(first.pages, next.pages...) {
					plan := explain(t, db, part.cond, append(part.args, 101))
					what := fmt.Sprintf("order %s, filters %s, part %d", dq.OrderBy, dq.Filters, i)
					t.Logf("%s:\n%s", what, plan)
					noSortOrScan(t, what, plan)
					if !strings.Contains(strings.ReplaceAll(plan, "(", " "), tc.index) {
						t.Errorf("%s: the plan does not use %s:\n%s", what, tc.index, plan)
					}
					if i == 0 || tc.q.OrderBy == "" || len(tc.q.Filters) > 0 {
						continue
					}
					// The cursor positions the scan on the column and the ID.
					col := string(tc.q.OrderBy)
					var want string
					switch {
					case dialect == Postgres:
						want = "ROW(" + col + ", id)"
					case i == 1:
						want = col + "=? AND id"
					default:
						want = col + map[bool]string{true: "<", false: ">"}[tc.q.Descending] + "?"
					}
					if !strings.Contains(plan, want) {
						t.Errorf("%s: the cursor is not an index condition (%s):\n%s", what, want, plan)
					}
				}
			}
		})
	}
}

// TestPostgresJITOff checks that Glossa's PostgreSQL sessions run without
// JIT compilation unless the address asks for it (see withoutJIT).
func TestPostgresJITOff(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:p%40ss@h:5432/db?sslmode=disable", "postgres://u:p%40ss@h:5432/db?jit=off&sslmode=disable"},
		{"postgres://h/db", "postgres://h/db?jit=off"},
		{"postgres://h/db?jit=on", "postgres://h/db?jit=on"},
	} {
		if got := withoutJIT(tc.in); got != tc.want {
			t.Errorf("withoutJIT(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	ctx := context.Background()
	db, err := Open(ctx, testpg.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var jit string
	if err := db.reader().queryRow(ctx, "SHOW jit").Scan(&jit); err != nil {
		t.Fatal(err)
	}
	if jit != "off" {
		t.Errorf("jit = %q in a store session, want off", jit)
	}
}
