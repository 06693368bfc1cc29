-- 0009_export_deletions: the deletions of exported objects whose
-- annotations were deleted (target storages with can_delete_objects), and
-- the claim counter that fences a sync job taken over from its runner.

-- The deletion outbox: one row per (target storage, deleted annotation),
-- written in the transaction that deletes the annotation, with the key to
-- delete and the person to delete it as. annotation_id is not a
-- reference: the annotation is gone. Done rows stay, to be counted.
CREATE TABLE export_deletions (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id        INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	storage_id    INTEGER NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	annotation_id INTEGER NOT NULL,
	key           TEXT    NOT NULL,
	user_id       INTEGER NOT NULL, -- not a reference: the deletion outlives the person
	attempts      INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT    NOT NULL DEFAULT '',
	next_at       TEXT    NOT NULL,
	done          INTEGER NOT NULL DEFAULT 0,
	updated_at    TEXT    NOT NULL,
	UNIQUE (storage_id, annotation_id)
);
CREATE INDEX export_deletions_due ON export_deletions (next_at) WHERE done = FALSE;

-- Each claim of a job increments claim and hands its value to the runner;
-- reports and the finish of an older claim are refused, so a runner that
-- was slow, not dead, stops instead of finishing the job a second time.
ALTER TABLE storage_jobs ADD COLUMN claim INTEGER NOT NULL DEFAULT 0;
