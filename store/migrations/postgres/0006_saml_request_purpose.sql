-- 0006_saml_request_purpose: a pending SAML request is a sign-in, an
-- Owner's test sign-in (which creates no session and changes nothing), or
-- a single logout.
ALTER TABLE saml_requests ADD COLUMN purpose TEXT NOT NULL DEFAULT 'signin';
