package s3

// Export: annotations written to target storages from the outbox, the
// objects of deleted annotations deleted from those with
// can_delete_objects, and the target sync that backfills them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/glossa-dev/glossa"
)

// exportedAnnotation is the body of an exported object: Label Studio's
// storage annotation (tasks.serializers.AnnotationSerializer's fields)
// with its task nested as an object (id, data, meta, project, counters,
// timestamps), as Label Studio's StorageAnnotationSerializer writes it.
// completed_by stays the annotator's user ID.
type exportedAnnotation struct {
	*glossa.Annotation
	Task *glossa.Task `json:"task"`
}

// errGone marks an export write whose annotation (or task, or storage), or
// an export deletion whose storage, no longer exists: there is nothing
// left to do, and the outbox entry went with it (ON DELETE CASCADE).
var errGone = errors.New("s3: nothing to export")

// gone turns the ENOTFOUND of a lookup into errGone.
func gone(err error) error {
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		return fmt.Errorf("%w: %w", errGone, err)
	}
	return err
}

// writeAnnotation writes the annotation of w to its target storage, at
// glossa.ExportKey(prefix, annotation ID), as Label Studio's annotation JSON
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
	return c.putObject(ctx, s, w.UserID, glossa.ExportKey(s.Prefix, ann.ID), body)
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
	return c.objectOutcome(ctx, s, userID, "write", key, err)
}

// deleteExport deletes the object of d from its target storage, with the
// credentials of d.UserID in the per-person modes (the person who deleted
// the annotation), otherwise with the storage's; a per-person deletion is
// audited (action "federation.access", operation "delete") with the
// bucket's answer. Errors are explained (Explain); a deletion whose
// storage no longer exists is errGone.
func (c *Connector) deleteExport(ctx context.Context, d glossa.ExportDeletion) error {
	c.setup()
	s, err := c.Store.FindStorageByID(ctx, d.OrgID, d.StorageID)
	if err != nil {
		return gone(err)
	}
	a, err := c.acquire(ctx, s, d.UserID)
	if err != nil {
		return err
	}
	_, err = a.ep.s3(c).DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(d.Key)})
	if apiCode(err) == "NoSuchKey" {
		// S3 answers 204 for a key that is not there; some compatible
		// stores answer 404. Either way the object is gone.
		err = nil
	}
	return c.objectOutcome(ctx, s, d.UserID, "delete", d.Key, err)
}

// objectOutcome explains err, the outcome of a write or delete (op) of key
// in s for userID, and audits it in the per-person modes: every success,
// and every refusal (EFORBIDDEN), with the role acted as.
func (c *Connector) objectOutcome(ctx context.Context, s *glossa.Storage, userID int64, op, key string, err error) error {
	role := ""
	if s.AuthMode.PerPerson() {
		role = c.roleOf(ctx, s, userID)
	}
	if err == nil {
		if s.AuthMode.PerPerson() {
			c.audit(ctx, s, userID, op, role, "key", key, true, "")
		}
		return nil
	}
	e := explain(err, aboutStorage(s, op, role).withKey(key))
	if s.AuthMode.PerPerson() && e.Code == glossa.EFORBIDDEN {
		c.audit(ctx, s, userID, op, role, "key", key, false, e.Message)
	}
	return e
}

// RunExportWrites claims the export writes that are due, then the export
// deletions that are due (up to ExportLimit of each, leased for
// ExportLease so that no other process takes them meanwhile), carries out
// each, and records the outcome: done, or failed with the Explain
// sentence and a retry after a back-off that starts at ExportBackoffMin
// and doubles with each failure up to ExportBackoffMax. A deletion the
// bucket refuses is retried like a write, never dropped. It returns the
// larger of the numbers of writes and deletions it claimed (ExportLimit
// means: call again), and an error only when the store failed.
func (c *Connector) RunExportWrites(ctx context.Context) (n int, err error) {
	c.setup()
	writes, err := c.Store.ClaimExportWrites(ctx, c.now(), ExportLease, ExportLimit)
	if err != nil {
		return 0, fmt.Errorf("s3: claim export writes: %w", err)
	}
	_, werr := c.processWrites(ctx, writes)
	deletions, err := c.Store.ClaimExportDeletions(ctx, c.now(), ExportLease, ExportLimit)
	if err != nil {
		return len(writes), errors.Join(werr, fmt.Errorf("s3: claim export deletions: %w", err))
	}
	derrs := make([]error, len(deletions))
	c.forEach(len(deletions), func(i int) {
		d := deletions[i]
		_, derrs[i] = c.settle(ctx, "deletion", d.ID, d.Attempts, c.deleteExport(ctx, d), c.Store.FinishExportDeletion,
			"storage", d.StorageID, "annotation", d.AnnotationID, "key", d.Key)
	})
	return max(len(writes), len(deletions)), errors.Join(werr, errors.Join(derrs...))
}

// writeResult is the outcome of one export write.
type writeResult struct {
	w   glossa.ExportWrite
	err *glossa.Error // why it failed
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
	e, err := c.settle(ctx, "write", w.ID, w.Attempts, c.writeAnnotation(ctx, w), c.Store.FinishExportWrite,
		"storage", w.StorageID, "annotation", w.AnnotationID)
	return writeResult{w: w, err: e}, err
}

// settle records the outcome err of one attempt at an outbox entry (an
// export write or deletion, op) with finish: done, or failed with the
// Explain sentence and a retry after exportBackoff(attempts). It returns
// the failure, and an error only when the store failed.
//
// Two outcomes record nothing. When ctx ended (shutting down) the entry
// stays leased and is retried when the lease ends. When what the entry
// was about is gone (errGone), or the entry is, because its annotation or
// storage was deleted while it was being carried out, the entry went
// with them: a write's object, if it landed, is then deleted by the
// deletion queued with the annotation, due after this lease.
func (c *Connector) settle(ctx context.Context, op string, id int64, attempts int, err error,
	finish func(ctx context.Context, id int64, errMsg string, next time.Time) error, attrs ...any) (*glossa.Error, error) {
	if ctx.Err() != nil {
		return explain(ctx.Err(), about{}), nil
	}
	attrs = append([]any{op, id}, attrs...)
	if errors.Is(err, errGone) {
		c.logger().Debug("s3: export "+op+" dropped: nothing left to do", append(attrs, "err", err)...)
		return nil, nil
	}
	var e *glossa.Error
	msg, next := "", c.now()
	if err != nil {
		e = explain(err, about{})
		c.logger().Warn("s3: export "+op+" failed", append(attrs, "attempts", attempts+1, "err", err)...)
		msg, next = glossa.ErrorMessage(e), next.Add(exportBackoff(attempts))
	}
	if ferr := finish(ctx, id, msg, next); ferr != nil {
		if glossa.ErrorCode(ferr) == glossa.ENOTFOUND {
			c.logger().Debug("s3: export "+op+" dropped: deleted meanwhile", attrs...)
			return nil, nil
		}
		return e, fmt.Errorf("s3: finish export %s %d: %w", op, id, ferr)
	}
	return e, nil
}

// exportBackoff is the wait before the retry of a write or deletion that
// has failed attempts times before this failure: ExportBackoffMin,
// doubling, at most ExportBackoffMax.
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
			if err := r.stopped(); err != nil {
				return err
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
