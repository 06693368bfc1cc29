package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/store"
	"github.com/google/go-cmp/cmp"
)

// conformance is the suite every engine must pass. Each test gets a fresh
// database.
var conformance = []struct {
	name string
	run  func(t *testing.T, f *fixture)
}{
	{"Migrate", testMigrate},
	{"Organizations", testOrganizations},
	{"Members", testMembers},
	{"Workspaces", testWorkspaces},
	{"Projects", testProjects},
	{"ProjectMembersAndAccess", testProjectMembersAndAccess},
	{"TenantIsolation", testTenantIsolation},
	{"ImportFind", testImportFind},
	{"FindTasksPaging", testFindTasksPaging},
	{"ImportAllOrNothing", testImportAllOrNothing},
	{"ImportExportRoundTrip", testImportExportRoundTrip},
	{"ExportFilters", testExportFilters},
	{"AnnotationsAndCounters", testAnnotationsAndCounters},
	{"DeleteTaskAndProject", testDeleteTaskAndProject},
	{"Sessions", testSessions},
	{"Tokens", testTokens},
	{"Audit", testAudit},
	{"Throttle", testThrottle},
	{"ConcurrentWriters", testConcurrentWriters},
	{"InternalErrorsAreOpaque", testInternalErrorsAreOpaque},
	{"SAMLConnections", testSAMLConnections},
	{"SAMLState", testSAMLState},
	{"Storages", testStorages},
	{"StorageJobs", testStorageJobs},
	{"StorageObjects", testStorageObjects},
	{"ExportOutbox", testExportOutbox},
	{"ExportDeletions", testExportDeletions},
	{"ExportDeletionsConcurrent", testExportDeletionsConcurrent},
	{"PersonCredentials", testPersonCredentials},
	{"Drafts", testDrafts},
	{"NextTask", testNextTask},
	{"NextTaskConcurrent", testNextTaskConcurrent},
	{"Reviews", testReviews},
	{"DeleteTasks", testDeleteTasks},
	{"QueryTasks", testQueryTasks},
	{"QueryTasksVisibility", testQueryTasksVisibility},
	{"QueryTasksAtScale", testQueryTasksAtScale},
}

func runConformance(t *testing.T, e engine) {
	for _, tc := range conformance {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newFixture(t, e))
		})
	}
}

func testMigrate(t *testing.T, f *fixture) {
	ctx := context.Background()
	a := MustCreateOrg(t, f.db, "acme")
	// Again, on the same handle and on new ones racing each other.
	if err := f.db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	// Several processes starting at once on a new, empty database.
	fresh := f.e.dsn(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dsn := fresh
			if i%2 == 1 {
				dsn = f.dsn // and on one that is up to date
			}
			db, err := store.Open(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			errs[i] = db.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate %d: %v", i, err)
		}
	}
	got, err := f.db.FindOrganizationByID(ctx, a.org.ID)
	if err != nil {
		t.Fatalf("organization gone after Migrate: %v", err)
	}
	if diff := cmp.Diff(a.org, got); diff != "" {
		t.Errorf("organization changed by Migrate (-want +got):\n%s", diff)
	}
	for _, dsn := range []string{f.dsn, fresh} {
		var n, maxV int
		if err := f.e.raw(t, dsn).QueryRow("SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &maxV); err != nil {
			t.Fatal(err)
		}
		if n != maxV || n < 1 {
			t.Errorf("schema_migrations has %d rows up to version %d, want one row per version", n, maxV)
		}
	}
	if n, err := MustOpen(t, fresh).CountOrganizations(ctx); err != nil || n != 0 {
		t.Errorf("the concurrently migrated database: CountOrganizations = %d, %v", n, err)
	}
	raw := f.e.raw(t, f.dsn)
	// A schema newer than this binary is refused.
	if _, err := raw.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 'x')"); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Migrate(ctx); err == nil {
		t.Errorf("Migrate on a schema from the future = nil, want an error")
	}
}

func testOrganizations(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	if n, err := db.CountOrganizations(ctx); err != nil || n != 0 {
		t.Fatalf("CountOrganizations on an empty database = %d, %v; want 0", n, err)
	}
	org := &glossa.Organization{Title: "Acme", Slug: "  Acme "}
	owner := &glossa.User{Email: " Olive@ACME.example ", FirstName: "Olive"}
	if err := db.CreateOrganization(ctx, org, owner); err != nil {
		t.Fatal(err)
	}
	if org.ID == 0 || owner.ID == 0 || owner.OrgID != org.ID {
		t.Fatalf("IDs not filled in: org %+v owner %+v", org, owner)
	}
	want := &glossa.Organization{ID: org.ID, Title: "Acme", Slug: "acme", CreatedAt: org.CreatedAt, UpdatedAt: org.CreatedAt,
		SessionIdleTimeout: glossa.DefaultSessionIdleTimeout, SessionMaxAge: glossa.DefaultSessionMaxAge}
	if diff := cmp.Diff(want, org); diff != "" {
		t.Errorf("created organization (-want +got):\n%s", diff)
	}
	if org.CreatedAt.Location() != time.UTC || !org.CreatedAt.After(clockStart) {
		t.Errorf("CreatedAt = %v, want a UTC time from the store's clock", org.CreatedAt)
	}
	for _, find := range []func() (*glossa.Organization, error){
		func() (*glossa.Organization, error) { return db.FindOrganizationByID(ctx, org.ID) },
		func() (*glossa.Organization, error) { return db.FindOrganizationBySlug(ctx, "ACME") },
	} {
		got, err := find()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("found organization (-want +got):\n%s", diff)
		}
	}
	m, err := db.FindMemberByID(ctx, org.ID, owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Role != glossa.RoleOwner || m.Email != "olive@acme.example" {
		t.Errorf("owner = %+v, want Owner with the email lower-cased and trimmed", m)
	}

	err = db.CreateOrganization(ctx, &glossa.Organization{Title: "Other", Slug: "ACME"}, &glossa.User{Email: "x@y.z"})
	wantError(t, err, glossa.ECONFLICT, `An organization with the slug "acme" already exists.`)
	if n, err := db.CountOrganizations(ctx); err != nil || n != 1 {
		t.Errorf("CountOrganizations after a conflict = %d, %v; want 1 (nothing half-created)", n, err)
	}
	if _, err := db.FindMembersByEmail(ctx, "x@y.z"); err != nil {
		t.Fatal(err)
	} else if ms, _ := db.FindMembersByEmail(ctx, "x@y.z"); len(ms) != 0 {
		t.Errorf("the owner of a refused organization was created: %+v", ms)
	}

	for _, tc := range []struct {
		name  string
		org   *glossa.Organization
		owner *glossa.User
	}{
		{"no slug", &glossa.Organization{Title: "T", Slug: " "}, &glossa.User{Email: "a@b.c"}},
		{"no owner email", &glossa.Organization{Title: "T", Slug: "t"}, &glossa.User{}},
		{"no owner", &glossa.Organization{Title: "T", Slug: "t"}, nil},
		{"negative timeout", &glossa.Organization{Title: "T", Slug: "t", SessionMaxAge: -time.Hour}, &glossa.User{Email: "a@b.c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, db.CreateOrganization(ctx, tc.org, tc.owner), glossa.EINVALID)
		})
	}

	upd, err := db.UpdateOrganization(ctx, org.ID, glossa.OrganizationUpdate{
		Title: ptr("Acme Corp"), SessionIdleTimeout: ptr(2 * time.Hour), SessionMaxAge: ptr(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	want.Title, want.SessionIdleTimeout, want.SessionMaxAge = "Acme Corp", 2*time.Hour, 48*time.Hour
	want.UpdatedAt = upd.UpdatedAt
	if diff := cmp.Diff(want, upd); diff != "" {
		t.Errorf("updated organization (-want +got):\n%s", diff)
	}
	if !upd.UpdatedAt.After(upd.CreatedAt) {
		t.Errorf("UpdatedAt %v not after CreatedAt %v", upd.UpdatedAt, upd.CreatedAt)
	}
	if got, _ := db.FindOrganizationByID(ctx, org.ID); !cmp.Equal(want, got) {
		t.Errorf("update not stored (-want +got):\n%s", cmp.Diff(want, got))
	}
	_, err = db.UpdateOrganization(ctx, org.ID, glossa.OrganizationUpdate{SessionIdleTimeout: ptr(time.Duration(0))})
	wantCode(t, err, glossa.EINVALID)
	_, err = db.UpdateOrganization(ctx, org.ID+100, glossa.OrganizationUpdate{Title: ptr("x")})
	wantError(t, err, glossa.ENOTFOUND, "Organization not found.")
	_, err = db.FindOrganizationBySlug(ctx, "nope")
	wantCode(t, err, glossa.ENOTFOUND)
	_, err = db.FindOrganizationByID(ctx, org.ID+100)
	wantCode(t, err, glossa.ENOTFOUND)
}

func testMembers(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	b := MustCreateOrg(t, db, "b")
	ann := MustCreateMember(t, db, a.org.ID, " Ann@Example.ORG", glossa.RoleAnnotator)
	if ann.Email != "ann@example.org" {
		t.Errorf("stored email = %q, want lower-cased and trimmed", ann.Email)
	}
	// The same email in another organization is another account.
	annB := MustCreateMember(t, db, b.org.ID, "ann@example.org", glossa.RoleManager)
	err := db.CreateMember(ctx, &glossa.User{OrgID: a.org.ID, Email: "ANN@example.org"}, glossa.RoleReviewer)
	wantError(t, err, glossa.ECONFLICT, `A member with the email "ann@example.org" already exists in this organization.`)
	wantCode(t, db.CreateMember(ctx, &glossa.User{OrgID: a.org.ID, Email: "x@y.z"}, glossa.Role("Boss")), glossa.EINVALID)
	wantCode(t, db.CreateMember(ctx, &glossa.User{OrgID: a.org.ID, Email: "  "}, glossa.RoleAnnotator), glossa.EINVALID)
	wantCode(t, db.CreateMember(ctx, &glossa.User{OrgID: b.org.ID + 100, Email: "x@y.z"}, glossa.RoleAnnotator), glossa.ENOTFOUND)

	wantAnn := &glossa.Member{User: *ann, Role: glossa.RoleAnnotator}
	got, err := db.FindMemberByID(ctx, a.org.ID, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantAnn, got); diff != "" {
		t.Errorf("FindMemberByID (-want +got):\n%s", diff)
	}
	got, err = db.FindMemberByEmail(ctx, a.org.ID, "ANN@example.org ")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantAnn, got); diff != "" {
		t.Errorf("FindMemberByEmail (-want +got):\n%s", diff)
	}
	all, err := db.FindMembersByEmail(ctx, "Ann@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]glossa.Member{*wantAnn, {User: *annB, Role: glossa.RoleManager}}, all); diff != "" {
		t.Errorf("FindMembersByEmail (-want +got):\n%s", diff)
	}

	rev := MustCreateMember(t, db, a.org.ID, "rev@example.org", glossa.RoleReviewer)
	ann2 := MustCreateMember(t, db, a.org.ID, "ann2@example.org", glossa.RoleAnnotator)
	ids := func(ms []glossa.Member) []int64 {
		var out []int64
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		filter    glossa.MemberFilter
		wantIDs   []int64
		wantTotal int
	}{
		{"all", glossa.MemberFilter{OrgID: a.org.ID}, []int64{a.owner.ID, ann.ID, rev.ID, ann2.ID}, 4},
		{"role", glossa.MemberFilter{OrgID: a.org.ID, Role: glossa.RoleAnnotator}, []int64{ann.ID, ann2.ID}, 2},
		{"email", glossa.MemberFilter{OrgID: a.org.ID, Email: "REV@example.org"}, []int64{rev.ID}, 1},
		{"page", glossa.MemberFilter{OrgID: a.org.ID, Offset: 1, Limit: 2}, []int64{ann.ID, rev.ID}, 4},
		{"other org", glossa.MemberFilter{OrgID: b.org.ID}, []int64{b.owner.ID, annB.ID}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, total, err := db.FindMembers(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantIDs, ids(ms)); diff != "" || total != tc.wantTotal {
				t.Errorf("FindMembers: total %d (want %d), IDs (-want +got):\n%s", total, tc.wantTotal, diff)
			}
		})
	}

	m, err := db.UpdateMemberRole(ctx, a.org.ID, ann.ID, glossa.RoleManager)
	if err != nil {
		t.Fatal(err)
	}
	if m.Role != glossa.RoleManager || m.ID != ann.ID {
		t.Errorf("UpdateMemberRole returned %+v", m)
	}
	if got, _ := db.FindMemberByID(ctx, a.org.ID, ann.ID); got.Role != glossa.RoleManager {
		t.Errorf("role not stored: %v", got.Role)
	}
	_, err = db.UpdateMemberRole(ctx, a.org.ID, ann.ID, glossa.Role("nope"))
	wantCode(t, err, glossa.EINVALID)

	if err := db.SetPassword(ctx, a.org.ID, ann.ID, "$argon2id$new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.FindMemberByID(ctx, a.org.ID, ann.ID); got.PasswordHash != "$argon2id$new" {
		t.Errorf("password hash = %q", got.PasswordHash)
	}
	_, err = db.FindMemberByEmail(ctx, a.org.ID, "nobody@example.org")
	wantError(t, err, glossa.ENOTFOUND, "Member not found.")
	if ms, err := db.FindMembersByEmail(ctx, "nobody@example.org"); err != nil || ms == nil || len(ms) != 0 {
		t.Errorf("FindMembersByEmail(unknown) = %v, %v; want an empty list", ms, err)
	}
}

func testWorkspaces(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	b := MustCreateOrg(t, db, "b")
	w := MustCreateWorkspace(t, db, a.org.ID, a.owner.ID, "Research")
	if w.ID == 0 || w.CreatedAt.IsZero() {
		t.Fatalf("CreateWorkspace did not fill in ID and times: %+v", w)
	}
	got, err := db.FindWorkspaceByID(ctx, a.org.ID, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Errorf("FindWorkspaceByID (-want +got):\n%s", diff)
	}
	// The creator is a member.
	ms, err := db.FindWorkspaceMembers(ctx, a.org.ID, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].ID != a.owner.ID || ms[0].Role != glossa.RoleOwner {
		t.Errorf("workspace members = %+v, want the creator", ms)
	}
	// A creator from another organization is refused, and nothing is created.
	err = db.CreateWorkspace(ctx, &glossa.Workspace{OrgID: a.org.ID, Title: "X", CreatedBy: b.owner.ID})
	wantCode(t, err, glossa.ENOTFOUND)
	wantCode(t, db.CreateWorkspace(ctx, &glossa.Workspace{OrgID: a.org.ID, Title: " "}), glossa.EINVALID)

	ann := MustCreateMember(t, db, a.org.ID, "ann@a.example", glossa.RoleAnnotator)
	w2 := MustCreateWorkspace(t, db, a.org.ID, 0, "Other")
	if err := db.AddWorkspaceMember(ctx, a.org.ID, w2.ID, ann.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.AddWorkspaceMember(ctx, a.org.ID, w2.ID, ann.ID); err != nil {
		t.Errorf("adding a member twice: %v", err)
	}
	wsIDs := func(ws []glossa.Workspace) []int64 {
		var out []int64
		for _, w := range ws {
			out = append(out, w.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		filter glossa.WorkspaceFilter
		want   []int64
	}{
		{"all", glossa.WorkspaceFilter{OrgID: a.org.ID}, []int64{w.ID, w2.ID}},
		{"owner's", glossa.WorkspaceFilter{OrgID: a.org.ID, MemberID: a.owner.ID}, []int64{w.ID}},
		{"ann's", glossa.WorkspaceFilter{OrgID: a.org.ID, MemberID: ann.ID}, []int64{w2.ID}},
		{"other org", glossa.WorkspaceFilter{OrgID: b.org.ID}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, err := db.FindWorkspaces(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, wsIDs(ws)); diff != "" {
				t.Errorf("FindWorkspaces (-want +got):\n%s", diff)
			}
		})
	}
	if err := db.RemoveWorkspaceMember(ctx, a.org.ID, w2.ID, ann.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RemoveWorkspaceMember(ctx, a.org.ID, w2.ID, ann.ID), glossa.ENOTFOUND)
	if ms, _ := db.FindWorkspaceMembers(ctx, a.org.ID, w2.ID); len(ms) != 0 {
		t.Errorf("members after removal = %+v", ms)
	}

	upd, err := db.UpdateWorkspace(ctx, a.org.ID, w.ID, glossa.WorkspaceUpdate{Title: ptr("Research 2"), Color: ptr("#00ff00")})
	if err != nil {
		t.Fatal(err)
	}
	want := *w
	want.Title, want.Color, want.UpdatedAt = "Research 2", "#00ff00", upd.UpdatedAt
	if diff := cmp.Diff(&want, upd); diff != "" {
		t.Errorf("UpdateWorkspace (-want +got):\n%s", diff)
	}
	_, err = db.UpdateWorkspace(ctx, a.org.ID, w.ID, glossa.WorkspaceUpdate{Title: ptr("")})
	wantCode(t, err, glossa.EINVALID)

	// A workspace with a project cannot be deleted.
	p := MustCreateProject(t, db, a.org.ID, w.ID, "P")
	wantError(t, db.DeleteWorkspace(ctx, a.org.ID, w.ID), glossa.ECONFLICT, "Move or delete the workspace's projects first.")
	if _, err := db.FindWorkspaceByID(ctx, a.org.ID, w.ID); err != nil {
		t.Fatalf("workspace gone after a refused delete: %v", err)
	}
	if _, err := db.UpdateProject(ctx, a.org.ID, p.ID, glossa.ProjectUpdate{WorkspaceID: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteWorkspace(ctx, a.org.ID, w.ID); err != nil {
		t.Fatalf("DeleteWorkspace of an emptied workspace: %v", err)
	}
	_, err = db.FindWorkspaceByID(ctx, a.org.ID, w.ID)
	wantCode(t, err, glossa.ENOTFOUND)
	wantCode(t, db.DeleteWorkspace(ctx, a.org.ID, w.ID), glossa.ENOTFOUND)
}

func testProjects(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	b := MustCreateOrg(t, db, "b")
	w := MustCreateWorkspace(t, db, a.org.ID, a.owner.ID, "W")
	wb := MustCreateWorkspace(t, db, b.org.ID, b.owner.ID, "WB")
	p := &glossa.Project{OrgID: a.org.ID, WorkspaceID: w.ID, Title: "Cats", Description: "d", LabelConfig: "<View/>",
		CreatedBy: a.owner.ID, TaskCount: 99}
	if err := db.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	if p.ID == 0 || p.TaskCount != 0 {
		t.Errorf("CreateProject: ID %d, TaskCount %d; want an ID and counters at zero", p.ID, p.TaskCount)
	}
	got := MustFindProject(t, db, a.org.ID, p.ID)
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("FindProjectByID (-want +got):\n%s", diff)
	}
	// A workspace of another organization is not there.
	err := db.CreateProject(ctx, &glossa.Project{OrgID: a.org.ID, WorkspaceID: wb.ID, Title: "X"})
	wantError(t, err, glossa.ENOTFOUND, "Workspace not found.")
	wantCode(t, db.CreateProject(ctx, &glossa.Project{OrgID: a.org.ID, Title: ""}), glossa.EINVALID)
	loose := MustCreateProject(t, db, a.org.ID, 0, "No workspace")
	if loose.WorkspaceID != 0 {
		t.Errorf("WorkspaceID = %d, want 0", loose.WorkspaceID)
	}
	MustCreateProject(t, db, b.org.ID, wb.ID, "B's")

	upd, err := db.UpdateProject(ctx, a.org.ID, loose.ID, glossa.ProjectUpdate{Title: ptr("Loose"), LabelConfig: ptr("<View><Text/></View>"),
		Description: ptr("dd"), WorkspaceID: ptr(w.ID)})
	if err != nil {
		t.Fatal(err)
	}
	want := *loose
	want.Title, want.LabelConfig, want.Description, want.WorkspaceID, want.UpdatedAt = "Loose", "<View><Text/></View>", "dd", w.ID, upd.UpdatedAt
	if diff := cmp.Diff(&want, upd); diff != "" {
		t.Errorf("UpdateProject (-want +got):\n%s", diff)
	}
	_, err = db.UpdateProject(ctx, a.org.ID, loose.ID, glossa.ProjectUpdate{WorkspaceID: ptr(wb.ID)})
	wantCode(t, err, glossa.ENOTFOUND)
	if got := MustFindProject(t, db, a.org.ID, loose.ID); got.WorkspaceID != w.ID {
		t.Errorf("a refused move changed the workspace to %d", got.WorkspaceID)
	}

	ps, err := db.FindProjects(ctx, glossa.ProjectFilter{OrgID: a.org.ID, WorkspaceID: w.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].ID != p.ID || ps[1].ID != loose.ID {
		t.Errorf("FindProjects by workspace = %+v", ps)
	}
}

func testProjectMembersAndAccess(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	b := MustCreateOrg(t, db, "b")
	ann := MustCreateMember(t, db, a.org.ID, "ann@a.example", glossa.RoleAnnotator)
	outsider := MustCreateMember(t, db, b.org.ID, "out@b.example", glossa.RoleAnnotator)
	w1 := MustCreateWorkspace(t, db, a.org.ID, 0, "W1")
	w2 := MustCreateWorkspace(t, db, a.org.ID, 0, "W2")
	pW1 := MustCreateProject(t, db, a.org.ID, w1.ID, "in W1")
	pW2 := MustCreateProject(t, db, a.org.ID, w2.ID, "in W2")
	pDirect := MustCreateProject(t, db, a.org.ID, w2.ID, "direct")
	pNone := MustCreateProject(t, db, a.org.ID, 0, "none")

	if err := db.AddWorkspaceMember(ctx, a.org.ID, w1.ID, ann.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.SetProjectMember(ctx, a.org.ID, pDirect.ID, ann.ID, glossa.ProjectAnnotator); err != nil {
		t.Fatal(err)
	}
	if err := db.SetProjectMember(ctx, a.org.ID, pNone.ID, ann.ID, glossa.ProjectReviewer); err != nil {
		t.Fatal(err)
	}
	// Changing a role upserts.
	if err := db.SetProjectMember(ctx, a.org.ID, pNone.ID, ann.ID, glossa.ProjectInherit); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.SetProjectMember(ctx, a.org.ID, pNone.ID, ann.ID, glossa.ProjectRole("Boss")), glossa.EINVALID)
	wantCode(t, db.SetProjectMember(ctx, a.org.ID, pNone.ID, outsider.ID, glossa.ProjectAnnotator), glossa.ENOTFOUND)

	access, err := db.FindAccess(ctx, a.org.ID, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantAccess := glossa.Access{
		Workspaces: map[int64]bool{w1.ID: true},
		Projects:   map[int64]glossa.ProjectRole{pDirect.ID: glossa.ProjectAnnotator, pNone.ID: glossa.ProjectInherit},
	}
	if diff := cmp.Diff(wantAccess, access); diff != "" {
		t.Errorf("FindAccess (-want +got):\n%s", diff)
	}
	// Looked up through another organization, ann has nothing.
	access, err = db.FindAccess(ctx, b.org.ID, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(access.Workspaces) != 0 || len(access.Projects) != 0 || access.Workspaces == nil || access.Projects == nil {
		t.Errorf("FindAccess through another org = %+v, want empty maps", access)
	}

	visible, err := db.FindProjects(ctx, glossa.ProjectFilter{OrgID: a.org.ID, VisibleTo: ann.ID})
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []int64
	for _, p := range visible {
		gotIDs = append(gotIDs, p.ID)
	}
	if diff := cmp.Diff([]int64{pW1.ID, pDirect.ID, pNone.ID}, gotIDs); diff != "" {
		t.Errorf("FindProjects VisibleTo (-want +got):\n%s", diff)
	}
	_ = pW2

	pms, err := db.FindProjectMembers(ctx, a.org.ID, pNone.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(pms) != 1 || pms[0].ID != ann.ID || pms[0].ProjectRole != glossa.ProjectInherit || pms[0].Role != glossa.RoleAnnotator {
		t.Errorf("FindProjectMembers = %+v", pms)
	}
	if err := db.RemoveProjectMember(ctx, a.org.ID, pNone.ID, ann.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RemoveProjectMember(ctx, a.org.ID, pNone.ID, ann.ID), glossa.ENOTFOUND)
	if pms, _ := db.FindProjectMembers(ctx, a.org.ID, pNone.ID); len(pms) != 0 {
		t.Errorf("members after removal = %+v", pms)
	}
}

// testTenantIsolation looks up, changes and deletes every kind of
// organization data of organization B through organization A: each must be
// ENOTFOUND, exactly like a missing row, and change nothing.
func testTenantIsolation(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	b := MustCreateOrg(t, db, "b")
	A := a.org.ID
	memberB := MustCreateMember(t, db, b.org.ID, "m@b.example", glossa.RoleAnnotator)
	wsB := MustCreateWorkspace(t, db, b.org.ID, b.owner.ID, "WB")
	pB := MustCreateProject(t, db, b.org.ID, wsB.ID, "PB")
	taskB := MustImport(t, db, b.org.ID, pB.ID, b.owner.ID, numbered(2)...)
	annB := MustCreateAnnotation(t, db, b.org.ID, taskB[0], b.owner.ID, false)
	if err := db.SetProjectMember(ctx, b.org.ID, pB.ID, memberB.ID, glossa.ProjectReviewer); err != nil {
		t.Fatal(err)
	}
	tokB := &glossa.APIToken{OrgID: b.org.ID, UserID: b.owner.ID, Name: "t", Hash: "hash-b", Prefix: "gl_"}
	if err := db.CreateToken(ctx, tokB); err != nil {
		t.Fatal(err)
	}
	sessB := &glossa.Session{IDHash: "sess-b", OrgID: b.org.ID, UserID: b.owner.ID, ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.CreateSession(ctx, sessB); err != nil {
		t.Fatal(err)
	}
	// Ann of A, for the calls that take a user of A.
	annA := MustCreateMember(t, db, A, "ann@a.example", glossa.RoleAnnotator)
	wsA := MustCreateWorkspace(t, db, A, 0, "WA")
	pA := MustCreateProject(t, db, A, 0, "PA")
	taskA := MustImport(t, db, A, pA.ID, a.owner.ID, numbered(1)...)

	snapshot := func() any {
		m, _ := db.FindMemberByID(ctx, b.org.ID, memberB.ID)
		w, _ := db.FindWorkspaceByID(ctx, b.org.ID, wsB.ID)
		wm, _ := db.FindWorkspaceMembers(ctx, b.org.ID, wsB.ID)
		p, _ := db.FindProjectByID(ctx, b.org.ID, pB.ID)
		pm, _ := db.FindProjectMembers(ctx, b.org.ID, pB.ID)
		tk, _ := db.FindTaskByID(ctx, b.org.ID, taskB[1])
		an, _ := db.FindAnnotationByID(ctx, b.org.ID, annB.ID)
		tok, _ := db.FindTokens(ctx, b.org.ID, b.owner.ID)
		s, _ := db.FindSession(ctx, sessB.IDHash)
		return []any{m, w, wm, p, pm, tk, an, tok, s}
	}
	before := snapshot()

	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"FindMemberByID", func() error { _, err := db.FindMemberByID(ctx, A, memberB.ID); return err }},
		{"FindMemberByEmail", func() error { _, err := db.FindMemberByEmail(ctx, A, "m@b.example"); return err }},
		{"UpdateMemberRole", func() error { _, err := db.UpdateMemberRole(ctx, A, memberB.ID, glossa.RoleOwner); return err }},
		{"SetPassword", func() error { return db.SetPassword(ctx, A, memberB.ID, "stolen") }},
		{"FindWorkspaceByID", func() error { _, err := db.FindWorkspaceByID(ctx, A, wsB.ID); return err }},
		{"UpdateWorkspace", func() error {
			_, err := db.UpdateWorkspace(ctx, A, wsB.ID, glossa.WorkspaceUpdate{Title: ptr("x")})
			return err
		}},
		{"DeleteWorkspace", func() error { return db.DeleteWorkspace(ctx, A, wsB.ID) }},
		{"AddWorkspaceMember(B's workspace)", func() error { return db.AddWorkspaceMember(ctx, A, wsB.ID, annA.ID) }},
		{"AddWorkspaceMember(B's user)", func() error { return db.AddWorkspaceMember(ctx, A, wsA.ID, memberB.ID) }},
		{"RemoveWorkspaceMember", func() error { return db.RemoveWorkspaceMember(ctx, A, wsB.ID, b.owner.ID) }},
		{"FindWorkspaceMembers", func() error { _, err := db.FindWorkspaceMembers(ctx, A, wsB.ID); return err }},
		{"CreateProject(B's workspace)", func() error {
			return db.CreateProject(ctx, &glossa.Project{OrgID: A, WorkspaceID: wsB.ID, Title: "x"})
		}},
		{"FindProjectByID", func() error { _, err := db.FindProjectByID(ctx, A, pB.ID); return err }},
		{"UpdateProject", func() error {
			_, err := db.UpdateProject(ctx, A, pB.ID, glossa.ProjectUpdate{Title: ptr("x")})
			return err
		}},
		{"UpdateProject(to B's workspace)", func() error {
			_, err := db.UpdateProject(ctx, A, pA.ID, glossa.ProjectUpdate{WorkspaceID: ptr(wsB.ID)})
			return err
		}},
		{"DeleteProject", func() error { return db.DeleteProject(ctx, A, pB.ID) }},
		{"SetProjectMember(B's project)", func() error { return db.SetProjectMember(ctx, A, pB.ID, annA.ID, glossa.ProjectAnnotator) }},
		{"SetProjectMember(B's user)", func() error { return db.SetProjectMember(ctx, A, pA.ID, memberB.ID, glossa.ProjectAnnotator) }},
		{"RemoveProjectMember", func() error { return db.RemoveProjectMember(ctx, A, pB.ID, memberB.ID) }},
		{"FindProjectMembers", func() error { _, err := db.FindProjectMembers(ctx, A, pB.ID); return err }},
		{"ImportTasks", func() error {
			_, err := db.ImportTasks(ctx, A, pB.ID, a.owner.ID, seqOf(numbered(1)), false)
			return err
		}},
		{"ImportTasks(annotations by B's user)", func() error {
			_, err := db.ImportTasks(ctx, A, pA.ID, memberB.ID, seqOf([]*glossa.TaskImport{{Data: []byte(`{}`),
				Annotations: []glossa.Annotation{{Result: []byte(`[]`)}}}}), false)
			return err
		}},
		{"FindTaskByID", func() error { _, err := db.FindTaskByID(ctx, A, taskB[0]); return err }},
		{"FindTasks", func() error {
			_, _, err := db.FindTasks(ctx, glossa.TaskFilter{OrgID: A, ProjectID: pB.ID})
			return err
		}},
		{"DeleteTask", func() error { return db.DeleteTask(ctx, A, taskB[1]) }},
		{"ExportTasks", func() error {
			return db.ExportTasks(ctx, glossa.ExportFilter{OrgID: A, ProjectID: pB.ID}, func(*glossa.Task) error { return nil })
		}},
		{"CreateAnnotation(B's task)", func() error {
			return db.CreateAnnotation(ctx, &glossa.Annotation{OrgID: A, TaskID: taskB[1], CompletedBy: annA.ID})
		}},
		{"CreateAnnotation(by B's user)", func() error {
			return db.CreateAnnotation(ctx, &glossa.Annotation{OrgID: A, TaskID: taskA[0], CompletedBy: memberB.ID})
		}},
		{"FindAnnotationByID", func() error { _, err := db.FindAnnotationByID(ctx, A, annB.ID); return err }},
		{"FindAnnotations", func() error { _, err := db.FindAnnotations(ctx, A, taskB[0]); return err }},
		{"UpdateAnnotation", func() error {
			_, err := db.UpdateAnnotation(ctx, A, annB.ID, glossa.AnnotationUpdate{WasCancelled: ptr(true)})
			return err
		}},
		{"DeleteAnnotation", func() error { return db.DeleteAnnotation(ctx, A, annB.ID) }},
		{"CreateSession(B's user)", func() error {
			return db.CreateSession(ctx, &glossa.Session{IDHash: "x", OrgID: A, UserID: memberB.ID, ExpiresAt: time.Now()})
		}},
		{"CreateToken(B's user)", func() error {
			return db.CreateToken(ctx, &glossa.APIToken{OrgID: A, UserID: memberB.ID, Hash: "x"})
		}},
		{"RevokeToken", func() error { return db.RevokeToken(ctx, A, b.owner.ID, tokB.ID) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.call(), glossa.ENOTFOUND)
		})
	}
	// Calls that list or bulk-delete find nothing of B through A.
	if err := db.DeleteUserSessions(ctx, A, b.owner.ID); err != nil {
		t.Fatal(err)
	}
	if toks, err := db.FindTokens(ctx, A, b.owner.ID); err != nil || len(toks) != 0 {
		t.Errorf("FindTokens through A = %v, %v; want none", toks, err)
	}
	if ps, err := db.FindProjects(ctx, glossa.ProjectFilter{OrgID: A}); err != nil || len(ps) != 1 || ps[0].ID != pA.ID {
		t.Errorf("FindProjects(A) = %+v, %v; want only A's project", ps, err)
	}
	if ws, err := db.FindWorkspaces(ctx, glossa.WorkspaceFilter{OrgID: A}); err != nil || len(ws) != 1 || ws[0].ID != wsA.ID {
		t.Errorf("FindWorkspaces(A) = %+v, %v; want only A's workspace", ws, err)
	}
	if diff := cmp.Diff(before, snapshot()); diff != "" {
		t.Errorf("B's data changed through A (-before +after):\n%s", diff)
	}
	if c := MustCounters(t, db, b.org.ID, pB.ID); c != (counters{2, 1, 1}) {
		t.Errorf("B's project counters = %+v, want {2 1 1}", c)
	}
}

func testInternalErrorsAreOpaque(t *testing.T, f *fixture) {
	ctx := context.Background()
	a := MustCreateOrg(t, f.db, "a")
	f.db.Close()
	_, err := f.db.FindOrganizationByID(ctx, a.org.ID)
	wantCode(t, err, glossa.EINTERNAL)
	if msg := glossa.ErrorMessage(err); msg == "" || containsAny(msg, "sql", "SELECT", "closed") {
		t.Errorf("user-facing message %q leaks detail", msg)
	}
	err = f.db.CreateMember(ctx, &glossa.User{OrgID: a.org.ID, Email: "x@y.z"}, glossa.RoleAnnotator)
	wantCode(t, err, glossa.EINTERNAL)
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
