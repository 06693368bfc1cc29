package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/store"
	"github.com/google/go-cmp/cmp"
)

// manualClock is a DB clock that moves only when told to.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// labelingFixture is an organization with a project of n numbered tasks,
// three annotators and a reviewer, and another organization with its own.
type labelingFixture struct {
	tenant
	project             *glossa.Project
	tasks               []int64
	ann1, ann2, ann3    *glossa.User
	reviewer            *glossa.User
	other               tenant
	otherProject        *glossa.Project
	otherTask, otherAnn int64
	otherUser           *glossa.User
}

func mustLabeling(t *testing.T, db *store.DB, n int) labelingFixture {
	t.Helper()
	var lf labelingFixture
	lf.tenant = MustCreateOrg(t, db, "acme")
	lf.project = MustCreateProject(t, db, lf.org.ID, 0, "P")
	lf.tasks = MustImport(t, db, lf.org.ID, lf.project.ID, lf.owner.ID, numbered(n)...)
	lf.ann1 = MustCreateMember(t, db, lf.org.ID, "ann1@acme.example", glossa.RoleAnnotator)
	lf.ann2 = MustCreateMember(t, db, lf.org.ID, "ann2@acme.example", glossa.RoleAnnotator)
	lf.ann3 = MustCreateMember(t, db, lf.org.ID, "ann3@acme.example", glossa.RoleAnnotator)
	lf.reviewer = MustCreateMember(t, db, lf.org.ID, "rev@acme.example", glossa.RoleReviewer)
	lf.other = MustCreateOrg(t, db, "globex")
	lf.otherProject = MustCreateProject(t, db, lf.other.org.ID, 0, "Q")
	lf.otherTask = MustImport(t, db, lf.other.org.ID, lf.otherProject.ID, lf.other.owner.ID, numbered(1)...)[0]
	lf.otherAnn = MustCreateAnnotation(t, db, lf.other.org.ID, lf.otherTask, lf.other.owner.ID, false).ID
	lf.otherUser = MustCreateMember(t, db, lf.other.org.ID, "x@globex.example", glossa.RoleAnnotator)
	return lf
}

func testDrafts(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	lf := mustLabeling(t, db, 3)
	org, task := lf.org.ID, lf.tasks[0]

	d := &glossa.Draft{OrgID: org, TaskID: task, UserID: lf.ann1.ID, Result: json.RawMessage(`[{"x":1}]`), LeadTime: 2.5}
	if err := db.SaveDraft(ctx, d); err != nil {
		t.Fatal(err)
	}
	if d.ID == 0 || d.CreatedAt.IsZero() || !d.UpdatedAt.Equal(d.CreatedAt) || d.AnnotationID != nil {
		t.Fatalf("saved draft: %+v", d)
	}
	got, err := db.FindDraft(ctx, org, task, lf.ann1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("FindDraft (-saved +found):\n%s", diff)
	}

	// Saving again replaces it: one draft per person and task.
	a := MustCreateAnnotation(t, db, org, task, lf.ann2.ID, false)
	d2 := &glossa.Draft{OrgID: org, TaskID: task, UserID: lf.ann1.ID, AnnotationID: &a.ID, Result: json.RawMessage(`[{"x":2}]`), LeadTime: 4}
	if err := db.SaveDraft(ctx, d2); err != nil {
		t.Fatal(err)
	}
	if d2.ID != d.ID || !d2.CreatedAt.Equal(d.CreatedAt) || !d2.UpdatedAt.After(d.UpdatedAt) || *d2.AnnotationID != a.ID {
		t.Fatalf("replaced draft: %+v (first %+v)", d2, d)
	}
	got, _ = db.FindDraft(ctx, org, task, lf.ann1.ID)
	if diff := cmp.Diff(d2, got); diff != "" {
		t.Errorf("FindDraft after replace (-saved +found):\n%s", diff)
	}
	// Another person's draft of the same task is another draft.
	d3 := &glossa.Draft{OrgID: org, TaskID: task, UserID: lf.ann3.ID}
	if err := db.SaveDraft(ctx, d3); err != nil || d3.ID == d.ID || string(d3.Result) != "[]" {
		t.Fatalf("second person's draft: %+v, %v", d3, err)
	}
	// Deleting the annotation being edited keeps the draft, as a new one.
	if err := db.DeleteAnnotation(ctx, org, a.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := db.FindDraft(ctx, org, task, lf.ann1.ID); err != nil || got.AnnotationID != nil || string(got.Result) != `[{"x":2}]` {
		t.Fatalf("draft after its annotation was deleted: %+v, %v", got, err)
	}

	for _, tc := range []struct {
		name string
		d    glossa.Draft
		code string
	}{
		{"result not JSON", glossa.Draft{OrgID: org, TaskID: task, UserID: lf.ann1.ID, Result: json.RawMessage(`[`)}, glossa.EINVALID},
		{"negative lead time", glossa.Draft{OrgID: org, TaskID: task, UserID: lf.ann1.ID, LeadTime: -1}, glossa.EINVALID},
		{"no such task", glossa.Draft{OrgID: org, TaskID: lf.tasks[2] + 1000, UserID: lf.ann1.ID}, glossa.ENOTFOUND},
		{"another org's task", glossa.Draft{OrgID: org, TaskID: lf.otherTask, UserID: lf.ann1.ID}, glossa.ENOTFOUND},
		{"through another org", glossa.Draft{OrgID: lf.other.org.ID, TaskID: task, UserID: lf.ann1.ID}, glossa.ENOTFOUND},
		{"another org's user", glossa.Draft{OrgID: org, TaskID: task, UserID: lf.otherUser.ID}, glossa.ENOTFOUND},
		{"annotation of another task", glossa.Draft{OrgID: org, TaskID: lf.tasks[1], UserID: lf.ann1.ID, AnnotationID: &d3.ID}, glossa.ENOTFOUND},
		{"another org's annotation", glossa.Draft{OrgID: org, TaskID: task, UserID: lf.ann1.ID, AnnotationID: &lf.otherAnn}, glossa.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, db.SaveDraft(ctx, &tc.d), tc.code)
		})
	}
	wantCode(t, db.SaveDraft(ctx, nil), glossa.EINVALID)
	if got, _ := db.FindDraft(ctx, org, task, lf.ann1.ID); string(got.Result) != `[{"x":2}]` {
		t.Fatalf("a refused save changed the draft: %s", got.Result)
	}
	_, err = db.FindDraft(ctx, lf.other.org.ID, task, lf.ann1.ID)
	wantError(t, err, glossa.ENOTFOUND, "Draft not found.")
	wantCode(t, db.DeleteDraft(ctx, lf.other.org.ID, task, lf.ann1.ID), glossa.ENOTFOUND)

	// Submitting deletes the person's draft of a new annotation.
	MustCreateAnnotation(t, db, org, task, lf.ann1.ID, false)
	_, err = db.FindDraft(ctx, org, task, lf.ann1.ID)
	wantCode(t, err, glossa.ENOTFOUND)
	if _, err := db.FindDraft(ctx, org, task, lf.ann3.ID); err != nil {
		t.Fatalf("someone else's submission deleted ann3's draft: %v", err)
	}

	if err := db.DeleteDraft(ctx, org, task, lf.ann3.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, db.DeleteDraft(ctx, org, task, lf.ann3.ID), glossa.ENOTFOUND, "Draft not found.")

	// Drafts go with their task.
	if err := db.SaveDraft(ctx, &glossa.Draft{OrgID: org, TaskID: lf.tasks[1], UserID: lf.ann2.ID}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteTask(ctx, org, lf.tasks[1]); err != nil {
		t.Fatal(err)
	}
	_, err = db.FindDraft(ctx, org, lf.tasks[1], lf.ann2.ID)
	wantCode(t, err, glossa.ENOTFOUND)
}

// mustNext asks for the next task and returns its ID.
func mustNext(tb testing.TB, db *store.DB, r glossa.NextTaskRequest) int64 {
	tb.Helper()
	task, err := db.NextTask(context.Background(), r)
	if err != nil {
		tb.Fatalf("NextTask(user %d): %v", r.UserID, err)
	}
	return task.ID
}

func testNextTask(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	clock := &manualClock{t: time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)}
	db.Now = clock.Now
	lf := mustLabeling(t, db, 6)
	org, p, tk := lf.org.ID, lf.project.ID, lf.tasks
	req := func(u *glossa.User) glossa.NextTaskRequest {
		return glossa.NextTaskRequest{OrgID: org, ProjectID: p, UserID: u.ID, Lease: 10 * time.Minute}
	}
	// A task labeled by someone else is not handed out.
	MustCreateAnnotation(t, db, org, tk[4], lf.owner.ID, false)

	got := mustNext(t, db, req(lf.ann1))
	if got != tk[0] {
		t.Fatalf("first hand-out = %d, want the first task %d", got, tk[0])
	}
	task, err := db.NextTask(ctx, req(lf.ann1))
	if err != nil || task.ID != tk[0] || string(task.Data) != `{"n": 1}` || task.ProjectID != p {
		t.Fatalf("asking again = %+v, %v; want the held task %d", task, err, tk[0])
	}
	if got := mustNext(t, db, req(lf.ann2)); got != tk[1] {
		t.Fatalf("second person got %d, want %d (the first is held)", got, tk[1])
	}
	// Skipping ends the lease, and the skipped task is not offered again
	// to the person who skipped it, but is to others.
	MustCreateAnnotation(t, db, org, tk[0], lf.ann1.ID, true)
	if got := mustNext(t, db, req(lf.ann1)); got != tk[2] {
		t.Fatalf("after a skip: %d, want %d", got, tk[2])
	}
	if got := mustNext(t, db, req(lf.ann3)); got != tk[0] {
		t.Fatalf("a task someone else skipped: got %d, want %d", got, tk[0])
	}
	// Submitting: the next one.
	MustCreateAnnotation(t, db, org, tk[1], lf.ann2.ID, false)
	if got := mustNext(t, db, req(lf.ann2)); got != tk[3] {
		t.Fatalf("after submitting: %d, want %d", got, tk[3])
	}
	// Now tk[0] (ann3), tk[2] (ann1), tk[3] (ann2) are held, tk[1] and
	// tk[4] labeled: the reviewer gets tk[5], then nothing is left.
	if got := mustNext(t, db, req(lf.reviewer)); got != tk[5] {
		t.Fatalf("reviewer got %d, want %d", got, tk[5])
	}
	_, err = db.NextTask(ctx, req(lf.owner))
	wantError(t, err, glossa.ENOTFOUND, "No task is left for you to label in this project.")

	// Releasing a task hands it on.
	if err := db.ReleaseTask(ctx, org, tk[5], lf.reviewer.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.ReleaseTask(ctx, org, tk[5], lf.reviewer.ID); err != nil {
		t.Fatalf("releasing a task not held: %v", err)
	}
	wantCode(t, db.ReleaseTask(ctx, org, lf.otherTask, lf.reviewer.ID), glossa.ENOTFOUND)
	if got := mustNext(t, db, req(lf.owner)); got != tk[5] {
		t.Fatalf("released task went to %d, want %d", got, tk[5])
	}

	// Leases expire. Every lease so far was granted at 09:00 for ten
	// minutes. At 09:08 ann1 saves a draft of tk[2], which renews their
	// lease on it until 09:18.
	clock.Advance(8 * time.Minute)
	if err := db.SaveDraft(ctx, &glossa.Draft{OrgID: org, TaskID: tk[2], UserID: lf.ann1.ID}); err != nil {
		t.Fatal(err)
	}
	// At 09:12 the others' leases have expired: their tasks go to whoever
	// asks, lowest ID first; tk[2] does not.
	clock.Advance(4 * time.Minute)
	newcomer := MustCreateMember(t, db, org, "new@acme.example", glossa.RoleAnnotator)
	for _, tc := range []struct {
		who  *glossa.User
		want int64
	}{
		{newcomer, tk[0]}, // was ann3's
		{lf.ann3, tk[3]},  // was ann2's: ann3 lost tk[0] and gets another
		{lf.ann2, tk[5]},  // was the owner's
	} {
		if got := mustNext(t, db, req(tc.who)); got != tc.want {
			t.Fatalf("after expiry, %s got %d, want %d", tc.who.Email, got, tc.want)
		}
	}
	_, err = db.NextTask(ctx, req(lf.owner))
	wantCode(t, err, glossa.ENOTFOUND)
	// The task a person holds comes first, before a free one with a lower ID.
	if err := db.ReleaseTask(ctx, org, tk[0], newcomer.ID); err != nil {
		t.Fatal(err)
	}
	if got := mustNext(t, db, req(lf.ann2)); got != tk[5] {
		t.Fatalf("ann2 asked again: %d, want the held %d before the free %d", got, tk[5], tk[0])
	}
	// An explicit time: an hour later every lease has expired.
	later := req(lf.owner)
	later.Now = clock.Now().Add(time.Hour)
	if got := mustNext(t, db, later); got != tk[0] {
		t.Fatalf("an hour later: %d, want %d", got, tk[0])
	}

	// Visibility: a task the person may not see is never handed to them.
	sf := mustStorages(t, db, "vis")
	if _, _, err := db.AddStorageObjects(ctx, sf.source, blobObjects("in/b/1.jpg", "in/a/1.jpg")); err != nil {
		t.Fatal(err)
	}
	vis := &glossa.TaskVisibility{Storages: []int64{sf.source.ID}, Readable: map[int64][]string{sf.source.ID: {"in/a/"}}}
	visTask, err := db.NextTask(ctx, glossa.NextTaskRequest{OrgID: sf.org.ID, ProjectID: sf.project.ID, UserID: sf.owner.ID, Lease: time.Minute, Visibility: vis})
	if err != nil || string(visTask.Data) != `{"image":"s3://scans/in/a/1.jpg"}` {
		t.Fatalf("with visibility: %+v, %v", visTask, err)
	}
	// Held but no longer visible: not returned, and nothing else is visible.
	vis.Readable[sf.source.ID] = nil
	_, err = db.NextTask(ctx, glossa.NextTaskRequest{OrgID: sf.org.ID, ProjectID: sf.project.ID, UserID: sf.owner.ID, Lease: time.Minute, Visibility: vis})
	wantCode(t, err, glossa.ENOTFOUND)

	// Tenant isolation and validation.
	for _, tc := range []struct {
		name string
		r    glossa.NextTaskRequest
		code string
	}{
		{"another org's project", glossa.NextTaskRequest{OrgID: org, ProjectID: lf.otherProject.ID, UserID: lf.ann1.ID, Lease: time.Minute}, glossa.ENOTFOUND},
		{"through another org", glossa.NextTaskRequest{OrgID: lf.other.org.ID, ProjectID: p, UserID: lf.otherUser.ID, Lease: time.Minute}, glossa.ENOTFOUND},
		{"another org's user", glossa.NextTaskRequest{OrgID: org, ProjectID: p, UserID: lf.otherUser.ID, Lease: time.Minute}, glossa.ENOTFOUND},
		{"no lease", glossa.NextTaskRequest{OrgID: org, ProjectID: p, UserID: lf.ann1.ID}, glossa.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.NextTask(ctx, tc.r)
			wantCode(t, err, tc.code)
		})
	}
	// The other organization's only task is labeled.
	_, err = db.NextTask(ctx, glossa.NextTaskRequest{OrgID: lf.other.org.ID, ProjectID: lf.otherProject.ID, UserID: lf.otherUser.ID, Lease: time.Minute})
	wantCode(t, err, glossa.ENOTFOUND)
}

// testNextTaskConcurrent has many people ask at once, through two
// handles (two processes, as far as the database can tell): each gets a
// task of their own, asking again gets them the same one, and when there
// are fewer tasks than people the rest are told none is left.
func testNextTaskConcurrent(t *testing.T, f *fixture) {
	ctx := context.Background()
	const people, tasks = 12, 20
	lf := mustLabeling(t, f.db, tasks)
	second := MustOpen(t, f.dsn)
	users := make([]*glossa.User, people)
	for i := range users {
		users[i] = MustCreateMember(t, f.db, lf.org.ID, fmt.Sprintf("u%d@acme.example", i), glossa.RoleAnnotator)
	}
	round := func(users []*glossa.User) ([]int64, []error) {
		got := make([]int64, len(users))
		errs := make([]error, len(users))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, u := range users {
			db := f.db
			if i%2 == 1 {
				db = second
			}
			wg.Go(func() {
				<-start
				task, err := db.NextTask(ctx, glossa.NextTaskRequest{OrgID: lf.org.ID, ProjectID: lf.project.ID, UserID: u.ID, Lease: time.Hour})
				errs[i] = err
				if err == nil {
					got[i] = task.ID
				}
			})
		}
		close(start)
		wg.Wait()
		return got, errs
	}
	first, errs := round(users)
	seen := map[int64]int{}
	for i, id := range first {
		if errs[i] != nil {
			t.Fatalf("person %d: %v", i, errs[i])
		}
		if j, dup := seen[id]; dup {
			t.Fatalf("persons %d and %d both got task %d", j, i, id)
		}
		seen[id] = i
	}
	again, errs := round(users)
	for i := range again {
		if errs[i] != nil || again[i] != first[i] {
			t.Fatalf("person %d asked again: %d, %v; want their task %d", i, again[i], errs[i], first[i])
		}
	}
	// 8 tasks are left; 12 more people ask.
	more := make([]*glossa.User, people)
	for i := range more {
		more[i] = MustCreateMember(t, f.db, lf.org.ID, fmt.Sprintf("v%d@acme.example", i), glossa.RoleAnnotator)
	}
	got, errs := round(more)
	handed := 0
	for i, id := range got {
		switch {
		case errs[i] == nil:
			handed++
			if j, dup := seen[id]; dup {
				t.Fatalf("task %d handed out twice (persons %d and late %d)", id, j, i)
			}
			seen[id] = people + i
		case glossa.ErrorCode(errs[i]) != glossa.ENOTFOUND:
			t.Fatalf("late person %d: %v", i, errs[i])
		}
	}
	if handed != tasks-people {
		t.Fatalf("%d of the late people got a task, want %d (the tasks left)", handed, tasks-people)
	}
}

func testReviews(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	lf := mustLabeling(t, db, 2)
	org, task := lf.org.ID, lf.tasks[0]
	a1 := MustCreateAnnotation(t, db, org, task, lf.ann1.ID, false)
	a2 := MustCreateAnnotation(t, db, org, task, lf.ann2.ID, false)
	state := func() glossa.ReviewState {
		t.Helper()
		return mustRow(t, db, org, lf.project.ID, task).ReviewState
	}
	if s := state(); s != glossa.ReviewNone {
		t.Fatalf("unreviewed task state = %q", s)
	}
	if rs, err := db.FindReviews(ctx, org, a1.ID); err != nil || rs == nil || len(rs) != 0 {
		t.Fatalf("FindReviews of an unreviewed annotation = %v, %v; want an empty list", rs, err)
	}

	r1 := &glossa.Review{OrgID: org, AnnotationID: a1.ID, ReviewerID: lf.reviewer.ID, Accepted: true, Comment: "good", TaskID: 999}
	if err := db.CreateReview(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if r1.ID == 0 || r1.TaskID != task || r1.CreatedAt.IsZero() {
		t.Fatalf("created review: %+v", r1)
	}
	if s := state(); s != glossa.ReviewAccepted {
		t.Fatalf("task state after an accept = %q", s)
	}
	r2 := &glossa.Review{OrgID: org, AnnotationID: a1.ID, ReviewerID: lf.owner.ID, Accepted: false, Comment: "on second thought, no"}
	if err := db.CreateReview(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != glossa.ReviewRejected {
		t.Fatalf("task state after a reject = %q", s)
	}
	rs, err := db.FindReviews(ctx, org, a1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]glossa.Review{*r1, *r2}, rs); diff != "" {
		t.Errorf("FindReviews (-want +got):\n%s", diff)
	}
	// The latest review of any annotation decides the task's state; when
	// that annotation goes, the one before decides again.
	r3 := &glossa.Review{OrgID: org, AnnotationID: a2.ID, ReviewerID: lf.reviewer.ID, Accepted: true}
	if err := db.CreateReview(ctx, r3); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != glossa.ReviewAccepted {
		t.Fatalf("task state after accepting the second annotation = %q", s)
	}
	if err := db.DeleteAnnotation(ctx, org, a2.ID); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != glossa.ReviewRejected {
		t.Fatalf("task state after deleting the accepted annotation = %q, want the earlier rejection", s)
	}
	_, err = db.FindReviews(ctx, org, a2.ID)
	wantCode(t, err, glossa.ENOTFOUND)
	if err := db.DeleteAnnotation(ctx, org, a1.ID); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != glossa.ReviewNone {
		t.Fatalf("task state with no reviewed annotation left = %q", s)
	}

	a3 := MustCreateAnnotation(t, db, org, lf.tasks[1], lf.ann1.ID, false)
	for _, tc := range []struct {
		name string
		r    *glossa.Review
		code string
	}{
		{"nil", nil, glossa.EINVALID},
		{"no such annotation", &glossa.Review{OrgID: org, AnnotationID: a3.ID + 1000, ReviewerID: lf.reviewer.ID}, glossa.ENOTFOUND},
		{"another org's annotation", &glossa.Review{OrgID: org, AnnotationID: lf.otherAnn, ReviewerID: lf.reviewer.ID}, glossa.ENOTFOUND},
		{"through another org", &glossa.Review{OrgID: lf.other.org.ID, AnnotationID: a3.ID, ReviewerID: lf.otherUser.ID}, glossa.ENOTFOUND},
		{"another org's reviewer", &glossa.Review{OrgID: org, AnnotationID: a3.ID, ReviewerID: lf.otherUser.ID}, glossa.ENOTFOUND},
		{"comment not UTF-8", &glossa.Review{OrgID: org, AnnotationID: a3.ID, ReviewerID: lf.reviewer.ID, Comment: "\xff"}, glossa.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, db.CreateReview(ctx, tc.r), tc.code)
		})
	}
	if s := mustRow(t, db, org, lf.project.ID, lf.tasks[1]).ReviewState; s != glossa.ReviewNone {
		t.Fatalf("a refused review changed the state to %q", s)
	}
	_, err = db.FindReviews(ctx, lf.other.org.ID, a3.ID)
	wantCode(t, err, glossa.ENOTFOUND)
	other, err := db.FindReviews(ctx, lf.other.org.ID, lf.otherAnn)
	if err != nil || len(other) != 0 {
		t.Fatalf("the other organization's reviews: %v, %v", other, err)
	}
}

// mustRow returns a task as the data manager lists it.
func mustRow(tb testing.TB, db *store.DB, orgID, projectID, taskID int64) glossa.TaskRow {
	tb.Helper()
	page, err := db.QueryTasks(context.Background(), glossa.DataManagerQuery{OrgID: orgID, ProjectID: projectID,
		Filters: []glossa.DataManagerFilter{{Column: glossa.ColumnID, Operator: "equal", Value: json.RawMessage(fmt.Sprint(taskID))}}})
	if err != nil {
		tb.Fatalf("QueryTasks(id = %d): %v", taskID, err)
	}
	if len(page.Rows) != 1 {
		tb.Fatalf("QueryTasks(id = %d) = %d rows", taskID, len(page.Rows))
	}
	return page.Rows[0]
}

func testDeleteTasks(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	lf := mustLabeling(t, db, 6)
	org, p, tk := lf.org.ID, lf.project.ID, lf.tasks
	MustCreateAnnotation(t, db, org, tk[0], lf.ann1.ID, false)
	MustCreateAnnotation(t, db, org, tk[0], lf.ann2.ID, false)
	a := MustCreateAnnotation(t, db, org, tk[1], lf.ann1.ID, false)
	MustCreateAnnotation(t, db, org, tk[2], lf.ann1.ID, true)
	MustCreateAnnotation(t, db, org, tk[3], lf.ann1.ID, false)
	if err := db.CreateReview(ctx, &glossa.Review{OrgID: org, AnnotationID: a.ID, ReviewerID: lf.reviewer.ID, Accepted: true}); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveDraft(ctx, &glossa.Draft{OrgID: org, TaskID: tk[1], UserID: lf.ann2.ID}); err != nil {
		t.Fatal(err)
	}
	mustNext(t, db, glossa.NextTaskRequest{OrgID: org, ProjectID: p, UserID: lf.ann3.ID, Lease: time.Hour})
	second := MustCreateProject(t, db, org, 0, "second")
	elsewhere := MustImport(t, db, org, second.ID, lf.owner.ID, numbered(1)...)[0]

	// Through another organization: nothing.
	_, err := db.DeleteTasks(ctx, lf.other.org.ID, p, tk)
	wantError(t, err, glossa.ENOTFOUND, "Project not found.")
	if n, err := db.DeleteTasks(ctx, org, p, []int64{lf.otherTask, elsewhere}); err != nil || n != 0 {
		t.Fatalf("deleting tasks of other projects = %d, %v; want 0", n, err)
	}
	MustFindTask(t, db, lf.other.org.ID, lf.otherTask)
	MustFindTask(t, db, org, elsewhere)

	n, err := db.DeleteTasks(ctx, org, p, []int64{tk[1], tk[0], tk[2], tk[0], tk[5] + 1000, lf.otherTask, elsewhere})
	if err != nil || n != 3 {
		t.Fatalf("DeleteTasks = %d, %v; want 3", n, err)
	}
	for _, id := range tk[:3] {
		_, err := db.FindTaskByID(ctx, org, id)
		wantCode(t, err, glossa.ENOTFOUND)
	}
	if c, want := MustCounters(t, db, org, p), recount(t, db, org, p); c != want || c != (counters{3, 1, 1}) {
		t.Fatalf("counters after the bulk delete = %+v, recounted %+v, want {3 1 1}", c, want)
	}
	_, err = db.FindReviews(ctx, org, a.ID)
	wantCode(t, err, glossa.ENOTFOUND)
	_, err = db.FindDraft(ctx, org, tk[1], lf.ann2.ID)
	wantCode(t, err, glossa.ENOTFOUND)
	if n, err := db.DeleteTasks(ctx, org, p, nil); err != nil || n != 0 {
		t.Fatalf("DeleteTasks(none) = %d, %v", n, err)
	}
	if c := MustCounters(t, db, org, second.ID); c != (counters{1, 0, 0}) {
		t.Fatalf("the other project's counters changed: %+v", c)
	}
	MustFindTask(t, db, lf.other.org.ID, lf.otherTask)
}
