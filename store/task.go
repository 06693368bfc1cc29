package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/glossa-dev/glossa"
)

// Counters. A task is labeled when it has at least one annotation that was
// not cancelled (Label Studio's rule with the default overlap of one);
// tasks.total_annotations, projects.annotation_count and
// projects.annotated_task_count count only such annotations too, as Label
// Studio's total_annotations and total_annotations_number do. So
// is_labeled = (total_annotations > 0) always. Every write that changes a
// task's annotations or a project's tasks updates them in its own
// transaction.

const taskColumns = "id, org_id, project_id, data, meta, is_labeled, total_annotations, total_predictions, created_at, updated_at"

func scanTask(s interface{ Scan(...any) error }) (*glossa.Task, error) {
	var t glossa.Task
	var data, meta []byte
	if err := s.Scan(&t.ID, &t.OrgID, &t.ProjectID, &data, &meta, &t.IsLabeled, &t.TotalAnnotations, &t.TotalPredictions,
		timeScan{&t.CreatedAt}, timeScan{&t.UpdatedAt}); err != nil {
		return nil, err
	}
	t.Data = data
	if len(meta) > 0 {
		t.Meta = meta
	}
	return &t, nil
}

// FindTaskByID returns a task of orgID, without its annotations.
func (db *DB) FindTaskByID(ctx context.Context, orgID, id int64) (*glossa.Task, error) {
	t, err := scanTask(db.reader().queryRow(ctx, "SELECT "+taskColumns+" FROM tasks WHERE org_id = ? AND id = ?", orgID, id))
	return t, dbError("store.FindTaskByID", notFoundIfNoRows(err, "Task"))
}

// FindTasks returns one page of a project's tasks and how many tasks match
// the filter. The total comes from the project's counters, never from a
// COUNT over the tasks; the page is a range scan of the index on
// (project_id, id) or (project_id, is_labeled, id), from the cursor when
// there is one, so its cost does not grow with the project (an Offset
// still skips rows one by one: prefer the cursor deep into a project).
func (db *DB) FindTasks(ctx context.Context, f glossa.TaskFilter) ([]glossa.Task, int64, error) {
	const op = "store.FindTasks"
	r := db.reader()
	var count, labeled int64
	err := r.queryRow(ctx, "SELECT task_count, annotated_task_count FROM projects WHERE org_id = ? AND id = ?",
		f.OrgID, f.ProjectID).Scan(&count, &labeled)
	if err != nil {
		return nil, 0, dbError(op, notFoundIfNoRows(err, "Project"))
	}
	total := count
	if f.Labeled != nil {
		if *f.Labeled {
			total = labeled
		} else {
			total = count - labeled
		}
	}
	hidden, hiddenArgs := visibilityCondition(f.Visibility)
	if hidden != "" {
		// Subtract the tasks the person may not see: a count over their
		// links alone (a task has one link at most), by the index on
		// (storage_id, folder), not over the project.
		q := "SELECT COUNT(*) FROM storage_links l JOIN tasks t ON t.id = l.task_id WHERE l.org_id = ? AND (" + hidden + ")"
		args := append([]any{f.OrgID}, hiddenArgs...)
		if f.Labeled != nil {
			q, args = q+" AND t.is_labeled = ?", append(args, *f.Labeled)
		}
		var n int64
		if err := r.queryRow(ctx, q, args...).Scan(&n); err != nil {
			return nil, 0, dbError(op, err)
		}
		total -= n
	}
	q, args := db.taskPageQuery(f)
	rows, err := r.query(ctx, q, args...)
	if err != nil {
		return nil, 0, dbError(op, err)
	}
	defer rows.Close()
	ts := []glossa.Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, 0, dbError(op, err)
		}
		ts = append(ts, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, dbError(op, err)
	}
	return ts, total, nil
}

// taskPageQuery returns FindTasks' query for one page. It orders by
// (project_id, id), and on PostgreSQL it names the project as
// project_id = ANY(array of one ID) rather than project_id = ID: see
// projectMatch for why.
func (db *DB) taskPageQuery(f glossa.TaskFilter) (string, []any) {
	match, p := db.projectMatch(f.ProjectID)
	q := "SELECT " + taskColumns + " FROM tasks WHERE " + match + " AND org_id = ?"
	args := []any{p, f.OrgID}
	if f.Labeled != nil {
		q, args = q+" AND is_labeled = ?", append(args, *f.Labeled)
	}
	if hidden, hiddenArgs := visibilityCondition(f.Visibility); hidden != "" {
		q = q + " AND NOT EXISTS (SELECT 1 FROM storage_links l WHERE l.task_id = tasks.id AND (" + hidden + "))"
		args = append(args, hiddenArgs...)
	}
	order := " ORDER BY project_id DESC, id DESC"
	if f.Order == glossa.OldestFirst {
		order = " ORDER BY project_id, id"
	}
	if f.Cursor > 0 {
		if f.Order == glossa.OldestFirst {
			q, args = q+" AND id > ?", append(args, f.Cursor)
		} else {
			q, args = q+" AND id < ?", append(args, f.Cursor)
		}
	}
	return q + order + " LIMIT ? OFFSET ?", append(args, pageLimit(f.Limit), max(f.Offset, 0))
}

// visibilityCondition returns the condition on a storage link (alias l)
// that hides its task from the person v describes: the link is to one of
// v.Storages and its folder is not one v.Readable lists for it. "" when v
// hides nothing.
func visibilityCondition(v *glossa.TaskVisibility) (string, []any) {
	if v == nil || len(v.Storages) == 0 {
		return "", nil
	}
	var conds []string
	var args []any
	for _, id := range v.Storages {
		readable := v.Readable[id]
		if len(readable) == 0 {
			conds, args = append(conds, "l.storage_id = ?"), append(args, id)
			continue
		}
		conds = append(conds, "(l.storage_id = ? AND l.folder NOT IN ("+strings.TrimSuffix(strings.Repeat("?,", len(readable)), ",")+"))")
		args = append(args, id)
		for _, f := range readable {
			args = append(args, f)
		}
	}
	return strings.Join(conds, " OR "), args
}

// DeleteTask deletes a task of orgID with its annotations and predictions
// and takes it out of its project's counters, in one transaction; the
// exported objects of its annotations go as DeleteAnnotation says. The
// task is locked first, so that an annotation being added meanwhile
// either waits or is seen.
func (db *DB) DeleteTask(ctx context.Context, orgID, id int64) error {
	actor := actorOf(ctx, orgID)
	return db.inTx(ctx, "store.DeleteTask", func(tx conn) error {
		now := db.now()
		projectID, _, err := tx.lockTask(ctx, orgID, id, db.timeValue(now))
		if err != nil {
			return err
		}
		targets, err := tx.deletingTargets(ctx, orgID, projectID)
		if err != nil {
			return err
		}
		if err := tx.enqueueExportDeletions(ctx, targets, actor, now, "a.task_id = ?", id); err != nil {
			return err
		}
		var total int64
		var isLabeled bool
		err = tx.queryRow(ctx, "DELETE FROM tasks WHERE org_id = ? AND id = ? RETURNING total_annotations, is_labeled",
			orgID, id).Scan(&total, &isLabeled)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE projects SET task_count = task_count - 1,
			annotated_task_count = annotated_task_count - ?, annotation_count = annotation_count - ?
			WHERE id = ?`, b2i(isLabeled), total, projectID)
		return err
	})
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// importBatch is how many rows one INSERT of an import carries. At 10
// parameters a row that is 5,000 parameters: far below SQLite's limit
// (32,766) and PostgreSQL's (65,535), and large enough that the round
// trips stop mattering.
const importBatch = 500

// taskInsertPG inserts a batch of tasks on PostgreSQL from one array per
// varying column (an empty meta is NULL) instead of nine parameters a row:
// the driver encodes and PostgreSQL binds five arrays rather than 4,500
// parameters, and an import of 100,000 tasks takes 1.3 s instead of 1.8 s
// (BenchmarkImportTasks100k). The rows are inserted in the order of the
// arrays (WITH ORDINALITY, and ORDER BY in the SELECT, which runs below
// the identity's nextval), so the sorted IDs line up with them as they do
// for a VALUES list (see flush).
const taskInsertPG = `INSERT INTO tasks (org_id, project_id, data, meta, is_labeled, total_annotations, total_predictions, created_at, updated_at)
	SELECT ?, ?, t.data::json, NULLIF(t.meta, '')::json, t.labeled, t.annotations, t.predictions, ?, ?
	FROM unnest(?::text[], ?::text[], ?::boolean[], ?::integer[], ?::integer[]) WITH ORDINALITY
		AS t (data, meta, labeled, annotations, predictions, n)
	ORDER BY t.n
	RETURNING id`

const (
	taskInsert = "INSERT INTO tasks (org_id, project_id, data, meta, is_labeled, total_annotations, total_predictions, created_at, updated_at) VALUES "
	taskCols   = 9
	annInsert  = "INSERT INTO annotations (org_id, project_id, task_id, result, completed_by, was_cancelled, ground_truth, lead_time, created_at, updated_at) VALUES "
	annCols    = 10
	predInsert = "INSERT INTO predictions (org_id, project_id, task_id, model_version, score, result, created_at) VALUES "
	predCols   = 7
)

// importer holds one batch of an import: the parameters of its task rows,
// and the annotations and predictions that wait for their tasks' IDs.
type importer struct {
	tx                           conn
	orgID, projectID, importedBy int64
	now                          any
	userChecked                  bool
	wantIDs                      bool

	n        int   // tasks in the batch
	taskArgs []any // n*taskCols parameters (SQLite)
	cols     taskColumnArrays
	anns     []pendingChild
	preds    []pendingChild
	ids      []int64
	sqlCache map[string]string

	res                  glossa.ImportResult
	labeled, annotations int64 // for the project's counters
}

// taskColumnArrays are the varying columns of a batch's tasks, for
// taskInsertPG.
type taskColumnArrays struct {
	data, meta               []string
	labeled                  []bool
	annotations, predictions []int64
}

func (c *taskColumnArrays) reset() {
	clear(c.data)
	clear(c.meta)
	c.data, c.meta, c.labeled = c.data[:0], c.meta[:0], c.labeled[:0]
	c.annotations, c.predictions = c.annotations[:0], c.predictions[:0]
}

// pendingChild is an annotation or prediction row without its task ID:
// task is the task's index in the batch, args its other parameters.
type pendingChild struct {
	task int
	args []any
}

// ImportTasks stores the tasks of the sequence, with their annotations
// (authored by importedBy, who must be a member of orgID) and predictions,
// in one transaction: any error, from the sequence (returned as it is) or
// from the database, rolls everything back. Tasks go in batches of
// importBatch rows per INSERT; a batch is all the import holds in memory,
// besides the IDs when wantIDs is set.
//
// The sequence is read while the write transaction is open: on SQLite it
// must not write through this DB meanwhile, or it waits for itself.
func (db *DB) ImportTasks(ctx context.Context, orgID, projectID, importedBy int64, tasks iter.Seq2[*glossa.TaskImport, error], wantIDs bool) (*glossa.ImportResult, error) {
	const op = "store.ImportTasks"
	var res *glossa.ImportResult
	err := db.inTx(ctx, op, func(tx conn) error {
		ok, err := tx.exists(ctx, "SELECT 1 FROM projects WHERE org_id = ? AND id = ?", orgID, projectID)
		if err != nil {
			return err
		}
		if !ok {
			return glossa.NotFound("Project")
		}
		im := &importer{tx: tx, orgID: orgID, projectID: projectID, importedBy: importedBy,
			now: db.timeValue(db.now()), wantIDs: wantIDs, sqlCache: map[string]string{},
			taskArgs: make([]any, 0, importBatch*taskCols)}
		if tasks != nil {
			i := 0
			for t, err := range tasks {
				if err != nil {
					return err
				}
				i++
				if err := im.add(ctx, i, t); err != nil {
					return err
				}
				if im.n == importBatch {
					if err := im.flush(ctx); err != nil {
						return err
					}
				}
			}
		}
		if err := im.flush(ctx); err != nil {
			return err
		}
		if im.res.TaskCount > 0 {
			if err := tx.execOne(ctx, glossa.NotFound("Project"), `UPDATE projects SET task_count = task_count + ?,
				annotated_task_count = annotated_task_count + ?, annotation_count = annotation_count + ?
				WHERE org_id = ? AND id = ?`,
				im.res.TaskCount, im.labeled, im.annotations, orgID, projectID); err != nil {
				return err
			}
		}
		res = &im.res
		return nil
	})
	if err != nil {
		if isForeignKey(err) {
			// The project was deleted while the import ran.
			return nil, glossa.NotFound("Project")
		}
		return nil, err
	}
	return res, nil
}

// checkJSON checks that raw is valid UTF-8 JSON, which both engines store.
func checkJSON(raw []byte) bool { return utf8.Valid(raw) && json.Valid(raw) }

// add validates task number i (counting from 1) and queues it.
func (im *importer) add(ctx context.Context, i int, t *glossa.TaskImport) error {
	if t == nil {
		return glossa.Errorf(glossa.EINVALID, "Task %d is empty.", i)
	}
	data := bytes.TrimSpace(t.Data)
	if len(data) == 0 || data[0] != '{' || !checkJSON(data) {
		return glossa.Errorf(glossa.EINVALID, "Task %d: data must be a JSON object.", i)
	}
	if len(bytes.TrimSpace(t.Meta)) > 0 && !checkJSON(t.Meta) {
		return glossa.Errorf(glossa.EINVALID, "Task %d: meta is not valid JSON.", i)
	}
	if len(t.Annotations) > 0 && !im.userChecked {
		if err := im.tx.checkUser(ctx, im.orgID, im.importedBy); err != nil {
			return err
		}
		im.userChecked = true
	}
	labeled := int64(0)
	for j := range t.Annotations {
		a := &t.Annotations[j]
		result, ok := resultJSON(a.Result)
		if !ok {
			return glossa.Errorf(glossa.EINVALID, "Task %d, annotation %d: result is not valid JSON.", i, j+1)
		}
		created := im.now
		if !a.CreatedAt.IsZero() {
			created = im.tx.db.timeValue(a.CreatedAt)
		}
		updated := created
		if !a.UpdatedAt.IsZero() {
			updated = im.tx.db.timeValue(a.UpdatedAt)
		}
		im.anns = append(im.anns, pendingChild{task: im.n, args: []any{
			result, im.importedBy, a.WasCancelled, a.GroundTruth, a.LeadTime, created, updated}})
		if !a.WasCancelled {
			labeled++
		}
	}
	for j := range t.Predictions {
		p := &t.Predictions[j]
		result, ok := resultJSON(p.Result)
		if !ok {
			return glossa.Errorf(glossa.EINVALID, "Task %d, prediction %d: result is not valid JSON.", i, j+1)
		}
		created := im.now
		if !p.CreatedAt.IsZero() {
			created = im.tx.db.timeValue(p.CreatedAt)
		}
		var score any
		if p.Score != nil {
			score = *p.Score
		}
		im.preds = append(im.preds, pendingChild{task: im.n, args: []any{p.ModelVersion, score, result, created}})
	}
	// string(...) copies: the batch must not alias the caller's buffers,
	// which a streaming decoder may reuse.
	if im.tx.db.dialect == Postgres {
		c := &im.cols
		c.data = append(c.data, string(data))
		c.meta = append(c.meta, string(bytes.TrimSpace(t.Meta)))
		c.labeled = append(c.labeled, labeled > 0)
		c.annotations = append(c.annotations, labeled)
		c.predictions = append(c.predictions, int64(len(t.Predictions)))
	} else {
		im.taskArgs = append(im.taskArgs, im.orgID, im.projectID, string(data), jsonValue(bytes.TrimSpace(t.Meta)),
			labeled > 0, labeled, len(t.Predictions), im.now, im.now)
	}
	im.n++
	im.res.TaskCount++
	im.res.AnnotationCount += len(t.Annotations)
	im.res.PredictionCount += len(t.Predictions)
	im.annotations += labeled
	im.labeled += b2i(labeled > 0)
	return nil
}

// resultJSON returns the text of an annotation or prediction result; none
// is Label Studio's empty result, [].
func resultJSON(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "[]", true
	}
	return string(raw), checkJSON(raw)
}

// insertSQL returns prefix followed by rows rows of cols placeholders,
// RETURNING id if returning; the statement for a full batch is built once.
func (im *importer) insertSQL(prefix string, rows, cols int, returning bool) string {
	key := fmt.Sprintf("%s%d", prefix, rows)
	if q, ok := im.sqlCache[key]; ok {
		return q
	}
	q := prefix + placeholders(rows, cols)
	if returning {
		q += " RETURNING id"
	}
	im.sqlCache[key] = q
	return q
}

// flush inserts the batch's tasks, then their annotations and predictions.
func (im *importer) flush(ctx context.Context) error {
	if im.n == 0 {
		return nil
	}
	var rows *sql.Rows
	var err error
	if im.tx.db.dialect == Postgres {
		c := &im.cols
		rows, err = im.tx.query(ctx, taskInsertPG, im.orgID, im.projectID, im.now, im.now,
			c.data, c.meta, c.labeled, c.annotations, c.predictions)
	} else {
		rows, err = im.tx.query(ctx, im.insertSQL(taskInsert, im.n, taskCols, true), im.taskArgs...)
	}
	if err != nil {
		return err
	}
	ids := im.ids[:0]
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ids) != im.n {
		return fmt.Errorf("insert of %d tasks returned %d IDs", im.n, len(ids))
	}
	// RETURNING promises no order, but one INSERT ... VALUES (or SELECT
	// of ordered rows, taskInsertPG) assigns IDs in the order of its
	// rows: SQLite gives each new row max(rowid)+1 as it inserts the rows
	// in order (AUTOINCREMENT never reuses), and
	// PostgreSQL's identity column calls nextval for each row in order,
	// and a sequence only grows, even when other sessions draw from it at
	// the same time (theirs then fall between ours, never out of order).
	// So the sorted IDs line up with the rows.
	slices.Sort(ids)
	im.ids = ids
	if im.wantIDs {
		im.res.TaskIDs = append(im.res.TaskIDs, ids...)
	}
	if err := im.insertChildren(ctx, annInsert, annCols, im.anns, ids); err != nil {
		return err
	}
	if err := im.insertChildren(ctx, predInsert, predCols, im.preds, ids); err != nil {
		return err
	}
	clear(im.taskArgs)
	im.taskArgs = im.taskArgs[:0]
	im.cols.reset()
	clear(im.anns)
	im.anns = im.anns[:0]
	clear(im.preds)
	im.preds = im.preds[:0]
	im.n = 0
	return nil
}

// insertChildren inserts annotation or prediction rows, importBatch at a
// time: (org_id, project_id, task_id) followed by the row's own arguments.
func (im *importer) insertChildren(ctx context.Context, prefix string, cols int, children []pendingChild, ids []int64) error {
	for len(children) > 0 {
		chunk := children[:min(len(children), importBatch)]
		children = children[len(chunk):]
		args := make([]any, 0, len(chunk)*cols)
		for _, c := range chunk {
			args = append(args, im.orgID, im.projectID, ids[c.task])
			args = append(args, c.args...)
		}
		if _, err := im.tx.exec(ctx, im.insertSQL(prefix, len(chunk), cols, false), args...); err != nil {
			return err
		}
	}
	return nil
}

// exportChunk is how many tasks ExportTasks reads per query.
const exportChunk = 1000

// ExportTasks calls yield for each task of a project of orgID, in ID order,
// with its annotations and predictions. It reads exportChunk tasks by ID
// (keyset, not OFFSET), then their annotations and their predictions in one
// query each, and holds no connection or lock while yield runs, so a slow
// client slows only itself. An error from yield ends the export and is
// returned as it is.
func (db *DB) ExportTasks(ctx context.Context, f glossa.ExportFilter, yield func(*glossa.Task) error) error {
	const op = "store.ExportTasks"
	r := db.reader()
	ok, err := r.exists(ctx, "SELECT 1 FROM projects WHERE org_id = ? AND id = ?", f.OrgID, f.ProjectID)
	if err != nil {
		return dbError(op, err)
	}
	if !ok {
		return glossa.NotFound("Project")
	}
	match, p := db.projectMatch(f.ProjectID)
	base := "SELECT " + taskColumns + " FROM tasks WHERE " + match + " AND org_id = ?"
	if f.OnlyAnnotated {
		base += " AND is_labeled = TRUE"
	}
	hidden, hiddenArgs := visibilityCondition(f.Visibility)
	if hidden != "" {
		base += " AND NOT EXISTS (SELECT 1 FROM storage_links l WHERE l.task_id = tasks.id AND (" + hidden + "))"
	}
	var ids []int64
	if f.IDs != nil {
		ids = slices.Clone(f.IDs)
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	after := int64(0)
	for {
		var q string
		args := append([]any{p, f.OrgID}, hiddenArgs...)
		if f.IDs != nil {
			if len(ids) == 0 {
				return nil
			}
			chunk := ids[:min(len(ids), exportChunk)]
			ids = ids[len(chunk):]
			q = base + " AND id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",") + ") ORDER BY id"
			for _, id := range chunk {
				args = append(args, id)
			}
		} else {
			q = base + " AND id > ? ORDER BY project_id, id LIMIT ?"
			args = append(args, after, exportChunk)
		}
		tasks, err := db.exportChunk(ctx, q, args)
		if err != nil {
			return dbError(op, err)
		}
		if f.IDs == nil && len(tasks) == 0 {
			return nil
		}
		for _, t := range tasks {
			if err := yield(t); err != nil {
				return err
			}
		}
		if len(tasks) > 0 {
			after = tasks[len(tasks)-1].ID
		}
		if err := ctx.Err(); err != nil {
			return dbError(op, err)
		}
	}
}

// exportChunk reads the tasks that q selects, then their annotations and
// predictions.
func (db *DB) exportChunk(ctx context.Context, q string, args []any) ([]*glossa.Task, error) {
	r := db.reader()
	rows, err := r.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var tasks []*glossa.Task
	byID := map[int64]*glossa.Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		tasks = append(tasks, t)
		byID[t.ID] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(tasks) == 0 {
		return tasks, err
	}
	in := make([]any, len(tasks))
	for i, t := range tasks {
		in[i] = t.ID
	}
	list := "(" + strings.TrimSuffix(strings.Repeat("?,", len(tasks)), ",") + ")"
	rows, err = r.query(ctx, "SELECT "+annotationColumns+" FROM annotations WHERE task_id IN "+list+" ORDER BY task_id, id", in...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		a, err := scanAnnotation(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		if t := byID[a.TaskID]; t != nil {
			t.Annotations = append(t.Annotations, *a)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = r.query(ctx, "SELECT id, task_id, model_version, score, result, created_at FROM predictions WHERE task_id IN "+list+" ORDER BY task_id, id", in...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p glossa.Prediction
		var score *float64
		var result []byte
		if err := rows.Scan(&p.ID, &p.TaskID, &p.ModelVersion, &score, &result, timeScan{&p.CreatedAt}); err != nil {
			return nil, err
		}
		p.Score, p.Result = score, result
		if t := byID[p.TaskID]; t != nil {
			t.Predictions = append(t.Predictions, p)
		}
	}
	return tasks, rows.Err()
}
