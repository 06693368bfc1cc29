package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/testpg"
)

// TestFindTasksPlan checks that every kind of task page is a range scan of
// one of the tasks indexes, with no sort, on a project of some size next to
// another project: the reason FindTasks stays fast on a million tasks.
func TestFindTasksPlan(t *testing.T) {
	for _, dialect := range []string{SQLite, Postgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var dsn string
			if dialect == SQLite {
				dsn = "sqlite:" + filepath.Join(t.TempDir(), "plan.db")
			} else {
				dsn = testpg.DSN(t)
			}
			db, err := Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			org := &glossa.Organization{Title: "A", Slug: "a"}
			owner := &glossa.User{Email: "o@a.example"}
			if err := db.CreateOrganization(ctx, org, owner); err != nil {
				t.Fatal(err)
			}
			var projects []*glossa.Project
			for _, title := range []string{"other", "big"} {
				p := &glossa.Project{OrgID: org.ID, Title: title}
				if err := db.CreateProject(ctx, p); err != nil {
					t.Fatal(err)
				}
				if err := seedTasks(ctx, db, org.ID, p.ID, owner.ID, 20000); err != nil {
					t.Fatal(err)
				}
				projects = append(projects, p)
			}
			big := projects[1]
			yes, no := true, false
			for _, f := range []glossa.TaskFilter{
				{},
				{Labeled: &yes},
				{Labeled: &no},
				{Order: glossa.OldestFirst, Labeled: &no, Cursor: 30000},
				{Order: glossa.OldestFirst},
				{Cursor: 35000},
			} {
				f.OrgID, f.ProjectID = org.ID, big.ID
				q, args := db.taskPageQuery(f)
				plan := explain(t, db, q, args)
				t.Logf("%+v:\n%s", f, plan)
				for _, bad := range []string{"TEMP B-TREE", "Sort", "Seq Scan", "SCAN tasks\n"} {
					if strings.Contains(plan+"\n", bad) {
						t.Errorf("filter %+v: the plan has %q:\n%s", f, bad, plan)
					}
				}
				index := "tasks_project "
				if f.Labeled != nil {
					index = "tasks_project_labeled "
				}
				if !strings.Contains(strings.ReplaceAll(plan, "(", " "), index) {
					t.Errorf("filter %+v: the plan does not use %s:\n%s", f, index, plan)
				}
				// The cursor positions the scan; it is not a filter.
				if f.Cursor > 0 && !strings.Contains(strings.ReplaceAll(plan, " ", ""), "id"+map[bool]string{true: ">", false: "<"}[f.Order == glossa.OldestFirst]) {
					t.Errorf("filter %+v: the cursor is not an index condition:\n%s", f, plan)
				}
				for _, line := range strings.Split(plan, "\n") {
					if strings.Contains(line, "Filter:") && (strings.Contains(line, "id <") || strings.Contains(line, "id >") || strings.Contains(line, "is_labeled")) {
						t.Errorf("filter %+v: the plan filters what the index should find:\n%s", f, plan)
					}
				}
			}
		})
	}
}

// explain returns the engine's query plan for q, one node per line.
func explain(t *testing.T, db *DB, q string, args []any) string {
	t.Helper()
	ctx := context.Background()
	prefix := "EXPLAIN "
	if db.dialect == SQLite {
		prefix = "EXPLAIN QUERY PLAN "
	}
	rows, err := db.reader().query(ctx, prefix+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		// SQLite: id, parent, notused, detail; PostgreSQL: one text column.
		switch v := vals[len(vals)-1].(type) {
		case string:
			lines = append(lines, v)
		case []byte:
			lines = append(lines, string(v))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
