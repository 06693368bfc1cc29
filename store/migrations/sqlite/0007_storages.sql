-- 0007_storages: cloud storages of projects (S3 sources and targets), their
-- background sync jobs, the links between tasks and the objects they came
-- from, the export outbox, and people's short-lived cloud credentials.

-- The settings Label Studio has (bucket, prefix, presign, ...) and the
-- credential mode's parameters are one JSON document; the columns are what
-- queries select by and the sync state the worker updates.
CREATE TABLE storages (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id          INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	project_id      INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	type            TEXT    NOT NULL CHECK (type IN ('source', 'target')),
	auth_mode       TEXT    NOT NULL,
	settings        TEXT    NOT NULL,
	sealed_secret   BLOB,
	status          TEXT    NOT NULL DEFAULT 'initialized',
	last_sync       TEXT,
	last_sync_count INTEGER NOT NULL DEFAULT 0,
	last_sync_job   INTEGER,
	last_error      TEXT    NOT NULL DEFAULT '',
	created_at      TEXT    NOT NULL,
	updated_at      TEXT    NOT NULL
);
CREATE INDEX storages_org_project ON storages (org_id, project_id);

CREATE TABLE storage_jobs (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id           INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	storage_id       INTEGER NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	type             TEXT    NOT NULL,
	status           TEXT    NOT NULL,
	requested_by     INTEGER NOT NULL DEFAULT 0, -- not a reference: the record outlives the person
	listed           INTEGER NOT NULL DEFAULT 0,
	created          INTEGER NOT NULL DEFAULT 0,
	skipped          INTEGER NOT NULL DEFAULT 0,
	failed           INTEGER NOT NULL DEFAULT 0,
	cancel_requested INTEGER NOT NULL DEFAULT 0,
	error            TEXT    NOT NULL DEFAULT '',
	created_at       TEXT    NOT NULL,
	started_at       TEXT,
	finished_at      TEXT,
	heartbeat_at     TEXT
);
CREATE INDEX storage_jobs_storage ON storage_jobs (storage_id, id);
CREATE INDEX storage_jobs_active ON storage_jobs (status, id) WHERE status IN ('queued', 'in_progress');
-- One queued or running job per storage, whichever process asks.
CREATE UNIQUE INDEX storage_jobs_one_active ON storage_jobs (storage_id) WHERE status IN ('queued', 'in_progress');

-- A task's link to the object it came from: (storage, key, idx) is unique,
-- idx numbering the tasks of one JSON task file, so a re-sync or a sync
-- resumed after a crash skips what is linked and never duplicates a task.
CREATE TABLE storage_links (
	storage_id INTEGER NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	key        TEXT    NOT NULL,
	idx        INTEGER NOT NULL,
	org_id     INTEGER NOT NULL,
	task_id    INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	folder     TEXT    NOT NULL,
	PRIMARY KEY (storage_id, key, idx)
) WITHOUT ROWID;
CREATE UNIQUE INDEX storage_links_task ON storage_links (task_id);
CREATE INDEX storage_links_folder ON storage_links (storage_id, folder);

-- The distinct folders of a storage's objects: what per-person visibility
-- is decided on, read on every task list of a federated person, so kept
-- rather than computed with a DISTINCT over every link.
CREATE TABLE storage_folders (
	storage_id INTEGER NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	folder     TEXT    NOT NULL,
	PRIMARY KEY (storage_id, folder)
) WITHOUT ROWID;

-- The export outbox: one row per (target storage, annotation), written in
-- the transaction that changes the annotation. rewrite is set when the
-- annotation changes while a worker holds the row, so that worker's
-- success does not mark the newer version written.
CREATE TABLE export_writes (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id        INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	storage_id    INTEGER NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	annotation_id INTEGER NOT NULL REFERENCES annotations (id) ON DELETE CASCADE,
	task_id       INTEGER NOT NULL,
	user_id       INTEGER NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT    NOT NULL DEFAULT '',
	next_at       TEXT    NOT NULL,
	done          INTEGER NOT NULL DEFAULT 0,
	rewrite       INTEGER NOT NULL DEFAULT 0,
	updated_at    TEXT    NOT NULL,
	UNIQUE (storage_id, annotation_id)
);
CREATE INDEX export_writes_due ON export_writes (next_at) WHERE done = FALSE;
CREATE INDEX export_writes_annotation ON export_writes (annotation_id);

-- A person's cloud credentials for one role (or one broker storage), sealed,
-- or the reason the exchange failed; purged once expired.
CREATE TABLE person_credentials (
	org_id        INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	key           TEXT    NOT NULL,
	sealed        BLOB,
	expires_at    TEXT    NOT NULL,
	error_code    TEXT    NOT NULL DEFAULT '',
	error_message TEXT    NOT NULL DEFAULT '',
	updated_at    TEXT    NOT NULL,
	PRIMARY KEY (org_id, user_id, key)
);
CREATE INDEX person_credentials_expires ON person_credentials (expires_at);
