-- 0001_init: Glossa's schema for SQLite.
--
-- Conventions: IDs are INTEGER PRIMARY KEY AUTOINCREMENT, so an ID is never
-- reused after a delete (a stale link must not open somebody else's task).
-- Times are TEXT in one fixed-width UTC layout, 2006-01-02T15:04:05.000000Z,
-- so that comparing the text compares the times. Booleans are INTEGER 0/1.
-- JSON is TEXT, kept byte for byte as it was given.

CREATE TABLE organizations (
	id                   INTEGER PRIMARY KEY AUTOINCREMENT,
	title                TEXT    NOT NULL,
	slug                 TEXT    NOT NULL,
	session_idle_timeout INTEGER NOT NULL DEFAULT 432000,  -- seconds: glossa.DefaultSessionIdleTimeout
	session_max_age      INTEGER NOT NULL DEFAULT 1209600, -- seconds: glossa.DefaultSessionMaxAge
	created_at           TEXT    NOT NULL,
	updated_at           TEXT    NOT NULL,
	CONSTRAINT organizations_slug_key UNIQUE (slug)
);

-- An account belongs to exactly one organization; email is lower-cased.
CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id        INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	email         TEXT    NOT NULL,
	first_name    TEXT    NOT NULL DEFAULT '',
	last_name     TEXT    NOT NULL DEFAULT '',
	password_hash TEXT    NOT NULL DEFAULT '',
	created_at    TEXT    NOT NULL,
	updated_at    TEXT    NOT NULL,
	CONSTRAINT users_org_email_key UNIQUE (org_id, email)
);
CREATE INDEX users_email ON users (email);

CREATE TABLE memberships (
	user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	org_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	role       TEXT    NOT NULL CHECK (role IN ('Owner', 'Administrator', 'Manager', 'Reviewer', 'Annotator', 'Not Activated', 'Deactivated')),
	created_at TEXT    NOT NULL,
	updated_at TEXT    NOT NULL
);
CREATE INDEX memberships_org_role ON memberships (org_id, role);

CREATE TABLE workspaces (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id      INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	title       TEXT    NOT NULL,
	description TEXT    NOT NULL DEFAULT '',
	color       TEXT    NOT NULL DEFAULT '',
	created_by  INTEGER NOT NULL DEFAULT 0,
	created_at  TEXT    NOT NULL,
	updated_at  TEXT    NOT NULL
);
CREATE INDEX workspaces_org ON workspaces (org_id, id);

CREATE TABLE workspace_members (
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   TEXT    NOT NULL,
	PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id);

-- A project's workspace is optional (NULL); a workspace with projects
-- cannot be deleted (no cascade: projects own tasks, workspaces do not).
CREATE TABLE projects (
	id                   INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id               INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	workspace_id         INTEGER REFERENCES workspaces (id),
	title                TEXT    NOT NULL,
	description          TEXT    NOT NULL DEFAULT '',
	label_config         TEXT    NOT NULL DEFAULT '',
	created_by           INTEGER NOT NULL DEFAULT 0,
	created_at           TEXT    NOT NULL,
	updated_at           TEXT    NOT NULL,
	task_count           INTEGER NOT NULL DEFAULT 0,
	annotated_task_count INTEGER NOT NULL DEFAULT 0,
	annotation_count     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX projects_org ON projects (org_id, id);
CREATE INDEX projects_workspace ON projects (workspace_id);

CREATE TABLE project_members (
	project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       TEXT    NOT NULL CHECK (role IN ('Annotator', 'Reviewer', 'Inherit')),
	created_at TEXT    NOT NULL,
	PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);

-- tasks.org_id repeats the project's organization so that every task query
-- can name the tenant without a join.
CREATE TABLE tasks (
	id                INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id            INTEGER NOT NULL,
	project_id        INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	data              TEXT    NOT NULL,
	meta              TEXT,
	is_labeled        INTEGER NOT NULL DEFAULT 0,
	total_annotations INTEGER NOT NULL DEFAULT 0,
	total_predictions INTEGER NOT NULL DEFAULT 0,
	created_at        TEXT    NOT NULL,
	updated_at        TEXT    NOT NULL
);
-- The task list: newest or oldest first, all or filtered by is_labeled,
-- from a cursor; each is a range scan of one of these.
CREATE INDEX tasks_project ON tasks (project_id, id);
CREATE INDEX tasks_project_labeled ON tasks (project_id, is_labeled, id);

CREATE TABLE annotations (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id        INTEGER NOT NULL,
	project_id    INTEGER NOT NULL,
	task_id       INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	result        TEXT    NOT NULL,
	completed_by  INTEGER NOT NULL REFERENCES users (id),
	was_cancelled INTEGER NOT NULL DEFAULT 0,
	ground_truth  INTEGER NOT NULL DEFAULT 0,
	lead_time     REAL    NOT NULL DEFAULT 0,
	created_at    TEXT    NOT NULL,
	updated_at    TEXT    NOT NULL
);
CREATE INDEX annotations_task ON annotations (task_id, id);

CREATE TABLE predictions (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id        INTEGER NOT NULL,
	project_id    INTEGER NOT NULL,
	task_id       INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	model_version TEXT    NOT NULL DEFAULT '',
	score         REAL,
	result        TEXT    NOT NULL,
	created_at    TEXT    NOT NULL
);
CREATE INDEX predictions_task ON predictions (task_id, id);

-- Sessions and tokens are stored by the hash of their secret only.
CREATE TABLE sessions (
	id_hash      TEXT    PRIMARY KEY,
	org_id       INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf_token   TEXT    NOT NULL,
	created_at   TEXT    NOT NULL,
	last_seen_at TEXT    NOT NULL,
	expires_at   TEXT    NOT NULL,
	method       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id       INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT    NOT NULL DEFAULT '',
	hash         TEXT    NOT NULL,
	prefix       TEXT    NOT NULL DEFAULT '',
	created_at   TEXT    NOT NULL,
	expires_at   TEXT,
	revoked_at   TEXT,
	last_used_at TEXT,
	CONSTRAINT api_tokens_hash_key UNIQUE (hash)
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

-- The audit log outlives what it talks about: no foreign keys, org_id 0
-- when the organization is unknown, and triggers refuse UPDATE and DELETE.
CREATE TABLE audit_events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id      INTEGER NOT NULL DEFAULT 0,
	at          TEXT    NOT NULL,
	actor_id    INTEGER NOT NULL DEFAULT 0,
	actor_email TEXT    NOT NULL DEFAULT '',
	action      TEXT    NOT NULL,
	outcome     TEXT    NOT NULL,
	reason      TEXT    NOT NULL DEFAULT '',
	target_type TEXT    NOT NULL DEFAULT '',
	target_id   TEXT    NOT NULL DEFAULT '',
	ip          TEXT    NOT NULL DEFAULT '',
	user_agent  TEXT    NOT NULL DEFAULT '',
	request_id  TEXT    NOT NULL DEFAULT '',
	detail      TEXT
);
CREATE INDEX audit_events_org ON audit_events (org_id, id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- Failed sign-ins by throttle key; rows older than a day are deleted as
-- new ones arrive (the index on at keeps that cheap).
CREATE TABLE signin_failures (
	id  INTEGER PRIMARY KEY AUTOINCREMENT,
	key TEXT NOT NULL,
	at  TEXT NOT NULL
);
CREATE INDEX signin_failures_key_at ON signin_failures (key, at);
CREATE INDEX signin_failures_at ON signin_failures (at);
