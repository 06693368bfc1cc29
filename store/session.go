package store

import (
	"context"
	"time"

	"github.com/glossa-dev/glossa"
)

// Sessions and API tokens are security-sensitive: the store sees only the
// hashes of their secrets (the caller hashes), so a copy of the database
// opens no session and carries no usable token. Lookups by hash are not
// scoped by organization, because the hash is what identifies the caller;
// the row says which organization it belongs to.

const sessionColumns = "id_hash, org_id, user_id, csrf_token, created_at, last_seen_at, expires_at, method"

// CreateSession stores s. Its user must be a member of s.OrgID. A zero
// CreatedAt is now; a zero LastSeenAt is CreatedAt.
func (db *DB) CreateSession(ctx context.Context, s *glossa.Session) error {
	const op = "store.CreateSession"
	if s == nil || s.IDHash == "" {
		return glossa.Errorf(glossa.EINVALID, "A session needs an ID.")
	}
	ns := *s
	if ns.CreatedAt.IsZero() {
		ns.CreatedAt = db.now()
	}
	if ns.LastSeenAt.IsZero() {
		ns.LastSeenAt = ns.CreatedAt
	}
	ns.CreatedAt, ns.LastSeenAt, ns.ExpiresAt = norm(ns.CreatedAt), norm(ns.LastSeenAt), norm(ns.ExpiresAt)
	err := db.inTx(ctx, op, func(tx conn) error {
		if err := tx.checkUser(ctx, ns.OrgID, ns.UserID); err != nil {
			return err
		}
		_, err := tx.exec(ctx, "INSERT INTO sessions ("+sessionColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			ns.IDHash, ns.OrgID, ns.UserID, ns.CSRFToken, db.timeValue(ns.CreatedAt), db.timeValue(ns.LastSeenAt),
			db.timeValue(ns.ExpiresAt), ns.Method)
		if isUnique(err) {
			return glossa.Errorf(glossa.ECONFLICT, "The session already exists.")
		}
		if err != nil || ns.IdP == nil {
			return err
		}
		_, err = tx.exec(ctx, `INSERT INTO saml_sessions (session_id_hash, org_id, idp_entity_id, name_id, name_id_format, session_index)
			VALUES (?, ?, ?, ?, ?, ?)`, ns.IDHash, ns.OrgID, ns.IdP.IdPEntityID, ns.IdP.NameID, ns.IdP.NameIDFormat, ns.IdP.SessionIndex)
		return err
	})
	if err != nil {
		return err
	}
	if ns.IdP != nil {
		idp := *ns.IdP
		idp.SessionIDHash, idp.OrgID = ns.IDHash, ns.OrgID
		ns.IdP = &idp
	}
	*s = ns
	return nil
}

// FindSession returns the session with this ID hash, expired or not: the
// caller checks expiry against the organization's timeouts.
func (db *DB) FindSession(ctx context.Context, idHash string) (*glossa.Session, error) {
	var s glossa.Session
	err := db.reader().queryRow(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id_hash = ?", idHash).Scan(
		&s.IDHash, &s.OrgID, &s.UserID, &s.CSRFToken, timeScan{&s.CreatedAt}, timeScan{&s.LastSeenAt}, timeScan{&s.ExpiresAt}, &s.Method)
	if err != nil {
		return nil, dbError("store.FindSession", notFoundIfNoRows(err, "Session"))
	}
	return &s, nil
}

// TouchSession records activity at at, for the idle timeout. An unknown
// session (ended meanwhile) is ENOTFOUND.
func (db *DB) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	err := db.writer().execOne(ctx, glossa.NotFound("Session"), "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?",
		db.timeValue(at), idHash)
	return dbError("store.TouchSession", err)
}

// DeleteSession ends a session. Ending one that does not exist (signing out
// twice) is not an error.
func (db *DB) DeleteSession(ctx context.Context, idHash string) error {
	_, err := db.writer().exec(ctx, "DELETE FROM sessions WHERE id_hash = ?", idHash)
	return dbError("store.DeleteSession", err)
}

// DeleteExpiredSessions removes the sessions whose absolute end is before
// now and says how many. Idle sessions are refused when next used; this
// keeps abandoned ones from piling up.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.writer().exec(ctx, "DELETE FROM sessions WHERE expires_at < ?", db.timeValue(now))
	if err != nil {
		return 0, dbError("store.DeleteExpiredSessions", err)
	}
	n, err := res.RowsAffected()
	return n, dbError("store.DeleteExpiredSessions", err)
}

// DeleteUserSessions ends every session of a member of orgID.
func (db *DB) DeleteUserSessions(ctx context.Context, orgID, userID int64) error {
	_, err := db.writer().exec(ctx, "DELETE FROM sessions WHERE org_id = ? AND user_id = ?", orgID, userID)
	return dbError("store.DeleteUserSessions", err)
}

const tokenColumns = "id, org_id, user_id, name, hash, prefix, created_at, expires_at, revoked_at, last_used_at"

func scanToken(s interface{ Scan(...any) error }) (*glossa.APIToken, error) {
	var t glossa.APIToken
	if err := s.Scan(&t.ID, &t.OrgID, &t.UserID, &t.Name, &t.Hash, &t.Prefix, timeScan{&t.CreatedAt},
		nullTimeScan{&t.ExpiresAt}, nullTimeScan{&t.RevokedAt}, nullTimeScan{&t.LastUsedAt}); err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateToken stores t for a member of t.OrgID and fills in its ID and
// creation time; RevokedAt and LastUsedAt start empty.
func (db *DB) CreateToken(ctx context.Context, t *glossa.APIToken) error {
	const op = "store.CreateToken"
	if t == nil || t.Hash == "" {
		return glossa.Errorf(glossa.EINVALID, "A token needs a hash.")
	}
	nt := *t
	nt.CreatedAt, nt.RevokedAt, nt.LastUsedAt = db.now(), nil, nil
	if nt.ExpiresAt != nil {
		e := norm(*nt.ExpiresAt)
		nt.ExpiresAt = &e
	}
	err := db.inTx(ctx, op, func(tx conn) error {
		if err := tx.checkUser(ctx, nt.OrgID, nt.UserID); err != nil {
			return err
		}
		err := tx.queryRow(ctx, "INSERT INTO api_tokens (org_id, user_id, name, hash, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
			nt.OrgID, nt.UserID, nt.Name, nt.Hash, nt.Prefix, db.timeValue(nt.CreatedAt), db.nullTimeValue(nt.ExpiresAt)).Scan(&nt.ID)
		if isUnique(err) {
			return glossa.Errorf(glossa.ECONFLICT, "The token already exists.")
		}
		return err
	})
	if err != nil {
		return err
	}
	*t = nt
	return nil
}

// FindTokenByHash returns the token with this hash, expired, revoked or
// not: the caller decides whether it still opens the door.
func (db *DB) FindTokenByHash(ctx context.Context, hash string) (*glossa.APIToken, error) {
	t, err := scanToken(db.reader().queryRow(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE hash = ?", hash))
	return t, dbError("store.FindTokenByHash", notFoundIfNoRows(err, "Token"))
}

// FindTokens lists a member's tokens, revoked ones included, oldest first.
func (db *DB) FindTokens(ctx context.Context, orgID, userID int64) ([]glossa.APIToken, error) {
	const op = "store.FindTokens"
	rows, err := db.reader().query(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE org_id = ? AND user_id = ? ORDER BY id", orgID, userID)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	ts := []glossa.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbError(op, err)
		}
		ts = append(ts, *t)
	}
	return ts, dbError(op, rows.Err())
}

// RevokeToken revokes a token of userID in orgID. Revoking it again keeps
// the first revocation time and is not an error; another user's token is
// ENOTFOUND.
func (db *DB) RevokeToken(ctx context.Context, orgID, userID, id int64) error {
	err := db.writer().execOne(ctx, glossa.NotFound("Token"),
		"UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE org_id = ? AND user_id = ? AND id = ?",
		db.timeValue(db.now()), orgID, userID, id)
	return dbError("store.RevokeToken", err)
}

// TouchToken records that a token was used at at.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	err := db.writer().execOne(ctx, glossa.NotFound("Token"), "UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
		db.timeValue(at), id)
	return dbError("store.TouchToken", err)
}
