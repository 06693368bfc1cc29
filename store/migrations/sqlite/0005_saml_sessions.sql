-- 0005_saml_sessions: which IdP session a Glossa session came from, so that
-- single logout can end it: SP-initiated logout names it to the IdP, and an
-- IdP's LogoutRequest ends the sessions of its NameID (and SessionIndex).

CREATE TABLE saml_sessions (
	session_id_hash TEXT PRIMARY KEY REFERENCES sessions (id_hash) ON DELETE CASCADE,
	org_id          INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	idp_entity_id   TEXT NOT NULL,
	name_id         TEXT NOT NULL,
	name_id_format  TEXT NOT NULL,
	session_index   TEXT NOT NULL
);
CREATE INDEX saml_sessions_subject ON saml_sessions (org_id, idp_entity_id, name_id);
