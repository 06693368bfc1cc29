package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/store"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// storageFixture is an organization with a project and one source and one
// target storage.
type storageFixture struct {
	tenant
	project        *glossa.Project
	source, target *glossa.Storage
}

func mustStorages(t *testing.T, db *store.DB, slug string) storageFixture {
	t.Helper()
	ctx := context.Background()
	tn := MustCreateOrg(t, db, slug)
	ws := MustCreateWorkspace(t, db, tn.org.ID, tn.owner.ID, "W")
	p := MustCreateProject(t, db, tn.org.ID, ws.ID, "P")
	src := &glossa.Storage{OrgID: tn.org.ID, ProjectID: p.ID, Type: glossa.StorageSource, Title: "scans",
		Bucket: "scans", Prefix: "in/", UseBlobURLs: true, Presign: true, PresignTTL: 15, RegionName: "eu-west-1",
		AuthMode: glossa.AuthSAMLFederated, RoleARN: "arn:aws:iam::111122223333:role/TeamA",
		PrincipalARN: "arn:aws:iam::111122223333:saml-provider/glossa", SessionDuration: 3600,
		BrokerRoles: []glossa.GroupMapping{{Name: "arn:aws:iam::111122223333:role/TeamB", Group: "team-b"}}}
	if err := db.CreateStorage(ctx, src); err != nil {
		t.Fatalf("CreateStorage(source): %v", err)
	}
	dst := &glossa.Storage{OrgID: tn.org.ID, ProjectID: p.ID, Type: glossa.StorageTarget, Bucket: "out", Prefix: "exports/",
		AuthMode: glossa.AuthStatic, AccessKeyID: "AKIAEXAMPLE", SealedSecret: []byte{1, 2, 3}}
	if err := db.CreateStorage(ctx, dst); err != nil {
		t.Fatalf("CreateStorage(target): %v", err)
	}
	return storageFixture{tn, p, src, dst}
}

func blobObjects(keys ...string) []glossa.StorageObject {
	objs := make([]glossa.StorageObject, len(keys))
	for i, k := range keys {
		folder := ""
		if j := lastSlash(k); j >= 0 {
			folder = k[:j+1]
		}
		objs[i] = glossa.StorageObject{Key: k, Folder: folder,
			Tasks: []json.RawMessage{json.RawMessage(fmt.Sprintf(`{"data":{"image":"s3://scans/%s"}}`, k))}}
	}
	return objs
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

func testStorages(t *testing.T, f *fixture) {
	ctx := context.Background()
	sf := mustStorages(t, f.db, "acme")
	other := MustCreateOrg(t, f.db, "globex")

	got, err := f.db.FindStorageByID(ctx, sf.org.ID, sf.source.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sf.source, got); diff != "" {
		t.Fatalf("source storage round trip (-created +found):\n%s", diff)
	}
	if got.Status != glossa.SyncInitialized || got.Type != glossa.StorageSource || got.CreatedAt.IsZero() {
		t.Fatalf("new storage: status %q type %q created %v", got.Status, got.Type, got.CreatedAt)
	}
	tgt, err := f.db.FindStorageByID(ctx, sf.org.ID, sf.target.ID)
	if err != nil || string(tgt.SealedSecret) != "\x01\x02\x03" || tgt.AccessKeyID != "AKIAEXAMPLE" {
		t.Fatalf("target storage: %+v, %v", tgt, err)
	}

	// Filters.
	for _, tc := range []struct {
		f    glossa.StorageFilter
		want []int64
	}{
		{glossa.StorageFilter{OrgID: sf.org.ID}, []int64{sf.source.ID, sf.target.ID}},
		{glossa.StorageFilter{OrgID: sf.org.ID, Type: glossa.StorageTarget}, []int64{sf.target.ID}},
		{glossa.StorageFilter{OrgID: sf.org.ID, AuthMode: glossa.AuthSAMLFederated}, []int64{sf.source.ID}},
		{glossa.StorageFilter{OrgID: sf.org.ID, ProjectID: sf.project.ID + 1000}, nil},
		{glossa.StorageFilter{OrgID: other.org.ID}, nil},
	} {
		list, err := f.db.FindStorages(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, s := range list {
			ids = append(ids, s.ID)
		}
		if !cmp.Equal(ids, tc.want, cmpopts.EquateEmpty()) {
			t.Errorf("FindStorages(%+v) = %v, want %v", tc.f, ids, tc.want)
		}
	}

	// Update replaces settings but not the project, type or sync state.
	upd := *got
	upd.Prefix, upd.AuthMode, upd.ProjectID, upd.Type, upd.Status = "new/", glossa.AuthBroker, 999, glossa.StorageTarget, glossa.SyncFailed
	if err := f.db.UpdateStorage(ctx, &upd); err != nil {
		t.Fatal(err)
	}
	if upd.Prefix != "new/" || upd.AuthMode != glossa.AuthBroker || upd.ProjectID != sf.project.ID ||
		upd.Type != glossa.StorageSource || upd.Status != glossa.SyncInitialized {
		t.Fatalf("after update: %+v", upd)
	}

	// Another organization's storage is absent everywhere.
	wantCode(t, func() error { _, err := f.db.FindStorageByID(ctx, other.org.ID, sf.source.ID); return err }(), glossa.ENOTFOUND)
	foreign := upd
	foreign.OrgID = other.org.ID
	wantCode(t, f.db.UpdateStorage(ctx, &foreign), glossa.ENOTFOUND)
	wantCode(t, f.db.DeleteStorage(ctx, other.org.ID, sf.source.ID), glossa.ENOTFOUND)
	wantCode(t, f.db.CreateStorage(ctx, &glossa.Storage{OrgID: other.org.ID, ProjectID: sf.project.ID, Type: glossa.StorageSource}), glossa.ENOTFOUND)
	wantCode(t, f.db.CreateStorage(ctx, &glossa.Storage{OrgID: sf.org.ID, ProjectID: sf.project.ID, Type: "sideways"}), glossa.EINVALID)

	// Delete keeps the tasks the storage created, drops its links.
	if _, _, err := f.db.AddStorageObjects(ctx, got, blobObjects("in/a.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := f.db.DeleteStorage(ctx, sf.org.ID, sf.source.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.db.DeleteStorage(ctx, sf.org.ID, sf.source.ID), glossa.ENOTFOUND)
	if c := MustCounters(t, f.db, sf.org.ID, sf.project.ID); c.Tasks != 1 {
		t.Fatalf("tasks after deleting their storage: %d", c.Tasks)
	}
}

func testStorageJobs(t *testing.T, f *fixture) {
	ctx := context.Background()
	sf := mustStorages(t, f.db, "acme")
	other := MustCreateOrg(t, f.db, "globex")
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

	none, err := f.db.ClaimStorageJob(ctx, now, now.Add(-time.Minute))
	if err != nil || none != nil {
		t.Fatalf("claim with nothing queued = %v, %v", none, err)
	}
	j := &glossa.StorageJob{OrgID: sf.org.ID, StorageID: sf.source.ID, RequestedBy: sf.owner.ID}
	if err := f.db.CreateStorageJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if j.ID == 0 || j.Status != glossa.SyncQueued || j.Type != glossa.StorageSource {
		t.Fatalf("queued job: %+v", j)
	}
	wantCode(t, f.db.CreateStorageJob(ctx, &glossa.StorageJob{OrgID: sf.org.ID, StorageID: sf.source.ID}), glossa.ECONFLICT)
	wantCode(t, f.db.CreateStorageJob(ctx, &glossa.StorageJob{OrgID: other.org.ID, StorageID: sf.source.ID}), glossa.ENOTFOUND)
	if s, _ := f.db.FindStorageByID(ctx, sf.org.ID, sf.source.ID); s.Status != glossa.SyncQueued || s.LastSyncJob == nil || *s.LastSyncJob != j.ID {
		t.Fatalf("storage with a queued job: %+v", s)
	}

	// Two claimers at once: one gets it.
	var wg sync.WaitGroup
	claimed := make([]*glossa.StorageJob, 4)
	for i := range claimed {
		wg.Go(func() {
			c, err := f.db.ClaimStorageJob(ctx, now, now.Add(-time.Minute))
			if err != nil {
				t.Error(err)
			}
			claimed[i] = c
		})
	}
	wg.Wait()
	n := 0
	var claim int64
	for _, c := range claimed {
		if c != nil {
			n++
			if c.ID != j.ID || c.Status != glossa.SyncInProgress || c.StartedAt == nil || c.Claim != 1 {
				t.Fatalf("claimed: %+v", c)
			}
			claim = c.Claim
		}
	}
	if n != 1 {
		t.Fatalf("%d claimers got the job, want 1", n)
	}
	if s, _ := f.db.FindStorageByID(ctx, sf.org.ID, sf.source.ID); s.Status != glossa.SyncInProgress {
		t.Fatalf("storage status while running = %q", s.Status)
	}

	// Progress, then a cancel request seen at the next report.
	p := glossa.JobProgress{Listed: 10, Created: 7, Skipped: 2, Failed: 1}
	if cancel, err := f.db.ReportStorageJob(ctx, j.ID, claim, p, now.Add(5*time.Second)); err != nil || cancel {
		t.Fatalf("report = %v, %v", cancel, err)
	}
	got, err := f.db.FindStorageJob(ctx, sf.org.ID, j.ID)
	if err != nil || got.Listed != 10 || got.Created != 7 || got.Skipped != 2 || got.Failed != 1 || !got.HeartbeatAt.Equal(now.Add(5*time.Second)) {
		t.Fatalf("job after report: %+v, %v", got, err)
	}
	wantCode(t, func() error { _, err := f.db.FindStorageJob(ctx, other.org.ID, j.ID); return err }(), glossa.ENOTFOUND)
	wantCode(t, func() error { _, err := f.db.CancelStorageJob(ctx, other.org.ID, j.ID); return err }(), glossa.ENOTFOUND)
	c, err := f.db.CancelStorageJob(ctx, sf.org.ID, j.ID)
	if err != nil || !c.CancelRequested || c.Status != glossa.SyncInProgress {
		t.Fatalf("cancel of a running job: %+v, %v", c, err)
	}
	if cancel, _ := f.db.ReportStorageJob(ctx, j.ID, claim, p, now.Add(6*time.Second)); !cancel {
		t.Fatal("the runner was not told to stop")
	}
	if err := f.db.FinishStorageJob(ctx, j.ID, claim, glossa.SyncCanceled, p, "", now.Add(7*time.Second)); err != nil {
		t.Fatal(err)
	}
	s, _ := f.db.FindStorageByID(ctx, sf.org.ID, sf.source.ID)
	if s.Status != glossa.SyncCanceled || s.LastSyncCount != 7 || s.LastSync == nil || !s.LastSync.Equal(now.Add(7*time.Second)) {
		t.Fatalf("storage after a canceled sync: %+v", s)
	}
	wantCode(t, f.db.FinishStorageJob(ctx, j.ID, claim, glossa.SyncInProgress, p, "", now), glossa.EINVALID)
	_, err = f.db.ReportStorageJob(ctx, 1<<40, 1, p, now)
	wantCode(t, err, glossa.ENOTFOUND)
	wantCode(t, f.db.FinishStorageJob(ctx, 1<<40, 1, glossa.SyncFailed, p, "", now), glossa.ENOTFOUND)

	// A queued job is canceled at once; the storage may sync again.
	q := &glossa.StorageJob{OrgID: sf.org.ID, StorageID: sf.source.ID}
	if err := f.db.CreateStorageJob(ctx, q); err != nil {
		t.Fatal(err)
	}
	if c, err := f.db.CancelStorageJob(ctx, sf.org.ID, q.ID); err != nil || c.Status != glossa.SyncCanceled || c.FinishedAt == nil {
		t.Fatalf("cancel of a queued job: %+v, %v", c, err)
	}
	if c, _ := f.db.ClaimStorageJob(ctx, now, now.Add(-time.Minute)); c != nil {
		t.Fatalf("a canceled job was claimed: %+v", c)
	}

	// A running job whose process died (stale heartbeat) is taken over;
	// a live one is not.
	r := &glossa.StorageJob{OrgID: sf.org.ID, StorageID: sf.target.ID}
	if err := f.db.CreateStorageJob(ctx, r); err != nil {
		t.Fatal(err)
	}
	c1, _ := f.db.ClaimStorageJob(ctx, now, now.Add(-time.Minute))
	if c1 == nil || c1.ID != r.ID || c1.Type != glossa.StorageTarget {
		t.Fatalf("claim of the target job = %+v", c1)
	}
	if c, _ := f.db.ClaimStorageJob(ctx, now.Add(10*time.Second), now.Add(-20*time.Second)); c != nil {
		t.Fatalf("a live job was taken over: %+v", c)
	}
	later := now.Add(time.Hour)
	c2, err := f.db.ClaimStorageJob(ctx, later, later.Add(-30*time.Second))
	if err != nil || c2 == nil || c2.ID != r.ID || !c2.StartedAt.Equal(now) || !c2.HeartbeatAt.Equal(later) || c2.Claim != c1.Claim+1 {
		t.Fatalf("takeover of a stale job = %+v, %v", c2, err)
	}

	// The first runner was slow, not dead: from now on its reports and its
	// finish are refused and change nothing; the second runner's count.
	second := glossa.JobProgress{Listed: 3, Created: 3}
	if _, err := f.db.ReportStorageJob(ctx, r.ID, c2.Claim, second, later.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = f.db.ReportStorageJob(ctx, r.ID, c1.Claim, glossa.JobProgress{Listed: 99}, later.Add(2*time.Second))
	wantCode(t, err, glossa.ECONFLICT)
	wantCode(t, f.db.FinishStorageJob(ctx, r.ID, c1.Claim, glossa.SyncCompleted, glossa.JobProgress{Listed: 99}, "", later.Add(3*time.Second)), glossa.ECONFLICT)
	got, err = f.db.FindStorageJob(ctx, sf.org.ID, r.ID)
	if err != nil || got.Status != glossa.SyncInProgress || progressOf(got) != second || !got.HeartbeatAt.Equal(later.Add(time.Second)) {
		t.Fatalf("job after the superseded runner's report and finish: %+v, %v", got, err)
	}
	if s, _ := f.db.FindStorageByID(ctx, sf.org.ID, sf.target.ID); s.Status != glossa.SyncInProgress {
		t.Fatalf("the superseded runner's finish reached the storage: %+v", s)
	}
	if err := f.db.FinishStorageJob(ctx, r.ID, c2.Claim, glossa.SyncFailed, second, "The bucket out does not exist.", later.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.db.FindStorageByID(ctx, sf.org.ID, sf.target.ID); s.Status != glossa.SyncFailed || s.LastError != "The bucket out does not exist." || s.LastSyncCount != 3 {
		t.Fatalf("storage after a failed sync: %+v", s)
	}
	// A finished job is not claimed again, so its claim stays refused.
	wantCode(t, f.db.FinishStorageJob(ctx, r.ID, c1.Claim, glossa.SyncCompleted, glossa.JobProgress{}, "", later.Add(5*time.Second)), glossa.ECONFLICT)
}

func progressOf(j *glossa.StorageJob) glossa.JobProgress {
	return glossa.JobProgress{Listed: j.Listed, Created: j.Created, Skipped: j.Skipped, Failed: j.Failed}
}

func testStorageObjects(t *testing.T, f *fixture) {
	ctx := context.Background()
	sf := mustStorages(t, f.db, "acme")
	other := MustCreateOrg(t, f.db, "globex")
	imported := MustImport(t, f.db, sf.org.ID, sf.project.ID, sf.owner.ID, numbered(2)...)

	objs := blobObjects("in/a/1.jpg", "in/a/2.jpg", "in/b/1.jpg", "in/top.jpg")
	// A JSON task file with two tasks, one in the bare-data form, one with a prediction.
	objs = append(objs, glossa.StorageObject{Key: "in/b/tasks.json", Folder: "in/b/", Tasks: []json.RawMessage{
		json.RawMessage(`{"text":"bare"}`),
		json.RawMessage(`{"data":{"text":"full"},"meta":{"m":1},"predictions":[{"model_version":"v2","score":0.5,"result":[]}]}`),
	}})
	created, skipped, err := f.db.AddStorageObjects(ctx, sf.source, objs)
	if err != nil || created != 6 || skipped != 0 {
		t.Fatalf("first add = %d created, %d skipped, %v", created, skipped, err)
	}
	// Again, with one new object and the same key twice: only the new one.
	created, skipped, err = f.db.AddStorageObjects(ctx, sf.source, append(objs, blobObjects("in/c/1.jpg", "in/c/1.jpg")...))
	if err != nil || created != 1 || skipped != 6 {
		t.Fatalf("re-add = %d created, %d skipped, %v", created, skipped, err)
	}
	if c := MustCounters(t, f.db, sf.org.ID, sf.project.ID); c.Tasks != 2+7 {
		t.Fatalf("project task count = %d, want 9", c.Tasks)
	}
	if got := recount(t, f.db, sf.org.ID, sf.project.ID); got.Tasks != 9 {
		t.Fatalf("tasks in the table = %d", got.Tasks)
	}

	folders, err := f.db.FindStorageFolders(ctx, sf.org.ID, sf.source.ID)
	if err != nil || !cmp.Equal(folders, []string{"in/", "in/a/", "in/b/", "in/c/"}) {
		t.Fatalf("folders = %v, %v", folders, err)
	}
	if fs, _ := f.db.FindStorageFolders(ctx, other.org.ID, sf.source.ID); len(fs) != 0 {
		t.Fatalf("another organization sees folders %v", fs)
	}

	// Every task links back to its object; the JSON file's tasks both do.
	all, _, err := f.db.FindTasks(ctx, glossa.TaskFilter{OrgID: sf.org.ID, ProjectID: sf.project.ID, Order: glossa.OldestFirst, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string][]glossa.Task{}
	for _, task := range all {
		l, err := f.db.FindStorageLink(ctx, sf.org.ID, task.ID)
		if task.ID == imported[0] || task.ID == imported[1] {
			wantCode(t, err, glossa.ENOTFOUND)
			continue
		}
		if err != nil || l.StorageID != sf.source.ID || l.TaskID != task.ID {
			t.Fatalf("link of task %d = %+v, %v", task.ID, l, err)
		}
		byKey[l.Key] = append(byKey[l.Key], task)
	}
	if len(byKey) != 6 || len(byKey["in/b/tasks.json"]) != 2 {
		t.Fatalf("links by key: %v", byKey)
	}
	if d := string(byKey["in/a/1.jpg"][0].Data); d != `{"image":"s3://scans/in/a/1.jpg"}` {
		t.Fatalf("blob task data = %s", d)
	}
	file := byKey["in/b/tasks.json"]
	if string(file[0].Data) != `{"text":"bare"}` || string(file[1].Data) != `{"text":"full"}` || string(file[1].Meta) != `{"m":1}` || file[1].TotalPredictions != 1 {
		t.Fatalf("task file tasks: %s / %s meta %s predictions %d", file[0].Data, file[1].Data, file[1].Meta, file[1].TotalPredictions)
	}
	wantCode(t, func() error { _, err := f.db.FindStorageLink(ctx, other.org.ID, file[0].ID); return err }(), glossa.ENOTFOUND)

	// Visibility: a person who may read in/a/ only sees the imported
	// tasks and in/a/'s; the total agrees with the page.
	vis := func(readable ...string) *glossa.TaskVisibility {
		return &glossa.TaskVisibility{Storages: []int64{sf.source.ID}, Readable: map[int64][]string{sf.source.ID: readable}}
	}
	for _, tc := range []struct {
		name    string
		v       *glossa.TaskVisibility
		labeled *bool
		want    int
	}{
		{"no filter", nil, nil, 9},
		{"in/a/", vis("in/a/"), nil, 2 + 2},
		{"in/a/ and in/b/", vis("in/a/", "in/b/"), nil, 2 + 2 + 3},
		{"nothing readable", vis(), nil, 2},
		{"everything", vis("in/", "in/a/", "in/b/", "in/c/"), nil, 9},
		{"labeled only", vis("in/a/"), ptr(true), 1},
		{"unlabeled only", vis("in/a/"), ptr(false), 3},
	} {
		if tc.name == "labeled only" {
			MustCreateAnnotation(t, f.db, sf.org.ID, byKey["in/a/1.jpg"][0].ID, sf.owner.ID, false)
			MustCreateAnnotation(t, f.db, sf.org.ID, byKey["in/b/1.jpg"][0].ID, sf.owner.ID, false)
		}
		page, total, err := f.db.FindTasks(ctx, glossa.TaskFilter{OrgID: sf.org.ID, ProjectID: sf.project.ID, Labeled: tc.labeled, Visibility: tc.v, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != tc.want || total != int64(tc.want) {
			t.Errorf("%s: page %d, total %d, want %d", tc.name, len(page), total, tc.want)
		}
	}

	// An export with the same visibility leaves out the same tasks.
	var exported []string
	err = f.db.ExportTasks(ctx, glossa.ExportFilter{OrgID: sf.org.ID, ProjectID: sf.project.ID, Visibility: vis("in/a/")}, func(t *glossa.Task) error {
		exported = append(exported, string(t.Data))
		return nil
	})
	if err != nil || len(exported) != 2+2 {
		t.Fatalf("export with visibility = %v, %v", exported, err)
	}
	for _, d := range exported {
		if strings.Contains(d, "in/b/") || strings.Contains(d, "in/c/") || strings.Contains(d, "top.jpg") {
			t.Fatalf("the export holds a task the person may not see: %s", d)
		}
	}

	// Deleting a task drops its link, so a later sync brings it back (as
	// Label Studio does).
	if err := f.db.DeleteTask(ctx, sf.org.ID, byKey["in/top.jpg"][0].ID); err != nil {
		t.Fatal(err)
	}
	if created, _, err := f.db.AddStorageObjects(ctx, sf.source, objs); err != nil || created != 1 {
		t.Fatalf("re-add after a task was deleted: %d, %v", created, err)
	}

	// A bad task fails the whole batch: nothing of it is stored.
	bad := append(blobObjects("in/d/1.jpg"), glossa.StorageObject{Key: "in/d/bad.json", Folder: "in/d/", Tasks: []json.RawMessage{json.RawMessage(`[1]`)}})
	_, _, err = f.db.AddStorageObjects(ctx, sf.source, bad)
	wantCode(t, err, glossa.EINVALID)
	if c := MustCounters(t, f.db, sf.org.ID, sf.project.ID); c.Tasks != 9 {
		t.Fatalf("a failed batch left tasks behind: %d", c.Tasks)
	}
	foreign := *sf.source
	foreign.OrgID = other.org.ID
	_, _, err = f.db.AddStorageObjects(ctx, &foreign, blobObjects("in/e/1.jpg"))
	wantCode(t, err, glossa.ENOTFOUND)
}

func testExportOutbox(t *testing.T, f *fixture) {
	ctx := context.Background()
	sf := mustStorages(t, f.db, "acme")
	other := MustCreateOrg(t, f.db, "globex")
	ids := MustImport(t, f.db, sf.org.ID, sf.project.ID, sf.owner.ID, numbered(3)...)
	annotator := MustCreateMember(t, f.db, sf.org.ID, "ann@acme.example", glossa.RoleAnnotator)

	// An annotation made before the target existed is only backfilled.
	early := MustCreateAnnotation(t, f.db, sf.org.ID, ids[0], sf.owner.ID, false)
	if err := f.db.DeleteStorage(ctx, sf.org.ID, sf.target.ID); err != nil {
		t.Fatal(err)
	}
	target := &glossa.Storage{OrgID: sf.org.ID, ProjectID: sf.project.ID, Type: glossa.StorageTarget, Bucket: "out", AuthMode: glossa.AuthSAMLFederated}
	if err := f.db.CreateStorage(ctx, target); err != nil {
		t.Fatal(err)
	}
	counts := func() glossa.ExportWriteCounts {
		t.Helper()
		c, err := f.db.CountExportWrites(ctx, sf.org.ID, target.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := counts(); c != (glossa.ExportWriteCounts{}) {
		t.Fatalf("outbox before any annotation: %+v", c)
	}
	a := MustCreateAnnotation(t, f.db, sf.org.ID, ids[1], annotator.ID, false)
	if c := counts(); c.Pending != 1 {
		t.Fatalf("outbox after one annotation: %+v", c)
	}
	// Source storages get nothing.
	if c, _ := f.db.CountExportWrites(ctx, sf.org.ID, sf.source.ID); c != (glossa.ExportWriteCounts{}) {
		t.Fatalf("a source storage got export writes: %+v", c)
	}

	now := clockStart.Add(time.Hour) // after every write of the test clock
	claimed, err := f.db.ClaimExportWrites(ctx, now, time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim = %v, %v", claimed, err)
	}
	w := claimed[0]
	if w.AnnotationID != a.ID || w.TaskID != ids[1] || w.UserID != annotator.ID || w.StorageID != target.ID || w.OrgID != sf.org.ID {
		t.Fatalf("claimed write: %+v", w)
	}
	// Leased: nobody else gets it until the lease ends.
	if again, _ := f.db.ClaimExportWrites(ctx, now.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("a leased write was claimed again: %+v", again)
	}
	// A failure is kept, counted and retried later.
	if err := f.db.FinishExportWrite(ctx, w.ID, "Access denied writing exports/1.json.", now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if c := counts(); c.Pending != 1 || c.Failed != 1 || c.Written != 0 {
		t.Fatalf("after a failure: %+v", c)
	}
	if early, _ := f.db.ClaimExportWrites(ctx, now.Add(2*time.Minute), time.Minute, 10); len(early) != 0 {
		t.Fatal("a failed write was retried before its time")
	}
	retry, _ := f.db.ClaimExportWrites(ctx, now.Add(6*time.Minute), time.Minute, 10)
	if len(retry) != 1 || retry[0].Attempts != 1 || retry[0].LastError != "Access denied writing exports/1.json." {
		t.Fatalf("retry = %+v", retry)
	}
	// The annotation changes while the retry is in flight: its success
	// must not mark the new version written.
	if _, err := f.db.UpdateAnnotation(ctx, sf.org.ID, a.ID, glossa.AnnotationUpdate{Result: ptr(json.RawMessage(`[]`))}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.FinishExportWrite(ctx, w.ID, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c := counts(); c.Pending != 1 || c.Written != 0 {
		t.Fatalf("after a success that raced an update: %+v", c)
	}
	last, _ := f.db.ClaimExportWrites(ctx, now.Add(8*time.Minute), time.Minute, 10)
	if len(last) != 1 || last[0].Attempts != 0 {
		t.Fatalf("the new version was not due: %+v", last)
	}
	if err := f.db.FinishExportWrite(ctx, w.ID, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c := counts(); c != (glossa.ExportWriteCounts{Written: 1}) {
		t.Fatalf("after the final write: %+v", c)
	}

	// Backfill queues what the outbox lacks, once.
	if n, err := f.db.EnqueueExportBackfill(ctx, sf.org.ID, target.ID, now); err != nil || n != 1 {
		t.Fatalf("backfill = %d, %v", n, err)
	}
	if n, _ := f.db.EnqueueExportBackfill(ctx, sf.org.ID, target.ID, now); n != 0 {
		t.Fatalf("second backfill = %d", n)
	}
	if c := counts(); c.Pending != 1 || c.Written != 1 {
		t.Fatalf("after backfill: %+v", c)
	}
	bf, _ := f.db.ClaimExportWrites(ctx, now.Add(9*time.Minute), time.Minute, 10)
	if len(bf) != 1 || bf[0].AnnotationID != early.ID || bf[0].UserID != sf.owner.ID {
		t.Fatalf("backfilled write = %+v", bf)
	}
	_, err = f.db.EnqueueExportBackfill(ctx, sf.org.ID, sf.source.ID, now)
	wantCode(t, err, glossa.EINVALID)
	_, err = f.db.EnqueueExportBackfill(ctx, other.org.ID, target.ID, now)
	wantCode(t, err, glossa.ENOTFOUND)
	if c, _ := f.db.CountExportWrites(ctx, other.org.ID, target.ID); c != (glossa.ExportWriteCounts{}) {
		t.Fatalf("another organization counts %+v", c)
	}
	wantCode(t, f.db.FinishExportWrite(ctx, 1<<40, "", time.Time{}), glossa.ENOTFOUND)

	// Deleting the annotation takes its entry out of the outbox.
	if err := f.db.DeleteAnnotation(ctx, sf.org.ID, early.ID); err != nil {
		t.Fatal(err)
	}
	if c := counts(); c.Pending != 0 || c.Written != 1 {
		t.Fatalf("after deleting a queued annotation: %+v", c)
	}
}

func testExportDeletions(t *testing.T, f *fixture) {
	ctx := context.Background()
	sf := mustStorages(t, f.db, "acme") // its target keeps deleted annotations' objects
	other := MustCreateOrg(t, f.db, "globex")
	annotator := MustCreateMember(t, f.db, sf.org.ID, "ann@acme.example", glossa.RoleAnnotator)
	manager := MustCreateMember(t, f.db, sf.org.ID, "man@acme.example", glossa.RoleManager)
	as := func(orgID, userID int64) context.Context {
		return glossa.NewContextWithPrincipal(ctx, &glossa.Principal{OrgID: orgID, UserID: userID})
	}
	ids := MustImport(t, f.db, sf.org.ID, sf.project.ID, sf.owner.ID, numbered(6)...)
	// Made before the deleting target existed, and never backfilled: it
	// has no object there, so nothing is deleted for it.
	unexported := MustCreateAnnotation(t, f.db, sf.org.ID, ids[5], annotator.ID, false)
	deleting := &glossa.Storage{OrgID: sf.org.ID, ProjectID: sf.project.ID, Type: glossa.StorageTarget, Bucket: "out", Prefix: "mirror/",
		CanDeleteObjects: true, AuthMode: glossa.AuthBroker}
	if err := f.db.CreateStorage(ctx, deleting); err != nil {
		t.Fatal(err)
	}
	var anns []*glossa.Annotation
	for _, id := range ids[:5] {
		anns = append(anns, MustCreateAnnotation(t, f.db, sf.org.ID, id, annotator.ID, false))
	}
	counts := func(s *glossa.Storage) glossa.ExportWriteCounts {
		t.Helper()
		c, err := f.db.CountExportWrites(ctx, sf.org.ID, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Every write lands but one, still in flight (leased) when its
	// annotation is deleted.
	now := clockStart.Add(time.Hour) // after every write of the test clock
	writes, err := f.db.ClaimExportWrites(ctx, now, time.Minute, 100)
	if err != nil || len(writes) != 2*5+1 {
		t.Fatalf("claim of the writes = %d, %v", len(writes), err)
	}
	for _, w := range writes {
		if w.StorageID == deleting.ID && w.AnnotationID == anns[1].ID {
			continue
		}
		if err := f.db.FinishExportWrite(ctx, w.ID, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}

	// Each way an annotation goes queues the deletion of its object in
	// the deleting target, as the person who deleted it, or the annotator
	// when no member of the organization did.
	if err := f.db.DeleteAnnotation(as(sf.org.ID, manager.ID), sf.org.ID, anns[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := f.db.DeleteAnnotation(as(other.org.ID, other.owner.ID), sf.org.ID, anns[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := f.db.DeleteTask(as(sf.org.ID, manager.ID), sf.org.ID, ids[2]); err != nil {
		t.Fatal(err)
	}
	if n, err := f.db.DeleteTasks(ctx, sf.org.ID, sf.project.ID, []int64{ids[3], ids[5], 1 << 40}); err != nil || n != 2 {
		t.Fatalf("DeleteTasks = %d, %v", n, err)
	}
	if c := counts(deleting); c != (glossa.ExportWriteCounts{Written: 1, Deleting: 4}) {
		t.Fatalf("deleting target after the deletions: %+v", c)
	}
	if c := counts(sf.target); c != (glossa.ExportWriteCounts{Written: 1}) {
		t.Fatalf("the target without can_delete_objects: %+v", c)
	}

	// The deletion of the object being written waits for the write's lease.
	due, err := f.db.ClaimExportDeletions(ctx, now, 10*time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]glossa.ExportDeletion{}
	for _, d := range due {
		got[d.AnnotationID] = d
	}
	want := map[int64]glossa.ExportDeletion{}
	for _, w := range []struct {
		a    *glossa.Annotation
		user int64
	}{{anns[0], manager.ID}, {anns[2], manager.ID}, {anns[3], annotator.ID}} {
		want[w.a.ID] = glossa.ExportDeletion{OrgID: sf.org.ID, StorageID: deleting.ID, AnnotationID: w.a.ID,
			Key: glossa.ExportKey(deleting.Prefix, w.a.ID), UserID: w.user, NextAt: now.Add(10 * time.Minute).UTC()}
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(glossa.ExportDeletion{}, "ID")); diff != "" {
		t.Fatalf("deletions due (-want +got):\n%s", diff)
	}
	if _, ok := got[unexported.ID]; ok {
		t.Fatal("a deletion was queued for an annotation that was never exported")
	}
	if again, _ := f.db.ClaimExportDeletions(ctx, now.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("leased deletions or one waiting for a write's lease were claimed: %+v", again)
	}
	late, _ := f.db.ClaimExportDeletions(ctx, now.Add(90*time.Second), time.Minute, 10)
	if len(late) != 1 || late[0].AnnotationID != anns[1].ID || late[0].UserID != annotator.ID || late[0].Key != "mirror/"+fmt.Sprint(anns[1].ID) {
		t.Fatalf("deletion after the write's lease: %+v", late)
	}

	// Failures are kept, counted, said, and retried later; successes counted.
	denied := "Access denied: the role arn:aws:iam::1:role/A may not delete s3://out/mirror/" + fmt.Sprint(anns[0].ID) + "."
	if err := f.db.FinishExportDeletion(ctx, got[anns[0].ID].ID, denied, now.Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, a := range anns[2:4] {
		if err := f.db.FinishExportDeletion(ctx, got[a.ID].ID, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if c := counts(deleting); c != (glossa.ExportWriteCounts{Written: 1, Deleting: 2, DeleteFailed: 1, Deleted: 2, LastError: denied}) {
		t.Fatalf("after one failure and two deletions: %+v", c)
	}
	retry, _ := f.db.ClaimExportDeletions(ctx, now.Add(12*time.Minute), time.Minute, 10)
	if len(retry) != 2 || retry[0].Attempts+retry[1].Attempts != 1 {
		t.Fatalf("retry = %+v", retry)
	}
	wantCode(t, f.db.FinishExportDeletion(ctx, 1<<40, "", time.Time{}), glossa.ENOTFOUND)
	if c, _ := f.db.CountExportWrites(ctx, other.org.ID, deleting.ID); c != (glossa.ExportWriteCounts{}) {
		t.Fatalf("another organization counts %+v", c)
	}

	// Turning can_delete_objects off drops what still waits; what was
	// deleted stays counted.
	off := *deleting
	off.CanDeleteObjects = false
	if err := f.db.UpdateStorage(ctx, &off); err != nil {
		t.Fatal(err)
	}
	if c := counts(deleting); c != (glossa.ExportWriteCounts{Written: 1, Deleted: 2}) {
		t.Fatalf("after can_delete_objects was turned off: %+v", c)
	}
	if err := f.db.DeleteAnnotation(as(sf.org.ID, manager.ID), sf.org.ID, anns[4].ID); err != nil {
		t.Fatal(err)
	}
	if c := counts(deleting); c != (glossa.ExportWriteCounts{Deleted: 2}) {
		t.Fatalf("a deletion was queued with can_delete_objects off: %+v", c)
	}
}

// testExportDeletionsConcurrent deletes tasks while annotations are being
// added to them: every annotation that was saved and then went with its
// task leaves a deletion of its object behind, whichever committed first.
func testExportDeletionsConcurrent(t *testing.T, f *fixture) {
	ctx := context.Background()
	sf := mustStorages(t, f.db, "acme")
	deleting := &glossa.Storage{OrgID: sf.org.ID, ProjectID: sf.project.ID, Type: glossa.StorageTarget, Bucket: "out",
		CanDeleteObjects: true, AuthMode: glossa.AuthStatic}
	if err := f.db.CreateStorage(ctx, deleting); err != nil {
		t.Fatal(err)
	}
	ids := MustImport(t, f.db, sf.org.ID, sf.project.ID, sf.owner.ID, numbered(40)...)
	var mu sync.Mutex
	saved := map[int64]bool{}
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			a := &glossa.Annotation{OrgID: sf.org.ID, TaskID: id, CompletedBy: sf.owner.ID, Result: json.RawMessage(`[]`)}
			err := f.db.CreateAnnotation(ctx, a)
			if err == nil {
				mu.Lock()
				saved[a.ID] = true
				mu.Unlock()
			} else if glossa.ErrorCode(err) != glossa.ENOTFOUND {
				t.Errorf("CreateAnnotation: %v", err)
			}
		})
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				err = f.db.DeleteTask(ctx, sf.org.ID, id)
			} else {
				_, err = f.db.DeleteTasks(ctx, sf.org.ID, sf.project.ID, []int64{id})
			}
			if err != nil {
				t.Errorf("delete task %d: %v", id, err)
			}
		})
	}
	wg.Wait()
	queued := map[int64]bool{}
	due, err := f.db.ClaimExportDeletions(ctx, clockStart.Add(time.Hour), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range due {
		queued[d.AnnotationID] = true
	}
	if diff := cmp.Diff(saved, queued, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("annotations saved and deleted with their tasks (-saved +deletions queued):\n%s", diff)
	}
}

func testPersonCredentials(t *testing.T, f *fixture) {
	ctx := context.Background()
	a := MustCreateOrg(t, f.db, "acme")
	b := MustCreateOrg(t, f.db, "globex")
	exp := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	c := &glossa.PersonCredential{OrgID: a.org.ID, UserID: a.owner.ID, Key: "arn:aws:iam::1:role/A", Sealed: []byte("sealed"), Expires: exp}
	if err := f.db.SavePersonCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := f.db.FindPersonCredential(ctx, a.org.ID, a.owner.ID, c.Key)
	if err != nil || string(got.Sealed) != "sealed" || !got.Expires.Equal(exp) || got.ErrorCode != "" {
		t.Fatalf("found %+v, %v", got, err)
	}
	// A failure replaces the credential.
	fail := &glossa.PersonCredential{OrgID: a.org.ID, UserID: a.owner.ID, Key: c.Key, Expires: exp.Add(time.Hour),
		ErrorCode: "AccessDenied", ErrorMessage: "The role's trust policy does not allow your identity provider."}
	if err := f.db.SavePersonCredential(ctx, fail); err != nil {
		t.Fatal(err)
	}
	got, _ = f.db.FindPersonCredential(ctx, a.org.ID, a.owner.ID, c.Key)
	if len(got.Sealed) != 0 || got.ErrorCode != "AccessDenied" || got.ErrorMessage != fail.ErrorMessage || !got.Expires.Equal(exp.Add(time.Hour)) {
		t.Fatalf("after a failure: %+v", got)
	}
	// Tenant isolation: another organization's user, or the same user
	// under another organization, finds nothing and cannot save.
	_, err = f.db.FindPersonCredential(ctx, b.org.ID, a.owner.ID, c.Key)
	wantCode(t, err, glossa.ENOTFOUND)
	wantCode(t, f.db.SavePersonCredential(ctx, &glossa.PersonCredential{OrgID: b.org.ID, UserID: a.owner.ID, Key: "k", Expires: exp}), glossa.ENOTFOUND)

	other := &glossa.PersonCredential{OrgID: a.org.ID, UserID: a.owner.ID, Key: "storage/9", Sealed: []byte("x"), Expires: exp.Add(-2 * time.Hour)}
	if err := f.db.SavePersonCredential(ctx, other); err != nil {
		t.Fatal(err)
	}
	if n, err := f.db.DeleteExpiredPersonCredentials(ctx, exp); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v", n, err)
	}
	if _, err := f.db.FindPersonCredential(ctx, a.org.ID, a.owner.ID, c.Key); err != nil {
		t.Fatalf("an unexpired credential was purged: %v", err)
	}
	if err := f.db.DeletePersonCredentials(ctx, a.org.ID, a.owner.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.db.FindPersonCredential(ctx, a.org.ID, a.owner.ID, c.Key)
	wantCode(t, err, glossa.ENOTFOUND)
}
