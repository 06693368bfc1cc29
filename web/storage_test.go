package web_test

import (
	"context"
	"encoding/json"
	"fmt"

	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/web"
)

// fakeStorageAccess stands in for the connector and the credential broker,
// which have their own tests against a real S3 (connector/s3, federation,
// cmd/glossa): here each person reads the folders listed for them, and a
// person marked expired has no credentials.
type fakeStorageAccess struct {
	mu       sync.Mutex
	readable map[int64][]string // user ID -> readable key prefixes
	expired  map[int64]bool
	noRole   map[int64]bool
	kicks    int
	// readableCalls counts ReadableFolders calls: deciding a person's
	// task visibility makes one per per-person storage.
	readableCalls int
}

func (f *fakeStorageAccess) SealSecret(s *glossa.Storage, secretKey, token string) error {
	s.SealedSecret = []byte("sealed:" + fmt.Sprint(len(secretKey)+len(token)))
	return nil
}

func (f *fakeStorageAccess) CheckAccess(_ context.Context, _ *glossa.Storage, userID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noRole[userID] {
		return glossa.Errorf(glossa.EFORBIDDEN, "Your identity provider gives you no role for this storage.")
	}
	if f.expired[userID] {
		return glossa.Errorf(glossa.EREAUTH, "Your access to this storage's data has expired; sign in again through your identity provider.")
	}
	return nil
}

func (f *fakeStorageAccess) Validate(ctx context.Context, s *glossa.Storage, userID int64) error {
	if s.Bucket == "missing-bucket" {
		return glossa.Errorf(glossa.ENOTFOUND, "The bucket missing-bucket does not exist.")
	}
	return f.CheckAccess(ctx, s, userID)
}

func (f *fakeStorageAccess) can(userID int64, key string) bool {
	for _, p := range f.readable[userID] {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (f *fakeStorageAccess) mayRead(ctx context.Context, s *glossa.Storage, userID int64, key string) (bool, error) {
	if err := f.CheckAccess(ctx, s, userID); err != nil {
		return false, err
	}
	return f.can(userID, key), nil
}

func (f *fakeStorageAccess) ReadableFolders(ctx context.Context, s *glossa.Storage, userID int64, folders []string) ([]string, error) {
	f.mu.Lock()
	f.readableCalls++
	f.mu.Unlock()
	if err := f.CheckAccess(ctx, s, userID); err != nil {
		return nil, err
	}
	var out []string
	for _, folder := range folders {
		if f.can(userID, folder) {
			out = append(out, folder)
		}
	}
	return out, nil
}

func (f *fakeStorageAccess) MediaURL(ctx context.Context, s *glossa.Storage, userID int64, key string) (string, error) {
	if ok, err := f.mayRead(ctx, s, userID, key); err != nil || !ok {
		return "", glossa.Errorf(glossa.EFORBIDDEN, "Your role may not read this file.")
	}
	return fmt.Sprintf("https://s3.example/%s/%s?signed-for=%d", s.Bucket, key, userID), nil
}

func (f *fakeStorageAccess) OpenMedia(context.Context, *glossa.Storage, int64, string, string) (*web.Media, error) {
	return nil, glossa.Errorf(glossa.EUNAVAILABLE, "not in this test")
}

func (f *fakeStorageAccess) Kick() { f.mu.Lock(); f.kicks++; f.mu.Unlock() }

func storageBody(projectID int64, extra map[string]any) map[string]any {
	b := map[string]any{"project": projectID, "bucket": "acme-scans", "prefix": "scans/", "use_blob_urls": true,
		"auth_mode": "saml_federated", "role_arn": "arn:aws:iam::111122223333:role/TeamA",
		"principal_arn": "arn:aws:iam::111122223333:saml-provider/Acme"}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// TestStorageAPI: create, read, update, delete and validate storages with
// Label Studio's fields; every problem reported at once; secrets sealed
// and never shown; Managers and up only; other organizations see 404.
func TestStorageAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		other := mustFixture(t, ts, "other")
		access := &fakeStorageAccess{}
		ts.Web.Storage = access
		manager := ts.As(t, f.manager)

		// Every problem at once.
		resp := manager.Do(t, "POST", "/api/storages/s3", map[string]any{"project": f.project.ID, "bucket": "A", "presign_ttl": 0,
			"auth_mode": "saml_federated", "role_arn": "nope", "regex_filter": "(", "s3_endpoint": "ftp://x"})
		if resp.Status != 400 {
			t.Fatalf("bad storage = %d %s", resp.Status, resp.Body)
		}
		for _, want := range []string{"bucket must be", "presign_ttl", "role_arn", "principal_arn", "regex_filter", "s3_endpoint"} {
			if !strings.Contains(string(resp.Body), want) {
				t.Errorf("error does not mention %s: %s", want, resp.Body)
			}
		}
		// Static mode needs the secret; it is sealed and never shown.
		if code := manager.Do(t, "POST", "/api/storages/s3", storageBody(f.project.ID, map[string]any{"auth_mode": "static", "aws_access_key_id": "AKIAEXAMPLE"})).ErrorCode(t); code != "invalid" {
			t.Fatalf("static without a secret: %s", code)
		}
		var static map[string]any
		r := manager.Must(t, 201, "POST", "/api/storages/s3", storageBody(f.project.ID, map[string]any{"auth_mode": "static",
			"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}), &static)
		if strings.Contains(string(r.Body), "wJalrXUtnFEMI") || static["aws_secret_access_key_set"] != true || static["type"] != "s3" {
			t.Fatalf("static storage shown as %s", r.Body)
		}
		// Defaults as Label Studio: presign on, one minute.
		var st map[string]any
		manager.Must(t, 201, "POST", "/api/storages/s3", storageBody(f.project.ID, nil), &st)
		if st["presign"] != true || st["presign_ttl"] != float64(1) || st["status"] != "initialized" || st["session_duration"] != float64(3600) {
			t.Fatalf("defaults: %v", st)
		}
		id := int64(st["id"].(float64))
		path := fmt.Sprintf("/api/storages/s3/%d", id)
		manager.Must(t, 200, "PATCH", path, map[string]any{"prefix": "/other/", "title": "Scans"}, &st)
		if st["prefix"] != "other/" || st["title"] != "Scans" || st["bucket"] != "acme-scans" {
			t.Fatalf("after PATCH: %v", st)
		}
		var list []map[string]any
		manager.Must(t, 200, "GET", fmt.Sprintf("/api/storages/s3?project=%d", f.project.ID), nil, &list)
		if len(list) != 2 {
			t.Fatalf("list = %d storages", len(list))
		}
		// A source storage is not a target storage.
		manager.Must(t, 404, "GET", fmt.Sprintf("/api/storages/export/s3/%d", id), nil, nil)
		// Annotators may not manage storages; another organization sees nothing.
		ts.As(t, f.annotat).Must(t, 403, "GET", path, nil, nil)
		ts.As(t, other.owner).Must(t, 404, "GET", path, nil, nil)
		ts.As(t, other.owner).Must(t, 404, "PATCH", path, map[string]any{"prefix": "x/"}, nil)
		ts.As(t, other.owner).Must(t, 404, "POST", path+"/sync", nil, nil)
		ts.As(t, other.owner).Must(t, 404, "POST", "/api/storages/s3", storageBody(f.project.ID, nil), nil)
		// Validate explains without saving.
		if code := manager.Do(t, "POST", "/api/storages/s3/validate", storageBody(f.project.ID, map[string]any{"bucket": "missing-bucket"})).ErrorCode(t); code != "not_found" {
			t.Fatalf("validate of a missing bucket: %s", code)
		}
		manager.Must(t, 200, "POST", "/api/storages/s3/validate", storageBody(f.project.ID, nil), nil)
		manager.Must(t, 200, "GET", fmt.Sprintf("/api/storages/s3?project=%d", f.project.ID), nil, &list)
		if len(list) != 2 {
			t.Fatalf("validate saved a storage: %d", len(list))
		}
		manager.Must(t, 204, "DELETE", path, nil, nil)
		manager.Must(t, 404, "GET", path, nil, nil)
	})
}

// TestStorageSyncJobs: a sync is queued and wakes the worker; a second
// one while it waits is refused; cancel stops it; a person without
// credentials is told to sign in again, with where.
func TestStorageSyncJobs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		access := &fakeStorageAccess{expired: map[int64]bool{}}
		ts.Web.Storage = access
		manager := ts.As(t, f.manager)
		var st map[string]any
		manager.Must(t, 201, "POST", "/api/storages/s3", storageBody(f.project.ID, nil), &st)
		sync := fmt.Sprintf("/api/storages/s3/%v/sync", st["id"])
		manager.Must(t, 200, "POST", sync, nil, &st)
		job, _ := st["job"].(map[string]any)
		if st["status"] != "queued" || job == nil || job["status"] != "queued" || access.kicks != 1 {
			t.Fatalf("after sync: %v (kicks %d)", st, access.kicks)
		}
		manager.Must(t, 409, "POST", sync, nil, nil)
		jobPath := fmt.Sprintf("/api/storages/jobs/%v", job["id"])
		manager.Must(t, 200, "GET", jobPath, nil, &job)
		ts.As(t, f.annotat).Must(t, 403, "GET", jobPath, nil, nil)
		manager.Must(t, 200, "POST", jobPath+"/cancel", nil, &job)
		if job["status"] != "canceled" {
			t.Fatalf("canceled job: %v", job)
		}

		access.expired[f.manager.ID] = true
		resp := manager.Do(t, "POST", sync, nil)
		var e struct {
			Error struct{ Code, Message, Location string }
		}
		resp.JSON(t, &e)
		if resp.Status != 401 || e.Error.Code != "reauthenticate" || !strings.HasSuffix(e.Error.Location, "/saml/acme/login") {
			t.Fatalf("sync without credentials = %d %s", resp.Status, resp.Body)
		}
	})
}

// TestStorageVisibility: two people of one project whose roles read
// different folders see different tasks, in lists (with the right totals)
// and by ID; media links are rewritten and presigned for the person who
// asks; expired credentials send a browser through the IdP and back, and
// give an API client a 401 that says where to go.
func TestStorageVisibility(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		access := &fakeStorageAccess{expired: map[int64]bool{}}
		ts.Web.Storage = access
		ctx := context.Background()
		var created map[string]any
		ts.As(t, f.manager).Must(t, 201, "POST", "/api/storages/s3", storageBody(f.project.ID, map[string]any{"prefix": ""}), &created)
		st, err := ts.DB.FindStorageByID(ctx, f.org.ID, int64(created["id"].(float64)))
		if err != nil {
			t.Fatal(err)
		}
		var objs []glossa.StorageObject
		for _, key := range []string{"teamA/1.jpg", "teamA/2.jpg", "teamB/1.jpg"} {
			folder := key[:strings.LastIndex(key, "/")+1]
			objs = append(objs, glossa.StorageObject{Key: key, Folder: folder,
				Tasks: []json.RawMessage{json.RawMessage(`{"image":"s3://acme-scans/` + key + `","text":"t"}`)}})
		}
		if _, _, err := ts.DB.AddStorageObjects(ctx, st, objs); err != nil {
			t.Fatal(err)
		}
		// The fixture's two imported tasks came from no storage: everyone sees them.
		annotA, annotB := f.annotat, f.reviewer
		access.readable = map[int64][]string{annotA.ID: {"teamA/"}, annotB.ID: {"teamB/"}}
		type page struct {
			Tasks []glossa.Task
			Total int64
		}
		list := func(m *glossa.Member) page {
			var p page
			ts.As(t, m).Must(t, 200, "GET", fmt.Sprintf("/api/tasks?project=%d", f.project.ID), nil, &p)
			return p
		}
		pa, pb := list(annotA), list(annotB)
		if pa.Total != 4 || len(pa.Tasks) != 4 || pb.Total != 3 || len(pb.Tasks) != 3 {
			t.Fatalf("A sees %d (total %d), B sees %d (total %d)", len(pa.Tasks), pa.Total, len(pb.Tasks), pb.Total)
		}
		// Someone whose assertion carries no role for the storage sees
		// none of its tasks, and is not asked to sign in again.
		access.noRole = map[int64]bool{f.manager.ID: true}
		if pm := list(f.manager); pm.Total != 2 {
			t.Fatalf("without a role: total %d", pm.Total)
		}
		// Nor does their export of the project hold them.
		exp := ts.As(t, f.manager).Do(t, "GET", fmt.Sprintf("/api/projects/%d/export?exportType=JSON&download_all_tasks=true", f.project.ID), nil)
		if exp.Status != 200 || strings.Contains(string(exp.Body), "acme-scans") {
			t.Fatalf("export without a role = %d %s", exp.Status, exp.Body)
		}
		var bTask glossa.Task
		for _, task := range pb.Tasks {
			if strings.Contains(string(task.Data), "/tasks/") {
				bTask = task
			}
		}
		var data map[string]string
		json.Unmarshal(bTask.Data, &data)
		link := data["image"]
		if !strings.HasPrefix(link, fmt.Sprintf("/tasks/%d/presign?fileuri=", bTask.ID)) || data["text"] != "t" {
			t.Fatalf("B's task data: %s", bTask.Data)
		}
		// By ID: B's task does not exist for A.
		ts.As(t, annotA).Must(t, 404, "GET", fmt.Sprintf("/api/tasks/%d", bTask.ID), nil, nil)
		ts.As(t, annotA).Must(t, 404, "POST", fmt.Sprintf("/api/tasks/%d/annotations", bTask.ID), map[string]any{"result": choice("Positive")}, nil)
		ts.As(t, annotB).Must(t, 200, "GET", fmt.Sprintf("/api/tasks/%d", bTask.ID), nil, nil)
		// Media: presigned for the person who asks; A cannot use B's link.
		resp := ts.As(t, annotB).Do(t, "GET", link, nil)
		if resp.Status != 303 || resp.Header.Get("Location") != fmt.Sprintf("https://s3.example/acme-scans/teamB/1.jpg?signed-for=%d", annotB.ID) {
			t.Fatalf("media for B = %d %q", resp.Status, resp.Header.Get("Location"))
		}
		if resp := ts.As(t, annotA).Do(t, "GET", link, nil); resp.Status != 404 {
			t.Fatalf("B's media for A = %d", resp.Status)
		}
		// Only a reference the task makes can be fetched through it.
		forged := fmt.Sprintf("/tasks/%d/presign?fileuri=%s", bTask.ID, "czM6Ly9hY21lLXNjYW5zL3NlY3JldC50eHQ") // s3://acme-scans/secret.txt
		if resp := ts.As(t, annotB).Do(t, "GET", forged, nil); resp.Status != 404 {
			t.Fatalf("forged media = %d", resp.Status)
		}

		// Expired credentials: 401 with where to sign in (API), a trip
		// through the IdP that comes back here (browser).
		access.expired[annotB.ID] = true
		r := ts.As(t, annotB).Do(t, "GET", fmt.Sprintf("/api/tasks?project=%d", f.project.ID), nil)
		if r.Status != 401 || r.ErrorCode(t) != "reauthenticate" || !strings.Contains(string(r.Body), "/saml/acme/login") {
			t.Fatalf("list with expired credentials = %d %s", r.Status, r.Body)
		}
		browser := ts.SignIn(t, annotB.Email, testPassword)
		pagePath := fmt.Sprintf("/projects/%d/tasks/%d", f.project.ID, bTask.ID)
		r = browser.Do(t, "GET", pagePath, nil)
		if r.Status != 303 || r.Header.Get("Location") != "/saml/acme/login?next="+url.QueryEscape(pagePath) {
			t.Fatalf("task page with expired credentials = %d → %q", r.Status, r.Header.Get("Location"))
		}
		access.expired[annotB.ID] = false
		r = browser.Do(t, "GET", pagePath, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `<img class="task-media" src="`+strings.ReplaceAll(link, "&", "&amp;")) {
			t.Fatalf("task page = %d %s", r.Status, r.Body)
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://*.amazonaws.com") {
			t.Fatalf("task page CSP = %q", csp)
		}
	})
}

// TestAnnotationQueuesExportWrites: saving an annotation queues its write
// to each target storage of the project in the same transaction, and
// wakes the worker; deleting it queues the deletion of its object (the
// storage has can_delete_objects) and wakes the worker again; the project
// page shows both.
func TestAnnotationQueuesExportWrites(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		access := &fakeStorageAccess{}
		ts.Web.Storage = access
		var target map[string]any
		ts.As(t, f.manager).Must(t, 201, "POST", "/api/storages/export/s3",
			storageBody(f.project.ID, map[string]any{"prefix": "exports/", "can_delete_objects": true}), &target)
		var ann map[string]any
		ts.As(t, f.annotat).Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", f.task.ID), map[string]any{"result": choice("Negative")}, &ann)
		if access.kicks == 0 {
			t.Fatal("the worker was not woken")
		}
		export := func() map[string]any {
			t.Helper()
			var st map[string]any
			ts.As(t, f.manager).Must(t, 200, "GET", fmt.Sprintf("/api/storages/export/s3/%v", target["id"]), nil, &st)
			e, _ := st["export"].(map[string]any)
			if e == nil {
				t.Fatalf("no export counts: %v", st)
			}
			return e
		}
		if e := export(); e["pending"] != float64(1) {
			t.Fatalf("target storage after one annotation: %v", e)
		}
		page := string(ts.As(t, f.manager).Do(t, "GET", fmt.Sprintf("/projects/%d", f.project.ID), nil).Body)
		if !strings.Contains(page, "0 written, 1 waiting") {
			t.Errorf("the project page does not show the waiting write:\n%s", page)
		}

		kicks := access.kicks
		ts.As(t, f.annotat).Must(t, 204, "DELETE", fmt.Sprintf("/api/annotations/%v", ann["id"]), nil, nil)
		if access.kicks == kicks {
			t.Error("deleting the annotation did not wake the worker")
		}
		if e := export(); e["pending"] != float64(0) || e["deleting"] != float64(1) {
			t.Fatalf("target storage after the annotation was deleted: %v", e)
		}
		page = string(ts.As(t, f.manager).Do(t, "GET", fmt.Sprintf("/projects/%d", f.project.ID), nil).Body)
		if !strings.Contains(page, "0 deleted, 1 to delete") {
			t.Errorf("the project page does not show the waiting deletion:\n%s", page)
		}
	})
}

// TestSignOutForgetsCloudCredentials: signing out deletes the cloud
// credentials that the person's sign-in obtained, and only theirs.
func TestSignOutForgetsCloudCredentials(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		for _, m := range []*glossa.Member{f.annotat, f.reviewer} {
			if err := ts.DB.SavePersonCredential(ctx, &glossa.PersonCredential{OrgID: f.org.ID, UserID: m.ID, Key: "arn:aws:iam::1:role/A", Sealed: []byte("x"), Expires: exp}); err != nil {
				t.Fatal(err)
			}
		}
		c := ts.SignIn(t, f.annotat.Email, testPassword)
		c.Must(t, 204, "POST", "/api/auth/logout", nil, nil)
		if _, err := ts.DB.FindPersonCredential(ctx, f.org.ID, f.annotat.ID, "arn:aws:iam::1:role/A"); glossa.ErrorCode(err) != glossa.ENOTFOUND {
			t.Fatalf("the signed-out person's credential: %v", err)
		}
		if _, err := ts.DB.FindPersonCredential(ctx, f.org.ID, f.reviewer.ID, "arn:aws:iam::1:role/A"); err != nil {
			t.Fatalf("someone else's credential went too: %v", err)
		}
	})
}

// TestStoragePage: a Manager adds storages from the project page; a form
// with mistakes comes back with every problem and creates nothing; the
// AWS set-up shows the organization's own ACS URL in a trust policy ready
// to paste; an Annotator cannot open the page.
func TestStoragePage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		ts.Web.Storage = &fakeStorageAccess{}
		b := ts.SignInPage(t, f.manager.Email, testPassword)
		project := fmt.Sprintf("/projects/%d", f.project.ID)
		page := b.Page(t, project)
		if !strings.Contains(string(page.Body), `href="`+project+`/storages/new?type=target"`) || !strings.Contains(string(page.Body), `id="no-storages"`) {
			t.Fatalf("project page without storages:\n%s", page.Body)
		}
		form := b.Page(t, project+"/storages/new")
		acs := ts.URL + "/saml/acme/acs"
		if form.Status != 200 || !strings.Contains(string(form.Body), `&#34;SAML:aud&#34;: &#34;`+acs+`&#34;`) ||
			!strings.Contains(string(form.Body), ts.URL+"/saml/acme/metadata") {
			t.Fatalf("storage form = %d:\n%s", form.Status, form.Body)
		}
		csrf := csrfFrom(t, form)
		bad := b.SubmitForm(t, project+"/storages/new", url.Values{"csrf_token": {csrf}, "type": {"source"}, "bucket": {"Not A Bucket"},
			"auth_mode": {"broker"}, "broker_roles": {"no comma here"}, "presign_ttl": {"1"}, "session_duration": {"3600"}})
		if bad.Status != 400 || !strings.Contains(string(bad.Body), "line 1: write the role ARN") {
			t.Fatalf("bad form = %d:\n%s", bad.Status, bad.Body)
		}
		bad = b.SubmitForm(t, project+"/storages/new", url.Values{"csrf_token": {csrf}, "type": {"source"}, "bucket": {"Not A Bucket"},
			"auth_mode": {"saml_federated"}, "presign_ttl": {"1"}, "session_duration": {"60"}})
		if body := string(bad.Body); bad.Status != 400 || !strings.Contains(body, "bucket must be an S3 bucket name") ||
			!strings.Contains(body, "needs principal_arn") || !strings.Contains(body, "session_duration must be") || !strings.Contains(body, `value="Not A Bucket"`) {
			t.Fatalf("bad form = %d:\n%s", bad.Status, bad.Body)
		}
		if list, _ := ts.DB.FindStorages(context.Background(), glossa.StorageFilter{OrgID: f.org.ID}); len(list) != 0 {
			t.Fatalf("a refused form created %d storages", len(list))
		}
		ok := b.SubmitForm(t, project+"/storages/new", url.Values{"csrf_token": {csrf}, "type": {"target"}, "bucket": {"acme-exports"},
			"prefix": {"done/"}, "auth_mode": {"broker"}, "broker_roles": {"arn:aws:iam::111122223333:role/TeamA, team-a\n\narn:aws:iam::111122223333:role/TeamB,team-b"},
			"presign_ttl": {"1"}, "session_duration": {"3600"}})
		if ok.Status != 303 || ok.Header.Get("Location") != project+"?notice=storage-created#storages" {
			t.Fatalf("good form = %d to %q:\n%s", ok.Status, ok.Header.Get("Location"), ok.Body)
		}
		list, _ := ts.DB.FindStorages(context.Background(), glossa.StorageFilter{OrgID: f.org.ID})
		if len(list) != 1 || list[0].Type != glossa.StorageTarget || list[0].Prefix != "done/" || len(list[0].BrokerRoles) != 2 ||
			list[0].BrokerRoles[1] != (glossa.GroupMapping{Name: "arn:aws:iam::111122223333:role/TeamB", Group: "team-b"}) {
			t.Fatalf("created: %+v", list)
		}
		annotator := ts.SignInPage(t, f.annotat.Email, testPassword)
		if r := annotator.Page(t, project+"/storages/new"); r.Status != 403 && r.Status != 404 {
			t.Fatalf("an Annotator opening the storage page = %d", r.Status)
		}
	})
}
