package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/testpg"
	"github.com/glossa-dev/glossa/store"
)

// An engine gives each test a fresh, empty database of one kind.
type engine struct {
	name string
	// dsn creates a new empty database and returns its store.Open address.
	dsn func(tb testing.TB) string
	// raw opens the same database with database/sql, for the few checks
	// that must go around the store (triggers, query plans).
	raw func(tb testing.TB, dsn string) *sql.DB
}

var engines = []engine{
	{
		name: "sqlite",
		dsn: func(tb testing.TB) string {
			return "sqlite:" + filepath.Join(tb.TempDir(), "glossa.db")
		},
		raw: func(tb testing.TB, dsn string) *sql.DB {
			return mustRaw(tb, "sqlite", strings.TrimPrefix(dsn, "sqlite:")+"?_busy_timeout=10000")
		},
	},
	{
		name: "postgres",
		dsn:  testpg.DSN,
		raw: func(tb testing.TB, dsn string) *sql.DB {
			return mustRaw(tb, "pgx", dsn)
		},
	},
}

func mustRaw(tb testing.TB, driver, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// TestStore runs the conformance suite against every engine.
func TestStore(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			runConformance(t, e)
		})
	}
}

// clock is a deterministic clock for DB.Now: every call is a millisecond
// after the previous one, in a zone other than UTC so that the tests see
// the store convert.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

var clockStart = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.FixedZone("CET", 3600))

func newClock() *clock { return &clock{t: clockStart} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// MustOpen opens dsn, migrates it, installs a test clock and closes the
// database when the test ends.
func MustOpen(tb testing.TB, dsn string) *store.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	db.Now = newClock().Now
	return db
}

// fixture is one fresh database and the engine it runs on.
type fixture struct {
	e   engine
	dsn string
	db  *store.DB
}

func newFixture(tb testing.TB, e engine) *fixture {
	dsn := e.dsn(tb)
	return &fixture{e: e, dsn: dsn, db: MustOpen(tb, dsn)}
}

// tenant is an organization with its owner.
type tenant struct {
	org   *glossa.Organization
	owner *glossa.User
}

func MustCreateOrg(tb testing.TB, db *store.DB, slug string) tenant {
	tb.Helper()
	org := &glossa.Organization{Title: strings.ToUpper(slug), Slug: slug}
	owner := &glossa.User{Email: "owner@" + slug + ".example", FirstName: "Olive", LastName: "Owner", PasswordHash: "$argon2id$x"}
	if err := db.CreateOrganization(context.Background(), org, owner); err != nil {
		tb.Fatalf("CreateOrganization(%q): %v", slug, err)
	}
	return tenant{org, owner}
}

func MustCreateMember(tb testing.TB, db *store.DB, orgID int64, email string, role glossa.Role) *glossa.User {
	tb.Helper()
	u := &glossa.User{OrgID: orgID, Email: email, FirstName: "F", LastName: "L"}
	if err := db.CreateMember(context.Background(), u, role); err != nil {
		tb.Fatalf("CreateMember(%q): %v", email, err)
	}
	return u
}

func MustCreateWorkspace(tb testing.TB, db *store.DB, orgID, createdBy int64, title string) *glossa.Workspace {
	tb.Helper()
	w := &glossa.Workspace{OrgID: orgID, Title: title, CreatedBy: createdBy, Color: "#ff0000"}
	if err := db.CreateWorkspace(context.Background(), w); err != nil {
		tb.Fatalf("CreateWorkspace(%q): %v", title, err)
	}
	return w
}

func MustCreateProject(tb testing.TB, db *store.DB, orgID, workspaceID int64, title string) *glossa.Project {
	tb.Helper()
	p := &glossa.Project{OrgID: orgID, WorkspaceID: workspaceID, Title: title, LabelConfig: "<View/>"}
	if err := db.CreateProject(context.Background(), p); err != nil {
		tb.Fatalf("CreateProject(%q): %v", title, err)
	}
	return p
}

// seqOf turns tasks into the sequence ImportTasks reads.
func seqOf(tasks []*glossa.TaskImport) iter.Seq2[*glossa.TaskImport, error] {
	return func(yield func(*glossa.TaskImport, error) bool) {
		for _, t := range tasks {
			if !yield(t, nil) {
				return
			}
		}
	}
}

// MustImport imports tasks and returns their IDs, in order.
func MustImport(tb testing.TB, db *store.DB, orgID, projectID, by int64, tasks ...*glossa.TaskImport) []int64 {
	tb.Helper()
	res, err := db.ImportTasks(context.Background(), orgID, projectID, by, seqOf(tasks), true)
	if err != nil {
		tb.Fatalf("ImportTasks: %v", err)
	}
	if len(res.TaskIDs) != len(tasks) {
		tb.Fatalf("ImportTasks returned %d IDs for %d tasks", len(res.TaskIDs), len(tasks))
	}
	return res.TaskIDs
}

// numbered returns n tasks whose data is {"n": i} for i = 1..n.
func numbered(n int) []*glossa.TaskImport {
	ts := make([]*glossa.TaskImport, n)
	for i := range ts {
		ts[i] = &glossa.TaskImport{Data: json.RawMessage(fmt.Sprintf(`{"n": %d}`, i+1))}
	}
	return ts
}

func MustCreateAnnotation(tb testing.TB, db *store.DB, orgID, taskID, by int64, cancelled bool) *glossa.Annotation {
	tb.Helper()
	a := &glossa.Annotation{OrgID: orgID, TaskID: taskID, CompletedBy: by, WasCancelled: cancelled,
		Result: json.RawMessage(`[{"type":"choices","value":{"choices":["yes"]}}]`), LeadTime: 1.5}
	if err := db.CreateAnnotation(context.Background(), a); err != nil {
		tb.Fatalf("CreateAnnotation(task %d): %v", taskID, err)
	}
	return a
}

func MustFindProject(tb testing.TB, db *store.DB, orgID, id int64) *glossa.Project {
	tb.Helper()
	p, err := db.FindProjectByID(context.Background(), orgID, id)
	if err != nil {
		tb.Fatalf("FindProjectByID(%d): %v", id, err)
	}
	return p
}

func MustFindTask(tb testing.TB, db *store.DB, orgID, id int64) *glossa.Task {
	tb.Helper()
	t, err := db.FindTaskByID(context.Background(), orgID, id)
	if err != nil {
		tb.Fatalf("FindTaskByID(%d): %v", id, err)
	}
	return t
}

// wantCode fails unless err carries the glossa error code want.
func wantCode(tb testing.TB, err error, want string) {
	tb.Helper()
	if got := glossa.ErrorCode(err); got != want {
		tb.Fatalf("error code = %q, want %q (error: %v)", got, want, err)
	}
}

// wantError fails unless err has code and shows exactly message.
func wantError(tb testing.TB, err error, code, message string) {
	tb.Helper()
	wantCode(tb, err, code)
	if got := glossa.ErrorMessage(err); got != message {
		tb.Fatalf("error message = %q, want %q", got, message)
	}
}

// counters are a project's counters, for comparisons.
type counters struct{ Tasks, Annotated, Annotations int64 }

func MustCounters(tb testing.TB, db *store.DB, orgID, projectID int64) counters {
	tb.Helper()
	p := MustFindProject(tb, db, orgID, projectID)
	return counters{p.TaskCount, p.AnnotatedTaskCount, p.AnnotationCount}
}

// recount computes a project's counters from its tasks and annotations
// through ExportTasks, to check the stored ones against.
func recount(tb testing.TB, db *store.DB, orgID, projectID int64) counters {
	tb.Helper()
	var c counters
	err := db.ExportTasks(context.Background(), glossa.ExportFilter{OrgID: orgID, ProjectID: projectID}, func(t *glossa.Task) error {
		c.Tasks++
		n := 0
		for _, a := range t.Annotations {
			if !a.WasCancelled {
				n++
			}
		}
		if n > 0 {
			c.Annotated++
		}
		c.Annotations += int64(n)
		if t.TotalAnnotations != n || t.IsLabeled != (n > 0) {
			return fmt.Errorf("task %d: total_annotations %d, is_labeled %v; has %d live annotations", t.ID, t.TotalAnnotations, t.IsLabeled, n)
		}
		if t.TotalPredictions != len(t.Predictions) {
			return fmt.Errorf("task %d: total_predictions %d, has %d", t.ID, t.TotalPredictions, len(t.Predictions))
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("recount: %v", err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

var errBoom = errors.New("boom")
