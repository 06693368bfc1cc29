-- Expired sessions are purged in the background; this index keeps the purge
-- from scanning the whole table.
CREATE INDEX sessions_expires_at ON sessions (expires_at);
