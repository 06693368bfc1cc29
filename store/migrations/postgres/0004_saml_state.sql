-- 0004_saml_state: what SAML sign-in keeps in the database, so that several
-- Glossa processes behind one load balancer share it: the SP keys (private
-- keys sealed), pending AuthnRequests with their RelayState handles, the
-- assertion IDs already used (replay), and the links from IdP identities
-- to accounts.

CREATE TABLE sp_keys (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id     bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	purpose    text NOT NULL CHECK (purpose IN ('signing', 'encryption')),
	cert_pem   TEXT NOT NULL,
	sealed_key bytea NOT NULL,
	created_at timestamptz NOT NULL,
	retired_at timestamptz
);
CREATE INDEX sp_keys_org ON sp_keys (org_id, purpose);

CREATE TABLE saml_requests (
	id           TEXT PRIMARY KEY,
	org_id       bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	relay_state  TEXT NOT NULL UNIQUE,
	browser_hash TEXT NOT NULL,
	return_to    TEXT NOT NULL,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL
);
CREATE INDEX saml_requests_expires ON saml_requests (expires_at);

CREATE TABLE saml_assertions_used (
	org_id       bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	assertion_id TEXT NOT NULL,
	expires_at   timestamptz NOT NULL,
	PRIMARY KEY (org_id, assertion_id)
);
CREATE INDEX saml_assertions_used_expires ON saml_assertions_used (expires_at);

-- The identity key is (organization, IdP entity ID, NameID), never the email.
CREATE TABLE saml_identities (
	org_id        bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	idp_entity_id TEXT NOT NULL,
	name_id       TEXT NOT NULL,
	user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (org_id, idp_entity_id, name_id)
);
