package store

import (
	"context"
	"strings"

	"github.com/glossa-dev/glossa"
)

const annotationColumns = "id, org_id, project_id, task_id, result, completed_by, was_cancelled, ground_truth, lead_time, created_at, updated_at"

func scanAnnotation(s interface{ Scan(...any) error }) (*glossa.Annotation, error) {
	var a glossa.Annotation
	var result []byte
	if err := s.Scan(&a.ID, &a.OrgID, &a.ProjectID, &a.TaskID, &result, &a.CompletedBy, &a.WasCancelled, &a.GroundTruth,
		&a.LeadTime, timeScan{&a.CreatedAt}, timeScan{&a.UpdatedAt}); err != nil {
		return nil, err
	}
	a.Result = result
	return &a, nil
}

// Every change to a task's annotations runs, in one transaction:
//
//  1. lockTask: an UPDATE of the task row, which on PostgreSQL locks it until
//     the transaction ends, so that changes to one task's annotations happen
//     one after the other (on SQLite the write lock does that already);
//  2. the change to the annotation;
//  3. recount: the task's counters from its annotations (a few rows, by the
//     index on task_id), and the difference added to the project's.
//
// Because step 3 runs after the lock was granted, its count (a new snapshot
// under READ COMMITTED) includes whatever the previous holder committed.

// lockTask locks a task of orgID and returns its project and current
// total_annotations.
func (c conn) lockTask(ctx context.Context, orgID, taskID int64, now any) (projectID, total int64, err error) {
	err = c.queryRow(ctx, "UPDATE tasks SET updated_at = ? WHERE org_id = ? AND id = ? RETURNING project_id, total_annotations",
		now, orgID, taskID).Scan(&projectID, &total)
	return projectID, total, notFoundIfNoRows(err, "Task")
}

// recount brings a task's counters, and by difference its project's, in
// line with its annotations; oldTotal is what lockTask returned.
func (c conn) recount(ctx context.Context, taskID, projectID, oldTotal int64) error {
	var total int64
	if err := c.queryRow(ctx, "SELECT COUNT(*) FROM annotations WHERE task_id = ? AND was_cancelled = FALSE", taskID).Scan(&total); err != nil {
		return err
	}
	if total == oldTotal {
		return nil
	}
	if _, err := c.exec(ctx, "UPDATE tasks SET total_annotations = ?, is_labeled = ? WHERE id = ?", total, total > 0, taskID); err != nil {
		return err
	}
	_, err := c.exec(ctx, "UPDATE projects SET annotation_count = annotation_count + ?, annotated_task_count = annotated_task_count + ? WHERE id = ?",
		total-oldTotal, b2i(total > 0)-b2i(oldTotal > 0), projectID)
	return err
}

// CreateAnnotation stores a on task a.TaskID of a.OrgID, by a.CompletedBy (a
// member of that organization), fills in its ID, project and times, updates
// the task's and project's counters and queues the annotation for the
// project's target storages. An empty result is [].
func (db *DB) CreateAnnotation(ctx context.Context, a *glossa.Annotation) error {
	const op = "store.CreateAnnotation"
	if a == nil {
		return glossa.Errorf(glossa.EINVALID, "No annotation given.")
	}
	result, ok := resultJSON(a.Result)
	if !ok {
		return glossa.Errorf(glossa.EINVALID, "The annotation's result is not valid JSON.")
	}
	na := *a
	now := db.now()
	na.Result, na.CreatedAt, na.UpdatedAt = []byte(result), now, now
	err := db.inTx(ctx, op, func(tx conn) error {
		projectID, old, err := tx.lockTask(ctx, na.OrgID, na.TaskID, db.timeValue(now))
		if err != nil {
			return err
		}
		if err := tx.checkUser(ctx, na.OrgID, na.CompletedBy); err != nil {
			return err
		}
		na.ProjectID = projectID
		err = tx.queryRow(ctx, "INSERT INTO annotations ("+strings.TrimPrefix(annotationColumns, "id, ")+
			") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
			na.OrgID, projectID, na.TaskID, result, na.CompletedBy, na.WasCancelled, na.GroundTruth, na.LeadTime,
			db.timeValue(now), db.timeValue(now)).Scan(&na.ID)
		if err != nil {
			return err
		}
		if err := tx.enqueueExportWrites(ctx, &na, db.timeValue(now)); err != nil {
			return err
		}
		if err := tx.afterSubmit(ctx, na.OrgID, na.TaskID, na.CompletedBy); err != nil {
			return err
		}
		return tx.recount(ctx, na.TaskID, projectID, old)
	})
	if err != nil {
		return err
	}
	*a = na
	return nil
}

// FindAnnotationByID returns an annotation of orgID.
func (db *DB) FindAnnotationByID(ctx context.Context, orgID, id int64) (*glossa.Annotation, error) {
	a, err := scanAnnotation(db.reader().queryRow(ctx, "SELECT "+annotationColumns+" FROM annotations WHERE org_id = ? AND id = ?", orgID, id))
	return a, dbError("store.FindAnnotationByID", notFoundIfNoRows(err, "Annotation"))
}

// FindAnnotations lists the annotations of a task of orgID, oldest first.
func (db *DB) FindAnnotations(ctx context.Context, orgID, taskID int64) ([]glossa.Annotation, error) {
	const op = "store.FindAnnotations"
	r := db.reader()
	rows, err := r.query(ctx, "SELECT "+annotationColumns+" FROM annotations WHERE org_id = ? AND task_id = ? ORDER BY id", orgID, taskID)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	as := []glossa.Annotation{}
	for rows.Next() {
		a, err := scanAnnotation(rows)
		if err != nil {
			return nil, dbError(op, err)
		}
		as = append(as, *a)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err)
	}
	if len(as) == 0 {
		// No annotations, or no such task: tell them apart.
		ok, err := r.exists(ctx, "SELECT 1 FROM tasks WHERE org_id = ? AND id = ?", orgID, taskID)
		if err != nil {
			return nil, dbError(op, err)
		}
		if !ok {
			return nil, glossa.NotFound("Task")
		}
	}
	return as, nil
}

// UpdateAnnotation changes the fields of upd that are set, keeps the
// counters in step (cancelling or restoring an annotation changes them),
// queues the annotation for the project's target storages again, and
// returns the annotation as it now is.
func (db *DB) UpdateAnnotation(ctx context.Context, orgID, id int64, upd glossa.AnnotationUpdate) (*glossa.Annotation, error) {
	const op = "store.UpdateAnnotation"
	var sets []string
	var args []any
	if upd.Result != nil {
		result, ok := resultJSON(*upd.Result)
		if !ok {
			return nil, glossa.Errorf(glossa.EINVALID, "The annotation's result is not valid JSON.")
		}
		sets, args = append(sets, "result = ?"), append(args, result)
	}
	if upd.WasCancelled != nil {
		sets, args = append(sets, "was_cancelled = ?"), append(args, *upd.WasCancelled)
	}
	if upd.GroundTruth != nil {
		sets, args = append(sets, "ground_truth = ?"), append(args, *upd.GroundTruth)
	}
	if upd.LeadTime != nil {
		sets, args = append(sets, "lead_time = ?"), append(args, *upd.LeadTime)
	}
	now := db.timeValue(db.now())
	sets, args = append(sets, "updated_at = ?"), append(args, now)
	args = append(args, orgID, id)
	var a *glossa.Annotation
	err := db.inTx(ctx, op, func(tx conn) error {
		taskID, projectID, old, err := tx.lockAnnotationTask(ctx, orgID, id, now)
		if err != nil {
			return err
		}
		a, err = scanAnnotation(tx.queryRow(ctx, "UPDATE annotations SET "+strings.Join(sets, ", ")+
			" WHERE org_id = ? AND id = ? RETURNING "+annotationColumns, args...))
		if err != nil {
			return notFoundIfNoRows(err, "Annotation")
		}
		if err := tx.enqueueExportWrites(ctx, a, now); err != nil {
			return err
		}
		return tx.recount(ctx, taskID, projectID, old)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// lockAnnotationTask is lockTask for the task of an annotation of orgID.
func (c conn) lockAnnotationTask(ctx context.Context, orgID, annotationID int64, now any) (taskID, projectID, total int64, err error) {
	err = c.queryRow(ctx, `UPDATE tasks SET updated_at = ?
		WHERE org_id = ? AND id = (SELECT task_id FROM annotations WHERE org_id = ? AND id = ?)
		RETURNING id, project_id, total_annotations`, now, orgID, orgID, annotationID).Scan(&taskID, &projectID, &total)
	return taskID, projectID, total, notFoundIfNoRows(err, "Annotation")
}

// DeleteAnnotation deletes an annotation of orgID, updates the task's and
// project's counters and queues the deletion of its exported objects from
// the project's target storages with can_delete_objects, as the person
// acting in ctx (else as the annotator).
func (db *DB) DeleteAnnotation(ctx context.Context, orgID, id int64) error {
	actor := actorOf(ctx, orgID)
	return db.inTx(ctx, "store.DeleteAnnotation", func(tx conn) error {
		now := db.now()
		taskID, projectID, old, err := tx.lockAnnotationTask(ctx, orgID, id, db.timeValue(now))
		if err != nil {
			return err
		}
		targets, err := tx.deletingTargets(ctx, orgID, projectID)
		if err != nil {
			return err
		}
		if err := tx.enqueueExportDeletions(ctx, targets, actor, now, "a.id = ?", id); err != nil {
			return err
		}
		if err := tx.execOne(ctx, glossa.NotFound("Annotation"), "DELETE FROM annotations WHERE org_id = ? AND id = ?", orgID, id); err != nil {
			return err
		}
		if err := tx.refreshReviewState(ctx, orgID, taskID); err != nil {
			return err
		}
		return tx.recount(ctx, taskID, projectID, old)
	})
}
