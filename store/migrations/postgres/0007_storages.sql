-- 0007_storages (PostgreSQL): cloud storages of projects (S3 sources and targets), their
-- background sync jobs, the links between tasks and the objects they came
-- from, the export outbox, and people's short-lived cloud credentials.

-- The settings Label Studio has (bucket, prefix, presign, ...) and the
-- credential mode's parameters are one JSON document; the columns are what
-- queries select by and the sync state the worker updates.
CREATE TABLE storages (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id          bigint  NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	project_id      bigint  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	type            text    NOT NULL CHECK (type IN ('source', 'target')),
	auth_mode       text    NOT NULL,
	settings        text    NOT NULL,
	sealed_secret   bytea,
	status          text    NOT NULL DEFAULT 'initialized',
	last_sync       timestamptz,
	last_sync_count bigint  NOT NULL DEFAULT 0,
	last_sync_job   bigint,
	last_error      text    NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL
);
CREATE INDEX storages_org_project ON storages (org_id, project_id);

CREATE TABLE storage_jobs (
	id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id           bigint  NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	storage_id       bigint  NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	type             text    NOT NULL,
	status           text    NOT NULL,
	requested_by     bigint NOT NULL DEFAULT 0, -- not a reference: the record outlives the person
	listed           bigint  NOT NULL DEFAULT 0,
	created          bigint  NOT NULL DEFAULT 0,
	skipped          bigint  NOT NULL DEFAULT 0,
	failed           bigint  NOT NULL DEFAULT 0,
	cancel_requested boolean NOT NULL DEFAULT FALSE,
	error            text    NOT NULL DEFAULT '',
	created_at       timestamptz NOT NULL,
	started_at       timestamptz,
	finished_at      timestamptz,
	heartbeat_at     timestamptz
);
CREATE INDEX storage_jobs_storage ON storage_jobs (storage_id, id);
CREATE INDEX storage_jobs_active ON storage_jobs (status, id) WHERE status IN ('queued', 'in_progress');
-- One queued or running job per storage, whichever process asks.
CREATE UNIQUE INDEX storage_jobs_one_active ON storage_jobs (storage_id) WHERE status IN ('queued', 'in_progress');

-- A task's link to the object it came from: (storage, key, idx) is unique,
-- idx numbering the tasks of one JSON task file, so a re-sync or a sync
-- resumed after a crash skips what is linked and never duplicates a task.
CREATE TABLE storage_links (
	storage_id bigint  NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	key        text    NOT NULL,
	idx        bigint  NOT NULL,
	org_id     bigint  NOT NULL,
	task_id    bigint  NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	folder     text    NOT NULL,
	PRIMARY KEY (storage_id, key, idx)
);
CREATE UNIQUE INDEX storage_links_task ON storage_links (task_id);
CREATE INDEX storage_links_folder ON storage_links (storage_id, folder);

-- The distinct folders of a storage's objects: what per-person visibility
-- is decided on, read on every task list of a federated person, so kept
-- rather than computed with a DISTINCT over every link.
CREATE TABLE storage_folders (
	storage_id bigint  NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	folder     text    NOT NULL,
	PRIMARY KEY (storage_id, folder)
);

-- The export outbox: one row per (target storage, annotation), written in
-- the transaction that changes the annotation. rewrite is set when the
-- annotation changes while a worker holds the row, so that worker's
-- success does not mark the newer version written.
CREATE TABLE export_writes (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id        bigint  NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	storage_id    bigint  NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	annotation_id bigint  NOT NULL REFERENCES annotations (id) ON DELETE CASCADE,
	task_id       bigint  NOT NULL,
	user_id       bigint  NOT NULL,
	attempts      bigint  NOT NULL DEFAULT 0,
	last_error    text    NOT NULL DEFAULT '',
	next_at       timestamptz NOT NULL,
	done          boolean NOT NULL DEFAULT FALSE,
	rewrite       boolean NOT NULL DEFAULT FALSE,
	updated_at    timestamptz NOT NULL,
	UNIQUE (storage_id, annotation_id)
);
CREATE INDEX export_writes_due ON export_writes (next_at) WHERE done = FALSE;
CREATE INDEX export_writes_annotation ON export_writes (annotation_id);

-- A person's cloud credentials for one role (or one broker storage), sealed,
-- or the reason the exchange failed; purged once expired.
CREATE TABLE person_credentials (
	org_id        bigint  NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id       bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	key           text    NOT NULL,
	sealed        bytea,
	expires_at    timestamptz NOT NULL,
	error_code    text    NOT NULL DEFAULT '',
	error_message text    NOT NULL DEFAULT '',
	updated_at    timestamptz NOT NULL,
	PRIMARY KEY (org_id, user_id, key)
);
CREATE INDEX person_credentials_expires ON person_credentials (expires_at);
