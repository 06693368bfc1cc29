package s3

// The background sync of a storage: a source sync lists the bucket and
// turns new objects into tasks (Label Studio's import storage sync); a
// target sync writes every annotation not yet written (export.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/glossa-dev/glossa"
)

// errCanceled ends a job whose cancellation was requested.
var errCanceled = errors.New("s3: sync canceled")

// errTakenOver ends the run of a job that another process has claimed
// since: this run was slow enough for its heartbeat to go stale, and the
// store refuses its reports (ECONFLICT). It stops without finishing the
// job, which is the other run's now.
var errTakenOver = errors.New("s3: sync taken over by another worker")

// RunSync runs a claimed storage job to its end and records the outcome
// with FinishStorageJob: completed; failed, with a sentence saying why
// (Explain); or canceled, when cancellation was requested. A source job
// creates tasks from the bucket's objects; a target job writes every
// annotation of the project not yet written to the bucket.
//
// The job acts with the credentials of job.RequestedBy, so in the
// per-person modes it sees only what that person's role may list; if
// those credentials expire mid-sync the job fails with the
// sign-in-again sentence, and the person re-syncs after signing in
// (objects already added stay, and the re-sync skips them).
//
// Progress is reported after every batch and at least every
// HeartbeatInterval, so other processes see the job alive. A job that
// fails for the bucket's reasons is an outcome, not an error: RunSync
// returns an error only when the store failed (the job is recorded as
// failed if the store still can) or ctx ended (the job is then left
// running, and another process takes it over once its heartbeat is
// StaleAfter old; syncs are idempotent, so nothing is duplicated). A run
// whose job was taken over meanwhile (it was slow, not dead) learns it at
// its next report and returns nil without finishing the job or
// overwriting its progress.
func (c *Connector) RunSync(ctx context.Context, job *glossa.StorageJob) error {
	c.setup()
	s, err := c.Store.FindStorageByID(ctx, job.OrgID, job.StorageID)
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		// Left running, the job would be taken over again and again.
		r := &run{c: c, job: job, s: &glossa.Storage{ID: job.StorageID}}
		return r.finish(ctx, glossa.Errorf(glossa.ENOTFOUND, "The storage no longer exists."))
	}
	if err != nil {
		return fmt.Errorf("s3: job %d: %w", job.ID, err)
	}
	r := &run{c: c, job: job, s: s}
	stop := r.heartbeat(ctx)
	if job.Type == glossa.StorageTarget || (job.Type == "" && s.Type == glossa.StorageTarget) {
		err = c.syncTarget(ctx, r)
	} else {
		err = c.syncSource(ctx, r)
	}
	stop()
	return r.finish(ctx, err)
}

// run is one job in progress: its counters, and the reports that carry
// them to the store.
type run struct {
	c   *Connector
	job *glossa.StorageJob
	s   *glossa.Storage

	mu sync.Mutex // guards p, reported, note; held across a report so reports keep their order
	p  glossa.JobProgress
	// reported is the progress last reported.
	reported glossa.JobProgress
	// note says why objects failed, for the job's outcome: the first
	// reason and how many.
	note string
	// canceled and takenOver are learned from reports (the heartbeat's
	// too) and stop the run at its next check.
	canceled, takenOver atomic.Bool
}

// stopped returns why the run must stop (errTakenOver, errCanceled), or nil.
func (r *run) stopped() error {
	switch {
	case r.takenOver.Load():
		return errTakenOver
	case r.canceled.Load():
		return errCanceled
	}
	return nil
}

// add changes the counters.
func (r *run) add(f func(p *glossa.JobProgress)) {
	r.mu.Lock()
	f(&r.p)
	r.mu.Unlock()
}

// failObject counts an object that could not be turned into tasks, and
// keeps the first reason for the job's outcome.
func (r *run) failObject(key, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p.Failed++
	if r.note == "" {
		r.note = fmt.Sprintf("s3://%s/%s %s", r.s.Bucket, key, reason)
	}
	r.c.logger().Warn("s3: object not imported", "storage", r.s.ID, "job", r.job.ID, "key", key, "reason", reason)
}

// report records progress and a heartbeat; it returns errCanceled when
// cancellation was requested, and errTakenOver when another process has
// claimed the job (now or at an earlier heartbeat).
func (r *run) report(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.takenOver.Load() {
		return errTakenOver
	}
	cancel, err := r.c.Store.ReportStorageJob(ctx, r.job.ID, r.job.Claim, r.p, r.c.now())
	if glossa.ErrorCode(err) == glossa.ECONFLICT {
		r.takenOver.Store(true)
		return errTakenOver
	}
	if err != nil {
		return fmt.Errorf("s3: report job %d: %w", r.job.ID, err)
	}
	r.reported = r.p
	if cancel {
		r.canceled.Store(true)
	}
	return r.stopped()
}

// reportChanged reports progress if it changed since the last report.
func (r *run) reportChanged(ctx context.Context) error {
	r.mu.Lock()
	changed := r.p != r.reported
	r.mu.Unlock()
	if !changed {
		return r.stopped()
	}
	return r.report(ctx)
}

// heartbeat reports progress every HeartbeatInterval until stopped, so
// that a long batch does not make the job look dead; a cancellation it
// learns of stops the job at its next check.
func (r *run) heartbeat(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.report(ctx); err != nil && !errors.Is(err, errCanceled) && !errors.Is(err, errTakenOver) {
					r.c.logger().Error("s3: heartbeat", "job", r.job.ID, "err", err)
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// finish records the job's outcome, unless the job has been taken over.
func (r *run) finish(ctx context.Context, runErr error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(runErr, errTakenOver) {
		return r.yield()
	}
	status, msg := glossa.SyncCompleted, ""
	switch {
	case errors.Is(runErr, errCanceled):
		status = glossa.SyncCanceled
	case runErr != nil:
		status, msg = glossa.SyncFailed, glossa.ErrorMessage(runErr)
		level := r.c.logger().Warn
		if glossa.ErrorCode(runErr) == glossa.EINTERNAL {
			level = r.c.logger().Error
		}
		level("s3: sync failed", "storage", r.s.ID, "job", r.job.ID, "err", runErr)
	}
	r.mu.Lock()
	p, note := r.p, r.note
	r.mu.Unlock()
	if note != "" {
		// Some objects of a source sync failed alone: say how many and
		// why the first did, whatever the job's status.
		what := "object"
		if p.Failed != 1 {
			what = "objects"
		}
		msg = strings.TrimSpace(fmt.Sprintf("%s %d %s could not be imported; the first: %s.", msg, p.Failed, what, note))
	}
	if err := r.c.Store.FinishStorageJob(ctx, r.job.ID, r.job.Claim, status, p, msg, r.c.now()); err != nil {
		if glossa.ErrorCode(err) == glossa.ECONFLICT {
			return r.yield() // taken over since the last report
		}
		return fmt.Errorf("s3: finish job %d: %w", r.job.ID, err)
	}
	if status == glossa.SyncFailed && glossa.ErrorCode(runErr) == glossa.EINTERNAL {
		return runErr // recorded as failed, and worth a log line upstream
	}
	return nil
}

// yield ends a run whose job another process has taken over: that
// process finishes it.
func (r *run) yield() error {
	r.c.logger().Warn("s3: sync taken over by another worker; this one stops", "storage", r.s.ID, "job", r.job.ID)
	return nil
}

// syncSource lists the bucket page by page and adds each page's new
// objects as tasks, one transaction per batch. The next page is listed
// while this one is committed (listAhead), so a sync takes about as long
// as the slower of the two, not their sum. Memory holds at most three
// pages and a batch, never the bucket.
func (c *Connector) syncSource(ctx context.Context, r *run) error {
	s := r.s
	filter, err := compileFilter(s.RegexFilter)
	if err != nil {
		return err
	}
	dataKey := ""
	if s.UseBlobURLs {
		if dataKey, err = c.blobDataKey(ctx, s); err != nil {
			return err
		}
	}
	ab := aboutStorage(s, "list", c.roleOf(ctx, s, r.job.RequestedBy))
	batch := c.batchSize()
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), MaxKeys: aws.Int32(int32(batch))}
	if p := s.ListPrefix(); p != "" {
		in.Prefix = aws.String(p)
	}
	if !s.RecursiveScan {
		in.Delimiter = aws.String("/")
	}
	l := c.listAhead(ctx, s, r.job.RequestedBy, in, ab)
	defer l.stop()

	b := &batcher{c: c, r: r, limit: batch}
	for page := range l.pages {
		var keys []string
		for _, o := range page.out.Contents {
			key := aws.ToString(o.Key)
			if key == "" || strings.HasSuffix(key, "/") {
				continue // a "folder" placeholder, not an object
			}
			r.add(func(p *glossa.JobProgress) { p.Listed++ })
			if filter != nil && !filter.MatchString(key) {
				r.add(func(p *glossa.JobProgress) { p.Skipped++ })
				continue
			}
			keys = append(keys, key)
		}
		if s.UseBlobURLs {
			for _, key := range keys {
				if err := b.add(ctx, blobObject(s, dataKey, key)); err != nil {
					return err
				}
			}
		} else if err := c.readTaskFiles(ctx, page.a, ab.withOp("read"), b, keys); err != nil {
			return err
		}
		// Commit at least once per page, so that a listing whose pages
		// are mostly filtered out still reports progress and sees a
		// cancellation.
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	if l.err != nil {
		return l.err
	}
	return b.flush(ctx)
}

// lister lists a bucket in the background, one page ahead of its reader.
type lister struct {
	// pages delivers the pages in order; it is closed after the last
	// page, or when listing failed (err) or was stopped.
	pages <-chan listedPage
	// err is why the listing ended early; read it once pages is closed.
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

// listedPage is one page of a listing and the access it was listed with
// (which reads the page's task files).
type listedPage struct {
	out *awss3.ListObjectsV2Output
	a   *access
}

// listAhead starts listing in for userID. The credentials are fetched
// afresh for each page, so that a long sync stops with the sign-in-again
// sentence when they expire, and the paginator lists through the client
// they have. Stop it with stop when done with it.
func (c *Connector) listAhead(ctx context.Context, s *glossa.Storage, userID int64, in *awss3.ListObjectsV2Input, ab about) *lister {
	ctx, cancel := context.WithCancel(ctx)
	// One page in the channel and one being listed: the reader's page
	// makes three at most.
	ch := make(chan listedPage, 1)
	l := &lister{pages: ch, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer close(ch)
		var a *access
		pages := awss3.NewListObjectsV2Paginator(listerFunc(func(ctx context.Context, in *awss3.ListObjectsV2Input, opts ...func(*awss3.Options)) (*awss3.ListObjectsV2Output, error) {
			return a.ep.s3(c).ListObjectsV2(ctx, in, opts...)
		}), in)
		for pages.HasMorePages() {
			var err error
			if a, err = c.acquire(ctx, s, userID); err != nil {
				l.err = err
				return
			}
			out, err := pages.NextPage(ctx)
			if err != nil {
				l.err = explain(err, ab)
				return
			}
			select {
			case ch <- listedPage{out, a}:
			case <-ctx.Done():
				l.err = ctx.Err()
				return
			}
		}
	}()
	return l
}

// stop ends the listing and waits for it.
func (l *lister) stop() {
	l.cancel()
	<-l.done
}

// listerFunc adapts a function to awss3.ListObjectsV2APIClient.
type listerFunc func(context.Context, *awss3.ListObjectsV2Input, ...func(*awss3.Options)) (*awss3.ListObjectsV2Output, error)

func (f listerFunc) ListObjectsV2(ctx context.Context, in *awss3.ListObjectsV2Input, opts ...func(*awss3.Options)) (*awss3.ListObjectsV2Output, error) {
	return f(ctx, in, opts...)
}

// batcher collects objects and commits them with their tasks, one
// AddStorageObjects transaction and one progress report per batch of
// limit objects (or tasks, for task files that hold many).
type batcher struct {
	c     *Connector
	r     *run
	limit int
	objs  []glossa.StorageObject
	tasks int
}

func (b *batcher) add(ctx context.Context, o glossa.StorageObject) error {
	b.objs = append(b.objs, o)
	b.tasks += len(o.Tasks)
	if len(b.objs) >= b.limit || b.tasks >= b.limit {
		return b.flush(ctx)
	}
	return nil
}

// flush commits the collected objects (if any) and reports progress if
// it changed, returning errCanceled or errTakenOver when the job should stop.
func (b *batcher) flush(ctx context.Context) error {
	if len(b.objs) > 0 {
		created, skipped, err := b.c.Store.AddStorageObjects(ctx, b.r.s, b.objs)
		if err != nil {
			return fmt.Errorf("s3: add objects of storage %d: %w", b.r.s.ID, err)
		}
		b.r.add(func(p *glossa.JobProgress) { p.Created += created; p.Skipped += skipped })
		clear(b.objs) // let the tasks' bytes go
		b.objs, b.tasks = b.objs[:0], 0
	}
	return b.r.reportChanged(ctx)
}

// blobObject is the task of one object with use_blob_urls: its s3:// URL
// under the data key, as Label Studio makes it.
func blobObject(s *glossa.Storage, dataKey, key string) glossa.StorageObject {
	data, _ := json.Marshal(map[string]map[string]string{"data": {dataKey: "s3://" + s.Bucket + "/" + key}})
	return glossa.StorageObject{Key: key, Folder: folderOf(key), Tasks: []json.RawMessage{data}}
}

// blobDataKey is the data field blob URLs go in for s.
func (c *Connector) blobDataKey(ctx context.Context, s *glossa.Storage) (string, error) {
	if c.DataKeys == nil {
		return DefaultBlobDataKey, nil
	}
	k, err := c.DataKeys.BlobDataKey(ctx, s)
	if err != nil {
		return "", err
	}
	if k == "" {
		return DefaultBlobDataKey, nil
	}
	return k, nil
}

// folderOf is the folder of a key, the key up to and including its last
// "/" ("" for a key at the bucket's root): "teamA/scans/1.jpg" is in
// "teamA/scans/". A folder is therefore also the prefix that lists it,
// and it is what per-person visibility is decided by (ReadableFolders).
func folderOf(key string) string {
	return key[:strings.LastIndexByte(key, '/')+1]
}

// readTaskFiles reads the keys' JSON task files, ReadConcurrency at a
// time, and hands their tasks to b in key order. A file that cannot be
// read or parsed counts as failed and the sync goes on; expired
// credentials or an unreachable store end the sync.
func (c *Connector) readTaskFiles(ctx context.Context, a *access, ab about, b *batcher, keys []string) error {
	// Chunks bound what is held at once to a few files per reader.
	chunk := 4 * c.readConcurrency()
	for len(keys) > 0 {
		n := min(chunk, len(keys))
		results := make([]taskFile, n)
		c.forEach(n, func(i int) {
			results[i] = c.readTaskFile(ctx, a, ab.withKey(keys[i]), keys[i])
		})
		for i, res := range results {
			key := keys[i]
			switch {
			case res.fatal != nil:
				return res.fatal
			case res.reason != "":
				b.r.failObject(key, res.reason)
			case len(res.tasks) == 0:
				b.r.add(func(p *glossa.JobProgress) { p.Skipped++ })
			default:
				if err := b.add(ctx, glossa.StorageObject{Key: key, Folder: folderOf(key), Tasks: res.tasks}); err != nil {
					return err
				}
			}
		}
		keys = keys[n:]
		if b.r.stopped() != nil {
			return b.flush(ctx) // commits what was read, then reports why it stops
		}
	}
	return nil
}

// taskFile is the outcome of reading one task file: its tasks, or why it
// failed (reason), or an error that ends the sync (fatal).
type taskFile struct {
	tasks  []json.RawMessage
	reason string
	fatal  error
}

func (c *Connector) readTaskFile(ctx context.Context, a *access, ab about, key string) taskFile {
	out, err := a.ep.s3(c).GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(a.s.Bucket), Key: aws.String(key)})
	if err != nil {
		return readFailure(err, ab)
	}
	defer out.Body.Close()
	limit := c.maxTaskFileBytes()
	if aws.ToInt64(out.ContentLength) > limit {
		return taskFile{reason: fmt.Sprintf("is larger than %d MiB", limit>>20)}
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return readFailure(err, ab)
	}
	if int64(len(data)) > limit {
		return taskFile{reason: fmt.Sprintf("is larger than %d MiB", limit>>20)}
	}
	tasks, err := parseTasks(data)
	if err != nil {
		return taskFile{reason: glossa.ErrorMessage(err)}
	}
	return taskFile{tasks: tasks}
}

// readFailure sorts a read error: an object that vanished since it was
// listed is skipped; one the role may not read (or that is archived)
// fails alone; anything that would fail every read (expired or unknown
// credentials, an unreachable store) ends the sync.
func readFailure(err error, ab about) taskFile {
	switch apiCode(err) {
	case "NoSuchKey":
		return taskFile{}
	case "AccessDenied", "Forbidden", "InvalidObjectState":
		return taskFile{reason: "could not be read: " + explain(err, ab).Message}
	}
	return taskFile{fatal: explain(err, ab)}
}

// parseTasks reads a JSON task file as Label Studio imports one: a single
// task object, a JSON list of tasks, or JSON Lines (one task object per
// line). A task is either {"data": {...}, "annotations": ..., ...} or,
// when it has no "data" object, the data itself ({"text": "..."}); every
// task comes back in the first form, compacted. An error is EINVALID and
// says what is wrong and where.
func parseTasks(data []byte) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var tasks []json.RawMessage
	for n := 0; ; n++ {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, jsonError(data, dec.InputOffset(), err)
		}
		switch v[0] {
		case '[':
			if n > 0 || dec.More() {
				return nil, glossa.Errorf(glossa.EINVALID, "is not valid JSON: a list of tasks must be the file's only value")
			}
			var items []json.RawMessage
			if err := json.Unmarshal(v, &items); err != nil {
				return nil, jsonError(data, 0, err)
			}
			for i, item := range items {
				t, err := normalizeTask(item)
				if err != nil {
					return nil, glossa.Errorf(glossa.EINVALID, "has an invalid task at index %d: %s", i, glossa.ErrorMessage(err))
				}
				tasks = append(tasks, t)
			}
		case '{':
			t, err := normalizeTask(v)
			if err != nil {
				return nil, glossa.Errorf(glossa.EINVALID, "has an invalid task (value %d): %s", n+1, glossa.ErrorMessage(err))
			}
			tasks = append(tasks, t)
		default:
			return nil, glossa.Errorf(glossa.EINVALID, "is not a task file: value %d is not a JSON object or list", n+1)
		}
	}
	return tasks, nil
}

// normalizeTask returns a task object in the {"data": {...}} form.
func normalizeTask(raw json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, glossa.Errorf(glossa.EINVALID, "it is not a JSON object")
	}
	var buf bytes.Buffer
	if d, ok := fields["data"]; ok {
		if d = bytes.TrimSpace(d); len(d) == 0 || d[0] != '{' {
			return nil, glossa.Errorf(glossa.EINVALID, "its \"data\" is not an object")
		}
		if err := json.Compact(&buf, raw); err != nil {
			return nil, glossa.Errorf(glossa.EINVALID, "it is not a JSON object")
		}
		return buf.Bytes(), nil
	}
	buf.WriteString(`{"data":`)
	if err := json.Compact(&buf, raw); err != nil {
		return nil, glossa.Errorf(glossa.EINVALID, "it is not a JSON object")
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// jsonError says where a task file stops being JSON, by line and column.
func jsonError(data []byte, off int64, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return glossa.Wrap(glossa.EINVALID, err, "is not valid JSON: it ends in the middle of a value")
	}
	off = min(max(off, 0), int64(len(data)))
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return glossa.Wrap(glossa.EINVALID, err, fmt.Sprintf("is not valid JSON (line %d, column %d)", line, col))
}

// compileFilter compiles a regex_filter with Python's re.match semantics,
// which Label Studio uses: the expression must match at the start of the
// key, not necessarily up to its end. Empty means every key (nil).
func compileFilter(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(`^(?:` + expr + `)`)
	if err != nil {
		detail := ""
		var se *syntax.Error
		if errors.As(err, &se) {
			detail = fmt.Sprintf(" (%s: %s)", se.Code, se.Expr)
		}
		return nil, glossa.Wrap(glossa.EINVALID, err, fmt.Sprintf("regex_filter %q is not a valid regular expression%s; Glossa uses RE2 syntax, which has no lookarounds or backreferences.", expr, detail))
	}
	return re, nil
}
