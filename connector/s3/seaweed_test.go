package s3_test

// Tests against a real S3: SeaweedFS (internal/s3test), whose broker
// identity's AssumeRole gives real session credentials for two roles with
// real policies, so that SigV4, session tokens, presigned URLs and every
// allow and deny below are the store's own decisions. Most tests share one
// server per test binary; those that need short sessions or an outage
// start their own. They need GLOSSA_TEST_WEED (the weed binary, from
// scripts/weed.sh): without it they are skipped, or fail under
// GLOSSA_TEST_REQUIRE_ALL. The store is a fake (fake_test.go) with the
// documented semantics of glossa.StorageService.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/connector/s3"
	"github.com/glossa-dev/glossa/internal/s3test"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

const (
	tasksBucket  = "glossa-tasks"
	exportBucket = "glossa-exports"
	// alice acts with the TeamA role and bob with TeamB in the
	// per-person tests.
	alice = int64(3)
	bob   = int64(4)
)

// teamPolicy lets a team's role list both buckets but read and write only
// under its own folder, "<team>/", and do the extra actions there too
// (TeamA may delete, TeamB may not: SeaweedFS refuses s3:DeleteObject to a
// role that has only s3:PutObject, as AWS does).
func teamPolicy(team string, extra ...string) string {
	actions := `"s3:GetObject", "s3:PutObject"`
	for _, a := range extra {
		actions += `, "` + a + `"`
	}
	return `{"Version": "2012-10-17", "Statement": [
	{"Effect": "Allow", "Action": [` + actions + `],
	 "Resource": ["arn:aws:s3:::glossa-tasks/` + team + `/*", "arn:aws:s3:::glossa-exports/` + team + `/*"]},
	{"Effect": "Allow", "Action": ["s3:ListBucket"],
	 "Resource": ["arn:aws:s3:::glossa-tasks", "arn:aws:s3:::glossa-exports"]}]}`
}

// rigConfig is the configuration of the servers: the shared one, and those
// tests start for themselves with other session lengths.
func rigConfig(maxSession time.Duration) s3test.Config {
	return s3test.Config{
		Roles:            []s3test.Role{{Name: "TeamA", Policy: teamPolicy("teamA", "s3:DeleteObject")}, {Name: "TeamB", Policy: teamPolicy("teamB")}},
		Buckets:          []string{tasksBucket, exportBucket},
		MaxSessionLength: maxSession,
	}
}

// roles maps the people of the tests to the role they sign in with.
var roles = map[int64]string{alice: "TeamA", bob: "TeamB"}

// fixture is one test's world: a server, a fake store, and a connector
// whose per-person credentials are each person's session of their role and
// whose shared credentials are the admin's, with a key prefix of the
// test's own.
type fixture struct {
	srv   *s3test.Server
	store *fakeStore
	c     *s3.Connector
	// dir is unique to the test: "<test name>-<nanos>/".
	dir string
	// requests counts the HTTP requests the connector sent.
	requests atomic.Int64

	mu       sync.Mutex
	sessions map[int64]personSession
	credErr  func(userID int64) error // if set, consulted first
}

// personSession is what a person's sign-in left: a session of a role.
type personSession struct {
	creds   glossa.Credentials
	roleARN string
}

// newFixture returns a fixture on the shared server.
func newFixture(t *testing.T) *fixture {
	return newFixtureOn(t, s3test.Shared(t, rigConfig(0)))
}

func newFixtureOn(t *testing.T, srv *s3test.Server) *fixture {
	f := &fixture{srv: srv, store: newFakeStore(), sessions: map[int64]personSession{}}
	for u, role := range roles {
		f.signIn(t, u, role)
	}
	f.dir = fmt.Sprintf("%s-%d/", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	f.c = f.with(fixtureCreds{f})
	return f
}

// with returns a connector like f's that gets its credentials from cs.
func (f *fixture) with(cs s3.CredentialSource) *s3.Connector {
	return &s3.Connector{
		Creds: cs, Store: f.store, Annotations: f.store, Audit: f.store,
		HTTPClient: &http.Client{Transport: countingTransport{&f.requests}},
	}
}

// signIn gives userID a fresh session of role, assumed as the broker
// (as broker mode does), in place of any they had.
func (f *fixture) signIn(t *testing.T, userID int64, role string) glossa.Credentials {
	t.Helper()
	out, err := f.srv.STSClient(f.srv.BrokerCredentials()).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(f.srv.RoleARN(role)), RoleSessionName: aws.String("user-" + strconv.FormatInt(userID, 10)),
		DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		t.Fatalf("AssumeRole %s: %v", role, err)
	}
	c := s3test.SessionCredentials(out.Credentials)
	creds := glossa.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expires: c.Expires}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[userID] = personSession{creds, f.srv.RoleARN(role)}
	return creds
}

// session returns userID's current credentials.
func (f *fixture) session(userID int64) glossa.Credentials {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[userID].creds
}

// fixtureCreds is the fixture's credential source: the admin's keys for
// the shared modes, each person's session for the per-person ones, and
// the role of that session (s3.RoleNamer).
type fixtureCreds struct{ f *fixture }

func (c fixtureCreds) Credentials(_ context.Context, s *glossa.Storage, userID int64) (glossa.Credentials, error) {
	f := c.f
	if !s.AuthMode.PerPerson() {
		return glossa.Credentials{AccessKeyID: f.srv.AdminKey, SecretAccessKey: f.srv.AdminSecret}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.credErr != nil {
		if err := f.credErr(userID); err != nil {
			return glossa.Credentials{}, err
		}
	}
	ps, ok := f.sessions[userID]
	if !ok {
		return glossa.Credentials{}, glossa.Errorf(glossa.EREAUTH, "Sign in again.")
	}
	return ps.creds, nil
}

func (c fixtureCreds) RoleARN(_ context.Context, _ *glossa.Storage, userID int64) string {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return c.f.sessions[userID].roleARN
}

// countingTransport counts the requests it sends.
type countingTransport struct{ n *atomic.Int64 }

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// storage adds a storage on the rig: static admin keys unless the test
// says otherwise.
func (f *fixture) storage(s glossa.Storage) *glossa.Storage {
	s.S3Endpoint, s.RegionName = f.srv.Endpoint, f.srv.Region
	if s.Type == "" {
		s.Type = glossa.StorageSource
	}
	if s.AuthMode == "" {
		s.AuthMode = glossa.AuthStatic
	}
	return f.store.addStorage(s)
}

// sync queues and runs a job of s requested by alice, returning it
// finished.
func (f *fixture) sync(t *testing.T, s *glossa.Storage) glossa.StorageJob {
	t.Helper()
	return f.syncAs(t, s, alice)
}

func (f *fixture) syncAs(t *testing.T, s *glossa.Storage, userID int64) glossa.StorageJob {
	t.Helper()
	j := f.store.queueJob(s, userID)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	claimed, err := f.store.ClaimStorageJob(ctx, time.Now(), time.Now().Add(-s3.StaleAfter))
	if err != nil || claimed == nil || claimed.ID != j.ID {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	if err := f.c.RunSync(ctx, claimed); err != nil {
		t.Fatalf("RunSync: %v", err)
	}
	return f.store.job(j.ID)
}

func progress(j glossa.StorageJob) glossa.JobProgress {
	return glossa.JobProgress{Listed: j.Listed, Created: j.Created, Skipped: j.Skipped, Failed: j.Failed}
}

// keys returns the keys s has tasks for, sorted.
func (f *fixture) keys(s *glossa.Storage) []string {
	var out []string
	for k := range f.store.storageTasks(s.ID) {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// get fetches u as a browser following a media redirect would.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// presignExpires is the X-Amz-Expires of a presigned URL, in seconds.
func presignExpires(t *testing.T, u string) int {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(pu.Query().Get("X-Amz-Expires"))
	if err != nil {
		t.Fatalf("URL %s: X-Amz-Expires: %v", u, err)
	}
	return n
}

func TestSyncBlobURLs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	d := f.dir
	for _, k := range []string{"a.jpg", "b.png", "sub/c.jpg", "sub/deeper/d.jpg"} {
		f.srv.Put(t, tasksBucket, d+k, []byte("pixels of "+k))
	}

	t.Run("one level", func(t *testing.T) {
		s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: d, UseBlobURLs: true})
		j := f.sync(t, s)
		if j.Status != glossa.SyncCompleted || j.Error != "" {
			t.Fatalf("job %s: %q", j.Status, j.Error)
		}
		if diff := cmp.Diff(glossa.JobProgress{Listed: 2, Created: 2}, progress(j)); diff != "" {
			t.Errorf("progress (-want +got)\n%s", diff)
		}
		want := map[string][]string{
			d + "a.jpg": {`{"image":"s3://glossa-tasks/` + d + `a.jpg"}`},
			d + "b.png": {`{"image":"s3://glossa-tasks/` + d + `b.png"}`},
		}
		if diff := cmp.Diff(want, f.store.storageTasks(s.ID)); diff != "" {
			t.Errorf("tasks (-want +got)\n%s", diff)
		}

		// A second sync of the unchanged bucket creates nothing.
		j = f.sync(t, s)
		if diff := cmp.Diff(glossa.JobProgress{Listed: 2, Skipped: 2}, progress(j)); diff != "" || j.Status != glossa.SyncCompleted {
			t.Errorf("re-sync %s, progress (-want +got)\n%s", j.Status, diff)
		}
		// A new object is picked up by the next one.
		f.srv.Put(t, tasksBucket, d+"e.jpg", []byte("new"))
		j = f.sync(t, s)
		if diff := cmp.Diff(glossa.JobProgress{Listed: 3, Created: 1, Skipped: 2}, progress(j)); diff != "" {
			t.Errorf("sync after a put, progress (-want +got)\n%s", diff)
		}
	})

	t.Run("prefix without its slash is the folder", func(t *testing.T) {
		// Label Studio lists prefix.rstrip('/') + '/': "x/sub" is the
		// folder x/sub/, not every key that starts with "x/sub".
		f.srv.Put(t, tasksBucket, d+"subway.jpg", []byte("not in sub/"))
		s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: d + "sub", UseBlobURLs: true})
		f.sync(t, s)
		if diff := cmp.Diff([]string{d + "sub/c.jpg"}, f.keys(s)); diff != "" {
			t.Errorf("keys (-want +got)\n%s", diff)
		}
	})

	t.Run("recursive, regex, small batches", func(t *testing.T) {
		f.c.BatchSize = 1
		defer func() { f.c.BatchSize = 0 }()
		s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: d, UseBlobURLs: true, RecursiveScan: true, RegexFilter: `.*\.jpg`})
		j := f.sync(t, s)
		if j.Status != glossa.SyncCompleted {
			t.Fatalf("job %s: %q", j.Status, j.Error)
		}
		want := []string{d + "a.jpg", d + "e.jpg", d + "sub/c.jpg", d + "sub/deeper/d.jpg", d + "subway.jpg"}
		if diff := cmp.Diff(want, f.keys(s)); diff != "" {
			t.Errorf("keys (-want +got)\n%s", diff)
		}
		if diff := cmp.Diff(glossa.JobProgress{Listed: 6, Created: 5, Skipped: 1}, progress(j)); diff != "" {
			t.Errorf("progress (-want +got)\n%s", diff)
		}
	})

	t.Run("regex anchored at the start", func(t *testing.T) {
		s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: d, UseBlobURLs: true, RecursiveScan: true, RegexFilter: `sub/`})
		if j := f.sync(t, s); j.Created != 0 || j.Skipped != 6 {
			t.Errorf("a filter that only matches mid-key took %d keys", j.Created)
		}
		s = f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: d, UseBlobURLs: true, RecursiveScan: true, RegexFilter: regexpQuote(d) + `sub/`})
		f.sync(t, s)
		if diff := cmp.Diff([]string{d + "sub/c.jpg", d + "sub/deeper/d.jpg"}, f.keys(s)); diff != "" {
			t.Errorf("keys (-want +got)\n%s", diff)
		}
	})

	t.Run("data key from the labeling config", func(t *testing.T) {
		f.c.DataKeys = dataKey("audio")
		defer func() { f.c.DataKeys = nil }()
		s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: d + "sub/deeper/", UseBlobURLs: true})
		f.sync(t, s)
		want := map[string][]string{d + "sub/deeper/d.jpg": {`{"audio":"s3://glossa-tasks/` + d + `sub/deeper/d.jpg"}`}}
		if diff := cmp.Diff(want, f.store.storageTasks(s.ID)); diff != "" {
			t.Errorf("tasks (-want +got)\n%s", diff)
		}
	})
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

type dataKey string

func (k dataKey) BlobDataKey(context.Context, *glossa.Storage) (string, error) { return string(k), nil }

func TestSyncTaskFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	d := f.dir
	files := map[string]string{
		"1-one.json":   `{"data": {"text": "one"}, "annotations": []}`,
		"2-list.json":  `[{"text": "two"}, {"text": "three"}]`,
		"3-lines.json": "{\"text\": \"four\"}\n{\"data\": {\"text\": \"five\"}}\n",
		"4-bad.json":   `{"text": "oops"`,
		"5-empty.json": `[]`,
	}
	for k, body := range files {
		f.srv.Put(t, tasksBucket, d+k, []byte(body))
	}
	s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: d})
	j := f.sync(t, s)
	if j.Status != glossa.SyncCompleted {
		t.Fatalf("job %s: %q", j.Status, j.Error)
	}
	if diff := cmp.Diff(glossa.JobProgress{Listed: 5, Created: 5, Skipped: 1, Failed: 1}, progress(j)); diff != "" {
		t.Errorf("progress (-want +got)\n%s", diff)
	}
	want := map[string][]string{
		d + "1-one.json":   {`{"text":"one"}`},
		d + "2-list.json":  {`{"text":"three"}`, `{"text":"two"}`},
		d + "3-lines.json": {`{"text":"five"}`, `{"text":"four"}`},
	}
	if diff := cmp.Diff(want, f.store.storageTasks(s.ID)); diff != "" {
		t.Errorf("tasks (-want +got)\n%s", diff)
	}
	if !strings.Contains(j.Error, "1 object could not be imported") || !strings.Contains(j.Error, d+"4-bad.json is not valid JSON") {
		t.Errorf("job error %q does not say which file failed and why", j.Error)
	}

	// Re-sync: the good files are linked; the bad one fails again.
	j = f.sync(t, s)
	if diff := cmp.Diff(glossa.JobProgress{Listed: 5, Skipped: 4, Failed: 1}, progress(j)); diff != "" {
		t.Errorf("re-sync progress (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(want, f.store.storageTasks(s.ID)); diff != "" {
		t.Errorf("tasks after the re-sync (-want +got)\n%s", diff)
	}
}

func TestSyncCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 10 {
		f.srv.Put(t, tasksBucket, fmt.Sprintf("%s%02d.jpg", f.dir, i), []byte("x"))
	}
	f.c.BatchSize = 2
	f.store.cancelAfter = 2 // cancellation requested while the second batch is reported
	s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: f.dir, UseBlobURLs: true})
	j := f.sync(t, s)
	if j.Status != glossa.SyncCanceled {
		t.Fatalf("job %s, want canceled", j.Status)
	}
	if j.Created != 4 || len(f.keys(s)) != 4 {
		t.Errorf("created %d tasks (%d stored), want the 4 of the two batches before the cancel", j.Created, len(f.keys(s)))
	}
}

// crashingStore is the store as seen by a process that dies right after
// its crashAt-th batch of objects was committed: the batch is in, but the
// process never reports it, nor finishes the job.
type crashingStore struct {
	*fakeStore
	crashAt int
	adds    int // AddStorageObjects is called by one goroutine at a time
	crash   context.CancelFunc
}

func (s *crashingStore) AddStorageObjects(ctx context.Context, st *glossa.Storage, objs []glossa.StorageObject) (int64, int64, error) {
	created, skipped, err := s.fakeStore.AddStorageObjects(ctx, st, objs)
	if s.adds++; s.adds == s.crashAt {
		s.crash()
		return 0, 0, context.Canceled
	}
	return created, skipped, err
}

func TestSyncCrashAndTakeOver(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var keys []string
	for i := range 9 {
		k := fmt.Sprintf("%s%02d.json", f.dir, i)
		keys = append(keys, k)
		f.srv.Put(t, tasksBucket, k, fmt.Appendf(nil, `[{"n": %d, "half": 1}, {"n": %d, "half": 2}]`, i, i))
	}
	s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: f.dir})
	j := f.store.queueJob(s, alice)

	// The first process lists pages of 4 files and commits every 2 (4
	// tasks), and dies after its second commit.
	ctx, crash := context.WithCancel(context.Background())
	defer crash()
	dying := f.with(f.c.Creds)
	dying.Store, dying.BatchSize = &crashingStore{fakeStore: f.store, crashAt: 2, crash: crash}, 4
	claimed, _ := f.store.ClaimStorageJob(ctx, time.Now(), time.Now().Add(-s3.StaleAfter))
	if err := dying.RunSync(ctx, claimed); err == nil {
		t.Fatal("RunSync of the dying process returned nil, want its context's error")
	}
	if got := f.store.job(j.ID); got.Status != glossa.SyncInProgress || len(f.keys(s)) != 4 {
		t.Fatalf("after the crash: job %s, %d objects in; want in_progress and the 4 of two batches", got.Status, len(f.keys(s)))
	}

	// Nobody takes the job over while its heartbeat is fresh; another
	// process does once it is StaleAfter old, and finishes the sync.
	if other, _ := f.store.ClaimStorageJob(context.Background(), time.Now(), time.Now().Add(-s3.StaleAfter)); other != nil {
		t.Fatalf("job %d taken over with a fresh heartbeat", other.ID)
	}
	later := time.Now().Add(s3.StaleAfter + time.Second)
	claimed, _ = f.store.ClaimStorageJob(context.Background(), later, later.Add(-s3.StaleAfter))
	if claimed == nil || claimed.ID != j.ID {
		t.Fatalf("stale job not taken over: %+v", claimed)
	}
	f.c.BatchSize = 4
	if err := f.c.RunSync(context.Background(), claimed); err != nil {
		t.Fatal(err)
	}
	got := f.store.job(j.ID)
	if got.Status != glossa.SyncCompleted {
		t.Fatalf("job %s %q", got.Status, got.Error)
	}
	if diff := cmp.Diff(glossa.JobProgress{Listed: 9, Created: 10, Skipped: 4}, progress(got)); diff != "" {
		t.Errorf("progress of the take-over (-want +got)\n%s", diff)
	}
	// No gaps, no duplicates: every file's two tasks, once.
	tasks := f.store.storageTasks(s.ID)
	if diff := cmp.Diff(keys, f.keys(s)); diff != "" {
		t.Errorf("keys (-want +got)\n%s", diff)
	}
	for i, k := range keys {
		want := []string{fmt.Sprintf(`{"n":%d,"half":1}`, i), fmt.Sprintf(`{"n":%d,"half":2}`, i)}
		if diff := cmp.Diff(want, tasks[k]); diff != "" {
			t.Errorf("tasks of %s (-want +got)\n%s", k, diff)
		}
	}
}

// slowStore is the store as seen by a process that was slow, not dead:
// right after its first batch of objects is committed, another process
// finds its heartbeat stale and claims the job.
type slowStore struct {
	*fakeStore
	adds     int // AddStorageObjects is called by one goroutine at a time
	takeover func()
}

func (s *slowStore) AddStorageObjects(ctx context.Context, st *glossa.Storage, objs []glossa.StorageObject) (int64, int64, error) {
	created, skipped, err := s.fakeStore.AddStorageObjects(ctx, st, objs)
	if s.adds++; s.adds == 1 {
		s.takeover()
	}
	return created, skipped, err
}

func TestSyncTakenOverFromSlowRunner(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var keys []string
	for i := range 8 {
		k := fmt.Sprintf("%s%02d.jpg", f.dir, i)
		keys = append(keys, k)
		f.srv.Put(t, tasksBucket, k, []byte("x"))
	}
	s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: f.dir, UseBlobURLs: true})
	j := f.store.queueJob(s, alice)
	first, _ := f.store.ClaimStorageJob(context.Background(), time.Now(), time.Now().Add(-s3.StaleAfter))

	// The first runner commits its first batch of 3, then another process
	// takes the job over; the first learns it at its next report and stops
	// there, neither finishing the job nor touching its progress.
	var second *glossa.StorageJob
	slow := f.with(f.c.Creds)
	slow.BatchSize = 3
	slow.Store = &slowStore{fakeStore: f.store, takeover: func() {
		later := time.Now().Add(s3.StaleAfter + time.Second)
		second, _ = f.store.ClaimStorageJob(context.Background(), later, later.Add(-s3.StaleAfter))
	}}
	if err := slow.RunSync(context.Background(), first); err != nil {
		t.Fatalf("RunSync of the superseded runner = %v, want nil", err)
	}
	if second == nil || second.ID != j.ID || second.Claim != first.Claim+1 {
		t.Fatalf("takeover claim = %+v", second)
	}
	got := f.store.job(j.ID)
	if got.Status != glossa.SyncInProgress || got.FinishedAt != nil || progress(got) != (glossa.JobProgress{}) {
		t.Fatalf("job after the superseded runner stopped: %s %+v, want in progress, untouched", got.Status, progress(got))
	}
	if n := len(f.keys(s)); n != 3 {
		t.Fatalf("the superseded runner added %d objects, want only its first batch of 3", n)
	}

	// The second runner finishes it, alone.
	if err := f.c.RunSync(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	got = f.store.job(j.ID)
	if got.Status != glossa.SyncCompleted {
		t.Fatalf("job %s %q", got.Status, got.Error)
	}
	if diff := cmp.Diff(glossa.JobProgress{Listed: 8, Created: 5, Skipped: 3}, progress(got)); diff != "" {
		t.Errorf("progress of the second runner (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(keys, f.keys(s)); diff != "" {
		t.Errorf("keys (-want +got)\n%s", diff)
	}
	// Its claim is stale for good: a late finish of the first is refused.
	if err := f.store.FinishStorageJob(context.Background(), j.ID, first.Claim, glossa.SyncFailed, glossa.JobProgress{}, "late", time.Now()); glossa.ErrorCode(err) != glossa.ECONFLICT {
		t.Errorf("late finish of the superseded runner = %v, want ECONFLICT", err)
	}
}

func TestSyncCredentialsExpireMidway(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 6 {
		f.srv.Put(t, tasksBucket, fmt.Sprintf("teamA/%s%02d.jpg", f.dir, i), []byte("x"))
	}
	var calls atomic.Int32
	f.credErr = func(int64) error {
		if calls.Add(1) > 2 { // fetched for each page: the first two
			return glossa.Errorf(glossa.EREAUTH, "Your access to this storage's data has expired; sign in again through your identity provider.")
		}
		return nil
	}
	f.c.BatchSize = 2
	s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: "teamA/" + f.dir, UseBlobURLs: true, AuthMode: glossa.AuthBroker})
	j := f.sync(t, s)
	if j.Status != glossa.SyncFailed || !strings.Contains(j.Error, "sign in again") {
		t.Fatalf("job %s %q, want failed with the sign-in sentence", j.Status, j.Error)
	}
	if j.Created != 4 {
		t.Errorf("created %d, want the 4 of the pages listed before the credentials expired", j.Created)
	}
}

func TestSyncPerPerson(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := "teamA/"+f.dir+"a.json", "teamB/"+f.dir+"b.json"
	f.srv.Put(t, tasksBucket, a, []byte(`{"text": "a"}`))
	f.srv.Put(t, tasksBucket, b, []byte(`{"text": "b"}`))

	// Both roles may list the whole bucket but read only their own
	// folder: each person's sync imports their team's file, and the other
	// team's fails alone, with a reason naming the role.
	for _, tt := range []struct {
		user        int64
		mine, other string
	}{{alice, a, b}, {bob, b, a}} {
		s := f.storage(glossa.Storage{Bucket: tasksBucket, AuthMode: glossa.AuthBroker, RecursiveScan: true, RegexFilter: `team[AB]/` + regexpQuote(f.dir)})
		j := f.syncAs(t, s, tt.user)
		if j.Status != glossa.SyncCompleted || j.Created != 1 || j.Failed != 1 {
			t.Fatalf("sync as %s: job %s %+v %q", roles[tt.user], j.Status, progress(j), j.Error)
		}
		if diff := cmp.Diff([]string{tt.mine}, f.keys(s)); diff != "" {
			t.Errorf("sync as %s: keys (-want +got)\n%s", roles[tt.user], diff)
		}
		want := "s3://glossa-tasks/" + tt.other + " could not be read: Access denied: the role " + f.srv.RoleARN(roles[tt.user])
		if !strings.Contains(j.Error, want) {
			t.Errorf("sync as %s: job error %q does not contain %q", roles[tt.user], j.Error, want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.srv.Put(t, tasksBucket, "teamA/"+f.dir+"a.jpg", []byte("x"))
	f.srv.Put(t, tasksBucket, "teamB/"+f.dir+"b.jpg", []byte("x"))
	ctx := context.Background()
	tests := []struct {
		name    string
		s       glossa.Storage
		code    string
		message string
	}{
		{"source with objects", glossa.Storage{Bucket: tasksBucket, Prefix: "teamA/" + f.dir}, "", ""},
		{"source, prefix without its slash", glossa.Storage{Bucket: tasksBucket, Prefix: "teamA/" + strings.TrimSuffix(f.dir, "/")}, "", ""},
		{"source, whole bucket", glossa.Storage{Bucket: tasksBucket}, "", ""},
		{"source, empty prefix", glossa.Storage{Bucket: tasksBucket, Prefix: "nothing-here/" + f.dir}, glossa.EINVALID, "No objects found"},
		{"target, empty prefix", glossa.Storage{Bucket: exportBucket, Prefix: "nothing-here/" + f.dir, Type: glossa.StorageTarget}, "", ""},
		{"no such bucket", glossa.Storage{Bucket: "no-such-bucket-x"}, glossa.ENOTFOUND, `"no-such-bucket-x" does not exist`},
		{"no such bucket, prefix", glossa.Storage{Bucket: "no-such-bucket-x", Prefix: "a/"}, glossa.ENOTFOUND, `"no-such-bucket-x" does not exist`},
		{"bad regex", glossa.Storage{Bucket: tasksBucket, RegexFilter: "(abc"}, glossa.EINVALID, "regex_filter"},
		{"every problem at once", glossa.Storage{RegexFilter: "(", S3Endpoint: "ftp://x"}, glossa.EINVALID, "Set the bucket."},
		{"role may list", glossa.Storage{Bucket: tasksBucket, Prefix: "teamB/" + f.dir, AuthMode: glossa.AuthBroker}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := f.storage(tt.s)
			if tt.s.S3Endpoint != "" {
				s.S3Endpoint = tt.s.S3Endpoint
			}
			err := f.c.Validate(ctx, s, alice)
			if glossa.ErrorCode(err) != tt.code || !strings.Contains(glossa.ErrorMessage(err), tt.message) {
				t.Errorf("Validate = %v, want %q containing %q", err, tt.code, tt.message)
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		c := f.with(fixedCreds(glossa.Credentials{AccessKeyID: f.srv.AdminKey, SecretAccessKey: "wrong"}))
		err := c.Validate(ctx, f.storage(glossa.Storage{Bucket: tasksBucket}), alice)
		if glossa.ErrorCode(err) != glossa.EFORBIDDEN || !strings.Contains(glossa.ErrorMessage(err), "secret access key") {
			t.Errorf("Validate = %v", err)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		c := f.with(fixedCreds(glossa.Credentials{AccessKeyID: "AKIANOSUCHKEY0000000", SecretAccessKey: "x"}))
		err := c.Validate(ctx, f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: "teamA/"}), alice)
		if glossa.ErrorCode(err) != glossa.EFORBIDDEN || !strings.Contains(glossa.ErrorMessage(err), "access key ID") {
			t.Errorf("Validate = %v", err)
		}
	})
	t.Run("endpoint unreachable", func(t *testing.T) {
		s := f.storage(glossa.Storage{Bucket: tasksBucket})
		s.S3Endpoint = "http://127.0.0.1:1"
		err := f.c.Validate(ctx, s, alice)
		if glossa.ErrorCode(err) != glossa.EUNAVAILABLE || !strings.Contains(glossa.ErrorMessage(err), "could not be reached") {
			t.Errorf("Validate = %v", err)
		}
	})
	t.Run("expired credentials pass through", func(t *testing.T) {
		want := glossa.Errorf(glossa.EREAUTH, "Sign in again.")
		c := f.with(credsFunc(func(context.Context, *glossa.Storage, int64) (glossa.Credentials, error) {
			return glossa.Credentials{}, want
		}))
		if err := c.Validate(ctx, f.storage(glossa.Storage{Bucket: tasksBucket, AuthMode: glossa.AuthBroker}), alice); err != want {
			t.Errorf("Validate = %v, want %v", err, want)
		}
	})
	t.Run("access denied names the role and prefix", func(t *testing.T) {
		// A TeamA session narrowed to teamA/ by a session policy, as
		// broker mode narrows it: listing teamB/ is refused.
		out, err := f.srv.STSClient(f.srv.BrokerCredentials()).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String(f.srv.RoleARN("TeamA")), RoleSessionName: aws.String("alice"), DurationSeconds: aws.Int32(900),
			Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::glossa-tasks"],"Condition":{"StringLike":{"s3:prefix":["teamA/*"]}}}]}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		cr := s3test.SessionCredentials(out.Credentials)
		c := f.with(fixedCreds(glossa.Credentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken, Expires: cr.Expires}))
		c.Creds = roleNamed{c.Creds, f.srv.RoleARN("TeamA")}
		s := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: "teamB/" + f.dir, AuthMode: glossa.AuthBroker})
		err = c.Validate(ctx, s, alice)
		want := "Access denied: the role " + f.srv.RoleARN("TeamA") + " may not list s3://glossa-tasks/teamB/" + f.dir + "."
		if glossa.ErrorCode(err) != glossa.EFORBIDDEN || glossa.ErrorMessage(err) != want {
			t.Errorf("Validate = %v, want EFORBIDDEN %q", err, want)
		}
	})
}

// roleNamed is a credential source that names the role its credentials
// stand for, as the federation package's does (s3.RoleNamer).
type roleNamed struct {
	s3.CredentialSource
	role string
}

func (r roleNamed) RoleARN(context.Context, *glossa.Storage, int64) string { return r.role }

// TestVisibility shows that what each person sees of a per-person storage
// is what their role's policy allows: alice (TeamA) and bob (TeamB) get
// opposite answers for the same folders, decided by the bucket with their
// own session credentials, cached until those expire.
func TestVisibility(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, k := range []string{"teamA/" + f.dir + "1.jpg", "teamA/" + f.dir + "sub/2.jpg", "teamB/" + f.dir + "1.jpg"} {
		f.srv.Put(t, tasksBucket, k, []byte("x"))
	}
	s := f.storage(glossa.Storage{Bucket: tasksBucket, AuthMode: glossa.AuthBroker})
	// teamC's folder holds nothing any more: readable by no one.
	folders := []string{"teamA/" + f.dir, "teamA/" + f.dir + "sub/", "teamB/" + f.dir, "teamC/" + f.dir}

	decide := func(t *testing.T, c *s3.Connector, userID int64) []string {
		t.Helper()
		readable, err := c.ReadableFolders(ctx, s, userID, folders)
		if err != nil {
			t.Fatalf("ReadableFolders as %s: %v", roles[userID], err)
		}
		return readable
	}
	want := map[int64][]string{alice: folders[:2], bob: folders[2:3]}
	for _, u := range []int64{alice, bob} {
		if diff := cmp.Diff(want[u], decide(t, f.c, u)); diff != "" {
			t.Errorf("readable folders of %s (-want +got)\n%s", roles[u], diff)
		}
	}

	// Each decision was audited once, with the person, their role, the
	// folder and the outcome.
	events := f.store.auditEvents()
	if len(events) != 8 {
		t.Fatalf("%d audit events, want 8 (2 people × 4 folders)", len(events))
	}
	for _, e := range events {
		allowed := e.Detail["allowed"].(bool)
		if e.Action != "federation.access" || e.Detail["operation"] != "check" || roles[e.ActorID] == "" ||
			e.Detail["role"] != f.srv.RoleARN(roles[e.ActorID]) ||
			(e.Outcome == glossa.OutcomeSuccess) != allowed || e.Detail["prefix"] == nil {
			t.Errorf("audit event %+v", e)
		}
	}

	// Decisions are cached for the credentials they were made with: no
	// request to the bucket, no new event.
	f.requests.Store(0)
	for _, u := range []int64{alice, bob} {
		if diff := cmp.Diff(want[u], decide(t, f.c, u)); diff != "" {
			t.Errorf("cached readable folders of %s (-want +got)\n%s", roles[u], diff)
		}
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("cached decisions sent %d requests, want 0", n)
	}
	if n := len(f.store.auditEvents()); n != 8 {
		t.Errorf("%d audit events after cached decisions, want 8", n)
	}

	// Once the credentials expire, no cached decision answers for them:
	// the person must sign in again.
	exp := f.session(alice).Expires
	f.c.Now = func() time.Time { return exp }
	if _, err := f.c.ReadableFolders(ctx, s, alice, folders); glossa.ErrorCode(err) != glossa.EREAUTH {
		t.Errorf("ReadableFolders with expired credentials = %v, want EREAUTH", err)
	}
	f.c.Now = nil

	// New credentials (a new sign-in, here with bob's role) decide
	// afresh, with requests to the bucket.
	f.signIn(t, alice, "TeamB")
	f.requests.Store(0)
	if diff := cmp.Diff(want[bob], decide(t, f.c, alice)); diff != "" {
		t.Errorf("readable folders of alice's new credentials (-want +got)\n%s", diff)
	}
	if f.requests.Load() == 0 {
		t.Error("new credentials were answered from the cache")
	}

	// Shared modes: the bucket cannot tell people apart; every folder is
	// visible, without a request.
	shared := f.storage(glossa.Storage{Bucket: tasksBucket})
	f.requests.Store(0)
	if got, err := f.c.ReadableFolders(ctx, shared, alice, folders); err != nil || !slices.Equal(got, folders) || f.requests.Load() != 0 {
		t.Errorf("ReadableFolders, static = %v, %v (%d requests)", got, err, f.requests.Load())
	}
}

func TestMediaURLSeaweed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	a, b := "teamA/"+f.dir+"pic one+ü.jpg", "teamB/"+f.dir+"pic.jpg"
	f.srv.Put(t, tasksBucket, a, []byte("teamA pixels"))
	f.srv.Put(t, tasksBucket, b, []byte("teamB pixels"))
	s := f.storage(glossa.Storage{Bucket: tasksBucket, AuthMode: glossa.AuthBroker, Presign: true, PresignTTL: 5})

	mediaURL := func(c *s3.Connector, s *glossa.Storage, userID int64, key string) string {
		t.Helper()
		u, err := c.MediaURL(ctx, s, userID, key)
		if err != nil {
			t.Fatalf("MediaURL(%s) as %s: %v", key, roles[userID], err)
		}
		return u
	}
	// Each person's URL carries their role's permissions.
	for _, tt := range []struct {
		user        int64
		mine, other string
		body        string
	}{{alice, a, b, "teamA pixels"}, {bob, b, a, "teamB pixels"}} {
		u := mediaURL(f.c, s, tt.user, tt.mine)
		if code, body := get(t, u); code != 200 || body != tt.body {
			t.Errorf("GET %s's presigned URL of %s: %d %q", roles[tt.user], tt.mine, code, body)
		}
		if got := presignExpires(t, u); got != 300 {
			t.Errorf("X-Amz-Expires = %d, want presign_ttl (300 s)", got)
		}
		if code, body := get(t, mediaURL(f.c, s, tt.user, tt.other)); code != http.StatusForbidden || !strings.Contains(body, "AccessDenied") {
			t.Errorf("GET %s's presigned URL of %s: %d %s, want 403 AccessDenied", roles[tt.user], tt.other, code, body)
		}
		// The signature covers the key: the same query on another key is refused.
		if code, _ := get(t, strings.Replace(u, "/pic", "/pix", 1)); code != http.StatusForbidden {
			t.Errorf("GET tampered URL: %d, want 403", code)
		}
	}
	if n := len(f.store.auditEvents()); n != 4 {
		t.Errorf("%d audit events, want one per presigned URL (4)", n)
	}

	// The URL lives no longer than the credentials: the source says they
	// end in 3 s (the session itself lives on), so the URL says 2 or 3 s
	// and the bucket refuses it after that.
	short := f.session(alice)
	short.Expires = time.Now().Add(3 * time.Second)
	u := mediaURL(f.with(fixedCreds(short)), s, alice, a)
	if got := presignExpires(t, u); got < 2 || got > 3 {
		t.Errorf("X-Amz-Expires = %d, want at most the 3 s the credentials have left", got)
	}
	if code, _ := get(t, u); code != 200 {
		t.Errorf("GET URL of short-lived credentials at once: %d, want 200", code)
	}
	time.Sleep(time.Until(short.Expires) + 1100*time.Millisecond)
	if code, body := get(t, u); code != http.StatusForbidden || !strings.Contains(body, "Request has expired") {
		t.Errorf("GET URL after its X-Amz-Expires: %d %s, want 403 Request has expired", code, body)
	}

	// Static keys presign too.
	st := f.storage(glossa.Storage{Bucket: tasksBucket, Presign: true})
	if code, body := get(t, mediaURL(f.c, st, alice, b)); code != 200 || body != "teamB pixels" {
		t.Errorf("GET presigned static URL: %d %q", code, body)
	}
}

// TestSessionsExpire runs on a server of its own whose sessions last 6 s:
// presigned URLs, visibility decisions and proxied reads all end with the
// credentials, even when the URL's own X-Amz-Expires would last longer.
func TestSessionsExpire(t *testing.T) {
	t.Parallel()
	const maxSession = 6 * time.Second
	srv := s3test.Start(t, rigConfig(maxSession))
	f := newFixtureOn(t, srv)
	ctx := context.Background()
	key := "teamA/" + f.dir + "scan.jpg"
	srv.Put(t, tasksBucket, key, []byte("pixels"))
	// A fresh session, so that the steps below have most of its 6 s.
	creds := f.signIn(t, alice, "TeamA")
	if left := time.Until(creds.Expires); left > maxSession+time.Second || left < maxSession-2*time.Second {
		t.Fatalf("session has %v left, want about %v", left, maxSession)
	}
	s := f.storage(glossa.Storage{Bucket: tasksBucket, AuthMode: glossa.AuthBroker, Presign: true, PresignTTL: 15})

	u, err := f.c.MediaURL(ctx, s, alice, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(presignExpires(t, u)) * time.Second; got > time.Until(creds.Expires)+time.Second || got < maxSession-3*time.Second {
		t.Errorf("X-Amz-Expires = %v with %v of credentials left, want it capped by them", got, time.Until(creds.Expires))
	}
	// A source whose clock runs late thinks the credentials last an hour:
	// its URL says 15 minutes, but the bucket ends it with the session.
	late := creds
	late.Expires = time.Now().Add(time.Hour)
	lateURL, err := f.with(fixedCreds(late)).MediaURL(ctx, s, alice, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := presignExpires(t, lateURL); got != 900 {
		t.Fatalf("X-Amz-Expires = %d, want 900", got)
	}
	for _, u := range []string{u, lateURL} {
		if code, body := get(t, u); code != 200 || body != "pixels" {
			t.Fatalf("GET presigned URL of the live session: %d %q", code, body)
		}
	}
	if got, err := f.c.ReadableFolders(ctx, s, alice, []string{"teamA/" + f.dir}); len(got) != 1 || err != nil {
		t.Fatalf("ReadableFolders of the live session = %v, %v", got, err)
	}
	body, _, err := f.c.OpenMedia(ctx, s, alice, key, "")
	if err != nil {
		t.Fatal(err)
	}
	body.Close()

	time.Sleep(time.Until(creds.Expires) + 1500*time.Millisecond)
	for name, u := range map[string]string{"capped": u, "15-minute": lateURL} {
		if code, body := get(t, u); code != http.StatusForbidden {
			t.Errorf("GET %s URL after the session expired: %d %s, want 403", name, code, body)
		}
	}
	if _, err := f.c.MediaURL(ctx, s, alice, key); glossa.ErrorCode(err) != glossa.EREAUTH {
		t.Errorf("MediaURL after expiry = %v, want EREAUTH", err)
	}
	if _, err := f.c.ReadableFolders(ctx, s, alice, []string{"teamA/" + f.dir}); glossa.ErrorCode(err) != glossa.EREAUTH {
		t.Errorf("ReadableFolders after expiry = %v, want EREAUTH (not the cached decision)", err)
	}
	if _, _, err := f.c.OpenMedia(ctx, s, alice, key, ""); glossa.ErrorCode(err) != glossa.EREAUTH {
		t.Errorf("OpenMedia after expiry = %v, want EREAUTH", err)
	}
	// Signing in again gives new credentials that work at once.
	f.signIn(t, alice, "TeamA")
	if got, err := f.c.ReadableFolders(ctx, s, alice, []string{"teamA/" + f.dir}); len(got) != 1 || err != nil {
		t.Errorf("ReadableFolders with new credentials = %v, %v", got, err)
	}
}

func TestOpenMedia(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	key := "teamA/" + f.dir + "clip.wav"
	f.srv.Put(t, tasksBucket, key, []byte("0123456789"))
	s := f.storage(glossa.Storage{Bucket: tasksBucket, AuthMode: glossa.AuthBroker})

	for _, tt := range []struct {
		rng, body, contentRange string
	}{
		{"bytes=2-5", "2345", "bytes 2-5/10"},
		{"bytes=7-", "789", "bytes 7-9/10"},
		{"bytes=-3", "789", "bytes 7-9/10"},
		{"", "0123456789", ""},
		{"items=1-2", "0123456789", ""}, // not a byte range: ignored
	} {
		body, info, err := f.c.OpenMedia(ctx, s, alice, key, tt.rng)
		if err != nil {
			t.Fatalf("OpenMedia %q: %v", tt.rng, err)
		}
		got, _ := io.ReadAll(body)
		body.Close()
		if string(got) != tt.body || info.ContentRange != tt.contentRange || info.StatusPartial != (tt.contentRange != "") ||
			info.ContentLength != int64(len(tt.body)) || info.ETag == "" {
			t.Errorf("OpenMedia %q = %q, %+v", tt.rng, got, info)
		}
	}
	if _, _, err := f.c.OpenMedia(ctx, s, alice, key, "bytes=20-30"); glossa.ErrorCode(err) != glossa.EINVALID {
		t.Errorf("OpenMedia past the end = %v, want EINVALID", err)
	}

	f.srv.Put(t, tasksBucket, "teamB/"+f.dir+"clip.wav", []byte("secret"))
	_, _, err := f.c.OpenMedia(ctx, s, alice, "teamB/"+f.dir+"clip.wav", "")
	if glossa.ErrorCode(err) != glossa.EFORBIDDEN || !strings.Contains(glossa.ErrorMessage(err), "Access denied") {
		t.Errorf("OpenMedia(teamB) as alice = %v, want EFORBIDDEN", err)
	}
	if body, _, err := f.c.OpenMedia(ctx, s, bob, "teamB/"+f.dir+"clip.wav", ""); err != nil {
		t.Errorf("OpenMedia(teamB) as bob: %v", err)
	} else {
		body.Close()
	}
	_, _, err = f.c.OpenMedia(ctx, s, alice, "teamA/"+f.dir+"missing.wav", "")
	if glossa.ErrorCode(err) != glossa.ENOTFOUND {
		t.Errorf("OpenMedia(missing) = %v, want ENOTFOUND", err)
	}
	var allowed, denied int
	for _, e := range f.store.auditEvents() {
		if e.Outcome == glossa.OutcomeSuccess {
			allowed++
		} else {
			denied++
		}
	}
	if allowed != 6 || denied != 1 {
		t.Errorf("audit: %d allowed, %d denied; want 6 and 1", allowed, denied)
	}
}

func TestExport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now()
	f.c.Now = func() time.Time { return now }
	f.store.now = f.c.Now
	teamA := f.storage(glossa.Storage{Bucket: exportBucket, Prefix: "teamA/" + f.dir, Type: glossa.StorageTarget, AuthMode: glossa.AuthBroker})
	teamB := f.storage(glossa.Storage{Bucket: exportBucket, Prefix: "teamB/" + f.dir, Type: glossa.StorageTarget, AuthMode: glossa.AuthBroker})
	annA := f.store.addAnnotation(7, alice, `[{"from_name":"tag","to_name":"img","type":"choices","value":{"choices":["cat"]}}]`)
	annB := f.store.addAnnotation(7, bob, `[]`)
	ok := f.store.queueWrite(teamA, annA)
	okB := f.store.queueWrite(teamB, annB)
	refused := f.store.queueWrite(teamB, annA) // alice's annotation, to bob's team's folder

	n, err := f.c.RunExportWrites(ctx)
	if err != nil || n != 3 {
		t.Fatalf("RunExportWrites = %d, %v", n, err)
	}
	body, err := f.srv.Get(t, exportBucket, "teamA/"+f.dir+fmt.Sprint(annA.ID))
	if err != nil {
		t.Fatalf("the export did not land: %v", err)
	}
	var got struct {
		ID          int64           `json:"id"`
		Result      json.RawMessage `json:"result"`
		CompletedBy int64           `json:"completed_by"`
		Task        struct {
			ID   int64           `json:"id"`
			Data json.RawMessage `json:"data"`
		} `json:"task"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != annA.ID || got.CompletedBy != alice || got.Task.ID != annA.TaskID || !bytes.Equal(got.Task.Data, []byte(`{"image":"s3://b/k.jpg"}`)) ||
		!bytes.Contains(got.Result, []byte(`"choices":["cat"]`)) {
		t.Errorf("exported %s", body)
	}
	if _, err := f.srv.Get(t, exportBucket, "teamB/"+f.dir+fmt.Sprint(annB.ID)); err != nil {
		t.Errorf("bob's export did not land: %v", err)
	}
	for _, w := range []*glossa.ExportWrite{ok, okB} {
		if w := f.store.write(w.ID); !w.Done {
			t.Errorf("allowed write not done: %+v", w)
		}
	}

	// Alice's role may not write to teamB/: the write is refused, says so,
	// and stays queued for a retry after back-off.
	w := f.store.write(refused.ID)
	want := "Access denied: the role " + f.srv.RoleARN("TeamA") + " may not write to s3://glossa-exports/teamB/" + f.dir + fmt.Sprint(annA.ID) + "."
	if w.Done || w.Attempts != 1 || !w.NextAt.Equal(now.Add(s3.ExportBackoffMin)) || w.LastError != want {
		t.Errorf("refused write: %+v, want LastError %q", w, want)
	}
	if _, err := f.srv.Get(t, exportBucket, "teamB/"+f.dir+fmt.Sprint(annA.ID)); err == nil {
		t.Error("the refused export landed")
	}
	if c, _ := f.store.CountExportWrites(ctx, 1, teamB.ID); c != (glossa.ExportWriteCounts{Pending: 1, Failed: 1, Written: 1, LastError: want}) {
		t.Errorf("counts of teamB's storage: %+v", c)
	}
	// Not due yet: nothing is claimed. Due: retried, refused again, the
	// back-off doubled; never dropped.
	if n, _ := f.c.RunExportWrites(ctx); n != 0 {
		t.Errorf("claimed %d writes before the back-off ended", n)
	}
	for i := 1; i <= 3; i++ {
		now = now.Add(s3.ExportBackoffMin << (i - 1))
		if n, _ := f.c.RunExportWrites(ctx); n != 1 {
			t.Errorf("retry %d: claimed %d writes, want 1", i, n)
		}
		if w := f.store.write(refused.ID); w.Done || w.Attempts != i+1 || !w.NextAt.Equal(now.Add(s3.ExportBackoffMin<<i)) || w.LastError != want {
			t.Errorf("retry %d: %+v", i, w)
		}
	}

	// Every federated write was audited with person, role, key and outcome.
	var outcomes []string
	for _, e := range f.store.auditEvents() {
		if e.Detail["operation"] != "write" || e.Detail["role"] != f.srv.RoleARN(roles[e.ActorID]) || e.Detail["key"] == nil {
			t.Errorf("audit event %+v", e)
		}
		outcomes = append(outcomes, e.Outcome)
	}
	if diff := cmp.Diff([]string{"failure", "failure", "failure", "failure", "success", "success"}, sorted(outcomes)); diff != "" {
		t.Errorf("audit outcomes (-want +got)\n%s", diff)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

// TestExportDelete deletes the objects of deleted annotations from target
// storages with can_delete_objects, with the deleting person's own role
// in the per-person modes: a deletion the role may do lands and is
// audited; one its policy refuses (TeamB may write to teamB/ but not
// delete there) is audited, says why, is counted as failing and is
// retried with back-off, never dropped.
func TestExportDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now()
	f.c.Now = func() time.Time { return now }
	f.store.now = f.c.Now
	teamA := f.storage(glossa.Storage{Bucket: exportBucket, Prefix: "teamA/" + f.dir, Type: glossa.StorageTarget, AuthMode: glossa.AuthBroker, CanDeleteObjects: true})
	teamB := f.storage(glossa.Storage{Bucket: exportBucket, Prefix: "teamB/" + f.dir, Type: glossa.StorageTarget, AuthMode: glossa.AuthBroker, CanDeleteObjects: true})
	shared := f.storage(glossa.Storage{Bucket: exportBucket, Prefix: "shared/" + f.dir, Type: glossa.StorageTarget, CanDeleteObjects: true})
	annA := f.store.addAnnotation(7, alice, `[]`)
	annB := f.store.addAnnotation(7, bob, `[]`)
	for _, w := range []struct {
		s *glossa.Storage
		a *glossa.Annotation
	}{{teamA, annA}, {shared, annA}, {teamB, annB}} {
		f.store.queueWrite(w.s, w.a)
	}
	if n, err := f.c.RunExportWrites(ctx); n != 3 || err != nil {
		t.Fatalf("RunExportWrites (writes) = %d, %v", n, err)
	}
	keyA, keyB, sharedA := glossa.ExportKey(teamA.Prefix, annA.ID), glossa.ExportKey(teamB.Prefix, annB.ID), glossa.ExportKey(shared.Prefix, annA.ID)
	for _, k := range []string{keyA, keyB, sharedA} {
		if _, err := f.srv.Get(t, exportBucket, k); err != nil {
			t.Fatalf("%s was not written: %v", k, err)
		}
	}

	// The annotations are deleted: alice deletes hers, bob his.
	f.store.deleteAnnotation(annA)
	f.store.deleteAnnotation(annB)
	delA := f.store.queueDeletion(teamA, annA, alice)
	delShared := f.store.queueDeletion(shared, annA, alice)
	delB := f.store.queueDeletion(teamB, annB, bob)
	never := f.store.queueDeletion(shared, &glossa.Annotation{ID: annB.ID}, alice) // nothing was written there
	if n, err := f.c.RunExportWrites(ctx); n != 4 || err != nil {
		t.Fatalf("RunExportWrites (deletions) = %d, %v", n, err)
	}
	for _, k := range []string{keyA, sharedA} {
		if _, err := f.srv.Get(t, exportBucket, k); err == nil {
			t.Errorf("%s is still in the bucket", k)
		}
	}
	for _, d := range []*glossa.ExportDeletion{delA, delShared, never} {
		if got := f.store.deletion(d.ID); !got.Done || got.Attempts != 0 {
			t.Errorf("deletion of %s: %+v, want done", d.Key, got)
		}
	}

	// Bob's role may write to teamB/ but not delete there.
	if _, err := f.srv.Get(t, exportBucket, keyB); err != nil {
		t.Errorf("the refused deletion deleted %s: %v", keyB, err)
	}
	want := "Access denied: the role " + f.srv.RoleARN("TeamB") + " may not delete s3://" + exportBucket + "/" + keyB + "."
	if got := f.store.deletion(delB.ID); got.Done || got.Attempts != 1 || got.LastError != want || !got.NextAt.Equal(now.Add(s3.ExportBackoffMin)) {
		t.Errorf("refused deletion: %+v, want LastError %q", got, want)
	}
	if c, _ := f.store.CountExportWrites(ctx, 1, teamB.ID); c != (glossa.ExportWriteCounts{Deleting: 1, DeleteFailed: 1, LastError: want}) {
		t.Errorf("counts of teamB's storage: %+v", c)
	}
	if n, _ := f.c.RunExportWrites(ctx); n != 0 {
		t.Errorf("claimed %d entries before the back-off ended", n)
	}
	for i := 1; i <= 2; i++ {
		now = now.Add(s3.ExportBackoffMin << (i - 1))
		if n, err := f.c.RunExportWrites(ctx); n != 1 || err != nil {
			t.Errorf("retry %d: RunExportWrites = %d, %v", i, n, err)
		}
		if got := f.store.deletion(delB.ID); got.Done || got.Attempts != i+1 || got.LastError != want || !got.NextAt.Equal(now.Add(s3.ExportBackoffMin<<i)) {
			t.Errorf("retry %d: %+v", i, got)
		}
	}

	// Every federated write and deletion was audited with person, role,
	// key and outcome; the shared storage's are not per-person.
	type event struct {
		op      string
		actor   int64
		key     any
		outcome string
	}
	var events []event
	for _, e := range f.store.auditEvents() {
		if e.Detail["role"] != f.srv.RoleARN(roles[e.ActorID]) {
			t.Errorf("audit event %+v names another role", e)
		}
		events = append(events, event{e.Detail["operation"].(string), e.ActorID, e.Detail["key"], e.Outcome})
	}
	wantEvents := []event{
		{"write", alice, keyA, glossa.OutcomeSuccess}, {"write", bob, keyB, glossa.OutcomeSuccess},
		{"delete", alice, keyA, glossa.OutcomeSuccess},
		{"delete", bob, keyB, glossa.OutcomeFailure}, {"delete", bob, keyB, glossa.OutcomeFailure}, {"delete", bob, keyB, glossa.OutcomeFailure},
	}
	less := func(a, b event) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) }
	slices.SortFunc(events, less)
	slices.SortFunc(wantEvents, less)
	if diff := cmp.Diff(wantEvents, events, cmp.AllowUnexported(event{})); diff != "" {
		t.Errorf("audit (-want +got)\n%s", diff)
	}
}

// goneStore deletes an annotation at a chosen point of its export write:
// right after the write was claimed, or after the object landed and
// before the write is recorded; either way the write's outbox entry goes
// with the annotation, as the store's cascade does.
type goneStore struct {
	*fakeStore
	a                    *glossa.Annotation
	afterClaim, atFinish bool
	finishes             atomic.Int32
}

func (s *goneStore) ClaimExportWrites(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]glossa.ExportWrite, error) {
	ws, err := s.fakeStore.ClaimExportWrites(ctx, now, lease, limit)
	if s.afterClaim {
		s.deleteAnnotation(s.a)
	}
	return ws, err
}

func (s *goneStore) FinishExportWrite(ctx context.Context, id int64, errMsg string, next time.Time) error {
	s.finishes.Add(1)
	if s.atFinish {
		s.deleteAnnotation(s.a)
	}
	return s.fakeStore.FinishExportWrite(ctx, id, errMsg, next)
}

// TestExportWriteOfDeletedAnnotation: a write whose annotation is deleted
// while it is being carried out has nothing left to record, and the
// worker says nothing about it above debug.
func TestExportWriteOfDeletedAnnotation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                 string
		afterClaim, atFinish bool
		finishes             int32
		landed               bool
	}{
		{"deleted after the claim", true, false, 0, false},
		{"deleted while the object was written", false, true, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := f.storage(glossa.Storage{Bucket: exportBucket, Prefix: "shared/" + f.dir, Type: glossa.StorageTarget})
			a := f.store.addAnnotation(s.ProjectID, alice, `[]`)
			f.store.queueWrite(s, a)
			store := &goneStore{fakeStore: f.store, a: a, afterClaim: tc.afterClaim, atFinish: tc.atFinish}
			var logs bytes.Buffer
			c := f.with(f.c.Creds)
			c.Store, c.Annotations = store, store
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			if n, err := c.RunExportWrites(context.Background()); n != 1 || err != nil {
				t.Fatalf("RunExportWrites = %d, %v; want 1, nil", n, err)
			}
			if logs.Len() != 0 {
				t.Errorf("logged:\n%s", logs.String())
			}
			if got := store.finishes.Load(); got != tc.finishes {
				t.Errorf("FinishExportWrite called %d times, want %d", got, tc.finishes)
			}
			if c, _ := f.store.CountExportWrites(context.Background(), 1, s.ID); c != (glossa.ExportWriteCounts{}) {
				t.Errorf("counts: %+v, want none", c)
			}
			if _, err := f.srv.Get(t, exportBucket, glossa.ExportKey(s.Prefix, a.ID)); (err == nil) != tc.landed {
				t.Errorf("object landed = %v, want %v", err == nil, tc.landed)
			}
		})
	}
}

func TestTargetSync(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.storage(glossa.Storage{Bucket: exportBucket, Prefix: "shared/" + f.dir, Type: glossa.StorageTarget})
	var anns []*glossa.Annotation
	for range 3 {
		anns = append(anns, f.store.addAnnotation(s.ProjectID, alice, `[]`))
	}
	j := f.sync(t, s)
	if j.Status != glossa.SyncCompleted || j.Error != "" {
		t.Fatalf("job %s %q", j.Status, j.Error)
	}
	if diff := cmp.Diff(glossa.JobProgress{Listed: 3, Created: 3}, progress(j)); diff != "" {
		t.Errorf("progress (-want +got)\n%s", diff)
	}
	for _, a := range anns {
		if _, err := f.srv.Get(t, exportBucket, glossa.ExportKey(s.Prefix, a.ID)); err != nil {
			t.Errorf("annotation %d not exported: %v", a.ID, err)
		}
	}
	// Nothing left to write: a second sync writes nothing.
	if j := f.sync(t, s); j.Status != glossa.SyncCompleted || j.Listed != 0 || j.Created != 0 {
		t.Errorf("second sync: %s %+v", j.Status, progress(j))
	}

	// A target the role may not write to: the job fails and says why.
	denied := f.storage(glossa.Storage{Bucket: exportBucket, Prefix: "teamB/" + f.dir, Type: glossa.StorageTarget, AuthMode: glossa.AuthBroker})
	j = f.sync(t, denied)
	if j.Status != glossa.SyncFailed || j.Failed != 3 || !strings.Contains(j.Error, "3 annotations could not be written") || !strings.Contains(j.Error, "Access denied") {
		t.Errorf("denied target sync: %s %+v %q", j.Status, progress(j), j.Error)
	}
}

func TestWorker(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.srv.Put(t, tasksBucket, f.dir+"a.jpg", []byte("x"))
	src := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: f.dir, UseBlobURLs: true})
	dst := f.storage(glossa.Storage{Bucket: exportBucket, Prefix: "worker/" + f.dir, Type: glossa.StorageTarget})
	ann := f.store.addAnnotation(dst.ProjectID, alice, `[]`)

	f.c.PollInterval = time.Hour // only kicks wake it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	j := f.store.queueJob(src, alice)
	w := f.store.queueWrite(dst, ann)
	f.c.Kick()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if f.store.job(j.ID).Status.Done() && f.store.write(w.ID).Done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := f.store.job(j.ID); got.Status != glossa.SyncCompleted || got.Created != 1 {
		t.Errorf("job %s %+v", got.Status, progress(got))
	}
	if !f.store.write(w.ID).Done {
		t.Error("export write not done")
	}
}

// TestStorageDown stops a server of its own: export writes fail, say why,
// and are retried with back-off until the storage is back, when they land;
// a sync fails with a sentence saying the storage could not be reached.
func TestStorageDown(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, rigConfig(0))
	f := newFixtureOn(t, srv)
	ctx := context.Background()
	now := time.Now()
	f.c.Now = func() time.Time { return now }
	f.store.now = f.c.Now
	srv.Put(t, tasksBucket, f.dir+"a.jpg", []byte("x"))
	src := f.storage(glossa.Storage{Bucket: tasksBucket, Prefix: f.dir, UseBlobURLs: true})
	dst := f.storage(glossa.Storage{Bucket: exportBucket, Prefix: "teamA/" + f.dir, Type: glossa.StorageTarget, AuthMode: glossa.AuthBroker})
	w := f.store.queueWrite(dst, f.store.addAnnotation(dst.ProjectID, alice, `[]`))

	srv.Stop()
	unreachable := "The storage endpoint at " + srv.Endpoint + " could not be reached."
	if j := f.sync(t, src); j.Status != glossa.SyncFailed || j.Error != unreachable {
		t.Errorf("sync with the storage down: %s %q, want failed with %q", j.Status, j.Error, unreachable)
	}
	if _, _, err := f.c.OpenMedia(ctx, src, alice, f.dir+"a.jpg", ""); glossa.ErrorCode(err) != glossa.EUNAVAILABLE || glossa.ErrorMessage(err) != unreachable {
		t.Errorf("OpenMedia with the storage down = %v, want EUNAVAILABLE %q", err, unreachable)
	}
	for i := range 2 {
		if n, err := f.c.RunExportWrites(ctx); n != 1 || err != nil {
			t.Fatalf("RunExportWrites = %d, %v", n, err)
		}
		got := f.store.write(w.ID)
		backoff := s3.ExportBackoffMin << i
		if got.Done || got.Attempts != i+1 || got.LastError != unreachable || !got.NextAt.Equal(now.Add(backoff)) {
			t.Errorf("write, attempt %d, with the storage down: %+v", i+1, got)
		}
		now = now.Add(backoff)
	}

	// Back up (same endpoint, same data, same STS key): the queued write
	// lands at its next attempt, with alice's session from before the
	// outage, and the sync completes.
	srv.Restart(t)
	if n, err := f.c.RunExportWrites(ctx); n != 1 || err != nil {
		t.Fatalf("RunExportWrites after the restart = %d, %v", n, err)
	}
	if got := f.store.write(w.ID); !got.Done {
		t.Errorf("write after the restart: %+v", got)
	}
	if _, err := srv.Get(t, exportBucket, glossa.ExportKey(dst.Prefix, w.AnnotationID)); err != nil {
		t.Errorf("the retried export did not land: %v", err)
	}
	if j := f.sync(t, src); j.Status != glossa.SyncCompleted || j.Created != 1 {
		t.Errorf("sync after the restart: %s %+v %q", j.Status, progress(j), j.Error)
	}
}
