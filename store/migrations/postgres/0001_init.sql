-- 0001_init: Glossa's schema for PostgreSQL.
--
-- Conventions: IDs are identity columns (never reused). Times are
-- timestamptz, written in UTC. Task data, task meta and annotation and
-- prediction results are json, not jsonb: json keeps the text exactly as
-- Label Studio clients sent it (key order, number spelling, duplicate keys),
-- so an import/export round trip gives back the same bytes on PostgreSQL as
-- on SQLite, and it is cheaper to write than jsonb, which matters for
-- million-task imports. PostgreSQL still checks that it is valid JSON, and a
-- later filter on a data field can index the expression (data::jsonb ->> 'x').
-- The audit detail is jsonb: the store reads it back into a map anyway.

CREATE TABLE organizations (
	id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	title                text        NOT NULL,
	slug                 text        NOT NULL,
	session_idle_timeout bigint      NOT NULL DEFAULT 432000,  -- seconds: glossa.DefaultSessionIdleTimeout
	session_max_age      bigint      NOT NULL DEFAULT 1209600, -- seconds: glossa.DefaultSessionMaxAge
	created_at           timestamptz NOT NULL,
	updated_at           timestamptz NOT NULL,
	CONSTRAINT organizations_slug_key UNIQUE (slug)
);

-- An account belongs to exactly one organization; email is lower-cased.
CREATE TABLE users (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id        bigint      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	email         text        NOT NULL,
	first_name    text        NOT NULL DEFAULT '',
	last_name     text        NOT NULL DEFAULT '',
	password_hash text        NOT NULL DEFAULT '',
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL,
	CONSTRAINT users_org_email_key UNIQUE (org_id, email)
);
CREATE INDEX users_email ON users (email);

CREATE TABLE memberships (
	user_id    bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	org_id     bigint      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	role       text        NOT NULL CHECK (role IN ('Owner', 'Administrator', 'Manager', 'Reviewer', 'Annotator', 'Not Activated', 'Deactivated')),
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);
CREATE INDEX memberships_org_role ON memberships (org_id, role);

CREATE TABLE workspaces (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id      bigint      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	title       text        NOT NULL,
	description text        NOT NULL DEFAULT '',
	color       text        NOT NULL DEFAULT '',
	created_by  bigint      NOT NULL DEFAULT 0,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL
);
CREATE INDEX workspaces_org ON workspaces (org_id, id);

CREATE TABLE workspace_members (
	workspace_id bigint      NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id);

-- A project's workspace is optional (NULL); a workspace with projects
-- cannot be deleted (no cascade: projects own tasks, workspaces do not).
CREATE TABLE projects (
	id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id               bigint      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	workspace_id         bigint      REFERENCES workspaces (id),
	title                text        NOT NULL,
	description          text        NOT NULL DEFAULT '',
	label_config         text        NOT NULL DEFAULT '',
	created_by           bigint      NOT NULL DEFAULT 0,
	created_at           timestamptz NOT NULL,
	updated_at           timestamptz NOT NULL,
	task_count           bigint      NOT NULL DEFAULT 0,
	annotated_task_count bigint      NOT NULL DEFAULT 0,
	annotation_count     bigint      NOT NULL DEFAULT 0
);
CREATE INDEX projects_org ON projects (org_id, id);
CREATE INDEX projects_workspace ON projects (workspace_id);

CREATE TABLE project_members (
	project_id bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       text        NOT NULL CHECK (role IN ('Annotator', 'Reviewer', 'Inherit')),
	created_at timestamptz NOT NULL,
	PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);

-- tasks.org_id repeats the project's organization so that every task query
-- can name the tenant without a join.
CREATE TABLE tasks (
	id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id            bigint      NOT NULL,
	project_id        bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	data              json        NOT NULL,
	meta              json,
	is_labeled        boolean     NOT NULL DEFAULT false,
	total_annotations integer     NOT NULL DEFAULT 0,
	total_predictions integer     NOT NULL DEFAULT 0,
	created_at        timestamptz NOT NULL,
	updated_at        timestamptz NOT NULL
);
-- The task list: newest or oldest first, all or filtered by is_labeled,
-- from a cursor; each is a range scan of one of these.
CREATE INDEX tasks_project ON tasks (project_id, id);
CREATE INDEX tasks_project_labeled ON tasks (project_id, is_labeled, id);

CREATE TABLE annotations (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id        bigint           NOT NULL,
	project_id    bigint           NOT NULL,
	task_id       bigint           NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	result        json             NOT NULL,
	completed_by  bigint           NOT NULL REFERENCES users (id),
	was_cancelled boolean          NOT NULL DEFAULT false,
	ground_truth  boolean          NOT NULL DEFAULT false,
	lead_time     double precision NOT NULL DEFAULT 0,
	created_at    timestamptz      NOT NULL,
	updated_at    timestamptz      NOT NULL
);
CREATE INDEX annotations_task ON annotations (task_id, id);

CREATE TABLE predictions (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id        bigint           NOT NULL,
	project_id    bigint           NOT NULL,
	task_id       bigint           NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	model_version text             NOT NULL DEFAULT '',
	score         double precision,
	result        json             NOT NULL,
	created_at    timestamptz      NOT NULL
);
CREATE INDEX predictions_task ON predictions (task_id, id);

-- Sessions and tokens are stored by the hash of their secret only.
CREATE TABLE sessions (
	id_hash      text        PRIMARY KEY,
	org_id       bigint      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf_token   text        NOT NULL,
	created_at   timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	method       text        NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id       bigint      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         text        NOT NULL DEFAULT '',
	hash         text        NOT NULL,
	prefix       text        NOT NULL DEFAULT '',
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz,
	revoked_at   timestamptz,
	last_used_at timestamptz,
	CONSTRAINT api_tokens_hash_key UNIQUE (hash)
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

-- The audit log outlives what it talks about: no foreign keys, org_id 0
-- when the organization is unknown, and a trigger refuses UPDATE, DELETE
-- and TRUNCATE.
CREATE TABLE audit_events (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id      bigint      NOT NULL DEFAULT 0,
	at          timestamptz NOT NULL,
	actor_id    bigint      NOT NULL DEFAULT 0,
	actor_email text        NOT NULL DEFAULT '',
	action      text        NOT NULL,
	outcome     text        NOT NULL,
	reason      text        NOT NULL DEFAULT '',
	target_type text        NOT NULL DEFAULT '',
	target_id   text        NOT NULL DEFAULT '',
	ip          text        NOT NULL DEFAULT '',
	user_agent  text        NOT NULL DEFAULT '',
	request_id  text        NOT NULL DEFAULT '',
	detail      jsonb
);
CREATE INDEX audit_events_org ON audit_events (org_id, id);
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
	FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Failed sign-ins by throttle key; rows older than a day are deleted as
-- new ones arrive (the index on at keeps that cheap).
CREATE TABLE signin_failures (
	id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key text        NOT NULL,
	at  timestamptz NOT NULL
);
CREATE INDEX signin_failures_key_at ON signin_failures (key, at);
CREATE INDEX signin_failures_at ON signin_failures (at);
