package s3_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/glossa-dev/glossa"
)

// fakeStore is an in-memory stand-in for the store: the parts of
// glossa.StorageService, TaskService, AnnotationService and AuditService
// that the connector calls, with their documented semantics and nothing
// else. The real store has its own conformance suite.
type fakeStore struct {
	mu          sync.Mutex
	now         func() time.Time
	storages    map[int64]*glossa.Storage
	jobs        map[int64]*glossa.StorageJob
	links       map[int64]map[string]string // storage -> key -> folder
	tasks       map[int64]*glossa.Task
	annotations map[int64]*glossa.Annotation
	writes      []*glossa.ExportWrite
	deletions   []*glossa.ExportDeletion
	audits      []glossa.AuditEvent
	nextID      int64
	// cancelAfter, when > 0, requests cancellation of every job at its
	// cancelAfter-th report.
	cancelAfter int
	reports     map[int64]int
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		now:         time.Now,
		storages:    map[int64]*glossa.Storage{},
		jobs:        map[int64]*glossa.StorageJob{},
		links:       map[int64]map[string]string{},
		tasks:       map[int64]*glossa.Task{},
		annotations: map[int64]*glossa.Annotation{},
		reports:     map[int64]int{},
		nextID:      100,
	}
}

func (f *fakeStore) id() int64 { f.nextID++; return f.nextID }

// addStorage stores s (giving it an ID) and returns it.
func (f *fakeStore) addStorage(s glossa.Storage) *glossa.Storage {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.ID, s.OrgID = f.id(), 1
	if s.ProjectID == 0 {
		s.ProjectID = 7
	}
	f.storages[s.ID] = &s
	return &s
}

// queueJob queues a sync of s requested by userID.
func (f *fakeStore) queueJob(s *glossa.Storage, userID int64) *glossa.StorageJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := &glossa.StorageJob{ID: f.id(), OrgID: s.OrgID, StorageID: s.ID, Type: s.Type, Status: glossa.SyncQueued, RequestedBy: userID, CreatedAt: f.now()}
	f.jobs[j.ID] = j
	return j
}

func (f *fakeStore) job(id int64) glossa.StorageJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.jobs[id]
}

// addAnnotation creates a task and an annotation of it in project.
func (f *fakeStore) addAnnotation(projectID, userID int64, result string) *glossa.Annotation {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &glossa.Task{ID: f.id(), OrgID: 1, ProjectID: projectID, Data: json.RawMessage(`{"image":"s3://b/k.jpg"}`), IsLabeled: true, TotalAnnotations: 1}
	f.tasks[t.ID] = t
	a := &glossa.Annotation{ID: f.id(), OrgID: 1, ProjectID: projectID, TaskID: t.ID, Result: json.RawMessage(result), CompletedBy: userID}
	f.annotations[a.ID] = a
	return a
}

// queueWrite adds an export write of a to s.
func (f *fakeStore) queueWrite(s *glossa.Storage, a *glossa.Annotation) *glossa.ExportWrite {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &glossa.ExportWrite{ID: f.id(), OrgID: 1, StorageID: s.ID, AnnotationID: a.ID, TaskID: a.TaskID, UserID: a.CompletedBy, NextAt: f.now()}
	f.writes = append(f.writes, w)
	return w
}

// deleteAnnotation deletes a and, as the store's cascade does, its
// export writes.
func (f *fakeStore) deleteAnnotation(a *glossa.Annotation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.annotations, a.ID)
	f.writes = slices.DeleteFunc(f.writes, func(w *glossa.ExportWrite) bool { return w.AnnotationID == a.ID })
}

// queueDeletion adds the deletion of a's object in s, as userID.
func (f *fakeStore) queueDeletion(s *glossa.Storage, a *glossa.Annotation, userID int64) *glossa.ExportDeletion {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := &glossa.ExportDeletion{ID: f.id(), OrgID: s.OrgID, StorageID: s.ID, AnnotationID: a.ID, Key: glossa.ExportKey(s.Prefix, a.ID),
		UserID: userID, NextAt: f.now()}
	f.deletions = append(f.deletions, d)
	return d
}

func (f *fakeStore) deletion(id int64) glossa.ExportDeletion {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.deletions {
		if d.ID == id {
			return *d
		}
	}
	panic("no such deletion")
}

func (f *fakeStore) write(id int64) glossa.ExportWrite {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.writes {
		if w.ID == id {
			return *w
		}
	}
	panic("no such write")
}

// storageTasks returns the data of the tasks s created, by key.
func (f *fakeStore) storageTasks(storageID int64) map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]string{}
	for _, t := range f.tasks {
		var m struct{ Key string }
		if json.Unmarshal(t.Meta, &m) == nil && t.ProjectID == -storageID {
			out[m.Key] = append(out[m.Key], string(t.Data))
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

func (f *fakeStore) auditEvents() []glossa.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.audits)
}

func (f *fakeStore) FindStorageByID(_ context.Context, orgID, id int64) (*glossa.Storage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.storages[id]
	if !ok || s.OrgID != orgID {
		return nil, glossa.NotFound("Storage")
	}
	c := *s
	return &c, nil
}

func (f *fakeStore) ClaimStorageJob(_ context.Context, now, staleBefore time.Time) (*glossa.StorageJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []int64
	for id := range f.jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		j := f.jobs[id]
		if j.Status == glossa.SyncQueued || j.Status == glossa.SyncInProgress && j.HeartbeatAt.Before(staleBefore) {
			j.Status, j.StartedAt, j.HeartbeatAt = glossa.SyncInProgress, &now, &now
			j.Claim++
			c := *j
			return &c, nil
		}
	}
	return nil, nil
}

// claimed returns the job id if claim holds it, else ECONFLICT.
func (f *fakeStore) claimed(id, claim int64) (*glossa.StorageJob, error) {
	j, ok := f.jobs[id]
	if !ok {
		return nil, glossa.NotFound("Job")
	}
	if j.Claim != claim {
		return nil, glossa.Errorf(glossa.ECONFLICT, "Another worker has taken this sync over.")
	}
	return j, nil
}

func (f *fakeStore) ReportStorageJob(_ context.Context, id, claim int64, p glossa.JobProgress, now time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.claimed(id, claim)
	if err != nil {
		return false, err
	}
	j.Listed, j.Created, j.Skipped, j.Failed = p.Listed, p.Created, p.Skipped, p.Failed
	j.HeartbeatAt = &now
	f.reports[id]++
	if f.cancelAfter > 0 && f.reports[id] >= f.cancelAfter {
		j.CancelRequested = true
	}
	return j.CancelRequested, nil
}

func (f *fakeStore) FinishStorageJob(_ context.Context, id, claim int64, status glossa.SyncStatus, p glossa.JobProgress, errMsg string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.claimed(id, claim)
	if err != nil {
		return err
	}
	j.Status, j.Error, j.FinishedAt = status, errMsg, &now
	j.Listed, j.Created, j.Skipped, j.Failed = p.Listed, p.Created, p.Skipped, p.Failed
	return nil
}

// AddStorageObjects creates the tasks of unlinked objects; the fake
// records a task's storage as ProjectID = -storage ID and its key in Meta,
// so that tests can find them.
func (f *fakeStore) AddStorageObjects(_ context.Context, s *glossa.Storage, objs []glossa.StorageObject) (created, skipped int64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.links[s.ID] == nil {
		f.links[s.ID] = map[string]string{}
	}
	for _, o := range objs {
		if _, ok := f.links[s.ID][o.Key]; ok {
			skipped++
			continue
		}
		f.links[s.ID][o.Key] = o.Folder
		for _, raw := range o.Tasks {
			var task struct{ Data json.RawMessage }
			if err := json.Unmarshal(raw, &task); err != nil || len(task.Data) == 0 {
				return 0, 0, glossa.Errorf(glossa.EINVALID, "bad task %s", raw)
			}
			meta, _ := json.Marshal(map[string]string{"Key": o.Key})
			t := &glossa.Task{ID: f.id(), OrgID: s.OrgID, ProjectID: -s.ID, Data: task.Data, Meta: meta}
			f.tasks[t.ID] = t
			created++
		}
	}
	return created, skipped, nil
}

func (f *fakeStore) ClaimExportWrites(_ context.Context, now time.Time, lease time.Duration, limit int) ([]glossa.ExportWrite, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []glossa.ExportWrite
	for _, w := range f.writes {
		if len(out) < limit && !w.Done && !w.NextAt.After(now) {
			out = append(out, *w)
			w.NextAt = now.Add(lease)
		}
	}
	return out, nil
}

func (f *fakeStore) FinishExportWrite(_ context.Context, id int64, errMsg string, next time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.writes {
		if w.ID == id {
			if errMsg == "" {
				w.Done = true
			} else {
				w.Attempts++
				w.LastError, w.NextAt = errMsg, next
			}
			return nil
		}
	}
	return glossa.NotFound("Export write")
}

func (f *fakeStore) ClaimExportDeletions(_ context.Context, now time.Time, lease time.Duration, limit int) ([]glossa.ExportDeletion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []glossa.ExportDeletion
	for _, d := range f.deletions {
		if len(out) < limit && !d.Done && !d.NextAt.After(now) {
			out = append(out, *d)
			d.NextAt = now.Add(lease)
		}
	}
	return out, nil
}

func (f *fakeStore) FinishExportDeletion(_ context.Context, id int64, errMsg string, next time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.deletions {
		if d.ID == id {
			if errMsg == "" {
				d.Done, d.Attempts, d.LastError = true, 0, ""
			} else {
				d.Attempts++
				d.LastError, d.NextAt = errMsg, next
			}
			return nil
		}
	}
	return glossa.NotFound("Export deletion")
}

func (f *fakeStore) EnqueueExportBackfill(_ context.Context, orgID, storageID int64, now time.Time) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.storages[storageID]
	queued := map[int64]bool{}
	for _, w := range f.writes {
		if w.StorageID == storageID {
			queued[w.AnnotationID] = true
		}
	}
	var n int64
	for _, a := range f.annotations {
		if a.ProjectID == s.ProjectID && !queued[a.ID] {
			f.writes = append(f.writes, &glossa.ExportWrite{ID: f.id(), OrgID: orgID, StorageID: storageID, AnnotationID: a.ID, TaskID: a.TaskID, UserID: a.CompletedBy, NextAt: now})
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) CountExportWrites(_ context.Context, orgID, storageID int64) (glossa.ExportWriteCounts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var c glossa.ExportWriteCounts
	for _, w := range f.writes {
		switch {
		case w.StorageID != storageID:
		case w.Done:
			c.Written++
		default:
			c.Pending++
			if w.Attempts > 0 {
				c.Failed++
				c.LastError = w.LastError
			}
		}
	}
	for _, d := range f.deletions {
		switch {
		case d.StorageID != storageID:
		case d.Done:
			c.Deleted++
		default:
			c.Deleting++
			if d.Attempts > 0 {
				c.DeleteFailed++
				c.LastError = d.LastError
			}
		}
	}
	return c, nil
}

func (f *fakeStore) FindAnnotationByID(_ context.Context, orgID, id int64) (*glossa.Annotation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.annotations[id]
	if !ok || a.OrgID != orgID {
		return nil, glossa.NotFound("Annotation")
	}
	c := *a
	return &c, nil
}

func (f *fakeStore) FindTaskByID(_ context.Context, orgID, id int64) (*glossa.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tasks[id]
	if !ok || t.OrgID != orgID {
		return nil, glossa.NotFound("Task")
	}
	c := *t
	return &c, nil
}

func (f *fakeStore) AppendAudit(_ context.Context, e *glossa.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audits = append(f.audits, *e)
	return nil
}

// credsFunc adapts a function to s3.CredentialSource.
type credsFunc func(ctx context.Context, s *glossa.Storage, userID int64) (glossa.Credentials, error)

func (f credsFunc) Credentials(ctx context.Context, s *glossa.Storage, userID int64) (glossa.Credentials, error) {
	return f(ctx, s, userID)
}
