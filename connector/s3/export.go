package s3

// Export: annotations written to target storages from the outbox, and the
// target sync that backfills them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/glossa-dev/glossa"
)

// ExportKey is the object key an annotation is written to in a target
// storage: its ID under the storage's prefix, Label Studio's default
// layout ("prefix/<annotation id>", no extension). Label Studio joins
// prefix and ID with "/" even when the prefix already ends in one;
// Glossa does not double it.
func ExportKey(prefix string, annotationID int64) string {
	p := strings.TrimRight(prefix, "/")
	if p == "" {
		return itoa(annotationID)
	}
	return p + "/" + itoa(annotationID)
}

// exportedAnnotation is the body of an exported object: Label Studio's
// storage annotation (tasks.serializers.AnnotationSerializer's fields)
// with its task nested as an object (id, data, meta, project, counters,
// timestamps), as Label Studio's StorageAnnotationSerializer writes it.
// completed_by stays the annotator's user ID.
type exportedAnnotation struct {
	*glossa.Annotation
	Task *glossa.Task `json:"task"`
}

// errGone marks an export write whose annotation (or task, or storage) no
// longer exists: there is nothing left to write.
var errGone = errors.New("s3: nothing to write")

// writeAnnotation writes the annotation of w to its target storage, at
// ExportKey(prefix, annotation ID), as Label Studio's annotation JSON
// with the task nested. With aws_sse_kms_key_id set the object is
// encrypted with that KMS key (SSE-KMS). In the per-person modes it
// writes with the annotator's own credentials (w.UserID), otherwise with
// the storage's; a per-person write is audited (action
// "federation.access", operation "write") with the bucket's answer.
// Errors are explained (Explain); a write whose storage, annotation or
// task no longer exists is errGone.
//
// Writes go through the outbox only (RunExportWrites, the target sync),
// so that one that fails is retried rather than lost.
func (c *Connector) writeAnnotation(ctx context.Context, w glossa.ExportWrite) error {
	c.setup()
	if c.Annotations == nil {
		return glossa.Errorf(glossa.EUNAVAILABLE, "Export to cloud storage is not configured on this server.")
	}
	gone := func(err error) error {
		if glossa.ErrorCode(err) == glossa.ENOTFOUND {
			return fmt.Errorf("%w: %w", errGone, err)
		}
		return err
	}
	s, err := c.Store.FindStorageByID(ctx, w.OrgID, w.StorageID)
	if err != nil {
		return gone(err)
	}
	ann, err := c.Annotations.FindAnnotationByID(ctx, w.OrgID, w.AnnotationID)
	if err != nil {
		return gone(err)
	}
	task, err := c.Annotations.FindTaskByID(ctx, w.OrgID, ann.TaskID)
	if err != nil {
		return gone(err)
	}
	task.Annotations, task.Predictions = nil, nil
	body, err := json.Marshal(exportedAnnotation{Annotation: ann, Task: task})
	if err != nil {
		return glossa.Wrap(glossa.EINTERNAL, err, "The annotation could not be encoded.")
	}
	return c.putObject(ctx, s, w.UserID, ExportKey(s.Prefix, ann.ID), body)
}

// putObject writes one object of a target storage for userID.
func (c *Connector) putObject(ctx context.Context, s *glossa.Storage, userID int64, key string, body []byte) error {
	a, err := c.acquire(ctx, s, userID)
	if err != nil {
		return err
	}
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(s.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/json"),
	}
	if s.SSEKMSKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(s.SSEKMSKeyID)
	}
	_, err = a.ep.s3(c).PutObject(ctx, in)
	role := ""
	if s.AuthMode.PerPerson() {
		role = c.roleOf(ctx, s, userID)
	}
	if err == nil {
		if s.AuthMode.PerPerson() {
			c.audit(ctx, s, userID, "write", role, "key", key, true, "")
		}
		return nil
	}
	e := explain(err, aboutStorage(s, "write", role).withKey(key))
	if s.AuthMode.PerPerson() && e.Code == glossa.EFORBIDDEN {
		c.audit(ctx, s, userID, "write", role, "key", key, false, e.Message)
	}
	return e
}

// RunExportWrites claims the export writes that are due (up to
// ExportLimit, leased for ExportLease so that no other process takes them
// meanwhile), writes each, and records the outcome: written, or failed
// with the Explain sentence and a retry after a back-off that starts at
// ExportBackoffMin and doubles with each failure up to ExportBackoffMax.
// It returns how many writes it claimed (ExportLimit means: call again),
// and an error only when the store failed.
func (c *Connector) RunExportWrites(ctx context.Context) (n int, err error) {
	c.setup()
	writes, err := c.Store.ClaimExportWrites(ctx, c.now(), ExportLease, ExportLimit)
	if err != nil {
		return 0, fmt.Errorf("s3: claim export writes: %w", err)
	}
	_, err = c.processWrites(ctx, writes)
	return len(writes), err
}

// writeResult is the outcome of one export write.
type writeResult struct {
	w       glossa.ExportWrite
	written bool
	err     *glossa.Error // why it failed
}

// processWrites writes the claimed writes, ReadConcurrency at a time, and
// records each outcome in the store.
func (c *Connector) processWrites(ctx context.Context, writes []glossa.ExportWrite) ([]writeResult, error) {
	results := make([]writeResult, len(writes))
	storeErrs := make([]error, len(writes))
	c.forEach(len(writes), func(i int) {
		results[i], storeErrs[i] = c.processWrite(ctx, writes[i])
	})
	return results, errors.Join(storeErrs...)
}

func (c *Connector) processWrite(ctx context.Context, w glossa.ExportWrite) (writeResult, error) {
	err := c.writeAnnotation(ctx, w)
	if ctx.Err() != nil {
		// Shutting down: leave the write leased; it is retried when the
		// lease ends.
		return writeResult{w: w, err: explain(ctx.Err(), about{})}, nil
	}
	if err == nil || errors.Is(err, errGone) {
		if err != nil {
			c.logger().Info("s3: export write dropped: nothing to write", "write", w.ID, "annotation", w.AnnotationID, "err", err)
		}
		if ferr := c.Store.FinishExportWrite(ctx, w.ID, "", c.now()); ferr != nil {
			return writeResult{w: w}, fmt.Errorf("s3: finish export write %d: %w", w.ID, ferr)
		}
		return writeResult{w: w, written: err == nil}, nil
	}
	e := explain(err, about{})
	c.logger().Warn("s3: export write failed", "write", w.ID, "storage", w.StorageID, "annotation", w.AnnotationID, "attempts", w.Attempts+1, "err", err)
	next := c.now().Add(exportBackoff(w.Attempts))
	if ferr := c.Store.FinishExportWrite(ctx, w.ID, glossa.ErrorMessage(e), next); ferr != nil {
		return writeResult{w: w, err: e}, fmt.Errorf("s3: finish export write %d: %w", w.ID, ferr)
	}
	return writeResult{w: w, err: e}, nil
}

// exportBackoff is the wait before the retry of a write that has failed
// attempts times before this failure: ExportBackoffMin, doubling, at most
// ExportBackoffMax.
func exportBackoff(attempts int) time.Duration {
	d := ExportBackoffMin
	for i := 0; i < attempts && d < ExportBackoffMax; i++ {
		d *= 2
	}
	return min(d, ExportBackoffMax)
}

// syncTarget is the sync of a target storage: queue every annotation not
// yet written (EnqueueExportBackfill), then write the queue down,
// reporting progress: Listed = annotations waiting, Created = written,
// Failed = writes of this storage that failed. Writes that keep failing
// stay queued and are retried with back-off by the export worker; the job
// then fails and says why.
func (c *Connector) syncTarget(ctx context.Context, r *run) error {
	s := r.s
	before, err := c.Store.CountExportWrites(ctx, s.OrgID, s.ID)
	if err != nil {
		return fmt.Errorf("s3: count export writes: %w", err)
	}
	queued, err := c.Store.EnqueueExportBackfill(ctx, s.OrgID, s.ID, c.now())
	if err != nil {
		return fmt.Errorf("s3: enqueue export backfill: %w", err)
	}
	r.add(func(p *glossa.JobProgress) { p.Listed = before.Pending + queued })
	if err := r.report(ctx); err != nil {
		return err
	}

	var last *glossa.Error // the last failure of a write of this storage
	var waitedSince time.Time
	for {
		writes, err := c.Store.ClaimExportWrites(ctx, c.now(), ExportLease, ExportLimit)
		if err != nil {
			return fmt.Errorf("s3: claim export writes: %w", err)
		}
		counts, err := c.Store.CountExportWrites(ctx, s.OrgID, s.ID)
		if err != nil {
			return fmt.Errorf("s3: count export writes: %w", err)
		}
		if len(writes) == 0 {
			// Nothing due. Done when nothing of this storage waits, or
			// when all that waits has failed and waits for its retry;
			// otherwise another process holds some of them: wait for it,
			// at most one lease.
			if counts.Pending == 0 || counts.Failed >= counts.Pending {
				break
			}
			if waitedSince.IsZero() {
				waitedSince = c.now()
			} else if c.now().Sub(waitedSince) > ExportLease+HeartbeatInterval {
				break
			}
			if err := c.sleep(ctx, c.pollInterval()); err != nil {
				return err
			}
			if r.canceled.Load() {
				return errCanceled
			}
			continue
		}
		waitedSince = time.Time{}
		results, err := c.processWrites(ctx, writes)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		counts, err = c.Store.CountExportWrites(ctx, s.OrgID, s.ID)
		if err != nil {
			return fmt.Errorf("s3: count export writes: %w", err)
		}
		var failed int64
		for _, res := range results {
			if res.w.StorageID == s.ID && res.err != nil {
				failed++
				last = res.err
			}
		}
		r.add(func(p *glossa.JobProgress) {
			p.Created = max(0, counts.Written-before.Written)
			p.Failed += failed
		})
		if err := r.report(ctx); err != nil {
			return err
		}
	}

	counts, err := c.Store.CountExportWrites(ctx, s.OrgID, s.ID)
	if err != nil {
		return fmt.Errorf("s3: count export writes: %w", err)
	}
	r.add(func(p *glossa.JobProgress) { p.Created = max(0, counts.Written-before.Written) })
	if counts.Pending == 0 {
		return nil
	}
	what := "annotation"
	if counts.Pending != 1 {
		what = "annotations"
	}
	if last != nil {
		return glossa.Wrap(last.Code, last, fmt.Sprintf("%d %s could not be written yet (they are retried automatically): %s", counts.Pending, what, last.Message))
	}
	return glossa.Errorf(glossa.EUNAVAILABLE, "%d %s could not be written yet; they are retried automatically.", counts.Pending, what)
}

func (c *Connector) pollInterval() time.Duration {
	if c.PollInterval <= 0 {
		return DefaultPollInterval
	}
	return c.PollInterval
}

// sleep waits d or until ctx ends.
func (c *Connector) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
