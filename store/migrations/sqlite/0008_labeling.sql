-- 0008_labeling: the work of labeling: drafts, the leases by which tasks
-- are handed out, reviews, and what the data manager sorts and filters by.

-- A person's unsaved work on a task: one per person and task (a task
-- belongs to one organization, so that is one per org, task and person).
-- annotation_id is the annotation being edited; if that annotation is
-- deleted the draft stays, as a draft of a new one.
CREATE TABLE drafts (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id        INTEGER NOT NULL,
	task_id       INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	annotation_id INTEGER REFERENCES annotations (id) ON DELETE SET NULL,
	result        TEXT    NOT NULL,
	lead_time     REAL    NOT NULL DEFAULT 0,
	created_at    TEXT    NOT NULL,
	updated_at    TEXT    NOT NULL,
	CONSTRAINT drafts_task_user_key UNIQUE (task_id, user_id)
);
CREATE INDEX drafts_user ON drafts (user_id);
CREATE INDEX drafts_annotation ON drafts (annotation_id) WHERE annotation_id IS NOT NULL;

-- The hand-out of tasks: a task is held by the person in user_id until
-- expires_at. The primary key makes one lease per task; an expired row is
-- taken over in place by the next person it is handed to. duration_us is
-- the length the lease was granted for, so that saving a draft renews it
-- by as much.
CREATE TABLE task_leases (
	task_id     INTEGER PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
	org_id      INTEGER NOT NULL,
	project_id  INTEGER NOT NULL,
	user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	expires_at  TEXT    NOT NULL,
	duration_us INTEGER NOT NULL
);
-- "The task I hold in this project".
CREATE INDEX task_leases_user ON task_leases (user_id, project_id, task_id);

-- A reviewer's verdict on an annotation. task_id and project_id repeat the
-- annotation's, so that a task's reviews need no join. Like an
-- annotation's author, a reviewer with reviews cannot be deleted.
CREATE TABLE reviews (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id        INTEGER NOT NULL,
	project_id    INTEGER NOT NULL,
	task_id       INTEGER NOT NULL,
	annotation_id INTEGER NOT NULL REFERENCES annotations (id) ON DELETE CASCADE,
	reviewer_id   INTEGER NOT NULL REFERENCES users (id),
	accepted      INTEGER NOT NULL,
	comment       TEXT    NOT NULL DEFAULT '',
	created_at    TEXT    NOT NULL
);
CREATE INDEX reviews_annotation ON reviews (annotation_id, id);
CREATE INDEX reviews_task ON reviews (task_id, id);

-- The review state ('', 'accepted' or 'rejected') kept where the data
-- manager reads it: on the annotation (its latest review's verdict) and on
-- the task (the verdict of the latest review of any of its annotations),
-- both written in the review's transaction, so that filtering a million
-- tasks by it is an index range, not a join. No CHECK: adding one would
-- make this migration read every row; the store is the only writer.
ALTER TABLE annotations ADD COLUMN review_state TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN review_state TEXT NOT NULL DEFAULT '';

-- The data manager's sorts and filters on task columns: each is a range
-- scan of (project_id, column, id) from the cursor, the same shape as the
-- task list's (project_id, id).
CREATE INDEX tasks_project_created ON tasks (project_id, created_at, id);
CREATE INDEX tasks_project_updated ON tasks (project_id, updated_at, id);
CREATE INDEX tasks_project_annotations ON tasks (project_id, total_annotations, id);
CREATE INDEX tasks_project_predictions ON tasks (project_id, total_predictions, id);
CREATE INDEX tasks_project_review ON tasks (project_id, review_state, id);

-- The data manager's annotators filter: the tasks a person annotated in
-- a project, in task order.
CREATE INDEX annotations_author ON annotations (completed_by, project_id, task_id);
