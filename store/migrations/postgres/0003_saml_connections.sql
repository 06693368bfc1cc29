-- 0003_saml_connections: each organization's connection to its SAML IdP.
-- The settings are one JSON document (Label Studio Enterprise's fields and
-- ours); the email domains that route to the IdP are a table of their own,
-- so that one domain can route to only one organization.

CREATE TABLE saml_connections (
	org_id     bigint      PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
	settings   text        NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE TABLE saml_domains (
	domain text   PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES saml_connections (org_id) ON DELETE CASCADE
);
CREATE INDEX saml_domains_org ON saml_domains (org_id);
