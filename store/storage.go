package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
)

var _ glossa.StorageService = (*DB)(nil)

const storageColumns = "id, org_id, project_id, type, auth_mode, settings, sealed_secret, status, last_sync, last_sync_count, last_sync_job, last_error, created_at, updated_at"

// storageSettings is what the settings column holds: every field of
// glossa.Storage that is neither a column nor sync state. It is written by
// marshalling a glossa.Storage whose other fields are zeroed, so a field
// added to glossa.Storage is kept without a migration.
func storageSettings(s *glossa.Storage) (string, error) {
	c := *s
	c.ID, c.OrgID, c.ProjectID, c.Type, c.AuthMode, c.SealedSecret = 0, 0, 0, "", "", nil
	c.Status, c.LastSync, c.LastSyncCount, c.LastSyncJob, c.LastError = "", nil, 0, nil, ""
	c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	doc, err := json.Marshal(&c)
	return string(doc), err
}

func scanStorage(sc interface{ Scan(...any) error }) (*glossa.Storage, error) {
	var s glossa.Storage
	var settings string
	var typ, mode, status string
	var sealed []byte
	var lastJob sql.NullInt64
	var lastSync *time.Time
	if err := sc.Scan(&s.ID, &s.OrgID, &s.ProjectID, &typ, &mode, &settings, &sealed, &status,
		nullTimeScan{&lastSync}, &s.LastSyncCount, &lastJob, &s.LastError, timeScan{&s.CreatedAt}, timeScan{&s.UpdatedAt}); err != nil {
		return nil, err
	}
	id, org, project, created, updated, lastCount, lastErr := s.ID, s.OrgID, s.ProjectID, s.CreatedAt, s.UpdatedAt, s.LastSyncCount, s.LastError
	if err := json.Unmarshal([]byte(settings), &s); err != nil {
		return nil, err
	}
	s.ID, s.OrgID, s.ProjectID, s.CreatedAt, s.UpdatedAt, s.LastSyncCount, s.LastError = id, org, project, created, updated, lastCount, lastErr
	s.Type, s.AuthMode, s.Status, s.LastSync = glossa.StorageType(typ), glossa.AuthMode(mode), glossa.SyncStatus(status), lastSync
	if len(sealed) > 0 {
		s.SealedSecret = sealed
	}
	if lastJob.Valid {
		s.LastSyncJob = &lastJob.Int64
	}
	return &s, nil
}

// bytesValue is the argument for a nullable binary column.
func bytesValue(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateStorage stores a new storage of s.OrgID's project s.ProjectID and
// fills in its ID, state and times.
func (db *DB) CreateStorage(ctx context.Context, s *glossa.Storage) error {
	const op = "store.CreateStorage"
	if s.Type != glossa.StorageSource && s.Type != glossa.StorageTarget {
		return glossa.Errorf(glossa.EINVALID, "A storage is a source or a target.")
	}
	settings, err := storageSettings(s)
	if err != nil {
		return dbError(op, err)
	}
	now := db.now()
	ns := *s
	ns.Status, ns.CreatedAt, ns.UpdatedAt = glossa.SyncInitialized, now, now
	err = db.inTx(ctx, op, func(tx conn) error {
		ok, err := tx.exists(ctx, "SELECT 1 FROM projects WHERE org_id = ? AND id = ?", ns.OrgID, ns.ProjectID)
		if err != nil {
			return err
		}
		if !ok {
			return glossa.NotFound("Project")
		}
		return tx.queryRow(ctx, `INSERT INTO storages (org_id, project_id, type, auth_mode, settings, sealed_secret, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			ns.OrgID, ns.ProjectID, string(ns.Type), string(ns.AuthMode), settings, bytesValue(ns.SealedSecret),
			string(ns.Status), db.timeValue(now), db.timeValue(now)).Scan(&ns.ID)
	})
	if err != nil {
		return err
	}
	*s = ns
	return nil
}

// FindStorageByID returns a storage of orgID.
func (db *DB) FindStorageByID(ctx context.Context, orgID, id int64) (*glossa.Storage, error) {
	s, err := scanStorage(db.reader().queryRow(ctx, "SELECT "+storageColumns+" FROM storages WHERE org_id = ? AND id = ?", orgID, id))
	return s, dbError("store.FindStorageByID", notFoundIfNoRows(err, "Storage"))
}

// FindStorages lists the storages of an organization that match f, oldest first.
func (db *DB) FindStorages(ctx context.Context, f glossa.StorageFilter) ([]glossa.Storage, error) {
	const op = "store.FindStorages"
	q := "SELECT " + storageColumns + " FROM storages WHERE org_id = ?"
	args := []any{f.OrgID}
	if f.ProjectID != 0 {
		q, args = q+" AND project_id = ?", append(args, f.ProjectID)
	}
	if f.Type != "" {
		q, args = q+" AND type = ?", append(args, string(f.Type))
	}
	if f.AuthMode != "" {
		q, args = q+" AND auth_mode = ?", append(args, string(f.AuthMode))
	}
	rows, err := db.reader().query(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	list := []glossa.Storage{}
	for rows.Next() {
		s, err := scanStorage(rows)
		if err != nil {
			return nil, dbError(op, err)
		}
		list = append(list, *s)
	}
	return list, dbError(op, rows.Err())
}

// UpdateStorage replaces the settings, credential mode and sealed secret
// of s; its project, type and sync state stay. With can_delete_objects
// off, the deletions still waiting are dropped: that is how an Owner stops
// deletions the bucket keeps refusing, and Glossa may no longer delete there.
func (db *DB) UpdateStorage(ctx context.Context, s *glossa.Storage) error {
	const op = "store.UpdateStorage"
	settings, err := storageSettings(s)
	if err != nil {
		return dbError(op, err)
	}
	now := db.now()
	var updated *glossa.Storage
	err = db.inTx(ctx, op, func(tx conn) error {
		if err := tx.execOne(ctx, glossa.NotFound("Storage"),
			"UPDATE storages SET auth_mode = ?, settings = ?, sealed_secret = ?, updated_at = ? WHERE org_id = ? AND id = ?",
			string(s.AuthMode), settings, bytesValue(s.SealedSecret), db.timeValue(now), s.OrgID, s.ID); err != nil {
			return err
		}
		if !s.CanDeleteObjects {
			if _, err := tx.exec(ctx, "DELETE FROM export_deletions WHERE storage_id = ? AND done = FALSE", s.ID); err != nil {
				return err
			}
		}
		updated, err = scanStorage(tx.queryRow(ctx, "SELECT "+storageColumns+" FROM storages WHERE id = ?", s.ID))
		return err
	})
	if err != nil {
		return err
	}
	*s = *updated
	return nil
}

// DeleteStorage deletes a storage of orgID with its jobs, links and
// outbox (by cascade); the tasks it created stay, and so do the objects it
// wrote: Label Studio does not empty a bucket when its storage goes either.
func (db *DB) DeleteStorage(ctx context.Context, orgID, id int64) error {
	return dbError("store.DeleteStorage", db.writer().execOne(ctx, glossa.NotFound("Storage"),
		"DELETE FROM storages WHERE org_id = ? AND id = ?", orgID, id))
}

const jobColumns = "id, org_id, storage_id, type, status, claim, requested_by, listed, created, skipped, failed, cancel_requested, error, created_at, started_at, finished_at, heartbeat_at"

func scanJob(sc interface{ Scan(...any) error }) (*glossa.StorageJob, error) {
	var j glossa.StorageJob
	var typ, status string
	if err := sc.Scan(&j.ID, &j.OrgID, &j.StorageID, &typ, &status, &j.Claim, &j.RequestedBy, &j.Listed, &j.Created, &j.Skipped, &j.Failed,
		&j.CancelRequested, &j.Error, timeScan{&j.CreatedAt}, nullTimeScan{&j.StartedAt}, nullTimeScan{&j.FinishedAt},
		nullTimeScan{&j.HeartbeatAt}); err != nil {
		return nil, err
	}
	j.Type, j.Status = glossa.StorageType(typ), glossa.SyncStatus(status)
	return &j, nil
}

// CreateStorageJob queues a sync of storage j.StorageID of j.OrgID and
// marks the storage queued. A storage whose sync is queued or running is
// ECONFLICT (a unique index keeps it so across processes).
func (db *DB) CreateStorageJob(ctx context.Context, j *glossa.StorageJob) error {
	const op = "store.CreateStorageJob"
	now := db.now()
	nj := *j
	nj.Status, nj.CreatedAt = glossa.SyncQueued, now
	nj.Listed, nj.Created, nj.Skipped, nj.Failed, nj.CancelRequested, nj.Error = 0, 0, 0, 0, false, ""
	nj.StartedAt, nj.FinishedAt, nj.HeartbeatAt = nil, nil, nil
	err := db.inTx(ctx, op, func(tx conn) error {
		var typ string
		err := tx.queryRow(ctx, "SELECT type FROM storages WHERE org_id = ? AND id = ?", nj.OrgID, nj.StorageID).Scan(&typ)
		if err != nil {
			return notFoundIfNoRows(err, "Storage")
		}
		nj.Type = glossa.StorageType(typ)
		err = tx.queryRow(ctx, `INSERT INTO storage_jobs (org_id, storage_id, type, status, requested_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			nj.OrgID, nj.StorageID, typ, string(nj.Status), nj.RequestedBy, db.timeValue(now)).Scan(&nj.ID)
		if isUnique(err) {
			return glossa.Errorf(glossa.ECONFLICT, "A sync of this storage is already queued or running; wait for it to finish or cancel it.")
		}
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, "UPDATE storages SET status = ?, last_sync_job = ?, last_error = '' WHERE id = ?",
			string(glossa.SyncQueued), nj.ID, nj.StorageID)
		return err
	})
	if err != nil {
		return err
	}
	*j = nj
	return nil
}

// FindStorageJob returns a job of orgID.
func (db *DB) FindStorageJob(ctx context.Context, orgID, id int64) (*glossa.StorageJob, error) {
	j, err := scanJob(db.reader().queryRow(ctx, "SELECT "+jobColumns+" FROM storage_jobs WHERE org_id = ? AND id = ?", orgID, id))
	return j, dbError("store.FindStorageJob", notFoundIfNoRows(err, "Job"))
}

// skipLocked is what a claim's inner SELECT ends with: on PostgreSQL,
// concurrent claimers skip each other's rows instead of queuing on them
// or taking the same one; SQLite's single writer serializes claims anyway.
func (db *DB) skipLocked() string {
	if db.dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// ClaimStorageJob takes the oldest queued job, or a running one whose
// heartbeat is older than staleBefore, marks it running under a new claim
// and returns it; nil when there is none.
func (db *DB) ClaimStorageJob(ctx context.Context, now, staleBefore time.Time) (*glossa.StorageJob, error) {
	const op = "store.ClaimStorageJob"
	var j *glossa.StorageJob
	err := db.inTx(ctx, op, func(tx conn) error {
		var err error
		j, err = scanJob(tx.queryRow(ctx, `UPDATE storage_jobs SET status = ?, claim = claim + 1,
				started_at = COALESCE(started_at, ?), heartbeat_at = ?
			WHERE id = (SELECT id FROM storage_jobs
				WHERE status = ? OR (status = ? AND (heartbeat_at IS NULL OR heartbeat_at < ?))
				ORDER BY id LIMIT 1`+db.skipLocked()+`)
			RETURNING `+jobColumns,
			string(glossa.SyncInProgress), db.timeValue(now), db.timeValue(now),
			string(glossa.SyncQueued), string(glossa.SyncInProgress), db.timeValue(staleBefore)))
		if errors.Is(err, sql.ErrNoRows) {
			j = nil
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, "UPDATE storages SET status = ? WHERE id = ? AND last_sync_job = ?",
			string(glossa.SyncInProgress), j.StorageID, j.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// errTakenOver is the answer to the runner of a job that another process
// has claimed since (its heartbeat had gone stale): its reports and its
// finish change nothing.
var errTakenOver = glossa.Errorf(glossa.ECONFLICT, "Another worker has taken this sync over, because this one stopped reporting progress; this one must stop.")

// claimLost says why a report or finish of job id under a claim matched
// no row: there is no such job, or another claim holds it.
func (c conn) claimLost(ctx context.Context, id int64) error {
	ok, err := c.exists(ctx, "SELECT 1 FROM storage_jobs WHERE id = ?", id)
	if err != nil {
		return err
	}
	if !ok {
		return glossa.NotFound("Job")
	}
	return errTakenOver
}

// ReportStorageJob records a running job's progress and heartbeat for the
// runner holding claim and reports whether cancellation was requested;
// ECONFLICT if the job has been claimed again since.
func (db *DB) ReportStorageJob(ctx context.Context, id, claim int64, p glossa.JobProgress, now time.Time) (bool, error) {
	var cancel bool
	w := db.writer()
	err := w.queryRow(ctx, `UPDATE storage_jobs SET listed = ?, created = ?, skipped = ?, failed = ?, heartbeat_at = ?
		WHERE id = ? AND claim = ? RETURNING cancel_requested`,
		p.Listed, p.Created, p.Skipped, p.Failed, db.timeValue(now), id, claim).Scan(&cancel)
	if errors.Is(err, sql.ErrNoRows) {
		err = w.claimLost(ctx, id)
	}
	return cancel, dbError("store.ReportStorageJob", err)
}

// FinishStorageJob ends a job for the runner holding claim (ECONFLICT if
// it has been claimed again since) and records the outcome on its storage,
// unless a newer job of the storage has started since.
func (db *DB) FinishStorageJob(ctx context.Context, id, claim int64, status glossa.SyncStatus, p glossa.JobProgress, errMsg string, now time.Time) error {
	const op = "store.FinishStorageJob"
	if !status.Done() {
		return glossa.Errorf(glossa.EINVALID, "A job ends completed, failed or canceled, not %s.", status)
	}
	return db.inTx(ctx, op, func(tx conn) error {
		var storageID int64
		err := tx.queryRow(ctx, `UPDATE storage_jobs SET status = ?, listed = ?, created = ?, skipped = ?, failed = ?, error = ?,
			finished_at = ?, heartbeat_at = ? WHERE id = ? AND claim = ? RETURNING storage_id`,
			string(status), p.Listed, p.Created, p.Skipped, p.Failed, errMsg, db.timeValue(now), db.timeValue(now), id, claim).Scan(&storageID)
		if errors.Is(err, sql.ErrNoRows) {
			return tx.claimLost(ctx, id)
		}
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE storages SET status = ?, last_sync = ?, last_sync_count = ?, last_error = ?
			WHERE id = ? AND last_sync_job = ?`,
			string(status), db.timeValue(now), p.Created, errMsg, storageID, id)
		return err
	})
}

// CancelStorageJob cancels a queued job at once and asks a running one to
// stop at its next report; a finished job is returned as it is.
func (db *DB) CancelStorageJob(ctx context.Context, orgID, id int64) (*glossa.StorageJob, error) {
	const op = "store.CancelStorageJob"
	now := db.timeValue(db.now())
	var j *glossa.StorageJob
	err := db.inTx(ctx, op, func(tx conn) error {
		var err error
		j, err = scanJob(tx.queryRow(ctx, "SELECT "+jobColumns+" FROM storage_jobs WHERE org_id = ? AND id = ?", orgID, id))
		if err != nil {
			return notFoundIfNoRows(err, "Job")
		}
		switch j.Status {
		case glossa.SyncQueued:
			if _, err := tx.exec(ctx, "UPDATE storage_jobs SET status = ?, cancel_requested = TRUE, finished_at = ? WHERE id = ?",
				string(glossa.SyncCanceled), now, id); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, "UPDATE storages SET status = ?, last_sync = ? WHERE id = ? AND last_sync_job = ?",
				string(glossa.SyncCanceled), now, j.StorageID, id); err != nil {
				return err
			}
		case glossa.SyncInProgress:
			if _, err := tx.exec(ctx, "UPDATE storage_jobs SET cancel_requested = TRUE WHERE id = ?", id); err != nil {
				return err
			}
		default:
			return nil
		}
		j, err = scanJob(tx.queryRow(ctx, "SELECT "+jobColumns+" FROM storage_jobs WHERE id = ?", id))
		return err
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// storedTask is a task of a storage object in Label Studio's import form,
// {"data": {...}, ...}; an object without "data" is the data itself, as
// Label Studio reads it.
type storedTask struct {
	Data        json.RawMessage `json:"data"`
	Meta        json.RawMessage `json:"meta"`
	Predictions []struct {
		Result       json.RawMessage `json:"result"`
		ModelVersion json.RawMessage `json:"model_version"`
		Score        *float64        `json:"score"`
	} `json:"predictions"`
}

// taskImport reads one task of a storage object. Annotations in a task
// file are not imported: a synced task has no author to give them.
func taskImport(raw json.RawMessage) (*glossa.TaskImport, error) {
	var t storedTask
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, glossa.Errorf(glossa.EINVALID, "A task of the storage is not a JSON object.")
	}
	if len(t.Data) == 0 {
		return &glossa.TaskImport{Data: raw}, nil
	}
	ti := &glossa.TaskImport{Data: t.Data, Meta: t.Meta}
	for _, p := range t.Predictions {
		mv := string(p.ModelVersion)
		var s string
		if json.Unmarshal(p.ModelVersion, &s) == nil {
			mv = s
		}
		ti.Predictions = append(ti.Predictions, glossa.Prediction{ModelVersion: mv, Score: p.Score, Result: p.Result})
	}
	return ti, nil
}

// AddStorageObjects creates the tasks of the objects that are not yet
// linked to the storage, with their links and folders, in one
// transaction, and returns how many tasks it created and how many objects
// were linked already. The storage's row is locked first, so two
// processes adding the same objects (a stale job taken over while its
// first runner still lives) run one after the other and the second
// creates nothing.
func (db *DB) AddStorageObjects(ctx context.Context, s *glossa.Storage, objs []glossa.StorageObject) (created, skipped int64, err error) {
	const op = "store.AddStorageObjects"
	if len(objs) == 0 {
		return 0, 0, nil
	}
	err = db.inTx(ctx, op, func(tx conn) error {
		created, skipped = 0, 0
		var projectID int64
		err := tx.queryRow(ctx, "UPDATE storages SET last_sync_count = last_sync_count WHERE org_id = ? AND id = ? RETURNING project_id",
			s.OrgID, s.ID).Scan(&projectID)
		if err != nil {
			return notFoundIfNoRows(err, "Storage")
		}
		linked, err := tx.linkedKeys(ctx, s.ID, objs)
		if err != nil {
			return err
		}
		im := &importer{tx: tx, orgID: s.OrgID, projectID: projectID, now: db.timeValue(db.now()), wantIDs: true,
			sqlCache: map[string]string{}, taskArgs: make([]any, 0, importBatch*taskCols)}
		var links []pendingLink
		folders := map[string]bool{}
		for _, o := range objs {
			if linked[o.Key] {
				skipped++
				continue
			}
			linked[o.Key] = true // the same key twice in one batch
			folders[o.Folder] = true
			for i, raw := range o.Tasks {
				t, err := taskImport(raw)
				if err != nil {
					return glossa.Errorf(glossa.EINVALID, "Object %q: %s", o.Key, glossa.ErrorMessage(err))
				}
				if err := im.add(ctx, len(links)+1, t); err != nil {
					return glossa.Errorf(glossa.EINVALID, "Object %q: %s", o.Key, glossa.ErrorMessage(err))
				}
				links = append(links, pendingLink{o.Key, o.Folder, i})
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
		created = int64(len(im.res.TaskIDs))
		if err := tx.insertLinks(ctx, s, links, im.res.TaskIDs); err != nil {
			return err
		}
		for f := range folders {
			if _, err := tx.exec(ctx, "INSERT INTO storage_folders (storage_id, folder) VALUES (?, ?) ON CONFLICT DO NOTHING", s.ID, f); err != nil {
				return err
			}
		}
		if created > 0 {
			_, err = tx.exec(ctx, "UPDATE projects SET task_count = task_count + ? WHERE id = ?", created, projectID)
		}
		return err
	})
	if err != nil {
		if isForeignKey(err) {
			return 0, 0, glossa.NotFound("Storage")
		}
		return 0, 0, err
	}
	return created, skipped, nil
}

// pendingLink is a link whose task is being created: the object's key
// and folder, and the task's index in the object (a task file may hold
// many).
type pendingLink struct {
	key, folder string
	idx         int
}

// insertLinks inserts the links of new tasks; ids are the tasks' IDs, in
// the order of links. On PostgreSQL they go as one statement of four
// arrays, as the tasks do (taskInsertPG); on SQLite as VALUES lists of
// importBatch rows.
func (c conn) insertLinks(ctx context.Context, s *glossa.Storage, links []pendingLink, ids []int64) error {
	if len(links) != len(ids) {
		return fmt.Errorf("%d links for %d tasks", len(links), len(ids))
	}
	if len(links) == 0 {
		return nil
	}
	if c.db.dialect == Postgres {
		keys, idxs, folders := make([]string, len(links)), make([]int64, len(links)), make([]string, len(links))
		for i, l := range links {
			keys[i], idxs[i], folders[i] = l.key, int64(l.idx), l.folder
		}
		_, err := c.exec(ctx, `INSERT INTO storage_links (storage_id, key, idx, org_id, task_id, folder)
			SELECT ?, l.key, l.idx, ?, l.task_id, l.folder FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::text[])
				AS l (key, idx, task_id, folder)`,
			s.ID, s.OrgID, keys, idxs, ids, folders)
		return err
	}
	for start := 0; start < len(links); start += importBatch {
		chunk := links[start:min(len(links), start+importBatch)]
		args := make([]any, 0, len(chunk)*6)
		for i, l := range chunk {
			args = append(args, s.ID, l.key, l.idx, s.OrgID, ids[start+i], l.folder)
		}
		if _, err := c.exec(ctx, "INSERT INTO storage_links (storage_id, key, idx, org_id, task_id, folder) VALUES "+
			placeholders(len(chunk), 6), args...); err != nil {
			return err
		}
	}
	return nil
}

// linkedKeysPG is linkedKeys' query on PostgreSQL: the keys go as one
// array, each looked up on its own in the primary key by a LATERAL
// subquery with LIMIT, which the planner cannot turn into a join. With
// "key IN (...)", "key = ANY(...)" or a join, the planner, whose
// statistics lag behind a table that a sync is filling, picks a scan of
// every link of the storage, and each batch gets slower than the last: 20
// ms a batch of 500 keys at 100,000 links, against 0.7 ms this way
// (TestLinkedKeysPlan).
const linkedKeysPG = `SELECT k.key FROM unnest(?::text[]) AS k (key)
	CROSS JOIN LATERAL (SELECT 1 FROM storage_links l WHERE l.storage_id = ? AND l.key = k.key LIMIT 1) AS l`

// linkedKeys returns which of the objects' keys are linked to the
// storage: on PostgreSQL in one query (linkedKeysPG), on SQLite in
// queries of importBatch keys.
func (c conn) linkedKeys(ctx context.Context, storageID int64, objs []glossa.StorageObject) (map[string]bool, error) {
	linked := make(map[string]bool, len(objs))
	step := importBatch
	if c.db.dialect == Postgres {
		step = len(objs)
	}
	for start := 0; start < len(objs); start += step {
		chunk := objs[start:min(len(objs), start+step)]
		keys := make([]string, len(chunk))
		for i, o := range chunk {
			keys[i] = o.Key
		}
		q, args := c.db.linkedKeysQuery(storageID, keys)
		rows, err := c.query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, err
			}
			linked[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return linked, nil
}

// linkedKeysQuery is the query of linkedKeys for keys, and its arguments.
func (db *DB) linkedKeysQuery(storageID int64, keys []string) (string, []any) {
	if db.dialect == Postgres {
		return linkedKeysPG, []any{keys, storageID}
	}
	args := make([]any, 0, len(keys)+1)
	args = append(args, storageID)
	for _, k := range keys {
		args = append(args, k)
	}
	return "SELECT DISTINCT key FROM storage_links WHERE storage_id = ? AND key IN (" +
		strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",") + ")", args
}

// FindStorageLink finds the object a task of orgID came from.
func (db *DB) FindStorageLink(ctx context.Context, orgID, taskID int64) (*glossa.StorageLink, error) {
	var l glossa.StorageLink
	err := db.reader().queryRow(ctx, "SELECT storage_id, task_id, key, folder FROM storage_links WHERE org_id = ? AND task_id = ?",
		orgID, taskID).Scan(&l.StorageID, &l.TaskID, &l.Key, &l.Folder)
	if err != nil {
		return nil, dbError("store.FindStorageLink", notFoundIfNoRows(err, "Storage link"))
	}
	return &l, nil
}

// FindStorageFolders lists the folders of a storage's objects, sorted.
func (db *DB) FindStorageFolders(ctx context.Context, orgID, storageID int64) ([]string, error) {
	const op = "store.FindStorageFolders"
	rows, err := db.reader().query(ctx, `SELECT f.folder FROM storage_folders f JOIN storages s ON s.id = f.storage_id
		WHERE s.org_id = ? AND f.storage_id = ? ORDER BY f.folder`, orgID, storageID)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	folders := []string{}
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, dbError(op, err)
		}
		folders = append(folders, f)
	}
	return folders, dbError(op, rows.Err())
}

// enqueueExportWrites queues the annotation for every target storage of
// its project, inside the transaction that changed it. An entry that a
// worker holds right now is marked rewrite, so that worker's success does
// not mark this newer version written; and it stays due no earlier than
// its lease, so two workers never write one object at once.
func (c conn) enqueueExportWrites(ctx context.Context, a *glossa.Annotation, now any) error {
	_, err := c.exec(ctx, `INSERT INTO export_writes (org_id, storage_id, annotation_id, task_id, user_id, next_at, updated_at)
		SELECT ?, id, ?, ?, ?, ?, ? FROM storages WHERE org_id = ? AND project_id = ? AND type = 'target'
		ON CONFLICT (storage_id, annotation_id) DO UPDATE SET done = FALSE, rewrite = TRUE, user_id = excluded.user_id,
			updated_at = excluded.updated_at,
			next_at = CASE WHEN export_writes.next_at > excluded.next_at THEN export_writes.next_at ELSE excluded.next_at END`,
		a.OrgID, a.ID, a.TaskID, a.CompletedBy, now, now, a.OrgID, a.ProjectID)
	return err
}

// The outbox has two tables: export_writes (annotations to write) and
// export_deletions (objects of deleted annotations to delete). Their
// entries are leased, retried and counted alike, by these columns: next_at
// (due, or leased until), attempts and last_error (the failures since the
// last success), done and updated_at.

// claimOutbox leases up to limit entries of table due at now until
// now+lease, so that no other process takes them meanwhile, and returns
// them read by scan from columns; set adds assignments to the lease.
func claimOutbox[T any](ctx context.Context, db *DB, op, table, set, columns string, now time.Time, lease time.Duration, limit int,
	scan func(sc interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	var entries []T
	err := db.inTx(ctx, op, func(tx conn) error {
		rows, err := tx.query(ctx, `UPDATE `+table+` SET next_at = ?`+set+`
			WHERE id IN (SELECT id FROM `+table+` WHERE done = FALSE AND next_at <= ? ORDER BY next_at LIMIT ?`+db.skipLocked()+`)
			RETURNING `+columns,
			db.timeValue(now.Add(lease)), db.timeValue(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		entries = entries[:0]
		for rows.Next() {
			e, err := scan(rows)
			if err != nil {
				return err
			}
			entries = append(entries, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// failOutbox records a failed attempt at an entry of table and when to
// try it again.
func (db *DB) failOutbox(ctx context.Context, op, table, what string, id int64, errMsg string, next time.Time) error {
	return dbError(op, db.writer().execOne(ctx, glossa.NotFound(what), `UPDATE `+table+` SET
		attempts = attempts + 1, last_error = ?, next_at = ?, updated_at = ? WHERE id = ?`,
		errMsg, db.timeValue(next), db.timeValue(db.now()), id))
}

const exportWriteColumns = "id, org_id, storage_id, annotation_id, task_id, user_id, attempts, last_error, next_at, done"

// ClaimExportWrites takes up to limit outbox entries due at now and
// postpones them by lease, so that no other process takes them meanwhile.
func (db *DB) ClaimExportWrites(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]glossa.ExportWrite, error) {
	return claimOutbox(ctx, db, "store.ClaimExportWrites", "export_writes", ", rewrite = FALSE", exportWriteColumns, now, lease, limit,
		func(sc interface{ Scan(...any) error }) (glossa.ExportWrite, error) {
			var w glossa.ExportWrite
			err := sc.Scan(&w.ID, &w.OrgID, &w.StorageID, &w.AnnotationID, &w.TaskID, &w.UserID, &w.Attempts, &w.LastError,
				timeScan{&w.NextAt}, &w.Done)
			return w, err
		})
}

// FinishExportWrite marks an entry written (errMsg "") or records the
// failure and when to try again. A success for an entry whose annotation
// changed since it was claimed leaves it due at once, for the new version.
func (db *DB) FinishExportWrite(ctx context.Context, id int64, errMsg string, next time.Time) error {
	const op = "store.FinishExportWrite"
	if errMsg != "" {
		return db.failOutbox(ctx, op, "export_writes", "Export write", id, errMsg, next)
	}
	now := db.timeValue(db.now())
	return dbError(op, db.writer().execOne(ctx, glossa.NotFound("Export write"), `UPDATE export_writes SET
		done = NOT rewrite, attempts = 0, last_error = '', updated_at = ?,
		next_at = CASE WHEN rewrite THEN ? ELSE next_at END WHERE id = ?`, now, now, id))
}

// EnqueueExportBackfill queues every annotation of the target storage's
// project that is not in its outbox yet, and returns how many.
func (db *DB) EnqueueExportBackfill(ctx context.Context, orgID, storageID int64, now time.Time) (int64, error) {
	const op = "store.EnqueueExportBackfill"
	var n int64
	err := db.inTx(ctx, op, func(tx conn) error {
		var projectID int64
		var typ string
		err := tx.queryRow(ctx, "SELECT project_id, type FROM storages WHERE org_id = ? AND id = ?", orgID, storageID).Scan(&projectID, &typ)
		if err != nil {
			return notFoundIfNoRows(err, "Storage")
		}
		if typ != string(glossa.StorageTarget) {
			return glossa.Errorf(glossa.EINVALID, "Only a target storage receives annotations.")
		}
		t := db.timeValue(now)
		res, err := tx.exec(ctx, `INSERT INTO export_writes (org_id, storage_id, annotation_id, task_id, user_id, next_at, updated_at)
			SELECT a.org_id, ?, a.id, a.task_id, a.completed_by, ?, ? FROM annotations a
			WHERE a.org_id = ? AND a.project_id = ?
			AND NOT EXISTS (SELECT 1 FROM export_writes w WHERE w.storage_id = ? AND w.annotation_id = a.id)`,
			storageID, t, t, orgID, projectID, storageID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// actorOf is the person acting in ctx, if they are a member of orgID;
// else 0.
func actorOf(ctx context.Context, orgID int64) int64 {
	if p := glossa.PrincipalFromContext(ctx); p != nil && p.OrgID == orgID {
		return p.UserID
	}
	return 0
}

// deletingTargets returns the target storages of a project that delete
// the objects of deleted annotations: can_delete_objects is a setting, not
// a column, so they are read whole and picked here (a project has a few).
func (c conn) deletingTargets(ctx context.Context, orgID, projectID int64) ([]*glossa.Storage, error) {
	rows, err := c.query(ctx, "SELECT "+storageColumns+" FROM storages WHERE org_id = ? AND project_id = ? AND type = 'target'",
		orgID, projectID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var targets []*glossa.Storage
	for rows.Next() {
		s, err := scanStorage(rows)
		if err != nil {
			return nil, err
		}
		if s.CanDeleteObjects {
			targets = append(targets, s)
		}
	}
	return targets, rows.Err()
}

// enqueueExportDeletions queues, in the transaction that is about to
// delete the annotations that cond selects (a condition on annotations
// a, with args), the deletion of their objects from each of targets.
// Only annotations queued for export to the storage have an object there
// to delete, as Label Studio deletes only what has an export link; one
// not written yet may be being written right now, so its deletion is due
// no earlier than that write's lease ends, and the write cannot land
// after it. The key is the storage's prefix now, as in Label Studio; the
// deletion runs as actorID, or as the annotator when actorID is 0.
func (c conn) enqueueExportDeletions(ctx context.Context, targets []*glossa.Storage, actorID int64, now time.Time, cond string, args ...any) error {
	if len(targets) == 0 {
		return nil
	}
	byID := make(map[int64]*glossa.Storage, len(targets))
	ids := make([]int64, len(targets))
	for i, s := range targets {
		byID[s.ID], ids[i] = s, s.ID
	}
	in, inArgs := c.db.inInts("w.storage_id", ids)
	rows, err := c.query(ctx, `SELECT w.storage_id, w.annotation_id, a.completed_by, w.done, w.next_at
		FROM export_writes w JOIN annotations a ON a.id = w.annotation_id
		WHERE `+in+` AND `+cond, append(inArgs, args...)...)
	if err != nil {
		return err
	}
	const cols = 7
	var values []any
	for rows.Next() {
		var storageID, annotationID, userID int64
		var done bool
		var nextAt time.Time
		if err := rows.Scan(&storageID, &annotationID, &userID, &done, timeScan{&nextAt}); err != nil {
			rows.Close()
			return err
		}
		due := now
		if !done && nextAt.After(now) {
			due = nextAt
		}
		if actorID != 0 {
			userID = actorID
		}
		s := byID[storageID]
		values = append(values, s.OrgID, s.ID, annotationID, glossa.ExportKey(s.Prefix, annotationID), userID,
			c.db.timeValue(due), c.db.timeValue(now))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for start := 0; start < len(values); start += importBatch * cols {
		chunk := values[start:min(len(values), start+importBatch*cols)]
		if _, err := c.exec(ctx, `INSERT INTO export_deletions (org_id, storage_id, annotation_id, key, user_id, next_at, updated_at)
			VALUES `+placeholders(len(chunk)/cols, cols)+` ON CONFLICT (storage_id, annotation_id) DO NOTHING`, chunk...); err != nil {
			return err
		}
	}
	return nil
}

const exportDeletionColumns = "id, org_id, storage_id, annotation_id, key, user_id, attempts, last_error, next_at, done"

// ClaimExportDeletions takes up to limit deletions due at now and
// postpones them by lease, so that no other process takes them meanwhile.
func (db *DB) ClaimExportDeletions(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]glossa.ExportDeletion, error) {
	return claimOutbox(ctx, db, "store.ClaimExportDeletions", "export_deletions", "", exportDeletionColumns, now, lease, limit,
		func(sc interface{ Scan(...any) error }) (glossa.ExportDeletion, error) {
			var d glossa.ExportDeletion
			err := sc.Scan(&d.ID, &d.OrgID, &d.StorageID, &d.AnnotationID, &d.Key, &d.UserID, &d.Attempts, &d.LastError,
				timeScan{&d.NextAt}, &d.Done)
			return d, err
		})
}

// FinishExportDeletion marks a deletion done (errMsg "") or records the
// failure and when to try again.
func (db *DB) FinishExportDeletion(ctx context.Context, id int64, errMsg string, next time.Time) error {
	const op = "store.FinishExportDeletion"
	if errMsg != "" {
		return db.failOutbox(ctx, op, "export_deletions", "Export deletion", id, errMsg, next)
	}
	return dbError(op, db.writer().execOne(ctx, glossa.NotFound("Export deletion"),
		"UPDATE export_deletions SET done = TRUE, attempts = 0, last_error = '', updated_at = ? WHERE id = ?",
		db.timeValue(db.now()), id))
}

// outboxCounts sums one outbox table of a storage: waiting, waiting after
// a failure, done.
const outboxCounts = `SELECT
		COALESCE(SUM(CASE WHEN done = FALSE THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN done = FALSE AND attempts > 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN done = TRUE THEN 1 ELSE 0 END), 0)
	FROM `

// CountExportWrites sums a storage's writes and deletions, and says why
// the failing entry changed last failed.
func (db *DB) CountExportWrites(ctx context.Context, orgID, storageID int64) (glossa.ExportWriteCounts, error) {
	const op = "store.CountExportWrites"
	var c glossa.ExportWriteCounts
	r := db.reader()
	err := r.queryRow(ctx, outboxCounts+"export_writes WHERE org_id = ? AND storage_id = ?", orgID, storageID).
		Scan(&c.Pending, &c.Failed, &c.Written)
	if err != nil {
		return c, dbError(op, err)
	}
	err = r.queryRow(ctx, outboxCounts+"export_deletions WHERE org_id = ? AND storage_id = ?", orgID, storageID).
		Scan(&c.Deleting, &c.DeleteFailed, &c.Deleted)
	if err != nil || c.Failed+c.DeleteFailed == 0 {
		return c, dbError(op, err)
	}
	err = r.queryRow(ctx, `SELECT last_error FROM (
			SELECT last_error, updated_at FROM export_writes WHERE org_id = ? AND storage_id = ? AND done = FALSE AND attempts > 0
			UNION ALL
			SELECT last_error, updated_at FROM export_deletions WHERE org_id = ? AND storage_id = ? AND done = FALSE AND attempts > 0
		) f ORDER BY updated_at DESC LIMIT 1`, orgID, storageID, orgID, storageID).Scan(&c.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil // fixed since it was counted
	}
	return c, dbError(op, err)
}

// SavePersonCredential creates or replaces a person's credential (or
// recorded failure) for c.Key. The person must be a member of c.OrgID.
func (db *DB) SavePersonCredential(ctx context.Context, c *glossa.PersonCredential) error {
	now := db.now()
	err := db.writer().execOne(ctx, glossa.NotFound("Member"), `INSERT INTO person_credentials
			(org_id, user_id, key, sealed, expires_at, error_code, error_message, updated_at)
		SELECT org_id, id, ?, ?, ?, ?, ?, ? FROM users WHERE org_id = ? AND id = ?
		ON CONFLICT (org_id, user_id, key) DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at,
			error_code = excluded.error_code, error_message = excluded.error_message, updated_at = excluded.updated_at`,
		c.Key, bytesValue(c.Sealed), db.timeValue(c.Expires), c.ErrorCode, c.ErrorMessage, db.timeValue(now), c.OrgID, c.UserID)
	if err != nil {
		return dbError("store.SavePersonCredential", err)
	}
	c.UpdatedAt = norm(now)
	return nil
}

// FindPersonCredential returns a person's credential for key, expired or not.
func (db *DB) FindPersonCredential(ctx context.Context, orgID, userID int64, key string) (*glossa.PersonCredential, error) {
	c := glossa.PersonCredential{OrgID: orgID, UserID: userID, Key: key}
	err := db.reader().queryRow(ctx, `SELECT sealed, expires_at, error_code, error_message, updated_at FROM person_credentials
		WHERE org_id = ? AND user_id = ? AND key = ?`, orgID, userID, key).
		Scan(&c.Sealed, timeScan{&c.Expires}, &c.ErrorCode, &c.ErrorMessage, timeScan{&c.UpdatedAt})
	if err != nil {
		return nil, dbError("store.FindPersonCredential", notFoundIfNoRows(err, "Credential"))
	}
	return &c, nil
}

// DeletePersonCredentials forgets every credential of a person.
func (db *DB) DeletePersonCredentials(ctx context.Context, orgID, userID int64) error {
	_, err := db.writer().exec(ctx, "DELETE FROM person_credentials WHERE org_id = ? AND user_id = ?", orgID, userID)
	return dbError("store.DeletePersonCredentials", err)
}

// DeleteExpiredPersonCredentials deletes every credential expired at now.
func (db *DB) DeleteExpiredPersonCredentials(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.writer().exec(ctx, "DELETE FROM person_credentials WHERE expires_at <= ?", db.timeValue(now))
	if err != nil {
		return 0, dbError("store.DeleteExpiredPersonCredentials", err)
	}
	n, err := res.RowsAffected()
	return n, dbError("store.DeleteExpiredPersonCredentials", err)
}
