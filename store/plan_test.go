package store

import (
	"context"
	"encoding/json"
	"fmt"
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
			db, org, _, big := planDB(t, dialect)
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

// TestLinkedKeysPlan checks that a sync's lookup of which keys are linked
// already is a lookup per key in storage_links' primary key, even when the
// table's statistics say the storage has a handful of links and it has
// thousands, as they do while a first sync fills it: a plan that scans
// every link of the storage makes each batch slower than the last.
func TestLinkedKeysPlan(t *testing.T) {
	for _, dialect := range []string{SQLite, Postgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, org, _ := openPlanDB(t, dialect)
			p := &glossa.Project{OrgID: org.ID, Title: "P"}
			if err := db.CreateProject(ctx, p); err != nil {
				t.Fatal(err)
			}
			s := &glossa.Storage{OrgID: org.ID, ProjectID: p.ID, Type: glossa.StorageSource, Bucket: "b", AuthMode: glossa.AuthStatic}
			if err := db.CreateStorage(ctx, s); err != nil {
				t.Fatal(err)
			}
			key := func(i int) string { return fmt.Sprintf("images/%03d/%06d.jpg", i/1000, i) }
			add := func(from, to int) {
				t.Helper()
				var objs []glossa.StorageObject
				for i := from; i < to; i++ {
					objs = append(objs, glossa.StorageObject{Key: key(i), Folder: key(i)[:11],
						Tasks: []json.RawMessage{json.RawMessage(`{"data":{"image":"s3://b/` + key(i) + `"}}`)}})
				}
				if _, _, err := db.AddStorageObjects(ctx, s, objs); err != nil {
					t.Fatal(err)
				}
			}
			// Statistics taken at 20 links, then 10,000 more.
			add(0, 20)
			if _, err := db.writer().exec(ctx, "ANALYZE storage_links"); err != nil {
				t.Fatal(err)
			}
			for i := 20; i < 10_020; i += 1000 {
				add(i, i+1000)
			}
			keys := make([]string, 500)
			for i := range keys {
				keys[i] = key(20_000 + i)
			}
			q, args := db.linkedKeysQuery(s.ID, keys)
			plan := explain(t, db, q, args)
			t.Logf("\n%s", plan)
			for _, bad := range []string{"Hash", "Seq Scan", "Bitmap", "SCAN storage_links"} {
				if strings.Contains(plan, bad) {
					t.Errorf("the plan has %q:\n%s", bad, plan)
				}
			}
			want := map[string]string{Postgres: "Index Only Scan using storage_links_pkey", SQLite: "SEARCH storage_links USING PRIMARY KEY (storage_id=? AND key=?)"}[dialect]
			if !strings.Contains(plan, want) {
				t.Errorf("the plan does not say %q:\n%s", want, plan)
			}
		})
	}
}

// openPlanDB opens a fresh, migrated database of the dialect for a plan
// test, with one organization and its owner; it is closed when t ends.
func openPlanDB(t *testing.T, dialect string) (*DB, *glossa.Organization, *glossa.User) {
	t.Helper()
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "plan.db")
	if dialect == Postgres {
		dsn = testpg.DSN(t)
	}
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	org := &glossa.Organization{Title: "A", Slug: "a"}
	owner := &glossa.User{Email: "o@a.example"}
	if err := db.CreateOrganization(ctx, org, owner); err != nil {
		t.Fatal(err)
	}
	return db, org, owner
}
