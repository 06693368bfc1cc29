package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/glossa-dev/glossa"
)

// The work of labeling (glossa.LabelingService): drafts, the hand-out of
// tasks by leases, reviews and the data manager's bulk delete. QueryTasks
// is in datamanager.go.

const draftColumns = "id, org_id, task_id, user_id, annotation_id, result, lead_time, created_at, updated_at"

func scanDraft(s interface{ Scan(...any) error }) (*glossa.Draft, error) {
	var d glossa.Draft
	var ann sql.NullInt64
	var result []byte
	if err := s.Scan(&d.ID, &d.OrgID, &d.TaskID, &d.UserID, &ann, &result, &d.LeadTime,
		timeScan{&d.CreatedAt}, timeScan{&d.UpdatedAt}); err != nil {
		return nil, err
	}
	if ann.Valid {
		d.AnnotationID = &ann.Int64
	}
	d.Result = result
	return &d, nil
}

// SaveDraft creates or replaces the person's draft of a task of d.OrgID
// (one per person and task), fills in its ID and times, and renews the
// person's lease on the task if they hold one (expired or not, as long as
// nobody else took the task meanwhile). d.UserID must be a member of the
// organization and d.AnnotationID, if set, an annotation of the task. An
// empty result is [].
func (db *DB) SaveDraft(ctx context.Context, d *glossa.Draft) error {
	const op = "store.SaveDraft"
	if d == nil {
		return glossa.Errorf(glossa.EINVALID, "No draft given.")
	}
	result, ok := resultJSON(d.Result)
	if !ok {
		return glossa.Errorf(glossa.EINVALID, "The draft's result is not valid JSON.")
	}
	if d.LeadTime < 0 || math.IsNaN(d.LeadTime) || math.IsInf(d.LeadTime, 0) {
		return glossa.Errorf(glossa.EINVALID, "The lead time must be a number of seconds, zero or more.")
	}
	now := db.now()
	nd := *d
	nd.Result, nd.UpdatedAt = []byte(result), now
	err := db.inTx(ctx, op, func(tx conn) error {
		ok, err := tx.exists(ctx, "SELECT 1 FROM tasks WHERE org_id = ? AND id = ?", nd.OrgID, nd.TaskID)
		if err != nil {
			return err
		}
		if !ok {
			return glossa.NotFound("Task")
		}
		if err := tx.checkUser(ctx, nd.OrgID, nd.UserID); err != nil {
			return err
		}
		var annotationID any
		if nd.AnnotationID != nil {
			ok, err := tx.exists(ctx, "SELECT 1 FROM annotations WHERE org_id = ? AND id = ? AND task_id = ?",
				nd.OrgID, *nd.AnnotationID, nd.TaskID)
			if err != nil {
				return err
			}
			if !ok {
				return glossa.NotFound("Annotation")
			}
			annotationID = *nd.AnnotationID
		}
		t := db.timeValue(now)
		err = tx.queryRow(ctx, `INSERT INTO drafts (org_id, task_id, user_id, annotation_id, result, lead_time, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (task_id, user_id) DO UPDATE SET annotation_id = excluded.annotation_id, result = excluded.result,
				lead_time = excluded.lead_time, updated_at = excluded.updated_at
			RETURNING id, created_at`,
			nd.OrgID, nd.TaskID, nd.UserID, annotationID, result, nd.LeadTime, t, t).Scan(&nd.ID, timeScan{&nd.CreatedAt})
		if err != nil {
			return err
		}
		return tx.renewLease(ctx, nd.OrgID, nd.TaskID, nd.UserID, now)
	})
	if err != nil {
		if isForeignKey(err) {
			// The task was deleted meanwhile.
			return glossa.NotFound("Task")
		}
		return err
	}
	*d = nd
	return nil
}

// renewLease extends the person's lease on a task by the length it was
// granted for, if the lease row is theirs. A row is someone else's as soon
// as NextTask hands the task on after expiry, so an expired lease of
// theirs still means nobody took the task.
func (c conn) renewLease(ctx context.Context, orgID, taskID, userID int64, now time.Time) error {
	var us int64
	err := c.queryRow(ctx, "SELECT duration_us FROM task_leases WHERE org_id = ? AND task_id = ? AND user_id = ?", orgID, taskID, userID).Scan(&us)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = c.exec(ctx, "UPDATE task_leases SET expires_at = ? WHERE org_id = ? AND task_id = ? AND user_id = ?",
		c.db.timeValue(now.Add(time.Duration(us)*time.Microsecond)), orgID, taskID, userID)
	return err
}

// FindDraft returns the person's draft of a task of orgID.
func (db *DB) FindDraft(ctx context.Context, orgID, taskID, userID int64) (*glossa.Draft, error) {
	d, err := scanDraft(db.reader().queryRow(ctx, "SELECT "+draftColumns+" FROM drafts WHERE org_id = ? AND task_id = ? AND user_id = ?",
		orgID, taskID, userID))
	return d, dbError("store.FindDraft", notFoundIfNoRows(err, "Draft"))
}

// DeleteDraft deletes the person's draft of a task of orgID.
func (db *DB) DeleteDraft(ctx context.Context, orgID, taskID, userID int64) error {
	return dbError("store.DeleteDraft", db.writer().execOne(ctx, glossa.NotFound("Draft"),
		"DELETE FROM drafts WHERE org_id = ? AND task_id = ? AND user_id = ?", orgID, taskID, userID))
}

// afterSubmit runs in the transaction that stores a person's annotation
// (a submission, or a skip when cancelled): their draft of a new
// annotation of the task is done with, and their lease on it ends, so the
// task goes to the next person at once rather than when the lease expires.
func (c conn) afterSubmit(ctx context.Context, orgID, taskID, userID int64) error {
	if _, err := c.exec(ctx, "DELETE FROM drafts WHERE org_id = ? AND task_id = ? AND user_id = ? AND annotation_id IS NULL",
		orgID, taskID, userID); err != nil {
		return err
	}
	_, err := c.exec(ctx, "DELETE FROM task_leases WHERE org_id = ? AND task_id = ? AND user_id = ?", orgID, taskID, userID)
	return err
}

// nextTaskAttempts bounds how often NextTask looks again when the task it
// chose was leased by someone else between its choice and its lease, which
// only happens on PostgreSQL, when a competing transaction commits in that
// instant.
const nextTaskAttempts = 8

// NextTask hands the person r.UserID the task of project r.ProjectID they
// should label next, and leases it to them for r.Lease from r.Now (the
// store's clock when zero):
//
//  1. the task they hold (an unexpired lease), if it still wants them: not
//     labeled, not annotated or skipped by them, visible to them; the
//     lease is renewed;
//  2. otherwise the unlabeled task with the lowest ID that they have not
//     annotated or skipped (skipped: they have a cancelled annotation on
//     it), that nobody holds, and that r.Visibility does not hide. Their
//     other leases in the project, none of which wants them any more, are
//     dropped.
//
// It is ENOTFOUND when no task is left.
//
// Cost: step 2 is a range scan of the index on (project_id, is_labeled,
// id) from the first unlabeled task, with an index probe per task for the
// person's annotations, leases and visibility (written so that no planner
// turns them into joins: see probe). It walks past the tasks that others
// hold and that the person skipped, so it costs what those number, not
// what the project does (BenchmarkNextTask: about a millisecond past a
// hundred held tasks of a million).
//
// Concurrency: on SQLite every write transaction has the database to
// itself, so choosing and leasing cannot interleave. On PostgreSQL the
// person's own row is locked first (one hand-out per person at a time: a
// double click gets the same task twice, not two tasks), the chosen task
// row is locked with FOR NO KEY UPDATE SKIP LOCKED (so concurrent callers
// choose different tasks instead of queuing on the same one), and the
// lease is an upsert that takes a task over only if its lease expired: if
// another caller leased the task in the instant between (its commit landing
// after this statement's snapshot), the upsert changes nothing and
// NextTask chooses again. Two people asking at once never get the same task.
func (db *DB) NextTask(ctx context.Context, r glossa.NextTaskRequest) (*glossa.Task, error) {
	const op = "store.NextTask"
	if r.Lease <= 0 {
		return nil, glossa.Errorf(glossa.EINVALID, "A task lease must last some time.")
	}
	now := db.now()
	if !r.Now.IsZero() {
		now = norm(r.Now)
	}
	var task *glossa.Task
	err := db.inTx(ctx, op, func(tx conn) error {
		ok, err := tx.exists(ctx, "SELECT 1 FROM projects WHERE org_id = ? AND id = ?", r.OrgID, r.ProjectID)
		if err != nil {
			return err
		}
		if !ok {
			return glossa.NotFound("Project")
		}
		lockUser := "SELECT 1 FROM users WHERE org_id = ? AND id = ?"
		if db.dialect == Postgres {
			lockUser += " FOR NO KEY UPDATE"
		}
		ok, err = tx.exists(ctx, lockUser, r.OrgID, r.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return glossa.NotFound("Member")
		}
		expires := db.timeValue(now.Add(r.Lease))
		us := r.Lease.Microseconds()

		task, err = tx.heldTask(ctx, r, now)
		if err != nil {
			return err
		}
		if task != nil {
			_, err := tx.exec(ctx, "UPDATE task_leases SET expires_at = ?, duration_us = ? WHERE org_id = ? AND task_id = ? AND user_id = ?",
				expires, us, r.OrgID, task.ID, r.UserID)
			return err
		}
		if _, err := tx.exec(ctx, "DELETE FROM task_leases WHERE org_id = ? AND user_id = ? AND project_id = ?", r.OrgID, r.UserID, r.ProjectID); err != nil {
			return err
		}
		q, args := db.nextTaskQuery(r, now)
		for range nextTaskAttempts {
			task, err = scanTask(tx.queryRow(ctx, q, args...))
			if errors.Is(err, sql.ErrNoRows) {
				return glossa.Errorf(glossa.ENOTFOUND, "No task is left for you to label in this project.")
			}
			if err != nil {
				return err
			}
			res, err := tx.exec(ctx, `INSERT INTO task_leases (task_id, org_id, project_id, user_id, expires_at, duration_us)
				VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (task_id) DO UPDATE SET user_id = excluded.user_id, expires_at = excluded.expires_at,
					duration_us = excluded.duration_us
				WHERE task_leases.expires_at <= ? OR task_leases.user_id = excluded.user_id`,
				task.ID, r.OrgID, r.ProjectID, r.UserID, expires, us, db.timeValue(now))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				return err
			}
		}
		return glossa.Errorf(glossa.ECONFLICT, "Many people are asking for tasks at once; try again.")
	})
	if err != nil {
		return nil, err
	}
	return task, nil
}

// heldTask returns the task the person holds in the project that still
// wants them (see NextTask), or nil.
func (c conn) heldTask(ctx context.Context, r glossa.NextTaskRequest, now time.Time) (*glossa.Task, error) {
	q := "SELECT " + qualify("t", taskColumns) + ` FROM task_leases k JOIN tasks t ON t.id = k.task_id
		WHERE k.user_id = ? AND k.project_id = ? AND k.org_id = ? AND k.expires_at > ? AND t.is_labeled = FALSE
		AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.task_id = t.id AND a.project_id = t.project_id AND a.completed_by = ?)`
	args := []any{r.UserID, r.ProjectID, r.OrgID, c.db.timeValue(now), r.UserID}
	if hidden, hiddenArgs := visibilityCondition(r.Visibility); hidden != "" {
		q += " AND NOT EXISTS (SELECT 1 FROM storage_links l WHERE l.task_id = t.id AND (" + hidden + "))"
		args = append(args, hiddenArgs...)
	}
	t, err := scanTask(c.queryRow(ctx, q+" ORDER BY k.task_id LIMIT 1", args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return t, err
}

// nextTaskQuery returns the query that chooses a task to hand out (step 2
// of NextTask). Like taskPageQuery, it orders by (project_id, id) and names
// the project through projectMatch, so that on both engines it is a range
// scan of (project_id, is_labeled, id) that stops at the first task that
// passes the probes.
func (db *DB) nextTaskQuery(r glossa.NextTaskRequest, now time.Time) (string, []any) {
	match, p := db.projectMatch(r.ProjectID)
	q := "SELECT " + qualify("t", taskColumns) + " FROM tasks t WHERE t." + match + " AND t.org_id = ? AND t.is_labeled = ?" +
		" AND " + probe("annotations a WHERE a.task_id = t.id AND a.project_id = t.project_id AND a.completed_by = ?", false) +
		" AND " + probe("task_leases k WHERE k.task_id = t.id AND k.expires_at > ?", false)
	args := []any{p, r.OrgID, false, r.UserID, db.timeValue(now)}
	if hidden, hiddenArgs := visibilityCondition(r.Visibility); hidden != "" {
		q += " AND " + probe("storage_links l WHERE l.task_id = t.id AND ("+hidden+")", false)
		args = append(args, hiddenArgs...)
	}
	q += " ORDER BY t.project_id, t.id LIMIT 1"
	if db.dialect == Postgres {
		q += " FOR NO KEY UPDATE OF t SKIP LOCKED"
	}
	return q, args
}

// ReleaseTask ends the person's lease on a task of orgID. Releasing a task
// they do not hold does nothing; a task that is not there is ENOTFOUND.
func (db *DB) ReleaseTask(ctx context.Context, orgID, taskID, userID int64) error {
	const op = "store.ReleaseTask"
	res, err := db.writer().exec(ctx, "DELETE FROM task_leases WHERE org_id = ? AND task_id = ? AND user_id = ?", orgID, taskID, userID)
	if err != nil {
		return dbError(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return dbError(op, err)
	}
	ok, err := db.reader().exists(ctx, "SELECT 1 FROM tasks WHERE org_id = ? AND id = ?", orgID, taskID)
	if err != nil {
		return dbError(op, err)
	}
	if !ok {
		return glossa.NotFound("Task")
	}
	return nil
}

const reviewColumns = "id, org_id, annotation_id, task_id, reviewer_id, accepted, comment, created_at"

func scanReview(s interface{ Scan(...any) error }) (*glossa.Review, error) {
	var r glossa.Review
	if err := s.Scan(&r.ID, &r.OrgID, &r.AnnotationID, &r.TaskID, &r.ReviewerID, &r.Accepted, &r.Comment, timeScan{&r.CreatedAt}); err != nil {
		return nil, err
	}
	return &r, nil
}

func reviewState(accepted bool) glossa.ReviewState {
	if accepted {
		return glossa.ReviewAccepted
	}
	return glossa.ReviewRejected
}

// maxReviewComment is the longest review comment, in bytes.
const maxReviewComment = 64 << 10

// CreateReview records r.ReviewerID's verdict on annotation r.AnnotationID
// of r.OrgID, fills in its ID, task and time, and makes it the review
// state of the annotation and of its task, in one transaction. The task's
// row is locked first (see lockTask), so the reviews of one task are
// numbered in the order they commit and the newest always has the last
// word on the task's state.
func (db *DB) CreateReview(ctx context.Context, r *glossa.Review) error {
	const op = "store.CreateReview"
	if r == nil {
		return glossa.Errorf(glossa.EINVALID, "No review given.")
	}
	if !utf8.ValidString(r.Comment) || strings.ContainsRune(r.Comment, 0) {
		return glossa.Errorf(glossa.EINVALID, "The comment is not valid text.")
	}
	if len(r.Comment) > maxReviewComment {
		return glossa.Errorf(glossa.EINVALID, "The comment is too long: at most %d KB.", maxReviewComment>>10)
	}
	now := db.now()
	nr := *r
	nr.CreatedAt = now
	state := string(reviewState(nr.Accepted))
	err := db.inTx(ctx, op, func(tx conn) error {
		var projectID int64
		err := tx.queryRow(ctx, `UPDATE tasks SET review_state = ?, updated_at = ?
			WHERE org_id = ? AND id = (SELECT task_id FROM annotations WHERE org_id = ? AND id = ?)
			RETURNING id, project_id`,
			state, db.timeValue(now), nr.OrgID, nr.OrgID, nr.AnnotationID).Scan(&nr.TaskID, &projectID)
		if err != nil {
			return notFoundIfNoRows(err, "Annotation")
		}
		if err := tx.checkUser(ctx, nr.OrgID, nr.ReviewerID); err != nil {
			return err
		}
		return tx.queryRow(ctx, `INSERT INTO reviews (org_id, project_id, task_id, annotation_id, reviewer_id, accepted, comment, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			nr.OrgID, projectID, nr.TaskID, nr.AnnotationID, nr.ReviewerID, nr.Accepted, nr.Comment, db.timeValue(now)).Scan(&nr.ID)
	})
	if err != nil {
		return err
	}
	*r = nr
	return nil
}

// refreshReviewState sets a task's review state from its newest remaining
// review, after one of its annotations (and with it that annotation's
// reviews) was deleted.
func (c conn) refreshReviewState(ctx context.Context, orgID, taskID int64) error {
	var accepted bool
	state := glossa.ReviewNone
	err := c.queryRow(ctx, "SELECT accepted FROM reviews WHERE org_id = ? AND task_id = ? ORDER BY id DESC LIMIT 1", orgID, taskID).Scan(&accepted)
	switch {
	case err == nil:
		state = reviewState(accepted)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	_, err = c.exec(ctx, "UPDATE tasks SET review_state = ? WHERE org_id = ? AND id = ? AND review_state <> ?", string(state), orgID, taskID, string(state))
	return err
}

// FindReviews lists the reviews of an annotation of orgID, oldest first.
func (db *DB) FindReviews(ctx context.Context, orgID, annotationID int64) ([]glossa.Review, error) {
	const op = "store.FindReviews"
	r := db.reader()
	rows, err := r.query(ctx, "SELECT "+reviewColumns+" FROM reviews WHERE org_id = ? AND annotation_id = ? ORDER BY id", orgID, annotationID)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	list := []glossa.Review{}
	for rows.Next() {
		rv, err := scanReview(rows)
		if err != nil {
			return nil, dbError(op, err)
		}
		list = append(list, *rv)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err)
	}
	if len(list) == 0 {
		// No reviews, or no such annotation: tell them apart.
		ok, err := r.exists(ctx, "SELECT 1 FROM annotations WHERE org_id = ? AND id = ?", orgID, annotationID)
		if err != nil {
			return nil, dbError(op, err)
		}
		if !ok {
			return nil, glossa.NotFound("Annotation")
		}
	}
	return list, nil
}

// DeleteTasks deletes the listed tasks of a project of orgID, with
// everything that hangs off them, and takes them out of the project's
// counters, in one transaction; it returns how many it deleted. IDs that
// are not tasks of the project are ignored, as Label Studio's bulk delete
// does. The IDs go in ascending order, in chunks, so two bulk deletes lock
// their rows in the same order. The exported objects of the tasks'
// annotations go as DeleteAnnotation says; when there are any to delete,
// each chunk's tasks are locked first, so that an annotation being added
// meanwhile either waits or is seen.
func (db *DB) DeleteTasks(ctx context.Context, orgID, projectID int64, ids []int64) (int64, error) {
	const op = "store.DeleteTasks"
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	actor := actorOf(ctx, orgID)
	var deleted int64
	err := db.inTx(ctx, op, func(tx conn) error {
		deleted = 0
		ok, err := tx.exists(ctx, "SELECT 1 FROM projects WHERE org_id = ? AND id = ?", orgID, projectID)
		if err != nil {
			return err
		}
		if !ok {
			return glossa.NotFound("Project")
		}
		targets, err := tx.deletingTargets(ctx, orgID, projectID)
		if err != nil {
			return err
		}
		now := db.now()
		var labeled, annotations int64
		for start := 0; start < len(ids); start += importBatch {
			chunk := ids[start:min(len(ids), start+importBatch)]
			in, inArgs := db.inInts("id", chunk)
			if len(targets) > 0 {
				if _, err := tx.exec(ctx, "UPDATE tasks SET updated_at = ? WHERE org_id = ? AND project_id = ? AND "+in,
					append([]any{db.timeValue(now), orgID, projectID}, inArgs...)...); err != nil {
					return err
				}
				annIn, annArgs := db.inInts("a.task_id", chunk)
				if err := tx.enqueueExportDeletions(ctx, targets, actor, now, "a.project_id = ? AND "+annIn,
					append([]any{projectID}, annArgs...)...); err != nil {
					return err
				}
			}
			rows, err := tx.query(ctx, "DELETE FROM tasks WHERE org_id = ? AND project_id = ? AND "+in+" RETURNING total_annotations, is_labeled",
				append([]any{orgID, projectID}, inArgs...)...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var total int64
				var isLabeled bool
				if err := rows.Scan(&total, &isLabeled); err != nil {
					rows.Close()
					return err
				}
				deleted++
				annotations += total
				labeled += b2i(isLabeled)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if deleted == 0 {
			return nil
		}
		_, err = tx.exec(ctx, `UPDATE projects SET task_count = task_count - ?,
			annotated_task_count = annotated_task_count - ?, annotation_count = annotation_count - ?
			WHERE org_id = ? AND id = ?`, deleted, labeled, annotations, orgID, projectID)
		return err
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}

// inInts returns "expr IN (?, ...)" for SQLite and "expr = ANY(?)" with
// one array for PostgreSQL, and the arguments. ids must not be empty.
func (db *DB) inInts(expr string, ids []int64) (string, []any) {
	if db.dialect == Postgres {
		return expr + " = ANY(?)", []any{ids}
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return expr + " IN (" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")", args
}
